import { describe, expect, it } from 'vitest';
import { closePayload, decode, decodeClose, Kind, Outbox } from '../src/relay/envelope.js';

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('node link envelopes', () => {
  it('sends what one turn of the event loop queued as one link message, in order', async () => {
    const sent: Buffer[] = [];
    const outbox = new Outbox((message) => sent.push(message));
    outbox.add(Kind.Open, 1, Buffer.from('{}'));
    outbox.add(Kind.Frame, 1, Uint8Array.of(7, 8, 9));
    outbox.add(Kind.Close, 2, closePayload(4401, 'Unauthorized'));
    expect(sent).toHaveLength(0);
    await turn();
    expect(sent).toHaveLength(1);
    const [open, frame, close] = decode(sent[0]!)!;
    expect([open!.kind, open!.channel, Buffer.from(open!.payload).toString()]).toEqual([Kind.Open, 1, '{}']);
    expect([frame!.kind, frame!.channel, [...frame!.payload]]).toEqual([Kind.Frame, 1, [7, 8, 9]]);
    expect([close!.kind, close!.channel, decodeClose(close!.payload)]).toEqual([Kind.Close, 2, { code: 4401, reason: 'Unauthorized' }]);

    outbox.add(Kind.Frame, 3);
    await turn();
    expect(sent).toHaveLength(2);
    expect(decode(sent[1]!)?.map(({ kind, channel, payload }) => [kind, channel, payload.length])).toEqual([[Kind.Frame, 3, 0]]);
  });

  it('keeps what is queued while the link cannot take it, and sends it as one message once it can', async () => {
    const sent: Buffer[] = [];
    let open = false;
    const outbox = new Outbox(
      (message) => sent.push(message),
      () => open,
    );
    outbox.add(Kind.Open, 1, Buffer.from('{}'));
    await turn();
    outbox.add(Kind.Frame, 1, Uint8Array.of(5));
    await turn();
    expect(sent).toHaveLength(0);
    open = true;
    outbox.flush();
    expect(sent).toHaveLength(1);
    expect(decode(sent[0]!)?.map(({ kind, channel }) => [kind, channel])).toEqual([
      [Kind.Open, 1],
      [Kind.Frame, 1],
    ]);
  });

  it('forgets what was queued for a link that dropped', async () => {
    const sent: Buffer[] = [];
    const outbox = new Outbox((message) => sent.push(message));
    outbox.add(Kind.Frame, 1, Uint8Array.of(1));
    outbox.clear();
    await turn();
    expect(sent).toHaveLength(0);
  });

  it('drops a whole message when any envelope in it is malformed', () => {
    const good = Buffer.from([Kind.Frame, 0, 0, 0, 1, 0, 0, 0, 1, 42]);
    expect(decode(good)).toHaveLength(1);
    expect(decode(Buffer.concat([good, Buffer.from([Kind.Frame, 0, 0, 0, 1, 0, 0, 0, 5, 1])]))).toBeUndefined(); // longer than the message
    expect(decode(Buffer.concat([good, Buffer.from([9, 0, 0, 0, 1, 0, 0, 0, 0])]))).toBeUndefined(); // unknown kind
    expect(decode(Buffer.concat([good, Buffer.from([Kind.Frame, 0, 0])]))).toBeUndefined(); // a cut header
    expect(decode(Buffer.alloc(0))).toBeUndefined();
  });
});
