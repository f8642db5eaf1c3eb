import { Counter, Gauge, type Registry } from 'prom-client';
import type { SmartRoute } from '../smart-route/index.js';

/**
 * SmartRoute's own families, read at scrape time, in the registry of ring-core's (the app's own registry when it
 * passes one), so one `/metrics` shows the ring, the documents, the handovers and the relay.
 */
export function registerMetrics(registry: Registry, smartRoute: SmartRoute, node: string): void {
  const registers = [registry];
  new Counter({
    name: 'ringroute_hocuspocus_events_total',
    help: 'Document admissions, refusals and handovers.',
    labelNames: ['node', 'event'],
    registers,
    collect() {
      this.reset();
      for (const [event, value] of Object.entries(smartRoute.counters)) this.inc({ node, event }, value);
    },
  });
  new Gauge({
    name: 'ringroute_hocuspocus_handovers',
    help: 'Handovers by state (pending and moving now; done and failed so far).',
    labelNames: ['node', 'state'],
    registers,
    collect() {
      for (const [state, value] of Object.entries(smartRoute.handovers)) this.set({ node, state }, value);
    },
  });
  new Gauge({
    name: 'ringroute_hocuspocus_documents',
    help: 'Documents loaded on this node.',
    labelNames: ['node'],
    registers,
    collect() {
      this.set({ node }, smartRoute.hocuspocus?.documents.size ?? 0);
    },
  });
  new Gauge({
    name: 'ringroute_hocuspocus_connections',
    help: 'Open connections on this node.',
    labelNames: ['node'],
    registers,
    collect() {
      this.set({ node }, smartRoute.hocuspocus?.getConnectionsCount() ?? 0);
    },
  });
  new Counter({
    name: 'ringroute_hocuspocus_relay_total',
    help: 'Relay mode: client sockets taken over, connections relayed and re-pointed, node links accepted and refused, malformed link messages.',
    labelNames: ['node', 'event'],
    registers,
    collect() {
      this.reset();
      for (const [event, value] of Object.entries(smartRoute.relay.counters)) this.inc({ node, event }, value);
    },
  });
  new Gauge({
    name: 'ringroute_hocuspocus_relay_sessions',
    help: 'Relay mode: client sockets taken over and open now.',
    labelNames: ['node'],
    registers,
    collect() {
      this.set({ node }, smartRoute.relay.sessionCount);
    },
  });
}
