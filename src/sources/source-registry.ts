import { falcoGrpcSourcePlugin } from './falco-grpc-source.js';
import { falcoHttpSourcePlugin } from './falco-http-source.js';
import { sensorSourcePlugin } from './peregrine-sensor-source.js';
import { replaySourcePlugin } from './replay-source.js';
import type { SourcePlugin } from './source-plugin.js';
import { tetragonSourcePlugin } from './tetragon-source.js';

/** Every source type, listed once. */
export const SOURCE_PLUGINS: readonly SourcePlugin[] = [
  sensorSourcePlugin,
  tetragonSourcePlugin,
  falcoGrpcSourcePlugin,
  falcoHttpSourcePlugin,
  replaySourcePlugin,
];

/** The plug-in for a type, or undefined. */
export function sourcePluginFor(type: string): SourcePlugin | undefined {
  return SOURCE_PLUGINS.find((p) => p.type === type);
}

/**
 * Parses a source given on the command line: `TYPE:ADDRESS` (`sensor:unix:///run/peregrine/sensor.sock`,
 * `tetragon:localhost:54321`, `falco-grpc:unix:///run/falco/falco.sock`, `falco-http:127.0.0.1:2801`,
 * `replay:events.jsonl`); a bare type takes the plug-in's default address. Throws with the list
 * of types when the type is unknown.
 */
export function parseSourceSpec(spec: string): { type: string; options: Record<string, unknown> } {
  const i = spec.indexOf(':');
  const type = i < 0 ? spec : spec.slice(0, i);
  const rest = i < 0 ? '' : spec.slice(i + 1);
  const p = sourcePluginFor(type);
  if (!p) throw new Error(`unknown source type '${type}'; use one of ${SOURCE_PLUGINS.map((x) => x.type).join(', ')}`);
  const value = rest || p.address.default;
  return { type, options: value === undefined ? {} : { [p.address.key]: value } };
}
