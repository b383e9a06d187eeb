import { afterEach, describe, expect, it, vi } from 'vitest'
import type * as Crypto from 'node:crypto'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { withTempDir } from '../repository/testing/fixtures.js'
import { FAST_SCRYPT, newLocalRepo, reopenLocalRepo } from '../repository/testing/helpers.js'
import { localRepositoryFolder, optionValue, prefetchRepositoryKey } from './prefetch-key'

// Counts the key derivations the repository code asks node:crypto for.
const derivations = vi.hoisted(() => ({ count: 0 }))
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof Crypto>()
  const scrypt = (...args: Parameters<typeof real.scrypt>): void => {
    derivations.count++
    ;(real.scrypt as (...a: unknown[]) => void)(...args)
  }
  return { ...real, default: { ...real, scrypt }, scrypt }
})

afterEach(() => {
  derivations.count = 0
})

describe('reading the repository from a command line', () => {
  it('takes --repo in either spelling, the last one given, and stops at --', () => {
    expect(optionValue(['backup-file', 'a.img', '--repo', '/r1'], '--repo')).toBe('/r1')
    expect(optionValue(['--repo=/r2', 'backup-file'], '--repo')).toBe('/r2')
    expect(optionValue(['--repo', '/r1', '--repo=/r3'], '--repo')).toBe('/r3')
    expect(optionValue(['x', '--', '--repo', '/r4'], '--repo')).toBeUndefined()
    expect(optionValue(['x', '--repo'], '--repo')).toBeUndefined()
  })

  it('knows a local folder, a file: URL and the default repository, and leaves SFTP and S3 alone', () => {
    const env = { LIFEBOAT_HOME: '/srv/lb' }
    expect(localRepositoryFolder(['--repo', 'backups'], env)).toBe(path.resolve('backups'))
    expect(localRepositoryFolder(['--repo', pathToFileURL('/mnt/nas/lb').href], env)).toBe('/mnt/nas/lb')
    expect(localRepositoryFolder(['points', 'list'], env)).toBe('/srv/lb/repository')
    expect(localRepositoryFolder(['points', 'list', '--home', '/h'], env)).toBe('/h/repository')
    expect(localRepositoryFolder(['--repo', 'sftp://nas/backups'], env)).toBeUndefined()
    expect(localRepositoryFolder(['--repo', 's3://bucket/p?endpoint=http://x'], env)).toBeUndefined()
  })
})

describe('deriving the key ahead of opening', () => {
  it('is the derivation the opening uses: one scrypt for both', async () => {
    await withTempDir('prefetch', async (dir) => {
      await (await newLocalRepo(dir, { passphrase: 'right', scrypt: FAST_SCRYPT })).close()
      derivations.count = 0
      await prefetchRepositoryKey(['backup-file', 'x.img', '--repo', path.join(dir, 'repo')], { LIFEBOAT_REPO_PASSPHRASE: 'right' })
      expect(derivations.count).toBe(1)
      await (await reopenLocalRepo(dir, { passphrase: 'right' })).close()
      expect(derivations.count).toBe(1)
      // Used once: the next opening derives again.
      await (await reopenLocalRepo(dir, { passphrase: 'right' })).close()
      expect(derivations.count).toBe(2)
    })
  })

  it('never lets an early guess decide: another passphrase is derived afresh, a wrong one still fails', async () => {
    await withTempDir('prefetch-other', async (dir) => {
      await (await newLocalRepo(dir, { passphrase: 'right', scrypt: FAST_SCRYPT })).close()
      const argv = ['points', 'list', '--repo', path.join(dir, 'repo')]
      await prefetchRepositoryKey(argv, { LIFEBOAT_REPO_PASSPHRASE: 'wrong' })
      await (await reopenLocalRepo(dir, { passphrase: 'right' })).close()
      await prefetchRepositoryKey(argv, { LIFEBOAT_REPO_PASSPHRASE: 'wrong' })
      await expect(reopenLocalRepo(dir, { passphrase: 'wrong' })).rejects.toMatchObject({ code: 'WRONG_PASSPHRASE' })
    })
  })

  it('does nothing without a passphrase, a repository or a readable config', async () => {
    await withTempDir('prefetch-none', async (dir) => {
      await prefetchRepositoryKey(['--repo', path.join(dir, 'nothing-here')], { LIFEBOAT_REPO_PASSPHRASE: 'p' })
      await prefetchRepositoryKey(['--repo', path.join(dir, 'nothing-here')], {})
      await prefetchRepositoryKey(['--repo', 'sftp://nas/x'], { LIFEBOAT_REPO_PASSPHRASE: 'p' })
      expect(derivations.count).toBe(0)
    })
  })
})
