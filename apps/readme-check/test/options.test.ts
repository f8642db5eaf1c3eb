import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { RingRouteConfigError } from '@ringroute/ring-core';
import { ringRoute as expressRingRoute } from '@ringroute/express';
import { ringRoute as fastifyRingRoute } from '@ringroute/fastify';
import { SmartRoute } from '@ringroute/hocuspocus';
import { createSmartClient } from '@ringroute/hocuspocus/client';
import { readReadme, tableOptions, type DocumentedOption } from '../src/readme.js';

/** false when the options are refused for an unknown name; any other outcome (accepted, or refused for a value) is true. */
async function known(attempt: () => unknown): Promise<boolean> {
  try {
    await attempt();
    return true;
  } catch (error) {
    if (error instanceof RingRouteConfigError && error.message.includes('unknown option')) return false;
    return true;
  }
}

/**
 * Each documented option (and each nested one, as listed in its row) passed to the real validator with an undefined
 * value, which every option takes as its default: a name the code does not know is refused as unknown.
 */
async function unknownNames(
  table: DocumentedOption[],
  validate: (options: Record<string, unknown>) => unknown,
  nestedBase: (option: string, nested: Record<string, undefined>) => Record<string, unknown> = (option, nested) => ({ [option]: nested }),
): Promise<string[]> {
  const unknown: string[] = [];
  for (const { option, nested } of table) {
    if (!(await known(() => validate({ [option]: undefined })))) unknown.push(option);
    for (const name of nested)
      if (!(await known(() => validate(nestedBase(option, { [name]: undefined }))))) unknown.push(`${option}.${name}`);
  }
  return unknown;
}

/** The options table of a package README (after the line `marker`), which must list several. */
function documented(pkg: string, marker: string): DocumentedOption[] {
  const table = tableOptions(readReadme(pkg), marker);
  expect(table.length, `${pkg} README: the table after "${marker}"`).toBeGreaterThan(5);
  return table;
}

const NODES = [{ id: 'a', url: 'http://127.0.0.1:1' }];

describe('every option a README documents exists, nested ones included', () => {
  it('@ringroute/fastify', async () => {
    const validate = async (options: Record<string, unknown>) => {
      const app = Fastify();
      app.register(fastifyRingRoute, { nodes: NODES, self: 'a', key: 'query:key', readyTimeout: 0, ...options });
      try {
        await app.ready();
      } finally {
        await app.close();
      }
    };
    expect(await unknownNames(documented('fastify', '## Options'), validate)).toEqual([]);
  });

  it('@ringroute/express', async () => {
    const validate = (options: Record<string, unknown>) =>
      expressRingRoute({ nodes: NODES, self: 'a', key: 'query:key', ...options }).close();
    expect(await unknownNames(documented('express', '## Options'), validate)).toEqual([]);
  });

  it('@ringroute/hocuspocus: SmartRoute', async () => {
    const validate = (options: Record<string, unknown>) => new SmartRoute({ misroute: 'refuse', ...options });
    // A cluster node's fields are documented as the element type of `clusterNodes`.
    const nested = (option: string, fields: Record<string, undefined>) =>
      option === 'clusterNodes' ? { clusterNodes: [{ id: 'b', address: '127.0.0.1', port: 1, ...fields }] } : { [option]: fields };
    expect(await unknownNames(documented('hocuspocus', '## Options'), validate, nested)).toEqual([]);
  });

  it('@ringroute/hocuspocus/client: createSmartClient', async () => {
    const validate = (options: Record<string, unknown>) =>
      createSmartClient({ nodes: ['http://127.0.0.1:1'], WebSocketPolyfill: class {}, ...options }).destroy();
    expect(await unknownNames(documented('hocuspocus', 'Options of `createSmartClient`'), validate)).toEqual([]);
  });

  it('catches a documented name the code does not know', async () => {
    const table = tableOptions('## Options\n\n| option | |\n|---|---|\n| `healthCheck` | `{ interval, backoff }` |\n', '## Options');
    const validate = (options: Record<string, unknown>) =>
      expressRingRoute({ nodes: NODES, self: 'a', key: 'query:key', ...options }).close();
    expect(await unknownNames(table, validate)).toEqual(['healthCheck.backoff']);
  });
});
