import type { Alert, FieldKeyTable, SyscallEvent } from '../event/index.js';

/** What an alert is about, as far as a response can act on it. */
export interface ResponseTarget {
  readonly pid?: number;
  /** When the process started (ns since the epoch): the pid-reuse guard compares it with /proc. */
  readonly processStartNs?: bigint;
  /** When the event happened (ns since the epoch): latency is measured from it. */
  readonly eventNs?: bigint;
  readonly containerId?: string;
  readonly podName?: string;
  readonly namespace?: string;
  readonly podUid?: string;
  readonly workloadKind?: string;
  readonly workloadName?: string;
  readonly node?: string;
}

/**
 * The target of an alert: from its event when there is one (every field, typed), else from the
 * alert's output fields (Falco's alerts, passed through).
 */
export function targetOf(alert: Alert, event: SyscallEvent | undefined, table: FieldKeyTable): ResponseTarget {
  const get = (f: string): unknown => {
    const v = event?.get(table, f);
    return v !== undefined ? v : alert.output_fields[f];
  };
  const str = (f: string): string | undefined => {
    const v = get(f);
    return typeof v === 'string' && v !== '' && v !== '<NA>' ? v : undefined;
  };
  const int = (f: string): bigint | undefined => {
    const v = get(f);
    if (typeof v === 'bigint') return v;
    if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
    if (typeof v === 'string' && /^\d{1,20}$/.test(v)) return BigInt(v);
    return undefined;
  };
  const pid = int('proc.pid');
  const eventNs = int('evt.rawtime') ?? int('evt.time') ?? BigInt(Date.parse(alert.time)) * 1_000_000n;
  const duration = int('proc.duration');
  return {
    pid: pid !== undefined && pid > 0n && pid < 1n << 31n ? Number(pid) : undefined,
    processStartNs: duration !== undefined && eventNs !== undefined ? eventNs - duration : undefined,
    eventNs,
    containerId: str('container.id') === 'host' ? undefined : str('container.id'),
    podName: str('k8s.pod.name'),
    namespace: str('k8s.ns.name'),
    podUid: str('k8s.pod.uid'),
    workloadKind: str('k8s.workload.kind'),
    workloadName: str('k8s.workload.name'),
    node: str('k8s.node.name') ?? alert.hostname,
  };
}
