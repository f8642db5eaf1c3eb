import type { StrategyName } from '../types.js';
import type { PlacementBuilder } from './placement.js';
import { buildRing } from './ring.js';

export type { Placement, PlacementBuilder, PlacementInput } from './placement.js';

export const STRATEGIES: Readonly<Record<StrategyName, PlacementBuilder>> = {
  ring: buildRing,
};
