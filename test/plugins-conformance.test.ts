/**
 * One conformance suite over every plug-in registry (sources, sinks): each plug-in's example
 * validates against its own schema; a plug-in built from it shuts down cleanly before it ever
 * started, and after starting; `plugins list` shows every one. A new plug-in is covered by
 * being registered.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FieldKeyTable } from '../src/event/index.js';
import { SINK_PLUGINS, buildSink } from '../src/sinks/index.js';
import { SOURCE_PLUGINS, type SourcePlugin } from '../src/sources/index.js';
import { freePort } from './helpers/http-receiver.js';
import { peregrine } from './helpers/cli.js';
import { deadlineIn } from '../src/lifecycle.js';

const dir = mkdtempSync(join(tmpdir(), 'conformance-'));

/** A `*File` key becomes its value, as the config loader does (the files of examples are not here). */
function resolveFiles(o: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (k.endsWith('File') && typeof v === 'string')
      out[k.slice(0, -4)] = k === 'urlFile' ? 'https://hooks.example.invalid/services/T0/B0/secret' : `value-of-${k}`;
    else out[k] = v;
  }
  return out;
}

/** The example, pointed at something local: a free port, a socket nobody serves, a temp file. */
async function localOptions(p: SourcePlugin): Promise<Record<string, unknown>> {
  const o: Record<string, unknown> = { ...p.example };
  if (p.address.key === 'listen') o.listen = `127.0.0.1:${await freePort()}`;
  else if (p.address.key === 'path') {
    const f = join(dir, `${p.type}.jsonl`);
    writeFileSync(f, '{"evt.type":"openat","proc.name":"cat"}\n');
    o.path = f;
  } else o[p.address.key] = `unix://${join(dir, `${p.type}-nobody.sock`)}`;
  return o;
}

describe('every source plug-in', () => {
  for (const p of SOURCE_PLUGINS) {
    describe(p.type, () => {
      it('has a description, an address option and an example its schema accepts', () => {
        expect(p.description.length).toBeGreaterThan(10);
        expect(p.address.key.length).toBeGreaterThan(0);
        const r = p.schema.safeParse(p.example);
        expect(r.error?.issues ?? []).toEqual([]);
      });
      it('shuts down cleanly before it ever started', async () => {
        const s = p.build(await localOptions(p), { table: new FieldKeyTable() });
        await expect(s.shutdown(deadlineIn(1_000))).resolves.toBeUndefined();
        await expect(s.shutdown(deadlineIn(1_000))).resolves.toBeUndefined(); // idempotent
      });
      it('starts and shuts down within its deadline', async () => {
        const s = p.build(await localOptions(p), { table: new FieldKeyTable() });
        await s.start();
        const t0 = Date.now();
        await s.shutdown(deadlineIn(1_000));
        expect(Date.now() - t0).toBeLessThan(2_000);
      });
      it('refuses options its schema rejects, with the key', () => {
        expect(() => p.build({ ...p.example, noSuchOption: 1 }, { table: new FieldKeyTable() })).toThrow(
          /noSuchOption/,
        );
      });
    });
  }
});

describe('every sink plug-in', () => {
  for (const p of SINK_PLUGINS) {
    describe(p.type, () => {
      it('has a description and an example its schema accepts', () => {
        expect(p.description.length).toBeGreaterThan(10);
        const r = p.schema.safeParse(resolveFiles(p.example));
        expect(r.error?.issues ?? []).toEqual([]);
      });
      it('built from its example, starts and shuts down cleanly before any alert; shutdown before start is safe', async () => {
        const o = resolveFiles(p.example);
        if (p.type === 'file') o.path = join(dir, 'alerts.jsonl');
        if (typeof o.url === 'string') o.url = `http://127.0.0.1:${await freePort()}/`;
        if (p.remote) o.allowInsecure = true;
        const unstarted = buildSink(
          { type: p.type, ...o },
          { name: `${p.type}-unstarted`, spoolDir: join(dir, 'spool') },
        );
        await expect(unstarted.shutdown(deadlineIn(1_000))).resolves.toBeUndefined();
        const sink = buildSink({ type: p.type, ...o }, { name: p.type, spoolDir: join(dir, 'spool') });
        await sink.start();
        expect(sink.stats).toMatchObject({ queued: 0 });
        const t0 = Date.now();
        await expect(sink.shutdown(deadlineIn(1_000))).resolves.toBeUndefined();
        expect(Date.now() - t0).toBeLessThan(2_000);
      });
    });
  }
});

describe('peregrine plugins list', () => {
  it('lists every source and sink with its description and example (--json)', () => {
    const r = peregrine(['plugins', 'list', '--json']);
    expect(r.code).toBe(0);
    const { plugins } = JSON.parse(r.out) as {
      plugins: Array<{ family: string; type: string; description: string; example: { type: string } }>;
    };
    expect(plugins.filter((x) => x.family === 'source').map((x) => x.type)).toEqual(SOURCE_PLUGINS.map((x) => x.type));
    expect(plugins.filter((x) => x.family === 'sink').map((x) => x.type)).toEqual(SINK_PLUGINS.map((x) => x.type));
    for (const x of plugins) expect(x.example.type).toBe(x.type);
    const text = peregrine(['plugins', 'list']);
    expect(text.out).toMatch(/sources \(config key `sources:`\):\n {2}sensor\n {4}Peregrine's bundled eBPF sensor/);
  });
});
