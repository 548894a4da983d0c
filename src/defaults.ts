import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

/** The project root: this module is `src/` under vitest and `dist/src/` when built. */
export const PROJECT_ROOT = fileURLToPath(new URL('.', import.meta.url)).replace(/(dist\/)?src\/$/, '');
/** Peregrine's default rules, loaded by `peregrine run` and `rules test` when none are named. */
export const BUNDLED_RULES = `${PROJECT_ROOT}rules`;
export const DEMO_EVENTS = `${PROJECT_ROOT}examples/demo-events.jsonl`;
/** The `.proto` files of every gRPC API Peregrine speaks. */
export const PROTO_DIR = `${PROJECT_ROOT}proto`;
/**
 * Falco's reference material (upstream rule files, traces, regression tests; third-party, kept
 * outside the project — see CONTRIBUTING.md): `$PEREGRINE_FALCO_REFERENCE`, else
 * `../shared/falco-upstream` beside the project. Read by tests and benchmarks only; ends in `/`.
 */
export const FALCO_REFERENCE = `${resolve(PROJECT_ROOT, process.env.PEREGRINE_FALCO_REFERENCE || '../shared/falco-upstream')}/`;
/** Falco's three upstream default rule files in {@link FALCO_REFERENCE}, in load order. */
export const FALCO_UPSTREAM_RULES: readonly string[] = [
  'falco_rules.yaml',
  'falco-incubating_rules.yaml',
  'falco-sandbox_rules.yaml',
].map((f) => `${FALCO_REFERENCE}rules/${f}`);

/** The daemon's configuration file, read when it exists and no --config is given. */
export const DEFAULT_CONFIG_PATH = '/etc/peregrine/config.yaml';
/** Where the bundled sensor serves the sensor API, and where the `sensor` source connects. */
export const DEFAULT_SENSOR_ADDRESS = 'unix:///run/peregrine/sensor.sock';
/** Tetragon's gRPC address as its DaemonSet exposes it on the node. */
export const DEFAULT_TETRAGON_ADDRESS = 'localhost:54321';
/** Falco's gRPC outputs socket (Falco ≤ 0.43). */
export const DEFAULT_FALCO_GRPC_ADDRESS = 'unix:///run/falco/falco.sock';
/** Where the `falco-http` source listens: loopback only unless configured otherwise. */
export const DEFAULT_FALCO_HTTP_LISTEN = '127.0.0.1:2801';
/** Container runtime sockets tried in order when none is configured (containerd, CRI-O). */
export const DEFAULT_RUNTIME_SOCKETS: readonly string[] = ['/run/containerd/containerd.sock', '/run/crio/crio.sock'];
