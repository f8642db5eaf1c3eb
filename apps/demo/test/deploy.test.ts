import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

// The Kubernetes manifests in deploy/ cannot be applied here; this checks the fields that wire a pod's identity,
// its probes and its membership, which a typo would silently break.
const root = new URL('../../../', import.meta.url);
const kustomization = parse('deploy/kustomization.yaml')[0] as unknown as { resources: string[] };
const docs = kustomization.resources.flatMap((file) => parse(`deploy/${file}`));

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed YAML is untyped
type Doc = { kind: string; metadata: { name: string }; spec: any; data?: Record<string, string>; stringData?: Record<string, string> };

function parse(path: string): Doc[] {
  return parseAllDocuments(readFileSync(new URL(path, root), 'utf8')).map((doc) => {
    expect(doc.errors, `${path}: YAML errors`).toEqual([]);
    return doc.toJSON() as Doc;
  });
}

const find = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name);
const statefulSets = docs.filter((d) => d.kind === 'StatefulSet');
// The HTTP examples give each pod a stable DNS name clients are redirected to; Hocuspocus relays behind one URL instead.
const redirecting = statefulSets.filter((s) => s.metadata.name !== 'hocuspocus-example');

describe('deploy/ manifests', () => {
  it('deploy every example app, each in a StatefulSet', () => {
    expect(statefulSets.map((s) => s.metadata.name).sort()).toEqual(['express-example', 'fastify-example', 'hocuspocus-example']);
    for (const set of statefulSets) expect(existsSync(new URL(`apps/${set.metadata.name}/src/main.ts`, root))).toBe(true);
  });

  describe.each(statefulSets.map((s) => [s.metadata.name, s] as const))('%s', (name, set) => {
    const pod = set.spec.template.spec;
    const container = pod.containers[0];
    const env = Object.fromEntries(container.env.map((e: { name: string }) => [e.name, e]));
    const ports = Object.fromEntries(container.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]));

    it('NODE_ID comes from the pod name', () => {
      expect(env.NODE_ID.valueFrom.fieldRef.fieldPath).toBe('metadata.name');
    });

    it('is governed by a Service that selects its pods', () => {
      const service = find('Service', set.spec.serviceName);
      expect(service, `Service ${set.spec.serviceName}`).toBeDefined();
      expect(set.spec.template.metadata.labels).toMatchObject(service!.spec.selector);
      expect(set.spec.template.metadata.labels).toMatchObject(set.spec.selector.matchLabels);
      expect(Number(env.PORT.value)).toBe(ports.http);
    });

    it('is ready on /ready and alive on /health, on the http port', () => {
      expect(container.readinessProbe.httpGet).toEqual({ path: '/ready', port: 'http' });
      expect(container.livenessProbe.httpGet).toEqual({ path: '/health', port: 'http' });
      expect(ports.http).toBeTypeOf('number');
    });

    it('reads the Redis address and the membership secret from the environment', () => {
      const redis = env.REDIS_URL.valueFrom.configMapKeyRef;
      expect(find('ConfigMap', redis.name)?.data?.[redis.key]).toMatch(/^redis:\/\//);
      const secret = env.RINGROUTE_SECRET.valueFrom.secretKeyRef;
      expect(find('Secret', secret.name)?.stringData?.[secret.key]).toBeTypeOf('string');
      // The app reads these variables (in its main.ts and the example kit's launcher), and the manifest sets every
      // one it reads (optional tuning aside).
      const sources = [`apps/${name}/src/main.ts`, 'apps/example-kit/src/env.ts'].map((path) => readFileSync(new URL(path, root), 'utf8'));
      const read = new Set(sources.flatMap((source) => [...source.matchAll(/process\.env\.([A-Z_]+)/g)].map((m) => m[1]!)));
      for (const variable of ['NODE_ID', 'NODE_URL', 'PORT', 'REDIS_URL', 'RINGROUTE_SECRET']) expect(read).toContain(variable);
      const optional = new Set(['MISROUTE', 'HOST', 'RINGROUTE_CLUSTER']);
      expect([...read].filter((v) => !optional.has(v) && !(v in env))).toEqual([]);
    });

    it('is scaled by an HPA that targets it', () => {
      const hpa = docs.find((d) => d.kind === 'HorizontalPodAutoscaler' && d.spec.scaleTargetRef.name === name);
      expect(hpa?.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'StatefulSet', name });
      expect(hpa!.spec.minReplicas).toBeGreaterThanOrEqual(set.spec.replicas);
      expect(hpa!.spec.maxReplicas).toBeGreaterThan(hpa!.spec.minReplicas);
    });
  });

  describe.each(redirecting.map((s) => [s.metadata.name, s] as const))('%s (redirects and proxies to pods)', (name, set) => {
    const container = set.spec.template.spec.containers[0];
    const env = Object.fromEntries(container.env.map((e: { name: string }) => [e.name, e]));
    const port = container.ports.find((p: { name: string }) => p.name === 'http').containerPort;

    it("advertises the pod's stable DNS name in its headless Service as NODE_URL, on the container port", () => {
      expect(find('Service', set.spec.serviceName)!.spec.clusterIP).toBe('None');
      expect(env.POD_NAMESPACE.valueFrom.fieldRef.fieldPath).toBe('metadata.namespace');
      const url = new URL(env.NODE_URL.value.replaceAll('$(NODE_ID)', `${name}-0`).replaceAll('$(POD_NAMESPACE)', 'default'));
      expect(url.hostname).toBe(`${name}-0.${set.spec.serviceName}.default.svc.cluster.local`);
      expect(Number(url.port)).toBe(port);
    });
  });

  describe('hocuspocus-example (one URL: relay mode)', () => {
    const set = find('StatefulSet', 'hocuspocus-example')!;
    const container = set.spec.template.spec.containers[0];
    const env = Object.fromEntries(container.env.map((e: { name: string }) => [e.name, e]));
    const mine = (kind: string) => docs.filter((d) => d.kind === kind && d.metadata.name.startsWith('hocuspocus-example'));

    it('has one Service, behind one Ingress, and no per-pod public host', () => {
      const [service, ...others] = mine('Service');
      expect(others).toEqual([]);
      expect(service!.spec.clusterIP).toBeUndefined(); // load-balanced, not headless
      expect(set.spec.serviceName).toBe(service!.metadata.name);
      const ingresses = mine('Ingress');
      expect(ingresses).toHaveLength(1);
      const backends = ingresses[0]!.spec.rules.flatMap((rule: { http: { paths: { backend: { service: { name: string } } }[] } }) =>
        rule.http.paths.map((path) => path.backend.service.name),
      );
      expect(new Set(backends)).toEqual(new Set([service!.metadata.name]));
    });

    it('advertises the pod IP as NODE_URL (node-to-node relay links only), on the container port', () => {
      expect(env.POD_IP.valueFrom.fieldRef.fieldPath).toBe('status.podIP');
      expect(env.NODE_URL.value).toBe(`ws://$(POD_IP):${env.PORT.value}`);
    });

    it('is ready only while SmartRoute is initialized (GET /ready), so a leaving pod drops out of the Service', () => {
      expect(container.readinessProbe.httpGet).toEqual({ path: '/ready', port: 'http' });
      expect(set.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(30); // time to hand documents over
    });
  });

  it('the Dockerfile builds the app named by APP and runs its src/main.ts', () => {
    const dockerfile = readFileSync(new URL('Dockerfile', root), 'utf8');
    expect(dockerfile).toMatch(/^ARG APP=/m);
    expect(dockerfile).toMatch(/^WORKDIR \/app\/apps\/\$\{APP\}$/m);
    expect(dockerfile).toMatch(/^CMD \["node", "--import", "tsx", "src\/main\.ts"\]$/m);
  });
});
