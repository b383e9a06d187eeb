import { builtinModules } from 'node:module'
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import reactHooks from 'eslint-plugin-react-hooks'
import globals from 'globals'

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)]

// Folder boundaries from ARCHITECTURE.md. Each folder gets exactly one no-restricted-imports rule
// (flat config would otherwise let a later block silently replace an earlier one).
const rendererBoundary = {
  paths: [
    ...nodeBuiltins.map((name) => ({ name, message: 'The renderer runs in a browser sandbox: no Node modules. Ask the engine through the ApiClient.' })),
    { name: 'electron', message: 'The renderer never talks to Electron directly; use the ApiClient from context.' },
    { name: 'ssh2', message: 'Host access belongs to adapters/, reached through the engine.' },
    { name: 'xen-api', message: 'Host access belongs to adapters/, reached through the engine.' },
    { name: 'ws', message: 'The renderer uses the browser WebSocket through the ApiClient.' },
  ],
  patterns: [
    {
      // Anything under adapters/, electron/ or engine/ — except engine/api/contract and engine/api/contract-*.
      regex: '(^|/)(adapters|electron)(/|$)|(^|/)engine(/(?!api/contract(-[a-z0-9-]+)?$)|$)',
      message: 'The renderer may import only the environment-neutral contract (engine/api/contract*).',
    },
  ],
}
const engineBoundary = {
  paths: [{ name: 'electron', message: 'engine/ must run without Electron (CLI, web bridge, tests).' }],
  patterns: [{ group: ['**/electron/**', '**/renderer/**'], message: 'engine/ never depends on the desktop shell or the UI.' }],
}
const adaptersBoundary = {
  paths: [{ name: 'electron', message: 'adapters/ must run without Electron.' }],
  patterns: [
    { group: ['**/engine', '**/engine/**'], message: 'adapters/ never import engine/: the engine depends on adapters, not the other way round.' },
    { group: ['**/electron/**', '**/renderer/**'], message: 'adapters/ never depend on the desktop shell or the UI.' },
  ],
}

// Query keys are made only in renderer/api/query-keys.ts, so a query and its invalidations cannot drift apart.
const queryKeyMessage = 'Make query keys with queryKeys (renderer/api/query-keys.ts), not an array literal.'
const rendererQueryKeyRules = [
  { selector: "Property[key.name='queryKey'][value.type='ArrayExpression']", message: queryKeyMessage },
  {
    selector: "CallExpression[callee.property.name=/^(get|set)Quer(y|ies)Data$/] > ArrayExpression.arguments:first-child",
    message: queryKeyMessage,
  },
]

export default tseslint.config(
  { ignores: ['dist/**', 'release/**', 'node_modules/**', 'e2e/output/**', 'test-results/**', 'playwright-report/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['*.js', '*.mjs', 'bin/*.mjs', 'scripts/*.mjs'] }, tsconfigRootDir: import.meta.dirname },
      globals: { ...globals.node },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-confusing-void-expression': 'off',
      '@typescript-eslint/no-unnecessary-condition': ['error', { allowConstantLoopConditions: true }],
      'no-console': 'off',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    files: ['renderer/**/*.{ts,tsx}'],
    plugins: { 'react-hooks': reactHooks },
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      ...reactHooks.configs.recommended.rules,
      'no-restricted-imports': ['error', rendererBoundary],
      'no-restricted-syntax': ['error', ...rendererQueryKeyRules],
    },
  },
  { files: ['engine/**/*.ts'], rules: { 'no-restricted-imports': ['error', engineBoundary] } },
  {
    // The contract is imported by the renderer, so it must stay environment-neutral (zod and plain types).
    files: ['engine/api/contract*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...engineBoundary.paths, ...nodeBuiltins.map((name) => ({ name, message: 'The contract is shared with the renderer: no Node modules.' }))],
          patterns: [{ regex: '^\\.\\./|^\\./(?!contract)', message: 'The contract may import only zod and other contract files.' }],
        },
      ],
    },
  },
  { files: ['adapters/**/*.ts'], rules: { 'no-restricted-imports': ['error', adaptersBoundary] } },
  {
    files: ['**/*.test.ts', '**/*.test.tsx', 'e2e/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
)
