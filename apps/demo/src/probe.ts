/** What one node answered for a key: the real response of the real plugin, summarised for people. */
export interface Probe {
  node: string;
  status: number;
  /** e.g. "served here", "307 → http://127.0.0.1:4002/kv/x", "proxied, served by node-2". */
  summary: string;
  servedBy: string | undefined;
  location: string | undefined;
}

export const keyPath = (key: string) => `/kv/${encodeURIComponent(key)}`;

export async function probe(node: { id: string; url: string }, key: string): Promise<Probe> {
  let res: Response;
  try {
    res = await fetch(`${node.url}${keyPath(key)}`, { redirect: 'manual', signal: AbortSignal.timeout(2000) });
  } catch (error) {
    return { node: node.id, status: 0, summary: `unreachable (${(error as Error).message})`, servedBy: undefined, location: undefined };
  }
  const location = res.headers.get('location') ?? undefined;
  const body = (await res.json().catch(() => ({}))) as { node?: string; message?: string; reason?: string };
  const servedBy = res.ok ? body.node : undefined;
  let summary: string;
  if (location) summary = `redirect → ${location}`;
  else if (res.ok) summary = servedBy === node.id ? 'served here (owner)' : `proxied, served by ${servedBy}`;
  else summary = body.message ?? body.reason ?? res.statusText;
  return { node: node.id, status: res.status, summary, servedBy, location };
}
