import { idOf, ownerOf, type Context } from './context.js';
import type { HandoffScheduler } from './scheduler.js';
import type { KeyCustody } from './types.js';

/** A key's custody on this node (`GET <prefix>/api/routes/handoff?key=`): what it holds of it, and why. */
export async function describeKey(
  key: string,
  { self, ledger, spaces }: Context,
  scheduler: HandoffScheduler<string>,
): Promise<KeyCustody> {
  const owner = ownerOf(ledger.ring, key);
  const held: Record<string, number> = {};
  for (const [name, space] of spaces) if (space.held(key)) held[name] = (await space.export(key))?.byteLength ?? 0;
  const moving = Object.keys(held).length > 0 || [...spaces.keys()].some((name) => scheduler.has(idOf(name, key)));
  const established = [...spaces.values()].some((space) => space.established(key));
  const custody =
    owner === self ? (established || ledger.sources(key).length === 0 ? 'owned' : 'importing') : moving ? 'moving' : 'elsewhere';
  return { key, owner, custody, held, token: ledger.token };
}
