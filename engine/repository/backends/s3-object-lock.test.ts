import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectVersionsCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { createHash, randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { runCli } from '../../../e2e/support/cli'
import { CHUNK_SIZE, pointKey } from '../format.js'
import { s3Backend } from './s3-backend.js'
import { localBackend } from './local-backend.js'
import { initRepository, openRepository } from '../repository.js'
import type { RepositoryError } from '../errors.js'
import { cephMissing, startCephRgw, type CephRgw } from '../testing/ceph-rgw.js'
import { withTempDir, writeMixedImage } from '../testing/fixtures.js'
import { FAST_SCRYPT, backupFile, expectSameAsFile, newLocalRepo } from '../testing/helpers.js'

const missing = await cephMissing()
// Buckets differ per run, so a cluster kept running (LIFEBOAT_CEPH_S3_ENV) serves many runs.
const run = randomBytes(4).toString('hex')

describe('immutability where storage cannot give it', () => {
  it('a folder repository refuses Object Lock and points at S3 with Object Lock', async () => {
    await withTempDir('lock-folder', async (dir) => {
      await using repo = await newLocalRepo(dir)
      const error: unknown = await repo.setObjectLock({ mode: 'GOVERNANCE', days: 7 }).catch((e: unknown) => e)
      expect((error as RepositoryError).code).toBe('INVALID_ARGUMENT')
      expect((error as RepositoryError).message).toMatch(/Folders and SFTP repositories cannot be made immutable.*S3 repository whose bucket has Object Lock/)
    })
  })

  it('a folder repository has nothing to undelete from, and says so', async () => {
    await withTempDir('undelete-folder', async (dir) => {
      await using repo = await newLocalRepo(dir)
      const error: unknown = await repo.undelete({ dryRun: true }).catch((e: unknown) => e)
      expect((error as RepositoryError).code).toBe('INVALID_ARGUMENT')
      expect((error as RepositoryError).message).toMatch(/keep no earlier versions of their files.*Undelete works on an S3 repository whose bucket has Object Lock\. Nothing was changed\./)
    })
  })
})

describe.skipIf(missing !== undefined)('S3 Object Lock against a real Ceph RADOS Gateway', { timeout: 600_000 }, () => {
  let started: CephRgw | undefined
  const ceph = { client: () => (started ?? fail()).client() }
  const fail = (): never => {
    throw new Error('The Ceph test host did not start.')
  }
  beforeAll(async () => {
    started = await startCephRgw()
  }, 600_000)
  afterAll(async () => {
    await started?.[Symbol.asyncDispose]()
  }, 120_000)

  const lockedBucket = async (name: string) => {
    const client = ceph.client()
    await client.send(new CreateBucketCommand({ Bucket: name, ObjectLockEnabledForBucket: true }))
    return client
  }

  it('refuses a bucket made without Object Lock, saying so', async () => {
    const client = ceph.client()
    await client.send(new CreateBucketCommand({ Bucket: `plain-bucket-${run}` }))
    await using repo = await initRepository({ backend: s3Backend({ client, bucket: `plain-bucket-${run}` }), workers: 1 })
    await expect(repo.setObjectLock({ mode: 'GOVERNANCE', days: 1 })).rejects.toThrow(/was not created with S3 Object Lock/)
  })

  it('locks every point: a stolen credential cannot delete or overwrite it, prune and gc skip it and say so', async () => {
    await withTempDir('lock-gov', async (dir) => {
      const client = await lockedBucket(`locked-gov-${run}`)
      const first = path.join(dir, 'a.img')
      const second = path.join(dir, 'b.img')
      await writeMixedImage(first, { blocks: 3, blockSize: CHUNK_SIZE, pattern: ['random', 'text'], seed: 11 })
      await writeMixedImage(second, { blocks: 3, blockSize: CHUNK_SIZE, pattern: ['random'], seed: 12 })
      const backend = s3Backend({ client, bucket: `locked-gov-${run}`, prefix: 'repo/' })
      await using repo = await initRepository({ backend, workers: 1, passphrase: 'lock test passphrase', scrypt: FAST_SCRYPT })
      await repo.setObjectLock({ mode: 'GOVERNANCE', days: 1 })
      expect(repo.info().objectLock).toBeUndefined()
      const a = await backupFile(repo, first)
      const b = await backupFile(repo, second)
      const manifest = `repo/${pointKey(a.id)}`
      const head = await client.send(new HeadObjectCommand({ Bucket: `locked-gov-${run}`, Key: manifest }))
      expect(head.ObjectLockMode).toBe('GOVERNANCE')
      expect(head.ObjectLockRetainUntilDate!.getTime()).toBeGreaterThan(Date.now() + 23 * 3600_000)
      const chunk = (await repo.getPoint(a.id)).disks[0]!.chunks[0]!
      const chunkHead = await client.send(new HeadObjectCommand({ Bucket: `locked-gov-${run}`, Key: `repo/chunks/${chunk.slice(0, 2)}/${chunk}` }))
      expect(chunkHead.ObjectLockMode).toBe('GOVERNANCE')

      // Lifeboat's own prune and gc: no refused deletes, the locked point is kept and named with its date.
      const prune = await repo.prune({ policy: { keepLast: 1 } })
      expect(prune.removed).toEqual([])
      expect(prune.locked.map((l) => l.pointId)).toEqual([a.id])
      expect(Date.parse(prune.locked[0]!.until)).toBeGreaterThan(Date.now())
      await backend.put('chunks/00/00aa' + '0'.repeat(60), Buffer.from('orphan'))
      const gc = await repo.gc()
      expect(gc.chunksLocked).toBe(1)
      expect(gc.chunksDeleted).toBe(0)
      // The thief holds the backup credential: deleting the locked version is refused, overwriting adds a version.
      const version = head.VersionId!
      await expect(client.send(new DeleteObjectCommand({ Bucket: `locked-gov-${run}`, Key: manifest, VersionId: version }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } })
      await client.send(new PutObjectCommand({ Bucket: `locked-gov-${run}`, Key: manifest, Body: 'ransom note' }))
      const original = await client.send(new GetObjectCommand({ Bucket: `locked-gov-${run}`, Key: manifest, VersionId: version }))
      expect((await original.Body!.transformToByteArray()).length).toBe(head.ContentLength)
      const versions = await client.send(new ListObjectVersionsCommand({ Bucket: `locked-gov-${run}`, Prefix: manifest }))
      expect(versions.Versions?.map((v) => v.VersionId)).toContain(version)

      expect(await expectSameAsFile(await repo.openDisk(b.id, 'disk0'), second)).toBe(true)
    })
  })

  it('compliance mode: not even the bypass of governance deletes a point', async () => {
    await withTempDir('lock-comp', async (dir) => {
      const client = await lockedBucket(`locked-comp-${run}`)
      const image = path.join(dir, 'a.img')
      await writeMixedImage(image, { blocks: 1, blockSize: CHUNK_SIZE, pattern: ['random'], seed: 13 })
      await using repo = await initRepository({ backend: s3Backend({ client, bucket: `locked-comp-${run}` }), workers: 1 })
      await repo.setObjectLock({ mode: 'COMPLIANCE', days: 1 })
      const a = await backupFile(repo, image)
      const head = await client.send(new HeadObjectCommand({ Bucket: `locked-comp-${run}`, Key: pointKey(a.id) }))
      expect(head.ObjectLockMode).toBe('COMPLIANCE')
      await expect(
        client.send(new DeleteObjectCommand({ Bucket: `locked-comp-${run}`, Key: pointKey(a.id), VersionId: head.VersionId, BypassGovernanceRetention: true })),
      ).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } })
    })
  })

  it('a copy to a locked S3 repository is locked there, chunks shared with older points included', async () => {
    await withTempDir('lock-copy', async (dir) => {
      const client = await lockedBucket(`locked-copy-${run}`)
      const image = path.join(dir, 'a.img')
      await writeMixedImage(image, { blocks: 2, blockSize: CHUNK_SIZE, pattern: ['random'], seed: 14 })
      await using source = await initRepository({ backend: localBackend({ path: path.join(dir, 'repo') }), workers: 1 })
      const a = await backupFile(source, image)
      await source.copyPoint({ pointId: a.id, target: s3Backend({ client, bucket: `locked-copy-${run}`, prefix: 'copy/' }) })
      await using copy = await openRepository({ backend: s3Backend({ client, bucket: `locked-copy-${run}`, prefix: 'copy/' }), workers: 1 })
      await copy.setObjectLock({ mode: 'GOVERNANCE', days: 2 })
      const b = await backupFile(source, image)
      const report = await source.copyPoint({ pointId: b.id, target: s3Backend({ client, bucket: `locked-copy-${run}`, prefix: 'copy/' }) })
      expect(report.chunksShared).toBe(report.chunks)
      const chunk = (await source.getPoint(b.id)).disks[0]!.chunks[0]!
      const head = await client.send(new HeadObjectCommand({ Bucket: `locked-copy-${run}`, Key: `copy/chunks/${chunk.slice(0, 2)}/${chunk}` }))
      // Written unlocked by the first copy, locked by the second because the new point needs it.
      expect(head.ObjectLockRetainUntilDate!.getTime()).toBeGreaterThan(Date.now() + 47 * 3600_000)
    })
  })
  describe('through the lifeboat command: undelete, copies', () => {
    const passphrase = 'cli test passphrase'
    // The CLI as an admin runs it: credentials and passphrase from the environment, nothing else from this machine.
    const env = () => ({
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') && k !== 'LIFEBOAT_REPO_PASSPHRASE' && k !== 'LIFEBOAT_CEPH_S3_ENV')),
      AWS_ACCESS_KEY_ID: (started ?? fail()).accessKeyId,
      AWS_SECRET_ACCESS_KEY: (started ?? fail()).secretAccessKey,
      LIFEBOAT_REPO_PASSPHRASE: passphrase,
    })
    const cli = async (home: string, args: string[]) => await runCli(home, args, undefined, env())

    it('undelete is refused, saying why, on a folder and on a bucket that keeps no versions', async () => {
      await withTempDir('undelete-refused', async (dir) => {
        await (await newLocalRepo(path.join(dir, 'folder'))).close()
        const folder = await cli(path.join(dir, 'home'), ['repo', 'undelete', '--repo', path.join(dir, 'folder'), '--json'])
        expect(folder.code).toBe(1)
        expect(folder.stdout).toMatch(/folders and SFTP repositories keep no earlier versions/)
        const bucket = `plain-undelete-${run}`
        const client = ceph.client()
        await client.send(new CreateBucketCommand({ Bucket: bucket }))
        await (await initRepository({ backend: s3Backend({ client, bucket }), workers: 1 })).close()
        const plain = await cli(path.join(dir, 'home'), ['repo', 'undelete', '--repo', `s3://${bucket}/?endpoint=${(started ?? fail()).endpoint}`])
        expect(plain.code).toBe(1)
        expect(plain.stderr).toMatch(/does not keep versions of its objects \(versioning is off\)/)
      })
    })

    it('undelete: a deleted manifest, chunks written over (one with a lock of its own) and a deleted config.json: points list and verify see the damage, undelete mends it all', async () => {
      await withTempDir('undelete', async (dir) => {
        const bucket = `undelete-${run}`
        const client = await lockedBucket(bucket)
        const home = path.join(dir, 'home')
        const location = `s3://${bucket}/repo/?endpoint=${(started ?? fail()).endpoint}`
        const first = path.join(dir, 'a.img')
        const second = path.join(dir, 'b.img')
        await writeMixedImage(first, { blocks: 2, blockSize: CHUNK_SIZE, pattern: ['random', 'text'], seed: 21 })
        await writeMixedImage(second, { blocks: 3, blockSize: CHUNK_SIZE, pattern: ['random'], seed: 22 })
        const backend = s3Backend({ client, bucket, prefix: 'repo/' })
        let a: { id: string }
        let b: { id: string }
        let chunks: string[]
        {
          await using repo = await initRepository({ backend, workers: 1, passphrase, scrypt: FAST_SCRYPT })
          await repo.setObjectLock({ mode: 'GOVERNANCE', days: 1 })
          a = await backupFile(repo, first)
          b = await backupFile(repo, second)
          chunks = (await repo.getPoint(b.id)).disks[0]!.chunks.filter((c): c is string => c !== null)
        }
        const chunkObjectKey = (id: string) => `repo/chunks/${id.slice(0, 2)}/${id}`
        // The thief, holding the same credentials: plain DELETE and PUT, which Object Lock allows (they add versions).
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: `repo/${pointKey(a.id)}` }))
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: chunkObjectKey(chunks[0]!), Body: 'ransom note' }))
        const locked = Buffer.from('ransom note, locked by the thief')
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: chunkObjectKey(chunks[1]!),
            Body: locked,
            ObjectLockMode: 'GOVERNANCE',
            ObjectLockRetainUntilDate: new Date(Date.now() + 86_400_000),
            ContentMD5: createHash('md5').update(locked).digest('base64'),
          }),
        )

        const listed = await cli(home, ['points', 'list', '--repo', location, '--json'])
        expect(listed.code, listed.stderr).toBe(0)
        const ids = (JSON.parse(listed.stdout) as { id: string }[]).map((p) => p.id)
        expect(ids).toEqual([b.id])
        const broken = await cli(home, ['repo', 'verify', '--repo', location])
        expect(broken.code).toBe(1)
        expect(broken.stdout).toContain('1 damaged restore point(s)')

        // Last, the key record: the repository no longer opens at all.
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'repo/config.json' }))
        expect((await cli(home, ['points', 'list', '--repo', location, '--json'])).stdout).toContain('REPO_NOT_FOUND')
        const dry = await cli(home, ['repo', 'undelete', '--repo', location, '--dry-run', '--json'])
        expect(dry.code, dry.stderr).toBe(0)
        expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, restored: [{ key: 'config.json', hiddenBy: 'delete marker', how: 'dry run' }], failed: [] })
        expect((await cli(home, ['points', 'list', '--repo', location, '--json'])).stdout).toContain('REPO_NOT_FOUND')

        const undone = await cli(home, ['repo', 'undelete', '--repo', location, '--json'])
        expect(undone.code, undone.stderr + undone.stdout).toBe(0)
        const report = JSON.parse(undone.stdout) as { restored: { key: string; hiddenBy: string; how: string; lockedUntil: string }[]; failed: unknown[]; points: string[] }
        expect(report.failed).toEqual([])
        expect(report.points).toEqual([a.id])
        const byKey = new Map(report.restored.map((r) => [r.key, r]))
        expect(byKey.get('config.json')).toMatchObject({ hiddenBy: 'delete marker', how: 'removed' })
        expect(byKey.get(pointKey(a.id))).toMatchObject({ hiddenBy: 'delete marker', how: 'removed' })
        expect(byKey.get(`chunks/${chunks[0]!.slice(0, 2)}/${chunks[0]!}`)).toMatchObject({ hiddenBy: 'newer version', how: 'removed' })
        // The thief's locked version cannot be removed: the good one is copied over it, and locked.
        expect(byKey.get(`chunks/${chunks[1]!.slice(0, 2)}/${chunks[1]!}`)).toMatchObject({ hiddenBy: 'newer version', how: 'copied' })
        expect(report.restored).toHaveLength(4)
        const copiedHead = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: chunkObjectKey(chunks[1]!) }))
        expect(copiedHead.ObjectLockMode).toBe('GOVERNANCE')
        expect(copiedHead.ObjectLockRetainUntilDate!.getTime()).toBeGreaterThan(Date.now() + 23 * 3600_000)

        const back = await cli(home, ['points', 'list', '--repo', location, '--json'])
        expect((JSON.parse(back.stdout) as { id: string }[]).map((p) => p.id).sort()).toEqual([a.id, b.id].sort())
        const verified = await cli(home, ['repo', 'verify', '--repo', location])
        expect(verified.code, verified.stdout + verified.stderr).toBe(0)
        expect(verified.stdout).toContain('All intact')
        await using reopened = await openRepository({ backend: s3Backend({ client, bucket, prefix: 'repo/' }), workers: 1, passphrase })
        expect(await expectSameAsFile(await reopened.openDisk(b.id, 'disk0'), second)).toBe(true)
        expect(await expectSameAsFile(await reopened.openDisk(a.id, 'disk0'), first)).toBe(true)
        // Nothing left to do: a second run finds nothing hidden.
        const again = await cli(home, ['repo', 'undelete', '--repo', location])
        expect(again.code, again.stderr).toBe(0)
        expect(again.stdout).toMatch(/^Nothing hidden in s3:\/\/undelete-/)
      })
    })
    it('points copy to a bucket with Object Lock: once the copy locks, a copied point is locked there (manifest, new and shared chunks) and restores byte-exact', async () => {
      await withTempDir('copy-locked-cli', async (dir) => {
        const bucket = `copy-cli-${run}`
        const client = await lockedBucket(bucket)
        const home = path.join(dir, 'home')
        const source = path.join(dir, 'source repo')
        const target = `s3://${bucket}/copy/?endpoint=${(started ?? fail()).endpoint}`
        const first = path.join(dir, 'a.img')
        const second = path.join(dir, 'b.img')
        await writeMixedImage(first, { blocks: 2, blockSize: CHUNK_SIZE, pattern: ['random', 'text'], seed: 31 })
        await writeFile(second, Buffer.concat([await readFile(first), randomBytes(CHUNK_SIZE)]))
        const init = await cli(home, ['repo', 'init', '--repo', source])
        expect(init.code, init.stderr).toBe(0)
        const backup = async (image: string) => {
          const res = await cli(home, ['backup-file', image, '--name', 'web01', '--repo', source, '--json'])
          expect(res.code, res.stderr).toBe(0)
          return (JSON.parse(res.stdout) as { id: string }).id
        }
        const a = await backup(first)
        const copied = await cli(home, ['points', 'copy', a, '--repo', source, '--to', target, '--json'])
        expect(copied.code, copied.stderr).toBe(0)
        expect(JSON.parse(copied.stdout)).toMatchObject({ targetCreated: true, alreadyThere: false })
        const lock = await cli(home, ['repo', 'lock', '--repo', target, '--days', '2', '--mode', 'governance'])
        expect(lock.code, lock.stderr).toBe(0)
        expect(lock.stdout).toContain('stays immutable for 2 days')

        const b = await backup(second)
        const again = await cli(home, ['points', 'copy', b, '--repo', source, '--to', target, '--json'])
        expect(again.code, again.stderr).toBe(0)
        const report = JSON.parse(again.stdout) as { chunks: number; chunksSent: number; chunksShared: number }
        // b.img begins with a.img's two blocks: those travel no more, the third does.
        expect(report).toMatchObject({ chunks: 3, chunksSent: 1, chunksShared: 2 })

        await using copy = await openRepository({ backend: s3Backend({ client, bucket, prefix: 'copy/' }), workers: 1, passphrase })
        expect(copy.info().objectLock).toEqual({ mode: 'GOVERNANCE', days: 2 })
        const keys = [pointKey(b), ...(await copy.getPoint(b)).disks[0]!.chunks.map((c) => `chunks/${c!.slice(0, 2)}/${c!}`)]
        for (const key of keys) {
          const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `copy/${key}` }))
          expect(head.ObjectLockMode, key).toBe('GOVERNANCE')
          expect(head.ObjectLockRetainUntilDate!.getTime(), key).toBeGreaterThan(Date.now() + 47 * 3600_000)
        }
        // The point copied before the copy locked stays as it was written: unlocked (its chunks are locked now, as b needs them).
        expect((await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `copy/${pointKey(a)}` }))).ObjectLockMode).toBeUndefined()
        expect(await expectSameAsFile(await copy.openDisk(b, 'disk0'), second)).toBe(true)
        expect(await expectSameAsFile(await copy.openDisk(a, 'disk0'), first)).toBe(true)
        const verified = await cli(home, ['repo', 'verify', '--repo', target])
        expect(verified.code, verified.stdout + verified.stderr).toBe(0)
      })
    })
  })
})
