// The Handovers panel: every node's handover progress, read from its own GET /api/routes/stats. The page's node
// lists the cluster's nodes; each node counts only its own handovers, so the panel asks each one (CORS allows it).

/** `handovers` in /api/routes/stats (SmartRoute's HandoverProgress). */
interface HandoverProgress {
  pending: number;
  moving: number;
  done: number;
  failed: number;
}

interface NodeStats {
  self: string;
  nodes: { id: string; url: string }[];
  handovers: HandoverProgress;
}

const STATES = ['pending', 'moving', 'done', 'failed'] as const;

async function fetchStats(origin: string): Promise<NodeStats> {
  // A node that hangs must not stall the panel's next round.
  const response = await fetch(`${origin}/api/routes/stats`, { cache: 'no-store', signal: AbortSignal.timeout(2000) });
  if (!response.ok) throw new Error(`${origin}: HTTP ${response.status}`);
  return (await response.json()) as NodeStats;
}

function cell(text: string, className = ''): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  td.className = className;
  return td;
}

function row(id: string, progress: HandoverProgress | undefined): HTMLTableRowElement {
  const tr = document.createElement('tr');
  tr.dataset.node = id;
  tr.append(cell(id));
  if (!progress) {
    const unreachable = cell('unreachable', 'waiting');
    unreachable.colSpan = STATES.length;
    tr.append(unreachable);
    return tr;
  }
  for (const state of STATES) {
    const value = progress[state];
    const td = cell(String(value), value > 0 && state !== 'done' ? (state === 'failed' ? 'bad' : 'waiting') : '');
    td.dataset.state = state;
    tr.append(td);
  }
  return tr;
}

/** Fills the table body with one row per node, refreshed every `intervalMs`. */
export function showHandovers(body: HTMLTableSectionElement, intervalMs = 1000): void {
  const poll = async () => {
    try {
      const local = await fetchStats(window.location.origin);
      const rows = await Promise.all(
        local.nodes.map(async ({ id, url }) => {
          if (id === local.self) return row(id, local.handovers);
          const remote = await fetchStats(url.replace(/^ws/, 'http')).catch(() => undefined);
          return row(id, remote?.handovers);
        }),
      );
      body.replaceChildren(...rows);
    } catch {
      const tr = document.createElement('tr');
      const message = cell(`stats unavailable from ${window.location.host}`, 'waiting');
      message.colSpan = STATES.length + 1;
      tr.append(message);
      body.replaceChildren(tr);
    }
    // Scheduled after each round, so slow answers never pile up.
    setTimeout(() => void poll(), intervalMs);
  };
  void poll();
}
