import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { BALANCE_TO_HOSTS, HOST_LANE, HOST_PEER_IMPORT, OLD_XAPI } from '../scripts/test-lanes.mjs'

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

  it('runs against the older XAPI only existing local files whose pools all play the version they are given', async () => {
    const local = new Set((await testFiles('adapters')).filter((f) => !HOST_LANE.includes(f)))
    expect(OLD_XAPI.files.length).toBeGreaterThan(0)
    for (const f of OLD_XAPI.files) {
      expect(local.has(f), f).toBe(true)
      const text = await readFile(path.join(root, f), 'utf8')
      // startSim (sim-fixture.ts) plays LIFEBOAT_XAPI_VERSION; a pool started otherwise, or given its own version, would
      // run the newest or a fixed XAPI and the second pass would test nothing new.
      expect(importsOf(text).filter((spec) => spec.endsWith('/sim-fixture')), f).not.toEqual([])
      expect(/\bstartSim\(/.test(text), f).toBe(true)
      expect(/XapiSim\.start\(|startXapiSim\(|xapiVersion/.test(text), f).toBe(false)
    }
  })
})
