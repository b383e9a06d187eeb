import { ESLint } from 'eslint'
import { describe, expect, it } from 'vitest'

// The project's own config, run on snippets as if they were a renderer file (vitest runs from the repository root).
// The path must be a file the TypeScript project knows, or typed linting stops at a parse error; its text is the snippet.
const eslint = new ESLint({ overrideConfigFile: 'eslint.config.js' })

async function keyProblems(code: string): Promise<number> {
  const [result] = await eslint.lintText(code, { filePath: 'renderer/api/queries.ts' })
  expect(result?.fatalErrorCount).toBe(0)
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-syntax' && m.message.includes('queryKeys')).length
}

const prelude = `
declare const client: { invalidateQueries(f: { queryKey: readonly unknown[] }): Promise<void>; setQueryData(k: readonly unknown[], d: unknown): void; getQueryData(k: readonly unknown[]): unknown }
declare const useQuery: (o: { queryKey: readonly unknown[]; queryFn: () => number }) => void
declare const queryKeys: { plans: readonly ['plans'] }
`

describe('the query-key lint guard', () => {
  it('rejects an array literal as a queryKey, in a query and in an invalidation', async () => {
    expect(await keyProblems(`${prelude}useQuery({ queryKey: ['plans'], queryFn: () => 1 })\nvoid client.invalidateQueries({ queryKey: ['plans'] })\n`)).toBe(2)
  })

  it('rejects an array literal as the key of getQueryData and setQueryData', async () => {
    expect(await keyProblems(`${prelude}client.setQueryData(['plans'], [])\nclient.getQueryData(['plans'])\n`)).toBe(2)
  })

  it('accepts keys made by queryKeys, and arrays that are data rather than keys', async () => {
    expect(await keyProblems(`${prelude}useQuery({ queryKey: queryKeys.plans, queryFn: () => 1 })\nclient.setQueryData(queryKeys.plans, ['a'])\n`)).toBe(0)
  })
})
