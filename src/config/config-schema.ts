import { z } from 'zod';
import { PRIORITIES, parsePriority } from '../event/index.js';
import { SINK_PLUGINS } from '../sinks/index.js';
import { SOURCE_PLUGINS } from '../sources/index.js';

const priority = z
  .string()
  .refine((p) => parsePriority(p) !== undefined, { message: `must be a priority: ${PRIORITIES.join(', ')}` });

/** One entry of a plug-in list: `type` picks the plug-in; that plug-in's schema validates the rest. */
function pluginEntry(kind: string, plugins: ReadonlyArray<{ readonly type: string; readonly schema: z.ZodType }>) {
  return z
    .object({ type: z.string() })
    .passthrough()
    .superRefine((s, ctx) => {
      const plugin = plugins.find((p) => p.type === s.type);
      if (!plugin) {
        ctx.addIssue({
          code: 'custom',
          path: ['type'],
          message: `unknown ${kind} type ${JSON.stringify(s.type)}; use one of ${plugins.map((p) => p.type).join(', ')}`,
        });
        return;
      }
      const { type: _type, ...rest } = s;
      const r = plugin.schema.safeParse(rest);
      if (!r.success)
        for (const i of r.error.issues) ctx.addIssue({ ...i, code: 'custom', message: i.message, path: i.path });
    });
}

const Source = pluginEntry('source', SOURCE_PLUGINS);
const Sink = pluginEntry('sink', SINK_PLUGINS);

/** A sink's name: its `name`; else its type, as `type-N` (N its index) when there are several sinks. */
export function sinkName(sinks: ReadonlyArray<{ readonly type: string; readonly name?: unknown }>, i: number): string {
  const s = sinks[i];
  if (typeof s.name === 'string') return s.name;
  return sinks.length > 1 ? `${s.type}-${i}` : s.type;
}

/** A rules file published over HTTPS: polled with ETag, pinned by sha256 when given. */
const RulesUrl = z
  .object({
    url: z
      .string()
      .url()
      .refine((u) => u.startsWith('https://'), { message: 'must be an https URL' }),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters')
      .optional(),
    pollSeconds: z.number().int().min(1).max(86_400).default(300),
    ca: z.string().optional(),
  })
  .strict();

/**
 * The daemon's configuration file (YAML). Every key has a default: an empty file (or none) is
 * the embedded default — the bundled sensor, the bundled rules, JSON alerts on stdout.
 */
export const ConfigSchema = z
  .object({
    node: z.object({ name: z.string().optional() }).strict().default({}),
    rules: z
      .object({
        paths: z.array(z.string().min(1)).default(['bundled']),
        urls: z.array(RulesUrl).default([]),
        /** Where fetched rules are kept. */
        cacheDir: z.string().default('/var/lib/peregrine/rules-cache'),
        ruleMatching: z.enum(['first', 'all']).default('first'),
        minPriority: priority.optional(),
      })
      .strict()
      .default({ paths: ['bundled'], urls: [], cacheDir: '/var/lib/peregrine/rules-cache', ruleMatching: 'first' }),
    sources: z
      .array(Source)
      .min(1)
      .default([{ type: 'sensor', address: 'unix:///run/peregrine/sensor.sock' }]),
    sinks: z
      .array(Sink)
      .min(1)
      .default([{ type: 'stdout' }])
      .superRefine((sinks, ctx) => {
        const seen = new Map<string, number>();
        sinks.forEach((s, i) => {
          const name = sinkName(sinks, i);
          if (seen.has(name))
            ctx.addIssue({
              code: 'custom',
              path: [i, 'name'],
              message: `sink name ${JSON.stringify(name)} is already used by sinks.${seen.get(name)}; names label metrics and spool directories, so give each sink its own "name"`,
            });
          seen.set(name, i);
        });
      }),
    /** Where remote sinks keep alerts while their receiver is down (one directory per sink). */
    spool: z
      .object({
        dir: z.string().min(1).default('/var/lib/peregrine/spool'),
        maxMiBPerSink: z.number().min(1).max(100_000).default(64),
      })
      .strict()
      .default({ dir: '/var/lib/peregrine/spool', maxMiBPerSink: 64 }),
    metrics: z
      .object({ listen: z.string().default('0.0.0.0:8765') })
      .strict()
      .default({ listen: '0.0.0.0:8765' }),
    /**
     * Container and pod metadata from the node's container runtime (CRI). `socket` unset: the
     * first of containerd's and CRI-O's default sockets that exists; none: enrichment is off.
     */
    runtime: z
      .object({ enabled: z.boolean().default(true), socket: z.string().min(1).optional() })
      .strict()
      .default({ enabled: true }),
    /**
     * Pod metadata from the Kubernetes API (workload, pod IP, service account, node and
     * namespace labels): `kubeconfig`, else `$KUBECONFIG`, else the in-cluster service account;
     * none: API enrichment is off. One pod watch for this node (`node.name`).
     */
    kubernetes: z
      .object({
        enabled: z.boolean().default(true),
        kubeconfig: z.string().min(1).optional(),
        /** Watch namespaces too, for `k8s.ns.label[KEY]` (one more watch per node). */
        namespaceLabels: z.boolean().default(false),
        /** Read this node's labels for `k8s.node.label[KEY]` (one GET per 10 minutes). */
        nodeLabels: z.boolean().default(true),
      })
      .strict()
      .prefault({}), // every key's own default
    /**
     * Automated responses (docs/responses.md): policy files, and the guards every action passes.
     * No paths: no responses.
     */
    responses: z
      .object({
        paths: z.array(z.string().min(1)).default([]),
        /** Every policy only says what it would do. */
        dryRun: z.boolean().default(false),
        protectedNamespaces: z.array(z.string().min(1)).default(['kube-system', 'peregrine']),
        /** Pods carrying one of these labels are never acted on (`*`: any value). */
        protectedLabels: z.record(z.string().min(1), z.string()).default({ 'peregrine.dev/protected': '*' }),
        budget: z
          .object({ max: z.number().int().min(0).default(20), windowSeconds: z.number().int().min(1).default(60) })
          .strict()
          .default({ max: 20, windowSeconds: 60 }),
        namespaceBudget: z
          .object({ max: z.number().int().min(0).default(5), windowSeconds: z.number().int().min(1).default(60) })
          .strict()
          .default({ max: 5, windowSeconds: 60 }),
        dedupSeconds: z.number().int().min(0).default(300),
        minHealthyReplicas: z.number().int().min(0).default(1),
        /** Where isolations are kept across restarts. */
        stateDir: z.string().min(1).default('/var/lib/peregrine'),
        /** node:cordon may act (it acts on the whole node; its permission is an opt-in too). */
        allowNodeCordon: z.boolean().default(false),
        /** Where evidence:capture stores its records (0700, files 0600). */
        evidenceDir: z.string().min(1).default('/var/lib/peregrine/evidence'),
        /** `peregrine responses release` talks to the agent here (mode 0600). */
        socket: z.string().min(1).default('/run/peregrine/responses.sock'),
      })
      .strict()
      .prefault({}), // every key's own default
    /** How long `peregrine run` may take to stop on SIGTERM, all of it (below Kubernetes' 30 s grace period). */
    shutdown: z
      .object({ deadlineSeconds: z.number().min(1).max(300).default(10) })
      .strict()
      .default({ deadlineSeconds: 10 }),
    log: z
      .object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') })
      .strict()
      .default({ level: 'info' }),
  })
  .strict();

/** The validated configuration, defaults filled in. */
export type Config = z.infer<typeof ConfigSchema>;
