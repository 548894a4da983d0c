/**
 * Fuzzing every decoder an outside party feeds: JSON Lines events, sensor API batches, Tetragon
 * messages, Falco alerts (HTTP bodies) and configuration files — random, structure-aware and
 * valid inputs mangled byte by byte. Properties: a bad input fails with the decoder's typed
 * error (never another exception); whatever decodes is evaluated against the bundled and
 * upstream rules and turned into alerts and JSON without throwing, within a bound per input.
 * See test/helpers/fuzz.ts for FUZZ_RUNS, FUZZ_SEED and the corpus.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError, loadConfig } from '../src/config/index.js';
import { Engine, loadRules } from '../src/engine/index.js';
import {
  EventDecodeError,
  FieldCatalog,
  FieldKeyTable,
  FlatEventDecoder,
  alertToJson,
  type SyscallEvent,
} from '../src/event/index.js';
import { WireFormatError, loadProtoRoot } from '../src/transport/index.js';
import { BUNDLED_RULES } from '../src/defaults.js';
import { encodeBatch, type SensorEvent } from '../src/sensor/index.js';
import {
  AlertFormatError,
  SensorBatchDecoder,
  TetragonDecoder,
  alertFromFalcoJson,
  limitAlert,
} from '../src/sources/index.js';
import { corpus, fuzzParams, withinMs } from './helpers/fuzz.js';
import { encode } from './helpers/grpc-servers.js';
import { connect, shadowRead } from './helpers/sensor-events.js';
import { tetragonExec, tetragonExit, tetragonKprobe } from './helpers/tetragon-events.js';
import { UPSTREAM_RULES } from './helpers/upstream.js';

const table = new FieldKeyTable();
const engine = new Engine(loadRules([BUNDLED_RULES, ...UPSTREAM_RULES], table), { ruleMatching: 'all' });
const FIELD_NAMES = new FieldCatalog().all().map((d) => d.name);

/** Everything downstream of a decoder: rules, alerts, their JSON. */
function evaluate(e: SyscallEvent): void {
  withinMs(250, `evaluating a ${e.type} event`, () =>
    engine.evaluate(e, (r) => {
      const json = alertToJson(engine.alert(r, e));
      expect(() => void JSON.parse(json)).not.toThrow();
    }),
  );
}

/** Runs `decode`; a throw must be an instance of `typed`. Returns what decoded, if anything. */
function decodeOrTyped<T>(typed: new (...a: never[]) => Error, decode: () => T): T | undefined {
  try {
    return withinMs(1_000, 'decoding', decode);
  } catch (err) {
    if (!(err instanceof typed)) throw new Error(`expected ${typed.name}, got ${String(err)}`, { cause: err });
    return undefined;
  }
}

/** Random edits of valid bytes: flips, truncation, insertion, deletion. */
const mangledBytes = (valid: readonly Buffer[]): fc.Arbitrary<Buffer> =>
  fc
    .tuple(
      fc.constantFrom(...valid),
      fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 }), fc.constantFrom('flip', 'cut', 'insert', 'delete')), {
        minLength: 1,
        maxLength: 6,
      }),
    )
    .map(([buf, edits]) => {
      let b = Buffer.from(buf);
      for (const [at, byte, op] of edits) {
        const i = b.length ? at % b.length : 0;
        if (op === 'flip') b[i] = byte;
        else if (op === 'cut') b = b.subarray(0, i);
        else if (op === 'insert') b = Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i)]);
        else b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1 + (byte % 8))]);
      }
      return b;
    });

const text = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom('', '/etc/shadow', 'nc', '<NA>', '\u0000', '%proc.name', '../../', 'x'.repeat(5000)),
);
const int = fc.oneof(fc.integer(), fc.constantFrom(0, -1, 2 ** 31, 2 ** 32 - 1, Number.MAX_SAFE_INTEGER));

