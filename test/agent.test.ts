/** The daemon (Agent) in-process and as `peregrine run`: pipeline, reload, metrics, health, drain. */
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Agent, RulesLoadError } from '../src/agent/index.js';
import { SensorServer } from '../src/sensor/index.js';
import { loadConfig } from '../src/config/index.js';
import { HttpReceiver, freePort } from './helpers/http-receiver.js';
import { until, untilAsync } from './helpers/wait.js';
import { deadlineIn } from '../src/lifecycle.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const RULE = (name: string, proc: string): string =>
  `- rule: ${name}\n  desc: d\n  condition: evt.type = openat and proc.name = ${proc}\n  output: "%proc.name opened %fd.name"\n  priority: warning\n`;

/**
 * GET on a fresh connection each time: this process also serves the agent's endpoints, and a
 * synchronous child (promtool) blocking its event loop past the server's keep-alive timeout
 * would race a reused connection's close (ECONNRESET) — a property of the test, not the server.
 */
function get(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    httpGet(url, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

describe('agent', () => {
  it('replay source → rules → file sink; metrics pass promtool; readiness', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agent-'));
    const events = join(dir, 'events.jsonl');
    writeFileSync(
      events,
      [
        { 'evt.type': 'openat', 'proc.name': 'cat', 'fd.name': '/etc/shadow', 'evt.time': 1764424801000000000 },
        { 'evt.type': 'openat', 'proc.name': 'ls', 'fd.name': '/tmp' },
        'not json',
      ]
        .map((x) => (typeof x === 'string' ? x : JSON.stringify(x)))
        .join('\n') + '\n',
    );
    writeFileSync(join(dir, 'rules.yaml'), RULE('Cat opens', 'cat'));
    const out = join(dir, 'alerts.jsonl');
    const cfg = loadConfig(
      `rules:\n  paths: [${join(dir, 'rules.yaml')}]\nsources:\n  - type: replay\n    path: ${events}\nsinks:\n  - type: file\n    path: ${out}\nmetrics:\n  listen: 127.0.0.1:0\n`,
    );
    const agent = new Agent(cfg);
    await agent.start();
    await agent.finished;
    // source counters are exported every second
    let metrics = '';
    for (let i = 0; i < 50 && !/reason="malformed"\} 1/.test(metrics); i++) {
      metrics = (await get(`http://${agent.metricsAddress}/metrics`)).text;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(metrics).toMatch(/peregrine_events_dropped_total\{source="replay",reason="malformed"\} 1/);
    expect(metrics).toMatch(/peregrine_events_decoded_total\{source="replay"\} 2/);
    expect(metrics).toMatch(/peregrine_events_evaluated_total 2/);
    expect(metrics).toMatch(/peregrine_rule_matches_total\{rule="Cat opens",priority="Warning",namespace=""\} 1/);
    execFileSync('promtool', ['check', 'metrics'], { input: metrics });
    expect((await get(`http://${agent.metricsAddress}/healthz`)).status).toBe(200);
    const ready = await get(`http://${agent.metricsAddress}/readyz`);
    expect([ready.status, ready.text]).toEqual([503, 'not ready: source replay not connected\n']); // the replay has ended
    await agent.shutdown();
    const alerts = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { rule: string });
    expect(alerts.map((a) => a.rule)).toEqual(['Cat opens']);
  });

  it('hot reload: a valid change swaps rules, an invalid one keeps them and alerts; ConfigMap ..data swaps are seen', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reload-'));
    // ConfigMap layout: rules/..data -> ..v1/, rules/rules.yaml -> ..data/rules.yaml
    const rules = join(dir, 'rules');
    mkdirSync(join(rules, '..v1'), { recursive: true });
    writeFileSync(join(rules, '..v1', 'rules.yaml'), RULE('R1', 'cat'));
    symlinkSync('..v1', join(rules, '..data'));
    symlinkSync('..data/rules.yaml', join(rules, 'rules.yaml'));
    const port = await freePort();
    const out = join(dir, 'alerts.jsonl');
    const cfg = loadConfig(
      `rules:\n  paths: [${rules}]\nsources:\n  - type: falco-http\n    listen: 127.0.0.1:${port}\nsinks:\n  - type: file\n    path: ${out}\nmetrics:\n  listen: 127.0.0.1:0\n`,
    );
    const agent = new Agent(cfg);
    await agent.start();
    try {
      expect(agent.rules.engine.active.map((r) => r.name)).toEqual(['R1']);
      expect((await get(`http://${agent.metricsAddress}/readyz`)).status).toBe(200);
      // kubelet's atomic update: new directory, then the ..data symlink renamed over
      mkdirSync(join(rules, '..v2'));
      writeFileSync(join(rules, '..v2', 'rules.yaml'), RULE('R2', 'ls'));
      symlinkSync('..v2', join(rules, '..data_tmp'));
      renameSync(join(rules, '..data_tmp'), join(rules, '..data'));
      await until(() => agent.rules.engine.active[0]?.name === 'R2', 10_000);
      // an invalid version is rejected: R2 keeps running and an internal alert goes out
      expect(agent.reload('test') && true).toBe(true);
      writeFileSync(join(rules, '..v2', 'rules.yaml'), '- rule: broken\n  condition: (\n');
      expect(agent.reload('SIGHUP')).toBe(false);
      expect(agent.rules.engine.active[0].name).toBe('R2');
      await until(() => readFileSync(out, 'utf8').includes('Peregrine internal: rules reload failed'), 5_000);
      const metrics = (await get(`http://${agent.metricsAddress}/metrics`)).text;
      expect(metrics).toMatch(/peregrine_rules_reloads_total\{outcome="failure"\} [1-9]/);
    } finally {
      await agent.shutdown();
    }
  });

  it('a rules file with errors stops start-up with its diagnostics', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bad-'));
    writeFileSync(
      join(dir, 'r.yaml'),
      '- rule: x\n  desc: d\n  condition: evt.type = open and proc.nam = x\n  output: o\n  priority: info\n',
    );
    const agent = new Agent(
      loadConfig(
        `rules:\n  paths: [${join(dir, 'r.yaml')}]\nsources:\n  - type: replay\n    path: /dev/null\nmetrics:\n  listen: 127.0.0.1:0\n`,
      ),
    );
    await expect(agent.start()).rejects.toThrow(RulesLoadError);
    await agent.shutdown();
  });
});

