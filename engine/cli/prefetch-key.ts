import { open } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { CONFIG_KEY, MAX_CONFIG_BYTES } from '../repository/format.js'
import { parseConfig } from '../repository/config.js'
import { prefetchWrappingKey } from '../repository/codec/keys.js'
import { defaultHome } from '../state/paths'

/** The value of `--name VALUE` or `--name=VALUE` in a command line (the last one given, as parseArgs takes it). */
export function optionValue(argv: readonly string[], name: string): string | undefined {
  let value: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ''
    if (arg === '--') break
    if (arg === name && i + 1 < argv.length) value = argv[++i]
    else if (arg.startsWith(`${name}=`)) value = arg.slice(name.length + 1)
  }
  return value
}

/** The folder of a local repository named on the command line (or the default one), undefined for SFTP and S3. */
export function localRepositoryFolder(argv: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  const repo = optionValue(argv, '--repo')
  if (repo === undefined) {
    const home = optionValue(argv, '--home')
    return path.join(home !== undefined ? path.resolve(home) : defaultHome(env), 'repository')
  }
  if (repo.startsWith('file://')) {
    try {
      return fileURLToPath(repo)
    } catch {
      return undefined
    }
  }
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(repo) || repo === '' ? undefined : path.resolve(repo)
}

/**
 * Starts deriving the repository key while the CLI loads the rest of its code (~0.2 s), when the command line names a
 * local repository and LIFEBOAT_REPO_PASSPHRASE is set: the engine's unlock then finds the derivation done or under
 * way. Only a guess made early — anything unexpected (no repository there, a damaged config, another passphrase)
 * is left to the real opening, which reports it.
 */
export async function prefetchRepositoryKey(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const passphrase = env.LIFEBOAT_REPO_PASSPHRASE
  if (passphrase === undefined || passphrase === '') return
  const folder = localRepositoryFolder(argv, env)
  if (folder === undefined) return
  try {
    const file = await open(path.join(folder, CONFIG_KEY), 'r')
    try {
      const buffer = Buffer.alloc(MAX_CONFIG_BYTES + 1)
      const { bytesRead } = await file.read(buffer, 0, buffer.length, 0)
      if (bytesRead > MAX_CONFIG_BYTES) return
      const config = parseConfig(buffer.subarray(0, bytesRead))
      if (config.encryption !== null) prefetchWrappingKey(passphrase, config.encryption)
    } finally {
      await file.close()
    }
  } catch {
    // No repository (yet) or not readable here: the command itself says what is wrong.
  }
}
