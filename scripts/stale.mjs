// When a build in dist/ is older than its sources: bin/lifeboat.mjs (the CLI bundle) and the journeys' global setup
// (the renderer) ask the same question of different files.
import { readdirSync, statSync } from 'node:fs'
import path from 'node:path'

/** The newest modification time (ms) of the files under `dir` that `wanted` accepts by name; node_modules and dot-entries are skipped. */
export function newestSource(dir, wanted, newest = 0) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) newest = newestSource(full, wanted, newest)
    else if (wanted(entry.name)) newest = Math.max(newest, statSync(full).mtimeMs)
  }
  return newest
}
