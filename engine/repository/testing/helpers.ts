import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { initRepository, openRepository, type InitOptions, type Repository } from '../repository.js'
import { localBackend } from '../backends/local-backend.js'
import { openFileSource } from './file-source.js'
import type { IngestOptions } from '../ingest/ingest.js'
import type { BlockSource } from '../../disks/block-source.js'
import type { PointSummary } from '../types.js'

/** Cheap scrypt for tests: the real default is deliberately slow. */
export const FAST_SCRYPT = { N: 1024, r: 8, p: 1 }

export async function newLocalRepo(dir: string, options: Partial<InitOptions> = {}): Promise<Repository> {
  return initRepository({ backend: localBackend({ path: path.join(dir, 'repo') }), scrypt: FAST_SCRYPT, workers: 1, ...options })
}

export async function reopenLocalRepo(dir: string, options: Partial<InitOptions> = {}): Promise<Repository> {
  return openRepository({ backend: localBackend({ path: path.join(dir, 'repo') }), workers: 1, ...options })
}

export const VM = { id: 'vm-1', name: 'web01', config: { memoryMiB: 2048, vcpus: 2, nics: [{ mac: '00:16:3e:00:00:01' }] } }

export async function backupFile(repo: Repository, file: string, extra: Partial<IngestOptions> & { zeroExtents?: { offset: number; length: number }[] } = {}): Promise<PointSummary> {
  const { zeroExtents, ...rest } = extra
  const source = await openFileSource(file, zeroExtents === undefined ? {} : { zeroExtents })
  try {
    return await repo.ingest({ vm: VM, sourceHost: { name: 'host1', kind: 'linux' }, mode: 'cold', consistency: 'offline', disks: [{ name: 'disk0', source }], ...rest })
  } finally {
    await source.close()
  }
}

export async function readAll(source: BlockSource): Promise<Buffer> {
  return source.read(0, source.size)
}

export async function expectSameAsFile(source: BlockSource, file: string): Promise<boolean> {
  const expected = await readFile(file)
  const actual = await readAll(source)
  return expected.equals(actual)
}
