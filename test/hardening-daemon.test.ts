/**
 * `peregrine run` (a child process) against hostile peers and careless operators: aborted
 * requests, reloads of rules that used to crash or freeze it, slow clients at shutdown, a
 * flood of large alerts, published rules that trickle in. It must stay alive, answer health
 * checks, count what it refuses, and stop within its deadline.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SensorServer, type SensorEvent } from '../src/sensor/index.js';
import { PEREGRINE, startDaemon, type Daemon } from './helpers/daemon.js';
import { HttpReceiver, freePort } from './helpers/http-receiver.js';
import { until, untilAsync } from './helpers/wait.js';
import { exponentialMacros } from './helpers/hostile-rules.js';
import { deadlineIn } from '../src/lifecycle.js';

const RULE = (name: string, cond: string): string =>
  `- rule: ${name}\n  desc: d\n  condition: ${cond}\n  output: "%proc.name %fd.name"\n  priority: warning\n`;
const alert = (rule: string, extra: object = {}): string =>
  JSON.stringify({ rule, priority: 'Warning', output: `out ${rule}`, output_fields: {}, ...extra });

const daemons: Daemon[] = [];
afterAll(() => {
  for (const d of daemons) d.kill();
});

/** Sends a POST that declares a body it never finishes, then resets the connection. */
function abortedPost(port: number, path = '/'): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(
        `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"rule": "half`,
      );
      setTimeout(() => {
        s.resetAndDestroy();
        resolve();
      }, 100);
    });
    s.on('error', () => resolve());
  });
}

/** Opens a connection and sends the start of a request, one byte at a time, forever (slowloris). */
function slowClient(port: number): net.Socket {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => {});
  const req = 'GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ';
  let i = 0;
  const t = setInterval(() => {
    if (s.destroyed) return clearInterval(t);
    s.write(i < req.length ? req[i++] : 'a');
  }, 200);
  s.on('close', () => clearInterval(t));
  return s;
}

