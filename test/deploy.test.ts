/** deploy/: every manifest valid against the Kubernetes API schemas; configs valid; RBAC exact. */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import * as core from 'kubernetes-models/v1';
import * as apps from 'kubernetes-models/apps/v1';
import * as rbac from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { AGENT_RBAC } from '../src/agent/index.js';
import { loadConfig } from '../src/config/index.js';
import { FieldKeyTable } from '../src/event/index.js';
import { loadPolicies } from '../src/respond/index.js';

const DEPLOY = fileURLToPath(new URL('../deploy/', import.meta.url));
type Obj = Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string } };

const MODELS: Record<string, new (o: never) => { validate(): void }> = {
  'v1/Namespace': core.Namespace,
  'v1/ServiceAccount': core.ServiceAccount,
  'v1/ConfigMap': core.ConfigMap,
  'v1/Service': core.Service,
  'apps/v1/DaemonSet': apps.DaemonSet,
  'rbac.authorization.k8s.io/v1/ClusterRole': rbac.ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': rbac.ClusterRoleBinding,
};

function docs(file: string): Obj[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as Obj)
    .filter((o) => o && o.kind);
}

/** Kustomize's strategic merge, as far as these manifests use it (lists merged by name, $patch: delete). */
function merge(base: unknown, patch: unknown): unknown {
  if (Array.isArray(base) && Array.isArray(patch)) {
    const out = [...(base as Array<Record<string, unknown>>)];
    for (const p of patch as Array<Record<string, unknown>>) {
      const i = out.findIndex((b) => b.name === p.name);
      if (p.$patch === 'delete') {
        if (i >= 0) out.splice(i, 1);
      } else if (i >= 0) out[i] = merge(out[i], p) as Record<string, unknown>;
      else out.push(p);
    }
    return out;
  }
  if (base && patch && typeof base === 'object' && typeof patch === 'object' && !Array.isArray(patch)) {
    const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    for (const [k, v] of Object.entries(patch)) out[k] = k in out ? merge(out[k], v) : v;
    return out;
  }
  return patch;
}

/** The objects a kustomization renders (resources, then patches applied). */
function build(dir: string): Obj[] {
  const k = parseAllDocuments(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'))[0].toJS() as {
    resources: string[];
    patches?: Array<{ path: string }>;
  };
  let objs: Obj[] = [];
  for (const r of k.resources) {
    const p = join(dir, r);
    expect(existsSync(p), `${p} exists`).toBe(true);
    objs.push(...(existsSync(join(p, 'kustomization.yaml')) ? build(p) : docs(p)));
  }
  for (const patch of k.patches ?? []) {
    for (const pd of docs(join(dir, patch.path))) {
      const i = objs.findIndex((o) => o.kind === pd.kind && o.metadata.name === pd.metadata.name);
      expect(i, `${patch.path} patches an existing ${pd.kind}/${pd.metadata.name}`).toBeGreaterThanOrEqual(0);
      objs = objs.map((o, j) => (j === i ? (merge(o, pd) as Obj) : o));
    }
  }
  return objs;
}

for (const variant of ['base', 'overlays/tetragon', 'overlays/responses']) {
  describe(`deploy/${variant}`, () => {
    const objs = build(join(DEPLOY, variant));
    it('every container runs the image scripts/build-image produces (peregrine:<version>), as its non-root user unless it responds', () => {
      const version = (
        JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
      ).version;
      const ds = objs.find((o) => o.kind === 'DaemonSet') as unknown as {
        spec: {
          template: {
            spec: {
              securityContext?: { runAsUser?: number };
              containers: Array<{ name: string; image: string; securityContext?: { runAsUser?: number } }>;
            };
          };
        };
      };
      const pod = ds.spec.template.spec;
      for (const c of pod.containers) expect(c.image, c.name).toBe(`peregrine:${version}`);
      expect(pod.securityContext?.runAsUser).toBe(65532);
      const agent = pod.containers.find((c) => c.name === 'agent')!;
      expect(agent.securityContext?.runAsUser ?? 65532).toBe(variant === 'overlays/responses' ? 0 : 65532);
    });

    it('every manifest is valid against the Kubernetes API schemas', () => {
      expect(objs.length).toBeGreaterThanOrEqual(7);
      for (const o of objs) {
        const Model = MODELS[`${o.apiVersion}/${o.kind}`];
        expect(Model, `a schema for ${o.apiVersion} ${o.kind}`).toBeDefined();
        expect(() => new Model(o as never).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
      }
    });
    it("the agent configuration validates with Peregrine's own schema and the DaemonSet fits it", () => {
      const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'peregrine-config') as unknown as {
        data: Record<string, string>;
      };
      const cfg = loadConfig(cm.data['config.yaml'], `${variant}/config.yaml`);
      const ds = objs.find((o) => o.kind === 'DaemonSet') as unknown as {
        spec: {
          template: {
            spec: {
              hostPID: boolean;
              tolerations: unknown[];
              containers: Array<{ name: string; env?: Array<{ name: string }> }>;
            };
          };
        };
      };
      const pod = ds.spec.template.spec;
      expect(pod.hostPID).toBe(true);
      expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
      expect(pod.containers.find((c) => c.name === 'agent')!.env!.map((e) => e.name)).toContain('NODE_NAME');
      const hasSensor = pod.containers.some((c) => c.name === 'sensor');
      expect(hasSensor).toBe(variant !== 'overlays/tetragon');
      expect(cfg.sources[0].type).toBe(variant === 'overlays/tetragon' ? 'tetragon' : 'sensor');
      if (variant === 'overlays/responses') {
        // the policies validate, and the configuration names where they are mounted
        const policies = objs.find(
          (o) => o.kind === 'ConfigMap' && o.metadata.name === 'peregrine-responses',
        ) as unknown as {
          data: Record<string, string>;
        };
        const dir = mkdtempSync(join(tmpdir(), 'peregrine-deploy-'));
        for (const [name, text] of Object.entries(policies.data)) writeFileSync(join(dir, name), text);
        const load = loadPolicies([dir], new FieldKeyTable());
        expect(load.diagnostics.errors).toEqual([]);
        expect(load.policies[0].dryRun).toBe(true);
        expect(cfg.responses.paths).toEqual(['/etc/peregrine/responses.d']);
        const agent = ds.spec.template.spec.containers.find((c) => c.name === 'agent') as unknown as {
          volumeMounts: Array<{ mountPath: string }>;
          securityContext: { capabilities: { add: string[] } };
        };
        expect(agent.volumeMounts.map((m) => m.mountPath)).toContain('/etc/peregrine/responses.d');
        expect(agent.securityContext.capabilities.add).toEqual(
          expect.arrayContaining(['KILL', 'NET_ADMIN', 'SYS_ADMIN']),
        );
      }
    });
    it('the ClusterRole grants exactly what the code declares', () => {
      const role = objs.find((o) => o.kind === 'ClusterRole') as unknown as { rules: unknown[] };
      expect(role.rules).toEqual(AGENT_RBAC);
    });
  });
}

it('configuration and rules are mounted as directories, not subPath (hot reload sees ConfigMap updates)', () => {
  const ds = docs(join(DEPLOY, 'base/daemonset.yaml'))[0] as unknown as {
    spec: { template: { spec: { containers: Array<{ volumeMounts?: Array<{ subPath?: string }> }> } } };
  };
  for (const c of ds.spec.template.spec.containers)
    for (const m of c.volumeMounts ?? []) expect(m.subPath).toBeUndefined();
});
