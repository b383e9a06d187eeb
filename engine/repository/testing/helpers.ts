import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { initRepository, openRepository, type InitOptions, type Repository } from '../repository.js'
import { localBackend } from '../backends/local-backend.js'
import { openFileSource } from './file-source.js'
import type { IngestOptions } from '../ingest/ingest.js'
import type { BlockSource } from '../../disks/block-source.js'
import type { PointSummary } from '../types.js'
import type { RepositoryBackend } from '../backend.js'

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

/**
 * A backend that passes every call on to `inner`, except those `over` replaces (to record, delay or hold them) and
 * the hints it adds. Like any wrapper it does not carry `inner`'s Object Lock or versions.
 */
export function wrapBackend(inner: RepositoryBackend, over: Partial<Omit<RepositoryBackend, 'label' | 'close' | 'objectLock' | 'versions'>>): RepositoryBackend {
  return {
    label: inner.label,
    get: (key, options) => inner.get(key, options),
    put: (key, data, signal) => inner.put(key, data, signal),
    flush: (signal) => inner.flush(signal),
    list: (prefix, signal) => inner.list(prefix, signal),
    stat: (key, signal) => inner.stat(key, signal),
    delete: (key, signal) => inner.delete(key, signal),
    close: () => inner.close(),
    ...over,
  }
}
