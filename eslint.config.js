import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'web/dist/**', 'bench/results/**', 'test/artifacts/**'] },
  js.configs.recommended,
  // Type-aware: floating and misused promises, unsafe any, unnecessary conditions, deprecated APIs...
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['web/vite.config.ts'] },
        tsconfigRootDir: import.meta.dirname
      }
    },
    rules: {
      'no-console': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // node:test's test() returns a promise the runner awaits itself.
      '@typescript-eslint/no-floating-promises': ['error', {
        allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }]
      }],
      // Numbers belong in sentences ("at most 8 relays"); objects and undefined still do not.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // Off: `async` without `await` is how a function keeps a promise-returning contract (libsignal's
      // store interface, the API's route handlers, ports) and turns a synchronous throw into a rejection.
      '@typescript-eslint/require-await': 'off',
      // Off: libsignal's stores are abstract classes that our SignalStores implements structurally;
      // this rule takes every such structural implementation for a forged instance.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off'
    }
  },
  {
    // Plain JavaScript entry points run on Node and have no type information.
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly' }
    }
  },
  {
    // Tests and benchmarks keep `?.`, `!` and casts on values the compiler already knows, so that a
    // wrong assumption fails as a readable assertion; src/ is held to these rules.
    files: ['test/**', 'bench/**'],
    rules: {
      '@typescript-eslint/no-unnecessary-condition': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      '@typescript-eslint/no-unnecessary-type-conversion': 'off',
      '@typescript-eslint/no-confusing-void-expression': 'off'
    }
  },
  {
    // Only the CLI, scripts, benchmarks and tests may print; the library takes a logger.
    files: ['src/cli/**', 'scripts/**', 'bench/**', 'test/**', 'bin/**'],
    rules: { 'no-console': 'off' }
  }
)
