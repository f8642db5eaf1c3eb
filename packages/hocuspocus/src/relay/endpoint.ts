import type { WebSocket } from 'ws';
import type { HocuspocusLike } from '../hocuspocus/index.js';
import { openChannel, type Channel } from './channel.js';
import { closePayload, decode, decodeOpen, Kind, Outbox, type Envelope } from './envelope.js';

/** Close code of a channel whose OPEN was malformed or reused a live channel number. */
const BAD_OPEN = 4400;

/**
 * The owner's side of a node link: every channel a relaying node opens becomes one connection on the local
 * Hocuspocus, exactly as if the client had connected here (its headers, URL and Auth frame are forwarded), so
 * onConnect/onAuthenticate, read-only and every other hook run here, on the only Y.Doc.
 */
export function serveLink(link: WebSocket, instance: HocuspocusLike, onMalformed: () => void): void {
  const channels = new Map<number, Channel>();
  const outbox = new Outbox(
    (message) => link.send(message),
    () => link.readyState === link.OPEN,
  );

  const receive = ({ kind, channel: id, payload }: Envelope): void => {
    if (kind === Kind.Frame) return channels.get(id)?.push(payload);
    if (kind === Kind.Close) {
      channels.get(id)?.close();
      channels.delete(id);
      return;
    }
    const request = decodeOpen(payload);
    if (!request || channels.has(id)) {
      onMalformed();
      return outbox.add(Kind.Close, id, closePayload(BAD_OPEN, 'bad channel'));
    }
    const channel = openChannel(instance, request, {
      deliver: (frame) => outbox.add(Kind.Frame, id, frame),
      closed: (code, reason) => {
        if (channels.get(id) !== channel) return;
        channels.delete(id);
        outbox.add(Kind.Close, id, closePayload(code, reason));
      },
    });
    channels.set(id, channel);
  };

  link.on('message', (data: Buffer) => {
    const envelopes = decode(data);
    if (!envelopes) return onMalformed();
    for (const envelope of envelopes) receive(envelope);
  });
  link.on('error', () => {}); // 'close' follows
  link.on('close', () => {
    outbox.clear();
    for (const channel of channels.values()) channel.close();
    channels.clear();
  });
}
