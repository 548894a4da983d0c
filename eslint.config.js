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
  pipeline: ['event', 'telemetry', 'engine', 'sources', 'sinks'],
  config: ['event', 'telemetry', 'sources', 'sinks'],
  agent: ['event', 'telemetry', 'transport', 'lang', 'rules', 'engine', 'sources', 'sinks', 'pipeline', 'config'],
  cli: null, // the top: may import every layer
};

const layerRules = Object.entries(LAYERS)
  .filter(([, allowed]) => allowed !== null)
  .map(([layer, allowed]) => {
    const forbidden = Object.keys(LAYERS).filter((l) => l !== layer && !allowed.includes(l));
    return {
      files: [`src/${layer}/**/*.ts`],
      rules: {
        'no-restricted-imports': ['error', {
          patterns: [{
            group: forbidden.flatMap((l) => [`../${l}/*`, `../${l}`, `../../${l}/*`]),
            message: `src/${layer} may import only ${allowed.length ? allowed.join(', ') : 'nothing else in src'} (see docs/architecture.md, layers)`,
          }],
        }],
      },
    };
  });

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-control-regex': 'off',
    },
  },
  ...layerRules,
);
