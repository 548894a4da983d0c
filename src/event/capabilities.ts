/** Linux capability names by number (capability(7)), as Falco prints them. */
export const CAPABILITY_NAMES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

const texts = new Map<bigint, string>();

/**
 * A capability mask (bit N = capability N) as Falco prints it: `CAP_CHOWN CAP_SYS_ADMIN ...`
 * (unknown bits as `CAP_N`). Cached: processes share a handful of masks.
 */
export function capabilityText(mask: bigint): string {
  let t = texts.get(mask);
  if (t === undefined) {
    const names: string[] = [];
    for (let i = 0; i < 64; i++) if ((mask >> BigInt(i)) & 1n) names.push(CAPABILITY_NAMES[i] ?? `CAP_${i}`);
    t = names.join(' ');
    if (texts.size >= 1024) texts.clear();
    texts.set(mask, t);
  }
  return t;
}
