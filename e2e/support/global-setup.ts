import { execFileSync } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import path from 'node:path'
import { newestSource } from '../../scripts/stale.mjs'

const root = path.resolve(import.meta.dirname, '../..')

/**
 * The journeys serve the renderer from dist/renderer. `npm test` builds it first; a journey run on its own
 * (`npx playwright test e2e/x.spec.ts`) would otherwise test whatever was built last, not the code in the checkout
 * (the engine rebuilds itself when it starts: bin/lifeboat.mjs). So it is rebuilt here when any source is newer.
 */
export default function globalSetup(): void {
  const index = path.join(root, 'dist/renderer/index.html')
  const builtAt = existsSync(index) ? statSync(index).mtimeMs : 0
  const sources = ['renderer', 'engine', 'adapters'].map((d) => path.join(root, d)).filter((d) => existsSync(d))
  // The renderer's sources and what it imports from the engine, tests left out.
  const wanted = (name: string) => /\.(tsx?|css|json|html|svg)$/.test(name) && !/\.test\.tsx?$/.test(name)
  const newest = Math.max(statSync(path.join(root, 'package.json')).mtimeMs, statSync(path.join(root, 'vite.config.ts')).mtimeMs, ...sources.map((d) => newestSource(d, wanted)))
  if (newest <= builtAt) return
  console.log('The renderer changed since dist/renderer was built: building it first.')
  execFileSync(process.execPath, [path.join(root, 'scripts/build.mjs'), 'renderer'], { cwd: root, stdio: 'inherit' })
}
