import { z } from 'zod';
import { defineAction } from '../response-action.js';

/** `30m`, `2h`, `90s`, `1d`, or seconds as a number: milliseconds, from 10 s to 7 days. */
const Duration = z
  .union([z.number().int(), z.string().regex(/^\d+(s|m|h|d)$/, { message: 'a duration like 90s, 30m, 2h or 1d' })])
  .transform((v) =>
    typeof v === 'number'
      ? v * 1000
      : Number(v.slice(0, -1)) * { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7 }[v.slice(-1) as 's'],
  )
  .refine((ms) => ms >= 10_000 && ms <= 7 * 8.64e7, { message: 'between 10 s and 7 days' });

/**
 * `pod:isolate`: cut one pod off the network — at once on the node (nftables in the pod's own
 * network namespace: everything but loopback, and DNS when allowed, is dropped; TCP is reset),
 * and durably through the API (a quarantine label, selected by a deny-all NetworkPolicy that
 * CNIs enforcing policies apply everywhere). Only that pod: the rest of its workload keeps
 * serving. The TTL or `peregrine responses release` undoes it; an agent restart keeps it.
 */
export const podIsolate = defineAction({
  name: 'pod:isolate',
  description: 'cut the pod off the network: nftables in its network namespace now, a NetworkPolicy durably',
  parameters: z.object({ ttl: Duration.default(30 * 60_000), allow_dns: z.boolean().default(false) }).strict(),
  requires: ['k8s.ns.name', 'k8s.pod.name'],
  rbac: [
    { apiGroups: [''], resources: ['pods'], verbs: ['get', 'patch'] },
    { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['create'] },
  ],
  podScoped: true,
  async run({ target, params, services, shared }) {
    const iso = services.isolations;
    const uid = shared.get('pod.uid') ?? target.podUid;
    if (!iso || !target.namespace || !target.podName || !uid)
      return { outcome: 'failed', reason: 'isolation is not available (no pod UID or no isolation state)' };
    const r = await iso.isolate({
      namespace: target.namespace,
      pod: target.podName,
      uid,
      allowDns: params.allow_dns,
      ttlMs: params.ttl,
      pidHint: target.pid,
    });
    const reason = `on the node: ${r.nodeLocal}; through the API: ${r.durable}; for ${Math.round(params.ttl / 1000)} s`;
    const details: Record<string, string> = { 'isolation.until': new Date(Date.now() + params.ttl).toISOString() };
    // the node's half is what stops traffic: its own latency from the event
    if (r.nodeLocalAt !== undefined && target.eventNs !== undefined)
      details['isolation.node_latency_ms'] = String(r.nodeLocalAt - Number(target.eventNs / 1_000_000n));
    return r.ok ? { outcome: 'applied', reason, details } : { outcome: 'failed', reason };
  },
});
