import { fileURLToPath } from 'node:url';

/** The project root (this file is `dist/src/cli/` when built, `src/cli/` under vitest). */
const here = fileURLToPath(new URL('.', import.meta.url));
export const PROJECT_ROOT = here.replace(/(dist\/)?src\/cli\/$/, '');
/** Peregrine's default rules, loaded by `peregrine run` and `rules test` when none are named. */
export const BUNDLED_RULES = `${PROJECT_ROOT}rules`;
export const DEMO_EVENTS = `${PROJECT_ROOT}examples/demo-events.jsonl`;
