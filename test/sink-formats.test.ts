import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../src/event/index.js';
import {
  alertmanagerAlert,
  buildSink,
  pagerdutyDedupKey,
  pagerdutyEvent,
  pagerdutySeverity,
  slackMessage,
} from '../src/sinks/index.js';
import { freePort } from './helpers/http-receiver.js';
import { untilAsync as until } from './helpers/wait.js';
import { Agent } from '../src/agent/index.js';
import { loadConfig } from '../src/config/index.js';
import { ManualClock } from './helpers/manual-clock.js';

const GOLDEN = fileURLToPath(new URL('./golden/sinks/', import.meta.url));
const alert: Alert = {
  time: '2026-11-29T10:00:00.123456789Z',
  rule: 'Read sensitive file',
  priority: 'Warning',
  source: 'syscall',
  tags: ['filesystem', 'T1003.008'],
  hostname: 'node-7',
  output: '10:00:00.123456789: Warning Sensitive file opened for reading | file=/etc/shadow process=cat',
  output_fields: {
    'evt.time': 1n,
    'fd.name': '/etc/shadow',
    'proc.name': 'cat',
    'proc.cmdline': 'cat /etc/shadow',
    'k8s.ns.name': 'shop',
    'k8s.pod.name': 'web-7d9c-x2',
    'k8s.workload.name': 'web',
    'container.id': '3ad7b26ded6d',
    'user.loginuid': null,
  },
};

function golden(name: string, value: unknown): void {
  const text = JSON.stringify(value, null, 2) + '\n';
  const file = `${GOLDEN}${name}.json`;
  if (!existsSync(file) && process.env.CI !== 'true') writeFileSync(file, text);
  expect(text).toBe(readFileSync(file, 'utf8'));
}

describe('message formats (golden)', () => {
  it('Slack Block Kit', () => golden('slack', slackMessage(alert)));
  it('Slack, folded repeats', () =>
    golden(
      'slack-repeats',
      slackMessage(alert, { count: 41, firstSeen: '2026-11-29T10:00:00Z', lastSeen: '2026-11-29T10:04:59Z' }),
    ));
  it('PagerDuty Events v2', () => golden('pagerduty', pagerdutyEvent(alert, 'R0UTINGKEY')));
  it('Alertmanager v2', () => golden('alertmanager', [alertmanagerAlert(alert, new Date('2026-11-29T10:00:01Z'))]));
  it('PagerDuty severities and one dedup key per rule × workload × node', () => {
    expect(
      (['Emergency', 'Alert', 'Critical', 'Error', 'Warning', 'Notice', 'Informational', 'Debug'] as const).map(
        pagerdutySeverity,
      ),
    ).toEqual(['critical', 'critical', 'critical', 'error', 'warning', 'info', 'info', 'info']);
    const other = {
      ...alert,
      output_fields: { ...alert.output_fields, 'k8s.pod.name': 'web-7d9c-zz', 'fd.name': '/etc/gshadow' },
    };
    expect(pagerdutyDedupKey(other)).toBe(pagerdutyDedupKey(alert)); // same workload: same incident
    expect(pagerdutyDedupKey({ ...alert, hostname: 'node-8' })).not.toBe(pagerdutyDedupKey(alert));
    expect(
      (pagerdutyEvent({ ...alert, output: 'x'.repeat(5000) }, 'k').payload as { summary: string }).summary.length,
    ).toBe(1024);
  });
});

