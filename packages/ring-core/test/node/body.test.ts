import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse } from 'node:querystring';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyHeaders, forwardBody, formEncode, type ForwardBody, type ParsedRequest } from '@ringroute/ring-core/node';

/**
 * A real HTTP server whose handler plays a body parser chosen by the `x-parse` header (json, text, raw, form, or
 * none), then reports what forwardBody() makes of the request.
 */
let server: Server;
let url: string;

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const PARSERS: Record<string, (bytes: Buffer) => unknown> = {
  json: (b) => JSON.parse(b.toString('utf8')),
  text: (b) => b.toString('latin1'),
  raw: (b) => b,
  form: (b) => parse(b.toString('utf8')),
  multipart: () => ({ file: { name: 'a.txt' } }),
};

function describeBody(body: ForwardBody, req: ParsedRequest) {
  if (body.kind !== 'bytes') return { kind: body.kind };
  const headers = bodyHeaders({ ...req.headers }, body);
  return { kind: body.kind, text: body.bytes.toString('latin1'), headers };
}

beforeAll(async () => {
  server = createServer((req: ParsedRequest, res) => {
    void (async () => {
      const parser = req.headers['x-parse'] as string | undefined;
      if (parser !== undefined && parser !== 'none') req.body = PARSERS[parser]!(await readAll(req));
      let report: unknown;
      try {
        report = describeBody(forwardBody(req), req);
      } catch (error) {
        report = { error: (error as Error).name, message: (error as Error).message };
      }
      if (!req.readableEnded) await readAll(req);
      res.setHeader('content-type', 'application/json').end(JSON.stringify(report));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const post = async (parse: string, body: string | Uint8Array | undefined, headers: Record<string, string> = {}) =>
  (await fetch(url, { method: 'POST', body: body as BodyInit | undefined, headers: { 'x-parse': parse, ...headers } })).json() as Promise<
    Record<string, unknown>
  >;

describe('forwardBody', () => {
  it('says none for a request without a body', async () => {
    expect(await post('none', undefined)).toEqual({ kind: 'none' });
  });

  it('leaves an unread body as a stream to pipe', async () => {
    expect(await post('none', 'x'.repeat(100_000), { 'content-type': 'text/plain' })).toEqual({ kind: 'stream' });
  });

  it('re-serialises a parsed JSON body with its length, dropping the encoding the parser undid', async () => {
    const sent = JSON.stringify({ a: 1, nested: { b: [1, 2, 'é'] } });
    const report = await post('json', sent, { 'content-type': 'application/json; charset=utf-8', 'x-note': 'kept' });
    expect(report.kind).toBe('bytes');
    expect(Buffer.from(report.text as string, 'latin1').toString('utf8')).toBe(sent);
    const headers = report.headers as Record<string, string>;
    expect(headers['content-length']).toBe(String(Buffer.byteLength(sent)));
    expect(headers['content-type']).toBe('application/json; charset=utf-8');
    expect(headers['x-note']).toBe('kept');
  });

  it('re-encodes a parsed text body in its charset', async () => {
    const latin = Buffer.from('café crème', 'latin1');
    const report = await post('text', latin, { 'content-type': 'text/plain; charset=iso-8859-1' });
    expect(report.text).toBe('café crème');
    expect((report.headers as Record<string, string>)['content-length']).toBe(String(latin.length));
  });

  it('sends a raw Buffer body as is', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const report = await post('raw', bytes, { 'content-type': 'application/octet-stream' });
    expect(Buffer.from(report.text as string, 'latin1')).toEqual(bytes);
  });

  it('re-encodes a parsed urlencoded body that parses back to the same value', async () => {
    const report = await post('form', 'a=1&b=two+words&list=x&list=y&e=%26%3D', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(parse(report.text as string)).toEqual({ a: '1', b: 'two words', list: ['x', 'y'], e: '&=' });
  });

  it('refuses a consumed body it cannot re-serialise, naming the content type', async () => {
    const report = await post('multipart', '--x\r\n', { 'content-type': 'multipart/form-data; boundary=x' });
    expect(report).toEqual({ error: 'BodyConsumedError', message: expect.stringContaining('multipart/form-data') });
  });
});

describe('formEncode', () => {
  it('writes nested values in bracket notation and single-element arrays with an index', () => {
    expect(formEncode({ user: { name: 'a b', tags: ['x'] }, one: ['z'], n: null })).toBe(
      'user%5Bname%5D=a+b&user%5Btags%5D%5B0%5D=x&one%5B0%5D=z&n=',
    );
  });
});
