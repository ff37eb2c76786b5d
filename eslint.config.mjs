// ESLint: typescript-eslint's recommended rules over the sources, tests, scripts and benchmarks.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const node = { Buffer: 'readonly', console: 'readonly', process: 'readonly', structuredClone: 'readonly' };

export default tseslint.config(
  {
    ignores: ['dist/', 'generated/', 'node_modules/', 'coverage/', 'clients/typescript/schema.d.ts', 'test/fixtures/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // Deliberate: file names, text checks and previews look for control characters to refuse or strip them.
      'no-control-regex': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
    },
  },
  {
    // Tests, benchmarks and scripts read untyped JSON and dynamic gRPC clients, and load the
    // plain-CommonJS helpers that npm scripts run before anything is built.
    files: ['test/**', 'bench/**', 'scripts/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { ...node, require: 'readonly', module: 'writable', __dirname: 'readonly' },
    },
  },
);
