import type { IncomingMessage, ServerResponse } from 'node:http';
import { isRoutable } from '@ringroute/ring-core';
import {
  bearerMatches,
  createMonitoring,
  createRouter,
  errorAnswer,
  healthBody,
  jsonAnswer,
  nodeView,
  readJson,
  routerStats,
  tokenDigest,
  type HttpAnswer,
  type Monitoring as SharedMonitoring,
  type RingRouter,
  unavailableAnswer,
} from '@ringroute/ring-core/http';
import { RING_PATH } from '../hint/index.js';
import type { ResolvedOptions } from '../options/index.js';
import type { SmartRoute } from '../smart-route/index.js';
import { registerMetrics } from './metrics.js';

/** CORS for the read-only routes: a browser page on another origin fetches the ring and document owners. */
const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers': 'authorization, content-type',
};
const MAX_DOCUMENT_NAME = 1024;
const NOT_IN_CLUSTER = 'this node is not in the cluster (not started yet, or left)';

/**
 * The seed's monitoring and management endpoints, served through Hocuspocus's onRequest:
 * `GET /api/routes/stats`, `GET /api/routes/document/:id`, `GET /api/routes/ring` (CORS), `POST /api/routes/migrate`
 * (bearer token), `GET /health`, `GET /ready` (503 until initialized); plus ring-core's shared routes
 * (`GET /route?key=`, `GET /metrics`, and with the token `POST /api/routes/nodes`, `DELETE /api/routes/nodes/:id`,
 * `POST /api/routes/pins`).
 */
export class Monitoring {
  private shared: { router: RingRouter; monitoring: SharedMonitoring } | undefined;
  private readonly adminDigest: Buffer | undefined;
  private readonly startedAt = Date.now();

  constructor(
    private readonly smartRoute: SmartRoute,
    private readonly config: ResolvedOptions,
  ) {
    this.adminDigest = config.adminToken === undefined ? undefined : tokenDigest(config.adminToken);
  }

