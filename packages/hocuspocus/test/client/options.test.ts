import { RingRouteConfigError } from '@ringroute/ring-core';
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { createSmartClient, type SmartClientOptions } from '@ringroute/hocuspocus/client';
import { resolveClientOptions } from '../../src/client/options.js';

const valid: SmartClientOptions = { nodes: ['http://127.0.0.1:1'], WebSocketPolyfill: WebSocket };

describe('createSmartClient options', () => {
  it('accepts http(s) and ws(s) node URLs and defaults the guards', () => {
    const client = createSmartClient({ ...valid, nodes: ['http://a:1', 'https://b', 'ws://c:2', 'wss://d'] });
    expect(client.maxHops).toBe(3);
    expect(client.backoff).toEqual({ delay: 100, factor: 2, maxDelay: 5000 });
    expect(client.ring).toBeUndefined();
    client.destroy();
  });

  it.each([
    [{ nodes: [] }, 'nodes'],
    [{ nodes: 'http://a:1' }, 'nodes'],
    [{ nodes: ['not a url'] }, 'nodes[0]'],
    [{ nodes: ['http://a:1', 'ftp://b'] }, 'nodes[1]'],
    [{ maxHops: -1 }, 'maxHops'],
    [{ maxHops: 1.5 }, 'maxHops'],
    [{ backoff: { delay: -5 } }, 'backoff.delay'],
    [{ backoff: { factor: 0.5 } }, 'backoff.factor'],
    [{ backoff: { delay: 500, maxDelay: 100 } }, 'backoff.maxDelay'],
    [{ backoff: 'fast' }, 'backoff'],
    [{ backoff: { delays: 5 } }, 'backoff.delays'],
    [{ ringTimout: 5 }, 'ringTimout'],
    [{ ringTimeout: 0 }, 'ringTimeout'],
    [{ WebSocketPolyfill: 'ws' }, 'WebSocketPolyfill'],
    [{ fetch: 42 }, 'fetch'],
    [{ socket: null }, 'socket'],
  ])('rejects %j naming the option', (patch, option) => {
    const create = () => createSmartClient({ ...valid, ...(patch as object) } as SmartClientOptions);
    expect(create).toThrow(RingRouteConfigError);
    expect(create).toThrow(new RegExp(`^${option.replace(/[[\].]/g, '\\$&')}:`));
  });

  it('rejects an empty document name and non-object provider options when opening', async () => {
    const client = createSmartClient(valid);
    await expect(client.open('')).rejects.toThrow(/^documentName:/);
    await expect(client.open('doc', null as never)).rejects.toThrow(/^options:/);
    client.destroy();
  });

  it('gives `ws` an error listener: closing a socket still connecting never throws, as with a browser WebSocket', async () => {
    // The provider does exactly this when a connect attempt times out; without a listener `ws` throws from 'error'.
    const Socket = resolveClientOptions(valid).WebSocketPolyfill as typeof WebSocket;
    const socket = new Socket('ws://127.0.0.1:9');
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.close();
    await closed;
    expect(socket).toBeInstanceOf(WebSocket);
    expect(socket.readyState).toBe(WebSocket.CLOSED);
  });
});
