import { fileURLToPath } from 'node:url';

/** The project root: this module is `src/` under vitest and `dist/src/` when built. */
export const PROJECT_ROOT = fileURLToPath(new URL('.', import.meta.url)).replace(/(dist\/)?src\/$/, '');
/** Peregrine's default rules, loaded by `peregrine run` and `rules test` when none are named. */
export const BUNDLED_RULES = `${PROJECT_ROOT}rules`;
export const DEMO_EVENTS = `${PROJECT_ROOT}examples/demo-events.jsonl`;
/** The `.proto` files of every gRPC API Peregrine speaks. */
export const PROTO_DIR = `${PROJECT_ROOT}proto`;
