import type { WebSocket } from 'ws';
import type { HocuspocusLike } from '../hocuspocus/index.js';
import { openChannel, type Channel } from './channel.js';
import { decode, decodeOpen, encode, encodeClose, Kind } from './envelope.js';

/** Close code of a channel whose OPEN was malformed or reused a live channel number. */
const BAD_OPEN = 4400;

/**
 * The owner's side of a node link: every channel a relaying node opens becomes one connection on the local
 * Hocuspocus, exactly as if the client had connected here (its headers, URL and Auth frame are forwarded), so
 * onConnect/onAuthenticate, read-only and every other hook run here, on the only Y.Doc.
 */
export function serveLink(link: WebSocket, instance: HocuspocusLike, onMalformed: () => void): void {
  const channels = new Map<number, Channel>();
  const send = (message: Buffer) => {
    if (link.readyState === link.OPEN) link.send(message);
  };
  link.on('message', (data: Buffer) => {
    const envelope = decode(data);
    if (!envelope) return onMalformed();
    const { kind, channel: id, payload } = envelope;
    if (kind === Kind.Frame) return channels.get(id)?.push(payload);
    if (kind === Kind.Close) {
      channels.get(id)?.close();
      channels.delete(id);
      return;
    }
    const request = decodeOpen(payload);
    if (!request || channels.has(id)) {
      onMalformed();
      return send(encodeClose(id, BAD_OPEN, 'bad channel'));
    }
    const channel = openChannel(instance, request, {
      deliver: (frame) => send(encode(Kind.Frame, id, frame)),
      closed: (code, reason) => {
        if (channels.get(id) !== channel) return;
        channels.delete(id);
        send(encodeClose(id, code, reason));
      },
    });
    channels.set(id, channel);
  });
  link.on('error', () => {}); // 'close' follows
  link.on('close', () => {
    for (const channel of channels.values()) channel.close();
    channels.clear();
  });
}