describe('fuzz: JSON Lines events', () => {
  const d = new FlatEventDecoder(table);
  const line = (s: string, n = 1): void => {
    const e = decodeOrTyped(EventDecodeError, () => d.decodeLine(s, n));
    if (e) evaluate(e);
  };
  it('the kept corpus', () => {
    const kept = corpus('json-lines');
    expect(kept.length).toBeGreaterThan(0);
    for (const [, bytes] of kept) for (const l of bytes.toString('utf8').split('\n').filter(Boolean)) line(l);
  });
  it('objects of real field names with values of any JSON type', () => {
    const value = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.double(),
      fc.bigInt().map((b) => b.toString()),
      text,
      int,
    );
    const obj = fc.dictionary(
      fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(...FIELD_NAMES, 'evt.type', 'evt.time') },
        { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
      ),
      value,
      { maxKeys: 12 },
    );
    fc.assert(
      fc.property(obj, fc.constantFrom('openat', 'execve', 'connect', 'bogus'), (o, type) =>
        line(JSON.stringify({ 'evt.type': type, ...o })),
      ),
      fuzzParams(1000),
    );
  });
  it('valid lines mangled, and arbitrary text', () => {
    const valid = [
      '{"evt.type":"openat","proc.name":"cat","fd.name":"/etc/shadow","user.uid":0,"evt.time":1764424800123456789}',
      '{"evt.type":"connect","fd.sip":"10.0.0.9","fd.sport":4444,"proc.aname[2]":"runc","k8s.ns.name":"shop"}',
    ].map((s) => Buffer.from(s));
    fc.assert(
      fc.property(
        fc.oneof(
          mangledBytes(valid).map((b) => b.toString('utf8')),
          fc.string({ maxLength: 200 }),
        ),
        (s) => line(s),
      ),
      fuzzParams(1000),
    );
  });
});

describe('fuzz: sensor API batches', () => {
  const d = new SensorBatchDecoder(table);
  const batch = (buf: Buffer): void => {
    const b = decodeOrTyped(WireFormatError, () => d.decode(buf));
    for (const e of b?.events ?? []) evaluate(e);
  };
  const sensorEvent: fc.Arbitrary<SensorEvent> = fc.record(
    {
      tsNs: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      type: fc.constantFrom('openat', 'execve', 'connect', 'ptrace', 'bogus', ''),
      res: int,
      tid: int,
      pid: int,
      ppid: int,
      vpid: int,
      name: text,
      exe: text,
      exepath: text,
      args: text,
      cwd: text,
      tty: int,
      uid: int,
      gid: int,
      loginuid: int,
      user: text,
      group: text,
      procStartNs: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      exeFlags: fc.nat({ max: 7 }),
      ancestors: fc.array(
        fc.record({ name: text, pid: int, exe: text, exepath: text, cmdline: text }, { requiredKeys: [] }),
        { maxLength: 20 },
      ),
      fd: fc.record(
        {
          num: int,
          type: fc.constantFrom('file', 'ipv4', 'ipv6', 'unix', 'bogus'),
          name: text,
          cip: fc.oneof(fc.ipV4(), fc.ipV6(), text),
          sip: fc.oneof(fc.ipV4(), text),
          cport: int,
          sport: int,
          l4proto: text,
          isServer: fc.boolean(),
        },
        { requiredKeys: ['num', 'type'] },
      ),
      params: fc.dictionary(fc.constantFrom('flags', 'mode', 'request', 'addr', 'sig', 'x'), text, { maxKeys: 4 }),
      containerId: text,
    },
    { requiredKeys: ['tsNs', 'type', 'res', 'tid', 'pid', 'name'] },
  );

  it('the kept corpus', () => {
    const kept = corpus('sensor-batch');
    expect(kept.length).toBeGreaterThan(0);
    for (const [, bytes] of kept) batch(bytes);
  });
  it('structure-aware events of any values round-trip and evaluate', () => {
    fc.assert(
      fc.property(fc.array(sensorEvent, { maxLength: 5 }), fc.nat(), (events, lost) =>
        batch(encodeBatch(1, 1, events, lost)),
      ),
      fuzzParams(500),
    );
  });
  it('valid batches mangled, and arbitrary bytes', () => {
    const valid = [encodeBatch(7, 1, [shadowRead(), connect()], 2), encodeBatch(1, 99, [connect(3)])];
    fc.assert(
      fc.property(
        fc.oneof(
          mangledBytes(valid),
          fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)),
        ),
        batch,
      ),
      fuzzParams(2000),
    );
  });
});

describe('fuzz: Tetragon messages', () => {
  const d = new TetragonDecoder(table, loadProtoRoot());
  const message = (buf: Buffer): void => {
    const m = decodeOrTyped(Error, () => d.decode(buf));
    if (m?.event) evaluate(m.event);
  };
  it('the kept corpus', () => {
    const kept = corpus('tetragon');
    expect(kept.length).toBeGreaterThan(0);
    for (const [, bytes] of kept) message(bytes);
  });
  it('valid events mangled, and arbitrary bytes: a decode error at worst (the source counts it), never a bad event', () => {
    const valid = [
      tetragonExec('/usr/bin/nc', '-e /bin/sh'),
      tetragonExit(),
      tetragonKprobe('__x64_sys_openat', [{ int_arg: -100 }, { string_arg: '/etc/shadow' }, { int_arg: 0 }], {
        int_arg: 3,
      }),
      tetragonKprobe('tcp_connect', [
        {
          sock_arg: {
            family: 'AF_INET',
            type: 'SOCK_STREAM',
            protocol: 'IPPROTO_TCP',
            saddr: '10.0.0.5',
            daddr: '10.0.0.9',
            sport: 40112,
            dport: 4444,
          },
        },
      ]),
    ].map((o) => encode('tetragon.GetEventsResponse', o));
    fc.assert(
      fc.property(
        fc.oneof(
          mangledBytes(valid),
          fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)),
        ),
        message,
      ),
      fuzzParams(2000),
    );
  });
});

