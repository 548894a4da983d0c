import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers of `src/` and what each may import (besides itself, `project-paths.ts` and npm
 * packages). docs/architecture.md explains them; this keeps the direction from eroding.
 */
const LAYERS = {
  event: [],
  telemetry: [],
  transport: ['event', 'telemetry'],
  lang: ['event'],
  rules: ['event', 'lang'],
  engine: ['event', 'lang', 'rules'],
  authoring: ['event', 'lang', 'rules', 'engine'],
  sources: ['event', 'telemetry', 'transport'],
  sinks: ['event', 'telemetry', 'transport'],
  sensor: ['event', 'telemetry', 'transport'],
  enrich: ['event', 'telemetry', 'transport'],
  k8s: ['event', 'telemetry'],
  respond: ['event', 'telemetry', 'lang'],
  pipeline: ['event', 'telemetry', 'engine', 'sources', 'sinks'],
  config: ['event', 'telemetry', 'sources', 'sinks'],
  agent: [
    'event',
    'telemetry',
    'transport',
    'lang',
    'rules',
    'engine',
    'sources',
    'sinks',
    'enrich',
    'k8s',
    'respond',
    'pipeline',
    'config',
  ],
  cli: null, // the top: may import every layer
};

/** Packages that one layer alone may import, so each dependency has one place (docs/architecture.md). */
const OWNED_PACKAGES = { '@kubernetes/client-node': 'k8s' };

const layerRules = Object.entries(LAYERS).map(([layer, allowed]) => {
  const forbidden = allowed === null ? [] : Object.keys(LAYERS).filter((l) => l !== layer && !allowed.includes(l));
  const patterns = Object.entries(OWNED_PACKAGES)
    .filter(([, owner]) => owner !== layer)
    .map(([pkg, owner]) => ({ group: [pkg], message: `only src/${owner} imports ${pkg}` }));
  if (forbidden.length)
    patterns.push({
      group: forbidden.flatMap((l) => [`../${l}/*`, `../${l}`, `../../${l}/*`]),
      message: `src/${layer} may import only ${allowed.length ? allowed.join(', ') : 'nothing else in src'} (see docs/architecture.md, layers)`,
    });
  return {
    files: [`src/${layer}/**/*.ts`],
    rules: { 'no-restricted-imports': ['error', { patterns }] },
  };
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly' },
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', 'bin/*.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      // a promise nobody awaits loses its errors: await it, return it, or mark it `void` on purpose
      '@typescript-eslint/no-floating-promises': 'error',
      // lifecycle methods return promises by contract (src/lifecycle.ts), some with nothing to await
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-control-regex': 'off',
    },
  },
  // vitest's asymmetric matchers (expect.any, expect.stringMatching) are typed `any`
  { files: ['test/**/*.ts', 'src/**/*.test.ts'], rules: { '@typescript-eslint/no-unsafe-assignment': 'off' } },
  ...layerRules,
);