describe('falco-http peers', () => {
  it('a request whose connection drops mid-body fails alone and is counted; the daemon keeps serving', async () => {
    const port = await freePort();
    const d = await startDaemon([
      'sources:',
      '  - type: falco-http',
      `    listen: 127.0.0.1:${port}`,
      'log:',
      '  level: warn',
    ]);
    daemons.push(d);
    for (let i = 0; i < 5; i++) await abortedPost(port);
    const ok = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: alert('After the resets') });
    expect(ok.status).toBe(200);
    await until(() => d.stdout().includes('"rule":"After the resets"'), 5_000);
    await untilAsync(
      async () => (await d.metric('peregrine_events_dropped_total{source="falco-http",reason="aborted"}')) === 5,
    );
    expect((await d.get('/healthz')).status).toBe(200);
    expect(d.child.exitCode).toBeNull();
    expect((await d.stop()).code).toBe(0);
  });

  it('a non-loopback listener without TLS or a secret is refused at start with the path and what to do', () => {
    const dir = mkdtempSync(join(tmpdir(), 'exposed-'));
    writeFileSync(join(dir, 'c.yaml'), 'sources:\n  - type: falco-http\n    listen: 0.0.0.0:2801\n');
    const r = spawnSync(process.execPath, [PEREGRINE, 'run', '--config', join(dir, 'c.yaml')], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /c\.yaml:3:13: sources\[0\]\.listen: 0\.0\.0\.0:2801 is reachable from other machines.*add tls .* or a secret/,
    );
  });

  it('a flood of large alerts: each is cut to the size limits, peers over their rate get 429, memory stays bounded', async () => {
    const port = await freePort();
    const hook = await new HttpReceiver(() => ({ status: 503 })).listen(0);
    const d = await startDaemon([
      'sources:',
      '  - type: falco-http',
      `    listen: 127.0.0.1:${port}`,
      '    rateLimit: {alertsPerSecond: 2, burst: 40}',
      'sinks:',
      '  - type: webhook',
      '    name: hook',
      `    url: http://127.0.0.1:${hook.port}/`,
      '    maxAttempts: 1',
      'spool:',
      `  dir: ${mkdtempSync(join(tmpdir(), 'flood-spool-'))}`,
      '  maxMiBPerSink: 8',
      'log:',
      '  level: error',
    ]);
    daemons.push(d);
    try {
      const big = 'A'.repeat(400 * 1024);
      const codes: number[] = [];
      for (let i = 0; i < 70; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/`, {
          method: 'POST',
          body: alert(`Flood ${i % 7}`, { output: big, output_fields: { 'proc.cmdline': big } }),
        });
        codes.push(res.status);
      }
      expect(codes.slice(0, 40).every((c) => c === 200)).toBe(true);
      expect(codes.filter((c) => c === 429).length).toBeGreaterThan(0);
      await untilAsync(
        async () => (await d.metric('peregrine_source_alerts_truncated_total{source="falco-http"}')) >= 40,
      );
      const limited = codes.filter((c) => c === 429).length;
      await untilAsync(
        async () =>
          (await d.metric('peregrine_events_dropped_total{source="falco-http",reason="rate_limited"}')) === limited,
      );
      const rss = await d.metric('peregrine_process_resident_memory_bytes');
      expect(rss).toBeLessThan(256 * 1024 * 1024);
      console.log(`RSS after 70 alerts of 800 KB (40 accepted, cut to size): ${Math.round(rss / 1048576)} MB`);
      await until(() => hook.rejected.length > 0, 10_000);
      const sent = hook.rejected.map(
        (r) => JSON.parse(r.body) as { output: string; output_fields: Record<string, unknown> },
      );
      expect(sent[0].output_fields['peregrine.truncated']).toBe(true);
      expect(sent[0].output.length).toBeLessThan(20_000);
      expect((await d.get('/healthz')).status).toBe(200);
    } finally {
      await d.stop();
      await hook.stop();
    }
  });
});

describe('rules that used to crash or freeze the daemon', () => {
  async function sensorDaemon(rulesDir: string, extra: string[] = []): Promise<{ d: Daemon; server: SensorServer }> {
    const server = new SensorServer({ listen: '127.0.0.1:0', maxBatchEvents: 100 });
    const address = await server.start();
    const d = await startDaemon([
      'rules:',
      `  paths: [${rulesDir}]`,
      'sources:',
      '  - type: sensor',
      `    address: ${address}`,
      'log:',
      '  level: warn',
      ...extra,
    ]);
    daemons.push(d);
    await untilAsync(async () => (await d.get('/readyz')).status === 200);
    return { d, server };
  }
  const open = (i: number, name = 'cat'): SensorEvent => ({
    tsNs: 1_764_424_800_000_000_000n + BigInt(i),
    type: 'openat',
    res: 3,
    tid: 100 + i,
    pid: 100 + i,
    name,
    fd: { num: 3, type: 'file', name: `/etc/f${i}` },
  });

  it('hot reload of a list that includes a 200,000-item list: loaded, the daemon keeps running', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reload-big-'));
    writeFileSync(join(dir, 'a.yaml'), RULE('Cat', 'evt.type = openat and proc.name = cat'));
    const { d, server } = await sensorDaemon(dir);
    try {
      for (let f = 0; f < 4; f++) {
        const items = Array.from({ length: 50_000 }, (_, i) => `n${f}x${i}`).join(', ');
        writeFileSync(join(dir, `b${f}.yaml`), `- list: big\n  items: [${items}]\n${f ? '  append: true\n' : ''}`);
      }
      writeFileSync(
        join(dir, 'c.yaml'),
        `- list: outer\n  items: [big]\n${RULE('Big list', 'evt.type = openat and proc.name in (outer)')}`,
      );
      await untilAsync(
        async () =>
          (await d.metric('peregrine_rules_info{sha256')) !== 0 && /rules="2"/.test((await d.get('/metrics')).text),
        20_000,
      );
      server.publish([open(1, 'n3x49999')]);
      await until(() => d.stdout().includes('"rule":"Big list"'), 10_000);
      expect(d.child.exitCode).toBeNull();
    } finally {
      await d.stop();
      await server.shutdown(deadlineIn(500));
    }
  });

  it('a log file written in the rules directory does not trigger reloads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reload-log-'));
    writeFileSync(join(dir, 'a.yaml'), RULE('Cat', 'evt.type = openat and proc.name = cat'));
    const { d, server } = await sensorDaemon(dir);
    try {
      const before = await d.metric('peregrine_rules_reloads_total{outcome="success"}');
      for (let i = 0; i < 10; i++) {
        writeFileSync(join(dir, 'agent.log'), `line ${i}\n`, { flag: 'a' });
        writeFileSync(join(dir, 'notes.yaml.swp'), `x${i}`);
        await new Promise((r) => setTimeout(r, 60));
      }
      await new Promise((r) => setTimeout(r, 800));
      expect(await d.metric('peregrine_rules_reloads_total{outcome="success"}')).toBe(before);
      writeFileSync(join(dir, 'b.yaml'), RULE('Ls', 'evt.type = openat and proc.name = ls'));
      await untilAsync(async () => (await d.metric('peregrine_rules_reloads_total{outcome="success"}')) === before + 1);
    } finally {
      await d.stop();
      await server.shutdown(deadlineIn(500));
    }
  });

  it('exponential macros (2^34 checks if expanded) loaded by hot reload: events keep flowing, health answers, SIGTERM is handled', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reload-exp-'));
    writeFileSync(join(dir, 'a.yaml'), RULE('Cat', 'evt.type = openat and proc.name = cat'));
    const { d, server } = await sensorDaemon(dir);
    try {
      writeFileSync(join(dir, 'a.yaml'), exponentialMacros(34));
      await untilAsync(async () => /rules="2"/.test((await d.get('/metrics')).text), 10_000);
      server.publish(Array.from({ length: 2_000 }, (_, i) => open(i, i % 2 ? 'cat' : 'never-this-name')));
      await until(() => (d.stdout().match(/"rule":"Exponential"/g) ?? []).length === 1_000, 20_000);
      expect((d.stdout().match(/"rule":"Cat"/g) ?? []).length).toBe(1_000);
      expect((await d.get('/healthz')).status).toBe(200);
      const { code, ms } = await d.stop();
      expect(code).toBe(0);
      expect(ms).toBeLessThan(10_000);
    } finally {
      d.kill();
      await server.shutdown(deadlineIn(500));
    }
  });
});

describe('shutdown with slow clients attached', () => {
  it('stops within the configured deadline with slowloris clients on /metrics and falco-http and a receiver that never answers', async () => {
    const port = await freePort();
    // a receiver that accepts connections and never answers
    const hang = net.createServer(() => {});
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    const hangPort = (hang.address() as net.AddressInfo).port;
    const d = await startDaemon([
      'sources:',
      '  - type: falco-http',
      `    listen: 127.0.0.1:${port}`,
      'sinks:',
      '  - type: stdout',
      '  - type: webhook',
      '    name: stuck',
      `    url: http://127.0.0.1:${hangPort}/`,
      'spool:',
      `  dir: ${mkdtempSync(join(tmpdir(), 'slow-spool-'))}`,
      'shutdown:',
      '  deadlineSeconds: 3',
      'log:',
      '  level: warn',
    ]);
    daemons.push(d);
    const clients = [slowClient(d.metricsPort), slowClient(d.metricsPort), slowClient(port), slowClient(port)];
    try {
      for (let i = 0; i < 20; i++)
        await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: alert(`Before stop ${i}`) });
      await until(() => (d.stdout().match(/"rule":"Before stop/g) ?? []).length === 20, 5_000);
      await new Promise((r) => setTimeout(r, 1_000)); // the slow clients are mid-request
      const { code, ms } = await d.stop();
      expect(code).toBe(0);
      expect(ms).toBeLessThan(3_000 + 1_500);
      console.log(`shutdown with 4 slow clients and a stuck receiver: ${ms} ms (deadline 3000 ms)`);
      expect(d.stderr()).toMatch(/stopped in \d+ ms/);
    } finally {
      for (const c of clients) c.destroy();
      hang.close();
    }
  });
});

