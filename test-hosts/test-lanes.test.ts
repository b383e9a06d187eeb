import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { BALANCE_TO_HOSTS, HOST_LANE, HOST_PEER_IMPORT } from '../scripts/test-lanes.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

async function testFiles(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.posix.join(dir, entry.name)
    if (entry.isDirectory() && entry.name !== 'node_modules') out.push(...(await testFiles(rel)))
    else if (/\.test\.tsx?$/.test(entry.name)) out.push(rel)
  }
  return out
}

/** The modules a file imports (static and dynamic), not strings that merely look like paths. */
function importsOf(text: string): string[] {
  return [...text.matchAll(/\bfrom\s+'([^']+)'|\bimport\s*\(?\s*'([^']+)'/g)].map((m) => m[1] ?? m[2] ?? '')
}

describe('test lanes', () => {
  it('runs every test file that starts real test hosts in the one-at-a-time lane, and only those', async () => {
    const files = (await Promise.all(['adapters', 'engine', 'electron', 'renderer', 'test-hosts', 'e2e/torture', 'scripts'].map(testFiles))).flat()
    const usesHosts: string[] = []
    for (const f of files) if (importsOf(await readFile(path.join(root, f), 'utf8')).some((spec) => HOST_PEER_IMPORT.test(`'${spec}'`))) usesHosts.push(f)
    expect(usesHosts.filter((f) => f !== 'test-hosts/test-lanes.test.ts').sort()).toEqual([...HOST_LANE].sort())
  })

  it('moves only existing files that need no isolation to the hosts lane for time', async () => {
    const all = new Set((await Promise.all(['adapters', 'engine', 'test-hosts'].map(testFiles))).flat())
    for (const f of BALANCE_TO_HOSTS) {
      expect(all.has(f), f).toBe(true)
      expect(HOST_LANE.includes(f), f).toBe(false)
    }
  })
})