describe('Slack and PagerDuty sinks against real HTTP receivers', () => {
  it('exact bodies and headers', async () => {
    const got: Array<{ path: string; type: string; body: unknown }> = [];
    const receiver = http.createServer((req, res) => {
      let b = '';
      req.on('data', (c) => (b += c));
      req.on('end', () => {
        got.push({ path: req.url ?? '', type: String(req.headers['content-type']), body: JSON.parse(b) });
        if (req.url === '/pd') res.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"success"}');
        else res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
    const dir = mkdtempSync(join(tmpdir(), 'sinks-'));
    writeFileSync(
      join(dir, 'events.jsonl'),
      JSON.stringify({
        'evt.type': 'openat',
        'evt.arg.flags': 'O_RDONLY',
        'fd.num': 3,
        'fd.typechar': 'f',
        'fd.name': '/etc/shadow',
        'proc.name': 'cat',
        'evt.time': 1764410400000000000,
      }) + '\n',
    );
    const agent = new Agent(
      loadConfig(
        [
          'sources:',
          '  - type: replay',
          `    path: ${join(dir, 'events.jsonl')}`,
          'sinks:',
          '  - type: slack',
          `    url: ${base}/slack`,
          '  - type: pagerduty',
          '    routingKey: R0UTINGKEY',
          `    url: ${base}/pd`,
          'metrics:',
          '  listen: 127.0.0.1:0',
          'spool:',
          `  dir: ${join(dir, 'spool')}`,
        ].join('\n') + '\n',
      ),
    );
    try {
      await agent.start();
      await agent.finished;
      await agent.shutdown();
    } finally {
      receiver.close();
    }
    const slack = got.find((g) => g.path === '/slack')!;
    const pd = got.find((g) => g.path === '/pd')!;
    expect(slack.type).toBe('application/json');
    expect(slack.body).toMatchObject({
      text: expect.stringMatching(/^Warning: Read sensitive file on /),
      blocks: expect.any(Array),
    });
    expect(pd.body).toMatchObject({
      routing_key: 'R0UTINGKEY',
      event_action: 'trigger',
      dedup_key: expect.stringMatching(/^peregrine-[0-9a-f]{32}$/),
      payload: { severity: 'warning', class: 'Read sensitive file' },
    });
  });
});

describe('alert fatigue: folding repeats', () => {
  it('a burst of 10,000 identical alerts becomes one alert and one summary per window', async () => {
    const got: Array<Record<string, unknown>> = [];
    const receiver = http.createServer((req, res) => {
      let b = '';
      req.on('data', (c) => (b += c));
      req.on('end', () => {
        got.push(JSON.parse(b) as Record<string, unknown>);
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
    const dir = mkdtempSync(join(tmpdir(), 'burst-'));
    const line = JSON.stringify({
      'evt.type': 'openat',
      'evt.arg.flags': 'O_RDONLY',
      'fd.num': 3,
      'fd.typechar': 'f',
      'fd.name': '/etc/shadow',
      'proc.name': 'cat',
    });
    writeFileSync(join(dir, 'events.jsonl'), `${line}\n`.repeat(10_000));
    const clock = new ManualClock();
    const agent = new Agent(
      loadConfig(
        [
          'sources:',
          '  - type: replay',
          `    path: ${join(dir, 'events.jsonl')}`,
          'sinks:',
          '  - type: slack',
          `    url: ${base}/slack`,
          '    aggregateSeconds: 1',
          '  - type: webhook',
          `    url: ${base}/hook`,
          '    aggregateSeconds: 1',
          'metrics:',
          '  listen: 127.0.0.1:0',
          'spool:',
          `  dir: ${join(dir, 'spool')}`,
        ].join('\n') + '\n',
      ),
      { clock },
    );
    try {
      await agent.start();
      await agent.finished;
      await clock.advance(1_000); // the window closes: the summaries go out
      await until(async () => got.length === 4, 10_000);
      await agent.shutdown();
    } finally {
      receiver.close();
    }
    const slack = got.filter((g) => 'blocks' in g);
    const hook = got.filter((g) => 'rule' in g) as Array<{ output_fields: Record<string, unknown> }>;
    expect(slack.length).toBe(2);
    expect(hook.length).toBe(2);
    expect(hook[1].output_fields['peregrine.repeat_count']).toBe(9_999);
    expect(JSON.stringify(slack[1])).toContain('Repeated 9999 times');
  });
});

describe('peregrine alerts test', () => {
  it('sends one test alert through every sink and reports each outcome (exit 1 when one fails)', async () => {
    const { spawn } = await import('node:child_process');
    const got: string[] = [];
    const receiver = http.createServer((req, res) => {
      let b = '';
      req.on('data', (c) => (b += c));
      req.on('end', () => {
        got.push(b);
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
    const dir = mkdtempSync(join(tmpdir(), 'atest-'));
    writeFileSync(
      join(dir, 'c.yaml'),
      [
        'sinks:',
        '  - type: webhook',
        `    url: ${base}/hook`,
        '  - type: slack',
        '    url: http://127.0.0.1:9/refused',
        '    timeoutMs: 500',
      ].join('\n') + '\n',
    );
    const bin = fileURLToPath(new URL('../bin/peregrine.js', import.meta.url));
    const child = spawn(process.execPath, [bin, 'alerts', 'test', '--config', join(dir, 'c.yaml')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    receiver.close();
    expect(code).toBe(1);
    expect(err).toMatch(/^ok +webhook-0: sent$/m);
    expect(err).toMatch(/^FAILED slack-1: (retried, )*failed \(unreachable\)$/m);
    expect(JSON.parse(got[0])).toMatchObject({ rule: 'Peregrine test alert', priority: 'Emergency' });
  });
});

describe('Alertmanager sink against a real prometheus-alertmanager', () => {
  let am: ChildProcess | undefined;
  let base = '';
  const dir = mkdtempSync(join(tmpdir(), 'am-'));
  beforeAll(async () => {
    const { spawn } = await import('node:child_process');
    writeFileSync(join(dir, 'am.yml'), 'route:\n  receiver: none\nreceivers:\n  - name: none\n');
    const port = await freePort();
    const cluster = await freePort();
    am = spawn(
      'prometheus-alertmanager',
      [
        `--config.file=${join(dir, 'am.yml')}`,
        `--storage.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        `--cluster.listen-address=127.0.0.1:${cluster}`,
      ],
      { stdio: 'ignore' },
    );
    base = `http://127.0.0.1:${port}`;
    const end = Date.now() + 20_000;
    for (;;) {
      const ok = await fetch(`${base}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > end) throw new Error('prometheus-alertmanager did not start (scripts/setup installs it)');
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 30_000);
  afterAll(() => void am?.kill());
  type AmAlert = {
    labels: Record<string, string>;
    startsAt: string;
    endsAt: string;
    annotations: Record<string, string>;
  };
  const read = async (rule: string): Promise<AmAlert[]> =>
    ((await (await fetch(`${base}/api/v2/alerts`)).json()) as AmAlert[]).filter((x) => x.labels.alertname === rule);

  it("the alert can be read back through its API with Peregrine's labels", async () => {
    const events = join(dir, 'events.jsonl');
    writeFileSync(
      events,
      JSON.stringify({
        'evt.type': 'openat',
        'evt.arg.flags': 'O_RDONLY',
        'fd.num': 3,
        'fd.typechar': 'f',
        'fd.name': '/etc/shadow',
        'proc.name': 'cat',
        'k8s.ns.name': 'shop',
        'k8s.pod.name': 'web-1',
      }) + '\n',
    );
    const agent = new Agent(
      loadConfig(
        [
          'node:',
          '  name: node-7',
          'sources:',
          '  - type: replay',
          `    path: ${events}`,
          'sinks:',
          '  - type: alertmanager',
          `    url: ${base}`,
          'metrics:',
          '  listen: 127.0.0.1:0',
          'spool:',
          `  dir: ${join(dir, 'spool')}`,
        ].join('\n') + '\n',
      ),
    );
    await agent.start();
    await agent.finished;
    await agent.shutdown();
    const [a] = await read('Read sensitive file');
    expect(a?.labels).toMatchObject({
      priority: 'warning',
      namespace: 'shop',
      pod: 'web-1',
      node: 'node-7',
      source: 'peregrine',
    });
    expect(Date.parse(a.endsAt)).toBeGreaterThan(Date.now());
  });

  it('endsAt moves forward while the alert repeats (one alert, first startsAt kept)', async () => {
    const sink = buildSink(
      { type: 'alertmanager', url: base, aggregateSeconds: 1, resolveAfterMinutes: 1 },
      { name: 'am' },
    );
    const repeating: Alert = { ...alert, rule: 'Repeating problem', time: new Date().toISOString() };
    sink.write(repeating);
    await until(async () => (await read('Repeating problem')).length === 1);
    const [first] = await read('Repeating problem');
    sink.write({ ...repeating, time: new Date().toISOString() }); // folded; the follow-up goes out when the 1 s window closes
    const later = async (): Promise<boolean> =>
      Date.parse((await read('Repeating problem'))[0].endsAt) > Date.parse(first.endsAt);
    await until(later, 5_000);
    const now = await read('Repeating problem');
    expect(now.length).toBe(1);
    expect(Date.parse(now[0].endsAt) - Date.parse(first.endsAt)).toBeGreaterThanOrEqual(900);
    expect(now[0].startsAt).toBe(first.startsAt);
    expect(now[0].annotations.summary).toMatch(/repeated 1 times/);
    await sink.shutdown();
  });
});
