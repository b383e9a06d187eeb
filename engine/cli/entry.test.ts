import { describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { nodeEntries } from '../../scripts/build.mjs'
import { bundleForNode } from '../repository/testing/bundle'
import packageJson from '../../package.json'

const run = promisify(execFile)

// A resolve hook that writes down every package the process imports, so the test sees what start-up loads.
const HOOKS = `import { appendFileSync } from 'node:fs'
export async function resolve(specifier, context, next) {
  if (!/^(node:|file:|data:|\\.|\\/)/.test(specifier)) appendFileSync(process.env.LOG, specifier + '\\n')
  else if (/-adapter-[A-Za-z0-9]+\\.js$/.test(specifier)) appendFileSync(process.env.LOG, 'chunk ' + specifier.split('/').pop() + '\\n')
  return next(specifier, context)
}
`

describe('the lifeboat command as shipped', () => {
  it('answers --version without loading any library, and loads them for a real command', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'lifeboat-entry-'))
    try {
      const out = path.join(dir, 'dist', 'node')
      const entry = nodeEntries.find((e) => e.out === 'lifeboat')
      if (entry === undefined) throw new Error('scripts/build.mjs has no lifeboat entry')
      await bundleForNode(out, [entry])
      await writeFile(path.join(out, 'cli.mjs'), "import { main } from './lifeboat.js'\nawait main()\n")
      await writeFile(path.join(dir, 'hooks.mjs'), HOOKS)
      await writeFile(path.join(dir, 'register.mjs'), "import { register } from 'node:module'\nregister('./hooks.mjs', import.meta.url)\n")
      const loaded = async (...argv: string[]): Promise<{ stdout: string; packages: string[] }> => {
        const log = path.join(dir, `log-${argv.join('-').replace(/[^a-z0-9-]/gi, '_')}`)
        await writeFile(log, '')
        const { stdout } = await run(process.execPath, ['--import', path.join(dir, 'register.mjs'), path.join(out, 'cli.mjs'), ...argv], { env: { ...process.env, LOG: log } }).catch(
          (error: unknown) => ({ stdout: (error as { stdout?: string }).stdout ?? '' }),
        )
        return { stdout, packages: (await readFile(log, 'utf8')).split('\n').filter((l) => l !== '') }
      }
      const version = await loaded('--version')
      expect(version.stdout.trim()).toBe(packageJson.version)
      expect(version.packages).toEqual([])
      // The hook does see packages: the command table loads its contract's schema library.
      const help = await loaded('help')
      expect(help.packages).toContain('zod')
      // A command that loads the engine but never talks to a host loads no host adapter (nor SSH, XAPI, S3).
      const info = await loaded('repo', 'info', '--repo', path.join(dir, 'no-repository-here'), '--home', path.join(dir, 'home'))
      expect(info.packages).toContain('zod')
      expect(info.packages.filter((p) => p.startsWith('chunk ') || ['ssh2', 'xen-api', '@aws-sdk/client-s3'].includes(p))).toEqual([])
      // …because each adapter is a chunk of its own, loaded when a host of its kind is first reached.
      expect((await readdir(out)).filter((f) => /^(linux|hyperv|xenserver)-adapter-[A-Za-z0-9]+\.js$/.test(f))).toHaveLength(3)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
