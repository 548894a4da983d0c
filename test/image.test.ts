/**
 * The container image on a real container runtime: scripts/build-image writes the archive, it
 * is imported into a private containerd and run with `ctr` as the DaemonSet runs it — the sensor
 * privileged, both containers as the image's non-root user, in the host PID namespace (joined
 * through this process: PID 1 here is the VM's init), sharing the sensor's unix socket — and it
 * detects on the host and in another pod.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startContainerd, type TestContainerd } from './helpers/containerd.js';
import { freePort } from './helpers/http-receiver.js';
import { until } from './helpers/wait.js';

const ROOT = new URL('..', import.meta.url).pathname;
const ARCHIVE = join(ROOT, 'dist/peregrine-image.tar');
const UID = 65532;
const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const IMAGE = `peregrine:${version}`;

let ctd: TestContainerd;
let report: { uncompressedBytes: number; parts: Record<string, number>; digest: string; commit: string };
const dir = mkdtempSync(join(tmpdir(), 'peregrine-image-'));
const running: ChildProcess[] = [];

/** Waits for `cond`; on time-out fails with what the containers printed. */
async function waitOr(what: string, cond: () => boolean, ms: number, ...outs: Array<() => string>): Promise<void> {
  await until(cond, ms).catch(() => {
    throw new Error(
      `${what}: not reached in ${ms} ms\n${outs
        .map((o) =>
          o()
            .split('\n')
            .filter((l) => !l.includes('"rule"'))
            .join('\n')
            .slice(-4000),
        )
        .join('\n----\n')}`,
    );
  });
}

