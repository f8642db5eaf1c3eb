import type { StrategyName } from '../types.js';
import { buildHaproxy } from './haproxy.js';
import { buildMaglev } from './maglev.js';
import { buildNginx } from './nginx.js';
import type { PlacementBuilder } from './placement.js';
import { buildRendezvous } from './rendezvous.js';
import { buildRing } from './ring.js';

export type { Placement } from './placement.js';

export const STRATEGIES: Readonly<Record<StrategyName, PlacementBuilder>> = {
  ring: buildRing,
  maglev: buildMaglev,
  rendezvous: buildRendezvous,
  nginx: buildNginx,
  haproxy: buildHaproxy,
};