describe('fuzz: Falco alerts (HTTP bodies, gRPC output fields)', () => {
  const body = (s: string): void => {
    let doc: unknown;
    try {
      doc = JSON.parse(s);
    } catch {
      return; // the source answers 400 before this point
    }
    const a = decodeOrTyped(AlertFormatError, () => alertFromFalcoJson(doc));
    if (!a) return;
    const limited = limitAlert(a);
    expect(limited.output.length).toBeLessThanOrEqual(16_384);
    expect(Object.keys(limited.output_fields).length).toBeLessThanOrEqual(257);
    expect(() => void JSON.parse(alertToJson(limited))).not.toThrow();
  };
  it('the kept corpus', () => {
    const kept = corpus('falco-http');
    expect(kept.length).toBeGreaterThan(0);
    for (const [, bytes] of kept) body(bytes.toString('utf8'));
  });
  it('structure-aware alerts with values of any type and size', () => {
    const anyValue = fc.oneof(fc.jsonValue({ maxDepth: 2 }), text, fc.constant('y'.repeat(20_000)));
    const alert = fc.record(
      {
        rule: fc.oneof(text, anyValue),
        priority: fc.oneof(fc.constantFrom('Critical', 'warning', 'LOUD', ''), anyValue),
        output: fc.oneof(text, anyValue),
        time: fc.oneof(
          fc.constantFrom('2026-11-29T13:20:00.123456789Z', '99999-01-01T00:00:00Z', 'yesterday', ''),
          anyValue,
        ),
        hostname: anyValue,
        source: anyValue,
        tags: fc.oneof(fc.array(text, { maxLength: 100 }), anyValue),
        output_fields: fc.oneof(fc.dictionary(fc.string({ maxLength: 10 }), anyValue, { maxKeys: 300 }), anyValue),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(alert, (a) => body(JSON.stringify(a))),
      fuzzParams(500),
    );
  });
  it('arbitrary JSON documents and text', () => {
    fc.assert(fc.property(fc.oneof(fc.json({ maxDepth: 4 }), fc.string({ maxLength: 100 })), body), fuzzParams(1000));
  });
});

describe('fuzz: configuration files', () => {
  const config = (s: string): void => {
    decodeOrTyped(ConfigError, () => loadConfig(s, 'c.yaml', {}));
  };
  it('the kept corpus', () => {
    const kept = corpus('config');
    expect(kept.length).toBeGreaterThan(0);
    for (const [, bytes] of kept) config(bytes.toString('utf8'));
  });
  it('structure-aware configurations with values of any type, and their text mangled', () => {
    const v = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.constantFrom('127.0.0.1:2801', '0.0.0.0:1', 'unix:///x', 'http://h/x', '10s', 'all', 'debug'),
    );
    const plugin = (types: string[]): fc.Arbitrary<Record<string, unknown>> =>
      fc.record(
        {
          type: fc.oneof(fc.constantFrom(...types), v),
          name: v,
          listen: v,
          address: v,
          url: v,
          urlFile: fc.constantFrom('/nonexistent', '/dev/null', '/proc/self/status'),
          tls: v,
          secret: v,
          insecure: v,
          rateLimit: v,
          maxAttempts: v,
        },
        { requiredKeys: ['type'] },
      );
    const cfg = fc.record(
      {
        sources: fc.oneof(
          fc.array(plugin(['sensor', 'tetragon', 'falco', 'falco-http', 'replay']), { maxLength: 3 }),
          v,
        ),
        sinks: fc.oneof(
          fc.array(plugin(['stdout', 'webhook', 'slack', 'pagerduty', 'alertmanager', 'file']), { maxLength: 3 }),
          v,
        ),
        rules: fc.oneof(fc.record({ paths: v, ruleMatching: v, url: v }, { requiredKeys: [] }), v),
        metrics: v,
        log: v,
        spool: v,
        shutdown: v,
        bogus: v,
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(cfg, fc.boolean(), (c, mangle) => {
        const t = stringify(c);
        config(mangle ? t.replace(/:/g, (m, i: number) => (i % 3 === 0 ? '' : m)) : t);
      }),
      fuzzParams(500),
    );
  });
  it('arbitrary text', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), config), fuzzParams(500));
  });
});
