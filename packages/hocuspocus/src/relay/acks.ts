import { MessageType, SYNC_STEP_1, SYNC_STEP_2, SYNC_UPDATE, type FrameHead } from './address.js';

/** A client frame the owner answers with one SyncStatus: `counted` if the client counts it, `settles` lost ones it covers. */
interface Expected {
  counted: boolean;
  settles: number;
}

/**
 * A relayed client's acknowledgements on one route. A provider counts what the owner has not acknowledged yet
 * (`unsyncedChanges`): it resets the count to 1 when it sends its sync step 1 (for the sync step 2 it will send in
 * reply), adds 1 per update, and takes 1 off per SyncStatus. On a direct connection that is exact.
 *
 * A relayed client keeps its socket while its route re-points, and the relay replays its sync step 1 to the new
 * owner, so two things differ: frames the old owner never answered would stay counted for ever, and the client's
 * reply to the new owner's sync step 1 is a sync step 2 it does not count. That reply carries every update the new
 * owner lacks, the lost ones included, so its SyncStatus is delivered once per lost frame (none when nothing was
 * lost): each counted frame is acknowledged exactly once, and only once an owner has applied its content.
 */
export class Acknowledgements {
  /** Status-bearing frames on the current channel, in order, not answered yet. */
  private readonly expected: Expected[] = [];
  /** Counted frames lost with earlier channels (or dropped), not settled yet. */
  private owed = 0;
  /** The client sent a sync step 1: its next sync step 2 is the one it counts. */
  private awaitingStep2 = false;

  /** A client frame is pushed on the current channel (or, `reached` false, dropped before any owner saw it). */
  pushed(head: FrameHead, reached = true): void {
    if (head.type !== MessageType.Sync) return;
    if (head.subtype === SYNC_STEP_1) {
      // The client starts over: its count is 1 now, whatever it was owed before.
      this.owed = 0;
      this.awaitingStep2 = true;
      return;
    }
    if (head.subtype !== SYNC_STEP_2 && head.subtype !== SYNC_UPDATE) return;
    const counted = head.subtype === SYNC_UPDATE || this.awaitingStep2;
    if (head.subtype === SYNC_STEP_2) this.awaitingStep2 = false;
    if (!reached) {
      if (counted) this.owed++;
      return;
    }
    // A sync step 2 carries everything the owner lacks: it settles what was lost before it.
    const settles = head.subtype === SYNC_STEP_2 ? this.owed : 0;
    if (settles) this.owed = 0;
    this.expected.push({ counted, settles });
  }

  /** The current channel is gone: what it did not answer is lost with it. */
  lost(): void {
    for (const { counted, settles } of this.expected.splice(0)) this.owed += settles + (counted ? 1 : 0);
  }

  /** A SyncStatus from the current channel's owner: how many times the client receives it (0, 1 or more). */
  status(): number {
    const answered = this.expected.shift();
    if (!answered) return 1; // not ours to correct
    return (answered.counted ? 1 : 0) + answered.settles;
  }
}