describe('rules published over HTTPS that trickle in', () => {
  it('health answers during the first fetch; a server sending a byte every 2 s is cut off at the fetch deadline', async () => {
    const { makeCerts } = await import('./helpers/certs.js');
    const https = await import('node:https');
    const certs = makeCerts();
    const server = https.createServer(
      { cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey) },
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/yaml' });
        const t = setInterval(() => res.write('#'), 2_000);
        res.on('close', () => clearInterval(t));
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `https://localhost:${(server.address() as net.AddressInfo).port}/rules.yaml`;
    const dir = mkdtempSync(join(tmpdir(), 'trickle-'));
    const t0 = Date.now();
    const d = await startDaemon(
      [
        'rules:',
        '  paths: []',
        `  cacheDir: ${dir}`,
        '  urls:',
        `    - url: ${url}`,
        `      ca: ${certs.ca}`,
        'sources:',
        '  - type: replay',
        '    path: /dev/null',
      ],
      { waitFor: '' },
    );
    daemons.push(d);
    try {
      // while the first fetch trickles: /healthz answers, /readyz says why it is not ready
      await untilAsync(async () => (await d.get('/healthz').catch(() => ({ status: 0 }))).status === 200, 10_000);
      expect(await d.get('/readyz')).toEqual({ status: 503, text: 'not ready: rules not loaded\n' });
      const code = await new Promise<number | null>((r) =>
        d.child.exitCode !== null ? r(d.child.exitCode) : d.child.once('exit', r),
      );
      expect(code).toBe(1);
      expect(d.stderr()).toMatch(/rules URLs could not be fetched[\s\S]*not complete within 20 s/);
      expect(Date.now() - t0).toBeLessThan(30_000);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  }, 60_000);
});

describe('peregrine run on embedded defaults never pretends to watch', () => {
  it('when the bundled sensor cannot start, it exits 1 with the reason and what to do (suggesting --demo)', () => {
    // a loader that is not there
    const bin = mkdtempSync(join(tmpdir(), 'noloader-'));
    const r = spawnSync(process.execPath, [PEREGRINE, 'run'], {
      encoding: 'utf8',
      timeout: 20_000,
      env: {
        ...process.env,
        PEREGRINE_SENSOR_LOADER: join(bin, 'peregrine-sensor-loader'),
        PEREGRINE_METRICS__LISTEN: '127.0.0.1:0',
      },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/the bundled eBPF sensor cannot start, so nothing would be watched/);
    expect(r.stderr).toMatch(/the sensor loader .* is not built: run scripts\/setup/);
    expect(r.stderr).toMatch(/peregrine run --demo/);
    expect(r.stdout).toBe(''); // no demo alerts pretending to be real
  });
});