describe('peregrine run (child process)', () => {
  it('bad configuration: exit 1 with every problem and its path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'c.yaml'), 'sources:\n  - type: nope\nlog:\n  level: loud\n');
    let err = '';
    let code = 0;
    try {
      execFileSync(process.execPath, [join(ROOT, 'bin/peregrine.js'), 'run', '--config', join(dir, 'c.yaml')], {
        encoding: 'utf8',
        stdio: 'pipe',
      });
    } catch (e) {
      code = (e as { status: number }).status;
      err = (e as { stderr: string }).stderr;
    }
    expect(code).toBe(1);
    expect(err).toMatch(/c\.yaml:2:11: sources\[0\]\.type: unknown source type "nope"/);
    expect(err).toMatch(/log\.level: Invalid option/);
  });

  it('takes Falco alerts by HTTP, prints them, and drains on SIGTERM (exit 0)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'run-'));
    const port = await freePort();
    writeFileSync(
      join(dir, 'c.yaml'),
      `sources:\n  - type: falco-http\n    listen: 127.0.0.1:${port}\nmetrics:\n  listen: 127.0.0.1:0\nlog:\n  level: warn\n`,
    );
    const child = spawn(process.execPath, [join(ROOT, 'bin/peregrine.js'), 'run', '--config', join(dir, 'c.yaml')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    await until(() => err.includes('running;'), 20_000);
    const res = await fetch(`http://127.0.0.1:${port}/`, {
      method: 'POST',
      body: JSON.stringify({ rule: 'From Falco', priority: 'Critical', output: 'x', output_fields: {} }),
    });
    expect(res.status).toBe(200);
    await until(() => out.includes('"rule":"From Falco"'), 5_000);
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code, err).toBe(0);
  });

  it('SIGHUP re-opens the alert file after logrotate moved it (and keeps running)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hup-'));
    const port = await freePort();
    const out = join(dir, 'alerts.jsonl');
    writeFileSync(
      join(dir, 'c.yaml'),
      `sources:\n  - type: falco-http\n    listen: 127.0.0.1:${port}\nsinks:\n  - type: file\n    path: ${out}\nmetrics:\n  listen: 127.0.0.1:0\nlog:\n  level: warn\n`,
    );
    const child = spawn(process.execPath, [join(ROOT, 'bin/peregrine.js'), 'run', '--config', join(dir, 'c.yaml')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    const post = (rule: string): Promise<Response> =>
      fetch(`http://127.0.0.1:${port}/`, {
        method: 'POST',
        body: JSON.stringify({ rule, priority: 'Critical', output: rule, output_fields: {} }),
      });
    const lines = (p: string): string[] =>
      readFileSync(p, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { rule: string }).rule);
    try {
      await until(() => err.includes('running;'), 20_000);
      await post('Before rotation');
      await until(() => existsSync(out) && lines(out).length === 1, 5_000);
      renameSync(out, `${out}.1`); // what logrotate does
      child.kill('SIGHUP');
      await until(() => existsSync(out), 5_000);
      await post('After rotation');
      await until(() => lines(out).length === 1, 5_000);
      expect(lines(`${out}.1`)).toEqual(['Before rotation']);
      expect(lines(out)).toEqual(['After rotation']);
      child.kill('SIGTERM');
      expect(await new Promise<number | null>((r) => child.on('exit', r)), err).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe('hot reload under a steady stream', () => {
  it('every event is evaluated exactly once across repeated swaps', async () => {
    const { SensorServer } = await import('../src/sensor/index.js');
    const dir = mkdtempSync(join(tmpdir(), 'steady-'));
    const rules = join(dir, 'rules.yaml');
    const ruleText = (name: string): string =>
      `- rule: ${name}\n  desc: d\n  condition: evt.type = openat\n  output: "%evt.num"\n  priority: info\n`;
    writeFileSync(rules, ruleText('A'));
    const server = new SensorServer({ listen: '127.0.0.1:0', maxBatchEvents: 50 });
    const address = await server.start();
    const out = join(dir, 'alerts.jsonl');
    const agent = new Agent(
      loadConfig(
        `rules:\n  paths: [${rules}]\nsources:\n  - type: sensor\n    address: ${address}\nsinks:\n  - type: file\n    path: ${out}\nmetrics:\n  listen: 127.0.0.1:0\n`,
      ),
    );
    await agent.start();
    await until(() => server.stats.subscribers === 1);
    const ev = (i: number) => ({
      tsNs: 1_764_424_800_000_000_000n + BigInt(i),
      type: 'openat',
      res: 3,
      tid: 1,
      pid: 1,
      name: 'cat',
      fd: { num: 3, type: 'file', name: `/f${i}` },
    });
    const total = 20_000;
    let swaps = 0;
    for (let i = 0; i < total; i += 500) {
      server.publish(Array.from({ length: 500 }, (_, j) => ev(i + j)));
      if (i % 2000 === 0) {
        writeFileSync(rules, ruleText(swaps % 2 ? 'A' : 'B'));
        expect(agent.reload('test')).toBe(true);
        swaps++;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await until(() => readFileSync(out, 'utf8').split('\n').filter(Boolean).length >= total, 20_000);
    await agent.shutdown();
    await server.shutdown(deadlineIn(500));
    const nums = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { output_fields: { 'evt.num': number } }).output_fields['evt.num']);
    expect(nums.length).toBe(total);
    expect(new Set(nums).size).toBe(total);
    expect(swaps).toBeGreaterThanOrEqual(10);
  });
});

describe('rules published over HTTPS', () => {
  it('fetched at start, polled with ETag (304s), reloaded on change; a sha256 pin rejects other content', async () => {
    const { makeCerts } = await import('./helpers/certs.js');
    const https = await import('node:https');
    const { createHash } = await import('node:crypto');
    const certs = makeCerts();
    let body = RULE('Remote1', 'cat');
    let notModified = 0;
    const server = https.createServer(
      { cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey) },
      (req, res) => {
        const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 12)}"`;
        if (req.headers['if-none-match'] === etag) {
          notModified++;
          res.writeHead(304).end();
          return;
        }
        res.writeHead(200, { etag, 'content-type': 'application/yaml' }).end(body);
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `https://localhost:${(server.address() as { port: number }).port}/team/rules.yaml`;
    const dir = mkdtempSync(join(tmpdir(), 'urls-'));
    const cfg = (): ReturnType<typeof loadConfig> =>
      loadConfig(
        `rules:\n  paths: []\n  cacheDir: ${dir}\n  urls:\n    - url: ${url}\n      pollSeconds: 1\n      ca: ${certs.ca}\nsources:\n  - type: replay\n    path: /dev/null\nmetrics:\n  listen: 127.0.0.1:0\n`,
      );
    const agent = new Agent(cfg());
    try {
      await agent.start();
      expect(agent.rules.engine.active.map((r) => r.name)).toEqual(['Remote1']);
      await until(() => notModified >= 1, 5_000);
      body = RULE('Remote2', 'ls');
      await until(() => agent.rules.engine.active[0]?.name === 'Remote2', 5_000);
    } finally {
      await agent.shutdown();
    }
    const pinnedCfg = loadConfig(
      `rules:\n  paths: []\n  cacheDir: ${mkdtempSync(join(tmpdir(), 'urls-'))}\n  urls:\n    - url: ${url}\n      sha256: "${'0'.repeat(64)}"\n      ca: ${certs.ca}\nsources:\n  - type: replay\n    path: /dev/null\nmetrics:\n  listen: 127.0.0.1:0\n`,
    );
    const p = new Agent(pinnedCfg);
    await expect(p.start()).rejects.toThrow(/does not match the pinned/);
    await p.shutdown();
    server.close();
  });
});

describe('peregrine run delivering to a real HTTP receiver (webhook sink)', () => {
  it('retries a 500, respects Retry-After on 429, stops on 400; SIGTERM delivers what is queued, then exit 0', async () => {
    const http = await import('node:http');
    const { createHmac } = await import('node:crypto');
    const received: Array<{ rule: string; sig: string; body: string }> = [];
    let calls = 0;
    const receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        calls++;
        const rule = (JSON.parse(body) as { rule: string }).rule;
        if (calls === 1) return void res.writeHead(500).end('try again');
        if (calls === 2) return void res.writeHead(429, { 'retry-after': '1' }).end();
        if (rule === 'Reject me') return void res.writeHead(400).end('bad');
        // slow receiver: the queue is still busy when SIGTERM arrives
        setTimeout(() => {
          received.push({ rule, sig: String(req.headers['x-peregrine-signature']), body });
          res.writeHead(200).end('ok');
        }, 150);
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const port = (receiver.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'webhook-'));
    const falcoPort = await freePort();
    writeFileSync(
      join(dir, 'c.yaml'),
      [
        'sources:',
        `  - type: falco-http`,
        `    listen: 127.0.0.1:${falcoPort}`,
        'sinks:',
        '  - type: webhook',
        `    url: http://127.0.0.1:${port}/hook`,
        '    hmacSecret: k3y',
        '    concurrency: 1',
        'metrics:',
        '  listen: 127.0.0.1:0',
        'log:',
        '  level: warn',
        'spool:',
        `  dir: ${join(dir, 'spool')}`,
      ].join('\n') + '\n',
    );
    const child = spawn(process.execPath, [join(ROOT, 'bin/peregrine.js'), 'run', '--config', join(dir, 'c.yaml')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    try {
      await until(() => err.includes('running;'), 20_000);
      const post = (rule: string): Promise<Response> =>
        fetch(`http://127.0.0.1:${falcoPort}/`, {
          method: 'POST',
          body: JSON.stringify({ rule, priority: 'Warning', output: rule, output_fields: {} }),
        });
      for (const r of ['A1', 'Reject me', 'A2', 'A3', 'A4', 'A5']) expect((await post(r)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 300));
      child.kill('SIGTERM');
      const code = await new Promise<number | null>((r) => child.on('exit', r));
      expect(code, err).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      receiver.close();
    }
    expect(received.map((r) => r.rule)).toEqual(['A1', 'A2', 'A3', 'A4', 'A5']);
    for (const r of received) expect(r.sig).toBe(`sha256=${createHmac('sha256', 'k3y').update(r.body).digest('hex')}`);
    expect(err).toMatch(/alert rejected by the receiver \(not retried\)/);
    expect(err).not.toContain('/hook');
  });
});

describe('peregrine run with a receiver that is down (spool)', () => {
  it('spools while the receiver is down, keeps the spool across a restart, and delivers it after the restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-daemon-'));
    const [hookPort, falcoPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
    writeFileSync(
      join(dir, 'c.yaml'),
      [
        'sources:',
        '  - type: falco-http',
        `    listen: 127.0.0.1:${falcoPort}`,
        'sinks:',
        '  - type: webhook',
        '    name: hook',
        `    url: http://127.0.0.1:${hookPort}/hook`,
        '    maxAttempts: 1',
        '    aggregateSeconds: 0',
        'spool:',
        `  dir: ${join(dir, 'spool')}`,
        'metrics:',
        `  listen: 127.0.0.1:${metricsPort}`,
        'log:',
        '  level: info',
      ].join('\n') + '\n',
    );
    const start = async (): Promise<{ child: ReturnType<typeof spawn>; err: () => string }> => {
      const child = spawn(process.execPath, [join(ROOT, 'bin/peregrine.js'), 'run', '--config', join(dir, 'c.yaml')], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      child.stderr.on('data', (c) => (err += c));
      await until(() => err.includes('running;') || child.exitCode !== null, 20_000);
      expect(child.exitCode, err).toBeNull();
      return { child, err: () => err };
    };
    const stop = async (child: ReturnType<typeof spawn>): Promise<number | null> => {
      child.kill('SIGTERM');
      return new Promise((r) => child.on('exit', r));
    };
    const metric = async (name: string): Promise<number> => {
      const text = (await get(`http://127.0.0.1:${metricsPort}/metrics`)).text;
      const m = new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
      return m ? Number(m[1]) : NaN;
    };
    const spooledOnDisk = (): number =>
      readdirSync(join(dir, 'spool', 'hook'))
        .filter((f) => f.endsWith('.jsonl'))
        .reduce(
          (n, f) =>
            n +
            readFileSync(join(dir, 'spool', 'hook', f), 'utf8')
              .split('\n')
              .filter(Boolean).length,
          0,
        );

    // 1. the receiver is down: alerts go to the spool
    const first = await start();
    try {
      for (let i = 0; i < 30; i++) {
        const res = await fetch(`http://127.0.0.1:${falcoPort}/`, {
          method: 'POST',
          body: JSON.stringify({ rule: `Spooled ${i}`, priority: 'Warning', output: `o${i}`, output_fields: {} }),
        });
        expect(res.status).toBe(200);
      }
      await until(() => first.err().includes('receiver down'), 10_000);
      await untilAsync(
        async () =>
          (await metric('peregrine_sink_spooled{sink="hook"}')) +
            (await metric('peregrine_sink_queue_depth{sink="hook"}')) ===
          30,
      );
      expect(await metric('peregrine_sink_up{sink="hook"}')).toBe(0);
      execFileSync('promtool', ['check', 'metrics'], {
        input: (await get(`http://127.0.0.1:${metricsPort}/metrics`)).text,
      });
      expect(await stop(first.child), first.err()).toBe(0);
    } finally {
      if (first.child.exitCode === null) first.child.kill('SIGKILL');
    }
    expect(spooledOnDisk()).toBe(30); // the one probing the receiver was spooled at shutdown too
    expect(first.err()).toMatch(/alerts left in the spool for the next start/);

    // 2. the receiver is back; a new daemon delivers what the old one spooled
    const receiver = await new HttpReceiver().listen(hookPort);
    const got = (): string[] => receiver.bodies<{ rule: string }>().map((b) => b.rule);
    const second = await start();
    try {
      await until(() => got().length >= 30, 15_000);
      expect(second.err()).toMatch(/delivering alerts spooled before the restart/);
      await untilAsync(
        async () => (await metric('peregrine_alerts_total{sink="hook",outcome="sent",reason=""}')) === 30,
      );
      expect(await stop(second.child)).toBe(0);
    } finally {
      if (second.child.exitCode === null) second.child.kill('SIGKILL');
      await receiver.stop();
    }
    expect([...got()].sort()).toEqual(Array.from({ length: 30 }, (_, i) => `Spooled ${i}`).sort());
    expect(spooledOnDisk()).toBe(0);
  });
});

describe('events lost before evaluation', () => {
  it('raise one internal alert per source per minute with how many (a flood must not pass unnoticed), and count in the metrics', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agent-drops-'));
    const sock = `unix://${join(dir, 'sensor.sock')}`;
    const server = new SensorServer({ listen: sock });
    await server.start();
    writeFileSync(join(dir, 'rules.yaml'), RULE('Cat opens', 'cat'));
    const out = join(dir, 'alerts.jsonl');
    const agent = new Agent(
      loadConfig(
        `rules:\n  paths: [${join(dir, 'rules.yaml')}]\nsources:\n  - type: sensor\n    address: ${sock}\nsinks:\n  - type: file\n    path: ${out}\nmetrics:\n  listen: 127.0.0.1:0\n`,
      ),
    );
    try {
      await agent.start();
      await until(() => server.stats.subscribers === 1, 10_000);
      server.recordLost(5);
      const drops = (): Array<{ output_fields: Record<string, string> }> =>
        existsSync(out)
          ? readFileSync(out, 'utf8')
              .split('\n')
              .filter((l) => l.includes('"rule":"Peregrine internal: syscall event drop"'))
              .map((l) => JSON.parse(l) as { output_fields: Record<string, string> })
          : [];
      await until(() => drops().length === 1, 10_000);
      expect(drops()[0].output_fields).toMatchObject({ 'source.name': 'sensor', 'events.lost': '5' });
      server.recordLost(3);
      const metric = /^peregrine_events_dropped_total\{source="sensor",reason="lost"\} 8$/m;
      await untilAsync(async () => metric.test((await get(`http://${agent.metricsAddress}/metrics`)).text), 10_000);
      await new Promise((r) => setTimeout(r, 1_500));
      expect(drops().length).toBe(1); // the next one waits out the minute
    } finally {
      await agent.shutdown();
      await server.shutdown();
    }
  });
});
