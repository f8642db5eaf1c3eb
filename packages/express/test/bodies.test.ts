import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RingRouteMiddleware } from '@ringroute/express';
import { startCluster, type Cluster } from './helpers/cluster.js';
import { EXPRESS_VERSIONS, type ExpressFactory } from './helpers/express-versions.js';
import { MEMORY } from './helpers/memberships.js';

const UPLOAD_BYTES = 5 * 1024 * 1024;

/** What the owner saw of a proxied upload: resolved when its first bytes arrive (in-process, so the test can wait on it). */
let firstUploadBytes: (() => void) | undefined;

/**
 * A typical Express app: every body parser mounted before ringRoute(). Each parser keeps the bytes it read
 * (`verify`), so the owner reports exactly what arrived: its Content-Length, the bytes and the parsed value.
 * PUT /upload (a type no parser takes) is streamed: the owner hashes it as it arrives.
 */
function parsedApp(express: ExpressFactory, id: string, rr: RingRouteMiddleware) {
  const app = express();
  const verify = (req: IncomingMessage & { rawBody?: Buffer }, _res: unknown, buf: Buffer) => {
    req.rawBody = buf;
  };
  app.use(express.json({ verify }));
  app.use(express.urlencoded({ extended: true, verify }));
  app.use(express.text({ verify }));
  app.use(express.raw({ verify }));
  app.use(rr);
  app.put('/upload', (req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.once('data', () => firstUploadBytes?.());
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    req.on('end', () => res.json({ node: id, bytes, sha256: hash.digest('hex'), length: req.headers['content-length'] ?? null }));
  });
  app.post('/body', (req, res) => {
    const raw = (req as IncomingMessage & { rawBody?: Buffer }).rawBody;
    res.json({
      node: id,
      length: req.headers['content-length'],
      encoding: req.headers['content-encoding'] ?? null,
      received: raw?.length,
      raw: raw?.toString('base64'),
      body: Buffer.isBuffer(req.body) ? { buffer: req.body.toString('base64') } : req.body,
    });
  });
  return app;
}

describe.each(EXPRESS_VERSIONS)('$name: proxying after body parsers', ({ express }) => {
  let cluster: Cluster;
  let entry: string;
  let key: string;

  beforeAll(async () => {
    const shared = MEMORY.cluster();
    cluster = await startCluster({
      express,
      ids: ['node-a', 'node-b'],
      membership: shared.create,
      options: { misroute: 'proxy' },
      app: parsedApp,
    });
    entry = cluster.node('node-a').url;
    key = cluster.keyOwnedBy('node-b');
  });
  afterAll(() => cluster.stop());

  const post = async (contentType: string, body: string | Uint8Array) => {
    const res = await fetch(`${entry}/body?key=${key}`, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: body as BodyInit,
    });
    expect(res.status).toBe(200);
    const seen = (await res.json()) as { node: string; length: string; received: number; raw: string; body: unknown };
    expect(seen.node).toBe('node-b');
    // The length the owner was told is the length of the bytes it got.
    expect(Number(seen.length)).toBe(seen.received);
    return { ...seen, raw: Buffer.from(seen.raw, 'base64') };
  };

  it('forwards a body express.json() parsed, re-serialised', async () => {
    const value = { text: 'héllo wörld', list: [1, 2, { deep: true }], none: null };
    const seen = await post('application/json', JSON.stringify(value, null, 2));
    expect(seen.body).toEqual(value);
    expect(seen.raw.toString()).toBe(JSON.stringify(value));
  });

  it('forwards a gzip body express.json() inflated, without its content-encoding', async () => {
    const value = { compressed: 'z'.repeat(5000) };
    const res = await fetch(`${entry}/body?key=${key}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify(value)),
    });
    const seen = (await res.json()) as { node: string; length: string; received: number; encoding: string | null; body: unknown };
    expect(seen).toMatchObject({ node: 'node-b', encoding: null, body: value, received: Number(seen.length) });
  });

  it('forwards a body express.urlencoded({ extended: true }) parsed, nested fields included', async () => {
    const seen = await post('application/x-www-form-urlencoded', 'name=J%C3%B6rg+M&tags=a&tags=b&one[]=x&user[city]=K%C3%B6ln&empty=');
    expect(seen.body).toEqual({ name: 'Jörg M', tags: ['a', 'b'], one: ['x'], user: { city: 'Köln' }, empty: '' });
  });

  it('forwards a body express.text() parsed, in its charset', async () => {
    const seen = await post('text/plain; charset=utf-8', 'plain text ✓ with unicode');
    expect(seen.body).toBe('plain text ✓ with unicode');
    expect(seen.raw.toString('utf8')).toBe('plain text ✓ with unicode');
  });

  it('forwards a body express.raw() read, byte for byte', async () => {
    const bytes = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) % 256);
    const seen = await post('application/octet-stream', bytes);
    expect(seen.raw).toEqual(Buffer.from(bytes));
    expect(seen.body).toEqual({ buffer: Buffer.from(bytes).toString('base64') });
  });

  it('streams a 5 MB upload no parser read: the owner receives bytes before the client has sent them all', async () => {
    const chunk = Buffer.alloc(64 * 1024, 0x5a);
    const expected = createHash('sha256');
    for (let sent = 0; sent < UPLOAD_BYTES; sent += chunk.length) expected.update(chunk);
    // The client sends one chunk, then holds the rest back until the owner has seen bytes: a proxy that buffered
    // the body before forwarding it would never deliver any, and the upload would fail on the timer below.
    const ownerSawBytes = new Promise<void>((resolve, reject) => {
      firstUploadBytes = resolve;
      setTimeout(() => reject(new Error('the owner received nothing while the client held back: the body was buffered')), 10_000).unref();
    });
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent === chunk.length) await ownerSawBytes;
        if (sent >= UPLOAD_BYTES) return controller.close();
        controller.enqueue(chunk);
        sent += chunk.length;
      },
    });
    const res = await fetch(`${entry}/upload?key=${key}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/x-upload' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ node: 'node-b', bytes: UPLOAD_BYTES, sha256: expected.digest('hex'), length: null });
  });
});
