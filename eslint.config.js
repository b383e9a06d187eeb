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

// Product code never imports test code. Test code: *.test.ts(x), testing/ helpers, the test peers, journeys, benchmarks.
const noTestCode = {
  patterns: [
    {
      regex: '(^|/)(testing|test-hosts|e2e|bench)(/|$)|\\.test(\\.[jt]sx?)?$',
      message: 'Product code never imports test code: *.test files, testing/ helpers, test peers (test-hosts/), journeys (e2e/) or benchmarks (bench/).',
    },
  ],
}

// Inside engine/, dependencies run one way (ARCHITECTURE.md): the doors and handlers on top (api/handlers*, cli/, server/,
// engine.ts), the features below (jobs, scheduler, browse, inventory, repository-access), errors/ (every failure in the
// contract's words) below them, storage and formats (repository, disks, filesystems, state) below that, common/ (progress
// sinks, the event bus) at the very bottom. The contract's own files (api/contract*) may be imported from every layer.
const layer = {
  handlers: { regex: '^(\\.\\./)+api/(?!contract(-[a-z0-9-]+)?(\\.js)?$)', message: 'Only the doors (cli/, server/, engine.ts) and api/ itself use the handlers; below them, import the contract (api/contract*) only.' },
  doors: { regex: '^(\\.\\./)+((cli|server)(/|$)|engine(\\.js)?$)', message: 'The doors (cli/, server/, engine.ts) are the top of engine/: nothing below imports them.' },
  features: { regex: '^(\\.\\./)+(jobs|scheduler|browse|inventory|repository-access|notify)(/|$)', message: 'Features (jobs, scheduler, browse, inventory, repository-access, notify) sit above this layer: it may not import them.' },
  errors: { regex: '^(\\.\\./)+errors/', message: 'errors/ maps failures of storage and formats into the contract: it sits above them.' },
  storage: { regex: '^(\\.\\./)+(repository|disks|filesystems|state)(/|$)', message: 'common/ is the bottom of engine/: it imports only the contract.' },
}
const engineLayers = [
  { files: ['engine/{repository,disks,filesystems,state}/**/*.ts'], forbid: [layer.handlers, layer.doors, layer.features, layer.errors] },
  { files: ['engine/common/**/*.ts'], forbid: [layer.handlers, layer.doors, layer.features, layer.errors, layer.storage] },
  { files: ['engine/errors/**/*.ts'], forbid: [layer.handlers, layer.doors, layer.features] },
  { files: ['engine/{jobs,scheduler,browse,inventory,repository-access,notify}/**/*.ts'], forbid: [layer.handlers, layer.doors] },
  { files: ['engine/{api,cli,server}/**/*.ts', 'engine/engine.ts'], forbid: [] },
]

/** One no-restricted-imports option object from several parts (flat config keeps only the last rule per file). */
function boundary(...parts) {
  return { paths: parts.flatMap((p) => p.paths ?? []), patterns: parts.flatMap((p) => p.patterns ?? []) }
}
const testFiles = ['**/*.test.ts', '**/*.test.tsx', '**/testing/**']
/**
 * A folder's import rules: its product files get `product` and may not import test code; its tests and testing/
 * helpers get only `tests` (the folder's outer boundary: a test may drive the engine through its doors).
 */
function zone(files, product, tests = product) {
  return [
    { files, ignores: testFiles, rules: { 'no-restricted-imports': ['error', boundary(product, noTestCode)] } },
    { files: files.flatMap((f) => testFiles.map((t) => [f, t])), rules: { 'no-restricted-imports': ['error', tests] } },
  ]
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

/** The import rules alone, for the test that shows each of them fire (engine/house-rules.test.ts). */
export const importRules = { noTestCode, layer, engineLayers }

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
      'no-restricted-syntax': ['error', ...rendererQueryKeyRules],
    },
  },
  ...zone(['renderer/**/*.{ts,tsx}'], rendererBoundary),
  ...engineLayers.flatMap((l) => zone(l.files, boundary(engineBoundary, { patterns: l.forbid }), engineBoundary)),
  ...zone(['electron/**/*.ts'], { patterns: [{ group: ['**/renderer/**'], message: 'The desktop shell serves the renderer\'s built files; it never imports its code.' }] }),
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
  ...zone(['adapters/**/*.ts'], adaptersBoundary),
  {
    files: ['**/*.test.ts', '**/*.test.tsx', 'e2e/**/*.ts', 'test-hosts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
)