function ctr(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('ctr', ['-a', ctd.socket, '-n', 'k8s.io', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A long-running container (ctr run in the foreground), its output collected. */
function runContainer(id: string, flags: string[], args: string[]): { child: ChildProcess; out: () => string } {
  const child = spawn('ctr', ['-a', ctd.socket, '-n', 'k8s.io', 'run', '--rm', ...flags, IMAGE, id, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.push(child);
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  return { child, out: () => out };
}

beforeAll(async () => {
  // the image as a user builds it (in CI this must work: a failure says why)
  execFileSync('bash', [join(ROOT, 'scripts/build-image')], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 600_000 });
  report = JSON.parse(readFileSync(join(ROOT, 'dist/peregrine-image.report.json'), 'utf8')) as typeof report;
  ctd = await startContainerd();
  const imported = ctr('images', 'import', ARCHIVE);
  if (imported.status !== 0) throw new Error(`ctr images import failed: ${imported.stderr}`);
}, 900_000);

afterAll(async () => {
  for (const c of running) if (c.exitCode === null) c.kill('SIGKILL');
  for (const id of ['sensor', 'agent']) ctr('task', 'kill', '-s', 'SIGKILL', id);
  await new Promise((r) => setTimeout(r, 500));
  for (const id of ['sensor', 'agent']) ctr('containers', 'rm', id);
  await ctd?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('the image', () => {
  it('is at most 200 MB, holds no development dependency and no test, and has an SBOM of its npm dependencies', () => {
    expect(report.uncompressedBytes).toBeLessThanOrEqual(200 * 1024 * 1024);
    // the files of the image's layer(s), from the archive itself
    const index = JSON.parse(execFileSync('tar', ['-xOf', ARCHIVE, 'index.json'], { encoding: 'utf8' })) as {
      manifests: Array<{ digest: string }>;
    };
    const blob = (d: string): string => `blobs/sha256/${d.replace('sha256:', '')}`;
    const manifest = JSON.parse(
      execFileSync('tar', ['-xOf', ARCHIVE, blob(index.manifests[0].digest)], { encoding: 'utf8' }),
    ) as { layers: Array<{ digest: string }>; config: { digest: string } };
    const files: string[] = [];
    for (const l of manifest.layers) {
      const list = execFileSync('sh', ['-c', `tar -xOf "$0" "$1" | tar -tz`, ARCHIVE, blob(l.digest)], {
        encoding: 'utf8',
        maxBuffer: 256 * 1024 * 1024,
      });
      files.push(...list.split('\n').filter(Boolean));
    }
    expect(files.length).toBeGreaterThan(1000);
    for (const f of [
      'usr/local/bin/node',
      'usr/local/bin/peregrine',
      'opt/peregrine/bin/peregrine.js',
      'opt/peregrine/dist/src/main.js',
      'opt/peregrine/dist/sensor/peregrine-sensor-loader',
      'opt/peregrine/rules/peregrine_rules.yaml',
      'opt/peregrine/node_modules/rxjs/package.json',
      'etc/ssl/certs/ca-certificates.crt',
    ])
      expect(files.map((x) => x.replace(/^\.\//, ''))).toContain(f);
    const dev = /node_modules\/(vitest|typescript|eslint|@vitest|vite|prettier|@types|fast-check|kubernetes-models)\//;
    expect(files.filter((f) => dev.test(f))).toEqual([]);
    expect(files.filter((f) => /\.test\.(js|ts|yaml)$|\/dist\/(test|bench)\//.test(f))).toEqual([]);
    // no shell, no package manager
    expect(files.filter((f) => /(^|\/)(bin\/(sh|bash|dash)|apt|dpkg|npm)$/.test(f))).toEqual([]);
    // OCI labels
    const config = JSON.parse(
      execFileSync('tar', ['-xOf', ARCHIVE, blob(manifest.config.digest)], { encoding: 'utf8' }),
    ) as { config: { Labels: Record<string, string>; User: string; Entrypoint: string[] } };
    expect(config.config.Labels).toMatchObject({
      'org.opencontainers.image.version': version,
      'org.opencontainers.image.revision': report.commit,
      'org.opencontainers.image.licenses': 'Apache-2.0',
    });
    expect(config.config.Labels['org.opencontainers.image.source']).toMatch(/^https:\/\//);
    expect(config.config.User).toBe(`${UID}:${UID}`);
    expect(config.config.Entrypoint).toEqual(['/usr/local/bin/peregrine']);
    const sbom = JSON.parse(readFileSync(join(ROOT, 'dist/peregrine-image.sbom.cdx.json'), 'utf8')) as {
      bomFormat: string;
      components: Array<{ name: string }>;
    };
    expect(sbom.bomFormat).toBe('CycloneDX');
    const names = sbom.components.map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['rxjs', '@grpc/grpc-js', '@kubernetes/client-node']));
    expect(names).not.toContain('vitest');
  });

  it('peregrine --version prints the version and commit, as the non-root user', () => {
    const v = ctr('run', '--rm', IMAGE, 'version', '/usr/local/bin/peregrine', '--version');
    expect(v.stderr).toBe('');
    expect(v.stdout.trim()).toBe(`peregrine ${version} (commit ${report.commit})`);
    const uid = ctr(
      'run',
      '--rm',
      IMAGE,
      'uid',
      '/usr/local/bin/node',
      '-e',
      'process.stdout.write(`${process.getuid()}:${process.getgid()}`)',
    );
    expect(uid.stdout).toBe(`${UID}:${UID}`);
  });
});

describe('the agent and the sensor in their containers', () => {
  it('detect on the host and in another pod (with its metadata); SIGTERM stops the agent in time and its spool stays on the node', async () => {
    // node-local directories the DaemonSet mounts: the shared socket, the agent's state, its config
    const sock = join(dir, 'run');
    const state = join(dir, 'state');
    const etc = join(dir, 'etc');
    for (const d of [sock, state, etc]) {
      mkdirSync(d, { recursive: true });
      chownSync(d, UID, UID);
    }
    // the runtime's socket, readable by the agent's group (the DaemonSet: supplementalGroups)
    chownSync(ctd.socket, 0, UID);
    chownSync(ctd.dir, 0, UID);
    chmodSync(ctd.dir, 0o750);
    const metrics = await freePort();
    const deadPort = await freePort();
    writeFileSync(
      join(etc, 'config.yaml'),
      [
        'sources:',
        '  - type: sensor',
        '    address: unix:///run/peregrine/sensor.sock',
        'sinks:',
        '  - type: stdout',
        '  - type: webhook',
        '    name: siem',
        `    url: http://127.0.0.1:${deadPort}/alerts`,
        'runtime:',
        '  socket: unix:///run/containerd-test/containerd.sock',
        'metrics:',
        `  listen: 127.0.0.1:${metrics}`,
        'shutdown:',
        '  deadlineSeconds: 5',
        '',
      ].join('\n'),
    );
    const hostPid = `pid:/proc/${process.pid}/ns/pid`;
    const bind = (src: string, dst: string, mode = 'rw'): string[] => [
      '--mount',
      `type=bind,src=${src},dst=${dst},options=rbind:${mode}`,
    ];
    const sensor = runContainer(
      'sensor',
      [
        '--privileged',
        '--allow-new-privs', // the loader's file capabilities (the DaemonSet: privileged, so allowed)
        '--net-host',
        '--with-ns',
        hostPid,
        ...bind('/sys/kernel', '/sys/kernel'),
        ...bind(sock, '/run/peregrine'),
      ],
      ['/usr/local/bin/peregrine', 'sensor', '--listen', 'unix:///run/peregrine/sensor.sock'],
    );
    await waitOr(
      'sensor serving',
      () => sensor.out().includes('serving on') || sensor.child.exitCode !== null,
      60_000,
      sensor.out,
    );
    expect(sensor.out(), sensor.out()).toContain('serving on');
    const agent = runContainer(
      'agent',
      [
        '--net-host',
        '--with-ns',
        hostPid,
        ...bind(sock, '/run/peregrine'),
        ...bind(state, '/var/lib/peregrine'),
        ...bind(etc, '/etc/peregrine', 'ro'),
        ...bind(ctd.dir, '/run/containerd-test'),
      ],
      ['/usr/local/bin/peregrine', 'run', '--config', '/etc/peregrine/config.yaml'],
    );
    await waitOr(
      'agent running',
      () => agent.out().includes('running;') || agent.child.exitCode !== null,
      60_000,
      agent.out,
    );
    expect(agent.out()).toContain('running;');

    // on the host
    await new Promise((r) => setTimeout(r, 500));
    execFileSync('/usr/bin/cat', ['/etc/shadow'], { stdio: 'ignore' });
    await waitOr(
      'host alert',
      () => /"rule":"Read sensitive file"[^\n]*"proc.name":"cat"/.test(agent.out()),
      20_000,
      agent.out,
      sensor.out,
    );

    // in another pod: the alert names it
    const pod = await ctd.runPod({
      name: 'web-5d8f',
      namespace: 'shop',
      command: ['/bin/sh', '-c', 'while true; do cat /etc/shadow > /dev/null; sleep 1; done'],
    });
    await waitOr('pod alert', () => agent.out().includes('"k8s.pod.name":"web-5d8f"'), 30_000, agent.out);
    const line = agent
      .out()
      .split('\n')
      .find((l) => l.includes('"k8s.pod.name":"web-5d8f"'))!;
    expect(line).toContain('"k8s.ns.name":"shop"');
    expect(line).toContain(`"container.id":"${pod.containerId.slice(0, 12)}"`);

    // the webhook is down: alerts wait in the spool on the node-local volume
    await waitOr(
      'spooled',
      () => existsSync(join(state, 'spool')) && readdirSync(join(state, 'spool')).length > 0,
      20_000,
      agent.out,
    );
    const t0 = Date.now();
    expect(ctr('task', 'kill', '-s', 'SIGTERM', 'agent').status).toBe(0);
    await until(() => agent.child.exitCode !== null, 15_000);
    expect(Date.now() - t0).toBeLessThan(5_000 + 2_000);
    // the alerts the receiver never got, in the spool on the node-local volume after the exit
    const spooled = execFileSync('grep', ['-rl', 'Read sensitive file', join(state, 'spool')], { encoding: 'utf8' });
    expect(spooled.trim()).not.toBe('');
    ctr('task', 'kill', '-s', 'SIGTERM', 'sensor');
    await until(() => sensor.child.exitCode !== null, 15_000);
  }, 240_000);
});
