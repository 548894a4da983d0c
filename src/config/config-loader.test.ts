import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { SINK_PLUGINS } from '../sinks/index.js';
import { ConfigError, loadConfig } from './config-loader.js';

function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadConfig(text, 'c.yaml', env);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

describe('daemon configuration', () => {
  it('no file means the embedded defaults: bundled sensor, bundled rules, alerts on stdout', () => {
    const c = loadConfig(undefined);
    expect(c.sources).toEqual([{ type: 'sensor', address: 'unix:///run/peregrine/sensor.sock' }]);
    expect(c.rules.paths).toEqual(['bundled']);
    expect(c.sinks).toEqual([{ type: 'stdout' }]);
    expect(c.metrics.listen).toBe('0.0.0.0:8765');
  });

  it('environment variables override single keys; *File keys read secrets from files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'secret'), 's3cret\n');
    const c = loadConfig(
      `sources:\n  - type: falco-http\n    listen: 0.0.0.0:2801\n    secret:\n      header: X-Token\n      valueFile: ${join(dir, 'secret')}\n`,
      'c.yaml',
      {
        PEREGRINE_LOG__LEVEL: 'debug',
        PEREGRINE_RULES__RULE_MATCHING: 'all',
        PEREGRINE_METRICS__LISTEN: '127.0.0.1:9999',
        PEREGRINE_FALCO_REFERENCE: '/elsewhere', // not a configuration key: ignored
      },
    );
    expect([c.log.level, c.rules.ruleMatching, c.metrics.listen]).toEqual(['debug', 'all', '127.0.0.1:9999']);
    expect(c.sources[0]).toMatchObject({ secret: { header: 'X-Token', value: 's3cret' } });
  });

  it('reports every problem at once with file:line:column and path; secrets and URL parts are masked', () => {
    const p = problems(
      [
        'rules:',
        '  ruleMatching: some',
        '  paths:',
        '    - 7',
        'sources:',
        '  - type: tetragn',
        '  - type: falco-http',
        '    listen: 0.0.0.0:2801',
        '    secret: {header: X, value: 7}',
        'bogus: 1',
      ].join('\n'),
    );
    expect(p).toEqual([
      'c.yaml:4:7: rules.paths[0]: Invalid input: expected string, received number, got 7',
      'c.yaml:2:17: rules.ruleMatching: Invalid option: expected one of "first"|"all", got "some"',
      expect.stringMatching(
        /^c\.yaml:6:11: sources\[0\]\.type: unknown source type "tetragn"; use one of sensor, tetragon/,
      ),
      'c.yaml:9:32: sources[1].secret.value: Invalid input: expected string, received number, got <redacted>',
      expect.stringMatching(/^c\.yaml:1:1: \(top level\): Unrecognized key: "bogus"/),
    ]);
    expect(problems('a: [')).toEqual([expect.stringMatching(/^c\.yaml:1:\d+: invalid YAML/)]);
    expect(problems('- 1')).toEqual(['c.yaml: the configuration must be a YAML mapping of keys']);
  });

  it('TLS problems are config errors with their path: missing files, a certificate without its key, mutual TLS without a CA', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tls-'));
    writeFileSync(join(dir, 'cert.pem'), 'x');
    const p = problems(
      [
        'sources:',
        '  - type: tetragon',
        '    address: localhost:54321',
        '    tls: {cert: /nonexistent/cert.pem, key: /nonexistent/key.pem, ca: /nonexistent/ca.pem}',
        '  - type: falco-grpc',
        '    address: localhost:5060',
        `    tls: {cert: ${join(dir, 'cert.pem')}}`,
        '  - type: falco-http',
        '    listen: 127.0.0.1:2801',
        `    tls: {ca: ${join(dir, 'cert.pem')}}`,
      ].join('\n'),
    );
    expect(p).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^c\.yaml:4:\d+: sources\[0\]\.tls\.cert: no such file, got "\/nonexistent\/cert\.pem"$/),
        expect.stringMatching(/^c\.yaml:4:\d+: sources\[0\]\.tls\.key: no such file/),
        expect.stringMatching(/^c\.yaml:4:\d+: sources\[0\]\.tls\.ca: no such file/),
        expect.stringMatching(
          /^c\.yaml:7:\d+: sources\[1\]\.tls\.key: a certificate \(cert\) needs its private key \(key\)/,
        ),
        expect.stringMatching(/^c\.yaml:7:\d+: sources\[1\]\.tls\.ca: a client certificate \(mutual TLS\) needs/),
        expect.stringMatching(/^c\.yaml:10:\d+: sources\[2\]\.tls\.cert: a server needs its certificate and key/),
      ]),
    );
    expect(p.length).toBe(6);
  });

  it('sinks: each plug-in validates its own keys; names must be unique; secrets in URLs are masked', () => {
    const p = problems(
      [
        'sinks:',
        '  - type: slak',
        '    url: https://hooks.slack.com/services/T0/B0/SECRET',
        '  - type: slack',
        '    url: http://hooks.slack.com/services/T0/B0/SECRET',
        '  - type: webhook',
        '    name: hook',
        '    url: https://example.com/h',
        '    concurrency: 0',
        '  - type: webhook',
        '    name: hook',
        '    url: https://example.com/h2',
        '  - type: pagerduty',
        '    routingKey: k',
        '    resolveAfterMinutes: 0.5',
        '    aggregateSeconds: 60',
        '  - type: file',
      ].join('\n'),
    );
    expect(p).toEqual([
      expect.stringMatching(
        /^c\.yaml:2:11: sinks\[0\]\.type: unknown sink type "slak"; use one of stdout, file, webhook, slack, pagerduty, alertmanager/,
      ),
      expect.stringMatching(
        /^c\.yaml:5:10: sinks\[1\]\.url: must be an https URL \(plain http only to loopback, or with allowInsecure: true\), got "http:\/\/hooks\.slack\.com\/…"/,
      ),
      expect.stringMatching(/^c\.yaml:9:18: sinks\[2\]\.concurrency: Too small/),
      expect.stringMatching(
        /^c\.yaml:16:23: sinks\[4\]\.aggregateSeconds: must be shorter than resolveAfterMinutes, or a repeating problem is resolved between follow-ups, got 60/,
      ),
      'c.yaml:17:5: sinks[5].path: a file sink needs "path"',
      expect.stringMatching(/^c\.yaml:\d+:\d+: sinks\[3\]\.name: sink name "hook" is already used by sinks\.2/),
    ]);
    expect(p.join('\n')).not.toContain('SECRET');
  });

  it('spool defaults and limits', () => {
    expect(loadConfig(undefined).spool).toEqual({ dir: '/var/lib/peregrine/spool', maxMiBPerSink: 64 });
    expect(problems('spool:\n  maxMiBPerSink: 0\n')).toEqual([
      expect.stringMatching(/^c\.yaml:2:18: spool\.maxMiBPerSink: Too small/),
    ]);
  });

  it("every sink plug-in's example is a valid configuration (secrets read from files)", () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    for (const plugin of SINK_PLUGINS) {
      const example: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(plugin.example)) {
        if (k.endsWith('File')) {
          const f = join(dir, `${plugin.type}-${k}`);
          writeFileSync(f, k === 'urlFile' ? 'https://hooks.slack.com/services/T0/B0/x\n' : 'secret\n');
          example[k] = f;
        } else example[k] = v;
      }
      const c = loadConfig(stringify({ sinks: [{ type: plugin.type, ...example }] }), 'c.yaml', {});
      expect(c.sinks[0], plugin.type).toMatchObject({ type: plugin.type });
    }
  });
});