  /** Answers the request when it is one of ours; false leaves it to Hocuspocus and other extensions. */
  async handle(request: IncomingMessage, response: ServerResponse): Promise<boolean> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const answer = await this.answer(request, url).catch((error: unknown) =>
      errorAnswer(500, 'Internal Server Error', 'internal', String(error)),
    );
    if (!answer) return false;
    if (!response.headersSent) {
      response.writeHead(answer.status, { ...CORS, ...answer.headers });
      response.end(answer.body);
    }
    return true;
  }

  private async answer(request: IncomingMessage, url: URL): Promise<HttpAnswer | undefined> {
    const { pathname } = url;
    const method = request.method ?? 'GET';
    if (pathname === '/health') return method === 'GET' ? this.health() : this.notAllowed('GET');
    if (pathname === '/ready') return method === 'GET' ? this.ready() : this.notAllowed('GET');
    if (pathname !== '/route' && pathname !== '/metrics' && !pathname.startsWith('/api/routes/')) return undefined;
    if (method === 'OPTIONS') return { status: 204, headers: {}, body: '' };

    const shared = this.smartRoute.ring && (this.shared ??= this.createShared());
    if (!shared) return unavailableAnswer('not-ready', this.smartRoute.membershipInstance?.waiting ?? NOT_IN_CLUSTER, 1);

    if (pathname === RING_PATH) return method === 'GET' ? jsonAnswer(200, this.smartRoute.ring!.toJSON()) : this.notAllowed('GET');
    if (pathname === '/api/routes/stats') return method === 'GET' ? jsonAnswer(200, this.stats(shared.router)) : this.notAllowed('GET');
    if (pathname.startsWith('/api/routes/document/')) return method === 'GET' ? this.document(pathname) : this.notAllowed('GET');
    if (pathname === '/api/routes/migrate')
      return method === 'POST' ? this.admin(request, (body) => this.migrate(body)) : this.notAllowed('POST');

    const found = shared.monitoring.match(method, pathname);
    if (found && 'route' in found && found.route.admin && this.adminDigest === undefined) return this.adminDisabled();
    if (found) return shared.monitoring.serve(found, Object.assign(request, { query: Object.fromEntries(url.searchParams) }));
    if (['/api/routes/nodes', '/api/routes/pins'].some((path) => pathname.startsWith(path))) return this.adminDisabled();
    return errorAnswer(404, 'Not Found', 'unknown-route', `no route ${method} ${pathname}`);
  }

  /** Built on the first request after the membership has its ring; SmartRoute's own metrics join the router's registry. */
  private createShared(): { router: RingRouter; monitoring: SharedMonitoring } {
    const router = createRouter({
      membership: this.smartRoute.membershipInstance!,
      self: this.config.nodeId,
      key: () => undefined, // documents are routed by SmartRoute's hooks, not by HTTP requests
      enforceRouting: this.config.enforceRouting,
      adminToken: this.config.adminToken,
      maxHops: this.config.maxHops,
      leaveOnClose: false,
    });
    registerMetrics(router.metrics.registry, this.smartRoute, this.config.nodeId);
    return { router, monitoring: createMonitoring(router as RingRouter<never>) };
  }

  private health(): HttpAnswer {
    return jsonAnswer(200, { ...healthBody(this.config.nodeId), uptime: (Date.now() - this.startedAt) / 1000 });
  }

  private ready(): HttpAnswer {
    return this.smartRoute.isInitialized
      ? jsonAnswer(200, { status: 'ready', node: this.config.nodeId, epoch: this.smartRoute.ring?.epoch })
      : jsonAnswer(
          503,
          { status: 'not_ready', node: this.config.nodeId, reason: this.smartRoute.membershipInstance?.waiting ?? NOT_IN_CLUSTER },
          { 'retry-after': '1' },
        );
  }

  private stats(router: RingRouter) {
    const instance = this.smartRoute.hocuspocus;
    return {
      ...routerStats(router as RingRouter<never>),
      documents: { loaded: instance?.documents.size ?? 0, connections: instance?.getConnectionsCount() ?? 0 },
      routing: { ...this.smartRoute.counters },
      handovers: this.smartRoute.handovers,
      relay: { ...this.smartRoute.relay.counters, open: this.smartRoute.relay.sessionCount },
    };
  }

  private document(pathname: string): HttpAnswer {
    let documentId: string;
    try {
      documentId = decodeURIComponent(pathname.slice('/api/routes/document/'.length));
    } catch {
      return errorAnswer(400, 'Bad Request', 'invalid-document-id', 'the document id is not valid percent-encoding');
    }
    const invalid = documentIdProblem(documentId);
    if (invalid) return errorAnswer(400, 'Bad Request', 'invalid-document-id', invalid);
    const ring = this.smartRoute.ring!;
    const owner = ring.owner(documentId);
    return jsonAnswer(200, {
      documentId,
      owner: owner && nodeView(owner),
      url: owner?.url,
      epoch: ring.epoch,
      checksum: ring.checksum,
      local: owner?.id === this.config.nodeId,
      loaded: this.smartRoute.hocuspocus?.documents.has(documentId) ?? false,
      pinned: ring.pins[documentId],
    });
  }

  private async admin(request: IncomingMessage, handle: (body: unknown) => Promise<HttpAnswer>): Promise<HttpAnswer> {
    if (this.adminDigest === undefined) return this.adminDisabled();
    if (!bearerMatches(request.headers, this.adminDigest))
      return errorAnswer(
        401,
        'Unauthorized',
        'admin-token',
        'a valid "Authorization: Bearer <adminToken>" header is required',
        {},
        { 'www-authenticate': 'Bearer realm="ringroute"' },
      );
    const body = await readJson(request);
    return 'error' in body ? body.error : handle(body.value);
  }

  /** `POST /api/routes/migrate {documentId, targetNodeId}`: pins the document (cluster-wide) and waits for the handover. */
  private async migrate(body: unknown): Promise<HttpAnswer> {
    if (body === null || typeof body !== 'object')
      return errorAnswer(
        400,
        'Bad Request',
        'invalid-input',
        'the body must be JSON { "documentId": string, "targetNodeId": string | null }',
      );
    const { documentId, targetNodeId } = body as Record<string, unknown>;
    if (typeof documentId !== 'string') return errorAnswer(400, 'Bad Request', 'invalid-input', '"documentId" must be a string');
    const invalid = documentIdProblem(documentId);
    if (invalid) return errorAnswer(400, 'Bad Request', 'invalid-input', `"documentId" ${invalid.replace('the document id ', '')}`);
    if (targetNodeId !== null && typeof targetNodeId !== 'string')
      return errorAnswer(400, 'Bad Request', 'invalid-input', '"targetNodeId" must be a node id (or null to unpin)');
    const ring = this.smartRoute.ring!;
    if (targetNodeId !== null) {
      const target = ring.node(targetNodeId);
      if (!target) return errorAnswer(404, 'Not Found', 'unknown-node', `no member ${JSON.stringify(targetNodeId)}`);
      if (!isRoutable(target))
        return errorAnswer(
          409,
          'Conflict',
          'node-unavailable',
          `${JSON.stringify(targetNodeId)} is ${target.status} and cannot own documents`,
        );
    }
    const from = ring.owner(documentId);
    await this.smartRoute.pin(documentId, targetNodeId);
    const now = this.smartRoute.ring!;
    const owner = now.owner(documentId);
    // Answer once the old owner has handed the document over (store included), wherever the request landed.
    const handedOver = !from || from.id === owner?.id || (await this.smartRoute.handedOver(documentId, from.id));
    return jsonAnswer(200, {
      documentId,
      from: from && nodeView(from),
      to: owner && nodeView(owner),
      pinned: now.pins[documentId] ?? null,
      handedOver,
      epoch: now.epoch,
    });
  }

  private notAllowed(allow: string): HttpAnswer {
    return errorAnswer(405, 'Method Not Allowed', 'method-not-allowed', `use ${allow}`, {}, { allow });
  }

  private adminDisabled(): HttpAnswer {
    return errorAnswer(403, 'Forbidden', 'admin-disabled', 'management routes are off: configure adminToken');
  }
}

function documentIdProblem(documentId: string): string | undefined {
  if (documentId.length === 0) return 'the document id must not be empty';
  if (documentId.length > MAX_DOCUMENT_NAME) return `the document id must be at most ${MAX_DOCUMENT_NAME} characters`;
  return undefined;
}
