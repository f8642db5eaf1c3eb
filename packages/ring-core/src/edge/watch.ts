import { readFile, rename, writeFile } from 'node:fs/promises';
import type { MembershipLogger } from '../http/log.js';
import type { Membership } from '../membership/types.js';
import type { Ring } from '../types.js';
import type { EdgeProxy } from './keys.js';
import { renderEdge, unroutable, type EdgeConfigOptions } from './render.js';

export interface EdgeWriterOptions extends EdgeConfigOptions {
  proxy: EdgeProxy;
  /** The file the proxy includes. Written atomically (a temporary file beside it, then a rename). */
  file: string;
  /** Runs after each write that changed the config, e.g. nginxReloader() or haproxyReloader(). */
  reload?: () => Promise<void>;
  logger?: Pick<MembershipLogger, 'info' | 'warn'>;
}

/** The config without its header comment (epoch, checksum), which changes on every ring, even when servers do not. */
const body = (text: string) => text.slice(text.indexOf('\n') + 1);

/**
 * Keeps a proxy's upstream block in step with a membership: renders it on every ring, and when it changed writes
 * it atomically and reloads the proxy. Writes never overlap: a ring arriving mid-write is rendered once that one ends.
 * A ring no member of which can take keys is not written (the last good config stays, and the logger says why).
 */
export class EdgeWriter {
  private written: string | undefined;
  private running: Promise<void> | undefined;
  private pending: Ring | undefined;
  private readonly onRing = (ring: Ring) => void this.update(ring);
  /** Config writes and reloads done, failures, and rings kept out for want of a routable member (the last good config stays in place). */
  readonly stats = { writes: 0, reloads: 0, failures: 0, kept: 0 };

  constructor(
    private readonly membership: Membership,
    private readonly options: EdgeWriterOptions,
  ) {
    renderEdge(options.proxy, membership.ring, options); // invalid options fail here, not on the first change
  }

  /** Writes the current ring's config, then follows every change. */
  async start(): Promise<void> {
    this.membership.on('ring', this.onRing);
    await this.update(this.membership.ring);
  }

  stop(): Promise<void> {
    this.membership.off('ring', this.onRing);
    return this.running ?? Promise.resolve();
  }

  /** Resolves once the config for this ring (or a later one) is written and reloaded. */
  update(ring: Ring): Promise<void> {
    this.pending = ring;
    this.running ??= this.drain().finally(() => (this.running = undefined));
    return this.running;
  }

  private async drain(): Promise<void> {
    while (this.pending) {
      const ring = this.pending;
      this.pending = undefined;
      try {
        await this.apply(ring);
      } catch (error) {
        this.stats.failures++;
        this.options.logger?.warn({ err: error, epoch: ring.epoch }, 'ringroute: edge config not applied');
      }
    }
  }

  private async apply(ring: Ring): Promise<void> {
    const reason = unroutable(ring);
    if (reason !== undefined) {
      this.stats.kept++;
      this.options.logger?.warn({ epoch: ring.epoch, file: this.options.file, reason }, `ringroute: edge config kept (${reason})`);
      return;
    }
    const text = renderEdge(this.options.proxy, ring, this.options);
    // A restarted writer finds the config it would write already in place: no needless reload then.
    this.written ??= await readFile(this.options.file, 'utf8').catch(() => undefined);
    if (this.written !== undefined && body(text) === body(this.written)) return;
    const temp = `${this.options.file}.${process.pid}.tmp`;
    await writeFile(temp, text);
    await rename(temp, this.options.file);
    this.stats.writes++;
    if (this.options.reload) {
      await this.options.reload();
      this.stats.reloads++;
    }
    // Remembered only once reloaded, so a failed reload is retried with the next ring.
    this.written = text;
    this.options.logger?.info({ epoch: ring.epoch, file: this.options.file }, 'ringroute: edge config written');
  }
}
