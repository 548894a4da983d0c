import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { errorMessage } from '../../event/index.js';
import { defineAction } from '../response-action.js';

/** Environment variables whose values are never stored (by key). */
const SECRET_KEY = /pass|secret|token|key|credential|auth|cookie|session|private|cert/i;
const MAX_FDS = 1024;
const MAX_ANCESTORS = 16;
/** The executable is hashed up to this size (a bigger one is recorded as too big, not hashed). */
const MAX_EXE_BYTES = 256 * 1024 * 1024;

function read(path: string, max = 64 * 1024): string | undefined {
  try {
    const fd = openSync(path, 'r');
    try {
      const buf = Buffer.alloc(max);
      const n = readSync(fd, buf, 0, max, null);
      return buf.subarray(0, n).toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

function link(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

function sha256(path: string): string | undefined {
  try {
    if (statSync(path).size > MAX_EXE_BYTES) return `not hashed: larger than ${MAX_EXE_BYTES} bytes`;
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return undefined;
  }
}

/** Socket inodes → `proto local → remote state` from the process's view of /proc/net. */
function sockets(procRoot: string, pid: number, inodes: Set<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const proto of ['tcp', 'tcp6', 'udp', 'udp6', 'unix']) {
    const text = read(`${procRoot}/${pid}/net/${proto}`, 1 << 20) ?? '';
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      const inode = proto === 'unix' ? f[6] : f[9];
      if (inode && inodes.has(inode))
        out[inode] = proto === 'unix' ? `unix ${f[7] ?? ''}` : `${proto} ${f[1]} → ${f[2]} state ${f[3]}`;
    }
  }
  return out;
}

/**
 * Starts a packet capture in the network namespace of `pid`, in the background (the next
 * actions do not wait for it): at most `count` packets of at most 256 bytes each, for at most
 * `seconds`, into `file` (0600). Returns the file's path.
 */
function capturePackets(pid: number, file: string, p: { count: number; seconds: number }): string {
  const child = spawn(
    'sh',
    [
      '-c',
      'umask 077; exec timeout "$0" nsenter --net="/proc/$1/ns/net" tcpdump -Z root -i any -nn -U -s 256 -c "$2" -w "$3"',
      String(p.seconds),
      String(pid),
      String(p.count),
      file,
    ],
    { stdio: 'ignore', detached: false },
  );
  child.on('error', () => undefined);
  child.unref();
  return file;
}

/** Keeps the evidence directory bounded: the oldest files go first. */
function prune(dir: string, maxFiles: number, maxBytes: number): void {
  const files = readdirSync(dir)
    .filter((f) => /\.(json|pcap)$/.test(f))
    .map((f) => ({ f, s: statSync(join(dir, f)) }))
    .sort((a, b) => a.s.mtimeMs - b.s.mtimeMs);
  let total = files.reduce((n, x) => n + x.s.size, 0);
  while (files.length && (files.length > maxFiles || total > maxBytes)) {
    const x = files.shift()!;
    total -= x.s.size;
    unlinkSync(join(dir, x.f));
  }
}

/**
 * `evidence:capture`: records the event's process before anything is killed — its ancestry
 * (names and command lines), command line, environment (values of secret-looking keys masked),
 * open files and sockets, cgroup, namespaces and the executable's sha256 — as one JSON file
 * (0600) in the evidence directory (0700, bounded: oldest first out), linked from the audit alert
 * (`evidence.path`). Put it first in a policy: evidence of a killed process is gone.
 */
export const evidenceCapture = defineAction({
  name: 'evidence:capture',
  description:
    'record the process, its ancestry, environment (masked), files, sockets, cgroup, namespaces and exe sha256',
  parameters: z
    .object({
      max_files: z.number().int().min(1).max(100_000).default(1_000),
      max_total_mb: z.number().int().min(1).max(100_000).default(256),
      /** A bounded packet capture in the process's network namespace, taken in the background. */
      packets: z
        .object({
          count: z.number().int().min(1).max(10_000).default(100),
          seconds: z.number().int().min(1).max(60).default(5),
        })
        .strict()
        .optional(),
    })
    .strict(),
  requires: ['proc.pid'],
  rbac: [],
  podScoped: false,
  async run({ target, params, services, alert, policy }) {
    const pid = target.pid;
    const root = services.procRoot;
    if (pid === undefined) return { outcome: 'skipped', reason: 'the alert names no process (proc.pid)' };
    const base = `${root}/${pid}`;
    const stat = read(`${base}/stat`);
    if (!stat) return { outcome: 'skipped', reason: `pid ${pid} has already exited: nothing to capture` };
    const dir = services.evidenceDir;
    if (!dir) return { outcome: 'failed', reason: 'no evidence directory configured (responses.evidenceDir)' };
    const argv = (p: number): string => (read(`${root}/${p}/cmdline`) ?? '').split('\0').filter(Boolean).join(' ');
    const ancestry: Array<{ pid: number; comm: string; cmdline: string; exe?: string }> = [];
    let cur = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    while (cur > 0 && ancestry.length < MAX_ANCESTORS) {
      const s = read(`${root}/${cur}/stat`);
      if (!s) break;
      ancestry.push({
        pid: cur,
        comm: s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')),
        cmdline: argv(cur),
        exe: link(`${root}/${cur}/exe`),
      });
      cur = Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]);
    }
    const environ = (read(`${base}/environ`, 256 * 1024) ?? '')
      .split('\0')
      .filter(Boolean)
      .map((kv) => {
        const eq = kv.indexOf('=');
        const k = eq < 0 ? kv : kv.slice(0, eq);
        return SECRET_KEY.test(k) ? `${k}=***` : kv;
      });
    const fds: Record<string, string> = {};
    const inodes = new Set<string>();
    try {
      for (const fd of readdirSync(`${base}/fd`).slice(0, MAX_FDS)) {
        const l = link(`${base}/fd/${fd}`);
        if (l === undefined) continue;
        fds[fd] = l;
        const m = /^socket:\[(\d+)\]$/.exec(l);
        if (m) inodes.add(m[1]);
      }
    } catch {
      /* gone or not ours to read */
    }
    const namespaces: Record<string, string> = {};
    for (const ns of ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'user', 'uts']) {
      const l = link(`${base}/ns/${ns}`);
      if (l) namespaces[ns] = l;
    }
    const record = {
      captured_at: new Date().toISOString(),
      policy,
      alert: { time: alert.time, rule: alert.rule, priority: alert.priority, output: alert.output },
      process: {
        pid,
        comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
        cmdline: argv(pid),
        exe: link(`${base}/exe`),
        exe_sha256: sha256(`${base}/exe`),
        cwd: link(`${base}/cwd`),
        status: read(`${base}/status`),
      },
      ancestry,
      environ,
      fds,
      sockets: sockets(root, pid, inodes),
      cgroup: read(`${base}/cgroup`),
      namespaces,
      pod: target.podName ? { namespace: target.namespace, name: target.podName, uid: target.podUid } : undefined,
    };
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700);
      const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-pid${pid}.json`);
      writeFileSync(file, JSON.stringify(record, null, 1), { mode: 0o600 });
      prune(dir, params.max_files, params.max_total_mb * 1024 * 1024);
      const details: Record<string, string> = { 'evidence.path': file };
      if (params.packets)
        details['evidence.pcap'] = capturePackets(pid, file.replace(/\.json$/, '.pcap'), params.packets);
      return { outcome: 'applied', reason: `evidence of pid ${pid} in ${file}`, details };
    } catch (err) {
      return { outcome: 'failed', reason: `cannot store evidence in ${dir}: ${errorMessage(err)}` };
    }
  },
});
