import { execFile } from 'node:child_process';

/** The nftables table Peregrine installs in an isolated pod's network namespace. */
export const ISOLATION_TABLE = 'peregrine_isolate';

/**
 * The ruleset that cuts a pod off: every packet in and out is dropped except loopback (and DNS
 * to and from port 53 when allowed); TCP is answered with a reset both ways, so established
 * connections are closed at once rather than left to time out. It lives in the pod's own
 * network namespace: the host's ruleset is untouched, and the table goes with the pod.
 */
export function isolationRuleset(allowDns: boolean): string {
  const dns = allowDns
    ? ['    meta l4proto { tcp, udp } th dport 53 accept', '    meta l4proto { tcp, udp } th sport 53 accept']
    : [];
  const chain = (name: string, hook: string, lo: string, dnsRule: string[]): string[] => [
    `  chain ${name} {`,
    `    type filter hook ${hook} priority -300; policy drop;`,
    `    ${lo} lo accept`,
    ...dnsRule,
    '    meta l4proto tcp reject with tcp reset',
    '  }',
  ];
  return [
    `table inet ${ISOLATION_TABLE}`,
    `delete table inet ${ISOLATION_TABLE}`,
    `table inet ${ISOLATION_TABLE} {`,
    ...chain('input', 'input', 'iif', dns.slice(1)),
    ...chain('output', 'output', 'oif', dns.slice(0, 1)),
    '}',
    '',
  ].join('\n');
}

/** Runs `nft` in the network namespace of `pid` (nsenter); rejects with nft's own message. */
function nftIn(pid: number, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'nsenter',
      [`--net=/proc/${pid}/ns/net`, '--', 'nft', ...args],
      { timeout: 5_000, maxBuffer: 1 << 20 },
      (err, stdout, stderr) => {
        if (err)
          reject(
            new Error(`nft in the network namespace of pid ${pid}: ${(stderr || err.message).trim().slice(0, 500)}`),
          );
        else resolve(stdout);
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Installs (or replaces, atomically) the isolation table in the netns of `pid`. */
export async function isolateNetns(pid: number, allowDns: boolean): Promise<void> {
  await nftIn(pid, ['-f', '-'], isolationRuleset(allowDns));
}

/** Removes the isolation table from the netns of `pid`; true when it was there. */
export async function releaseNetns(pid: number): Promise<boolean> {
  try {
    await nftIn(pid, ['delete', 'table', 'inet', ISOLATION_TABLE]);
    return true;
  } catch (err) {
    if (/No such file or directory|does not exist/.test(String(err))) return false;
    throw err;
  }
}
