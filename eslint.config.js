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
    'pipeline',
    'config',
  ],
  cli: null, // the top: may import every layer
};

const layerRules = Object.entries(LAYERS)
  .filter(([, allowed]) => allowed !== null)
  .map(([layer, allowed]) => {
    const forbidden = Object.keys(LAYERS).filter((l) => l !== layer && !allowed.includes(l));
    return {
      files: [`src/${layer}/**/*.ts`],
      rules: {
        'no-restricted-imports': [
          'error',
          {
            patterns: [
              {
                group: forbidden.flatMap((l) => [`../${l}/*`, `../${l}`, `../../${l}/*`]),
                message: `src/${layer} may import only ${allowed.length ? allowed.join(', ') : 'nothing else in src'} (see docs/architecture.md, layers)`,
              },
            ],
          },
        ],
      },
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
