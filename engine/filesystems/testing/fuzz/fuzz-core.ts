import { isAbortError } from '../../../../adapters/abort'
import { drain } from '../../../disks/async-iter'
import type { BlockSource } from '../../../disks/block-source'
import { DiskFormatError } from '../../../disks/errors'
import { openImageSource } from '../../../disks/open-image'
import { rng } from '../../../disks/testing/tools'
import { FilesystemError } from '../../errors'
import { openVolume } from '../../open-volume'
import { probeDisks } from '../../probe-disk'
import { PatchedSource } from './patched-source'

/**
 * The fuzz loop shared by the test suite and the long-running script: corrupt an image (truncate it, flip bytes in
 * the metadata a clean pass read, smash whole sectors), then drive every parser over it the way a user would.
 * Allowed outcomes: success, DiskFormatError, FilesystemError. Anything else — a RangeError from Buffer, a
 * TypeError, a hang past the time bound — is a finding, reported with the seed that reproduces it.
 */
export interface FuzzFinding {
  readonly corpus: string
  readonly iteration: number
  readonly seed: number
  readonly mutation: string
  readonly error: string
}

export interface FuzzResult {
  readonly iterations: number
  readonly outcomes: Record<'ok' | 'typed-error' | 'timeout', number>
  readonly findings: FuzzFinding[]
  readonly slowestMs: number
}

const MAX_ENTRIES = 400
const READ_HEAD = 64 * 1024

/** Walks what a user would touch, with limits so that a damaged size or count cannot make the pass unbounded. */
export async function exercise(source: BlockSource, signal: AbortSignal, companions: readonly BlockSource[] = []): Promise<number> {
  const image = await openImageSource(source, { signal, resolveParent: () => Promise.reject(new DiskFormatError('missing-parent', 'no parents while fuzzing')) })
  // Companion disks (the other PVs of a volume group) are probed together with the corrupted one.
  const probed = await probeDisks([image, ...companions], { signal })
  let touched = 0
  for (const node of probed.tree.volumes) {
    if (!node.filesystem) continue
    const volume = await openVolume(probed.sourceFor(node), { signal })
    const queue = ['/']
    while (queue.length > 0 && touched < MAX_ENTRIES) {
      const dir = queue.shift() ?? '/'
      for (const e of await volume.list(dir, { signal })) {
        if (++touched > MAX_ENTRIES) break
        const path = dir === '/' ? `/${e.name}` : `${dir}/${e.name}`
        if (e.type === 'directory') queue.push(path)
        else if (e.type === 'file') {
          await drain(volume.readFile(path, { end: Math.min(e.size, READ_HEAD), signal }))
          if (e.size > READ_HEAD) await drain(volume.readFile(path, { start: e.size - 4096, signal }))
          for (const s of e.streams ?? []) await drain(volume.readFile(path, { stream: s.name, end: 4096, signal }))
        } else if (e.type === 'symlink') await volume.readlink(path, { signal })
      }
    }
    await drain(volume.search('/', '*.txt', { maxResults: 20, maxVisited: 300, signal }))
    await volume.close()
  }
  return touched
}

function mutate(base: BlockSource, reads: readonly { offset: number; length: number }[], random: () => number): { source: PatchedSource; mutation: string } {
  const pick = (): number => {
    const r = reads[Math.floor(random() * reads.length)]
    return r ? r.offset + Math.floor(random() * r.length) : Math.floor(random() * base.size)
  }
  const kind = random()
  if (kind < 0.15) {
    const size = Math.floor(random() * base.size)
    return { source: new PatchedSource(base, [], size), mutation: `truncate to ${size}` }
  }
  const patches: { offset: number; bytes: Buffer }[] = []
  if (kind < 0.75) {
    const n = 1 + Math.floor(random() * 8)
    for (let i = 0; i < n; i++) {
      const interesting = [0x00, 0xff, 0x7f, 0x80, 0x01, Math.floor(random() * 256)]
      patches.push({ offset: Math.min(pick(), base.size - 1), bytes: Buffer.from([interesting[Math.floor(random() * interesting.length)] ?? 0]) })
    }
    return { source: new PatchedSource(base, patches), mutation: `bytes ${patches.map((p) => `${p.offset}=${p.bytes[0] ?? 0}`).join(',')}` }
  }
  const at = Math.min(pick() & ~511, Math.max(0, base.size - 512))
  const fill = random()
  const bytes = fill < 0.3 ? Buffer.alloc(512) : fill < 0.6 ? Buffer.alloc(512, 0xff) : Buffer.from(Array.from({ length: 512 }, () => Math.floor(random() * 256)))
  return { source: new PatchedSource(base, [{ offset: at, bytes }]), mutation: `sector ${at} ${fill < 0.3 ? 'zeros' : fill < 0.6 ? 'ones' : 'random'}` }
}

export async function fuzzImage(corpus: string, base: BlockSource, options: { iterations: number; seed: number; timeBoundMs: number; companions?: readonly BlockSource[] }): Promise<FuzzResult> {
  const recorder = new PatchedSource(base, [], undefined, true)
  await exercise(recorder, AbortSignal.timeout(60_000), options.companions)
  const reads = recorder.reads
  const outcomes = { ok: 0, 'typed-error': 0, timeout: 0 }
  const findings: FuzzFinding[] = []
  let slowestMs = 0
  for (let i = 0; i < options.iterations; i++) {
    const seed = (options.seed * 1_000_003 + i) >>> 0
    const { source, mutation } = mutate(base, reads, rng(seed))
    const started = Date.now()
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(new DOMException('fuzz time bound', 'TimeoutError')), options.timeBoundMs)
    try {
      await exercise(source, controller.signal, options.companions)
      outcomes.ok++
    } catch (e) {
      if (e instanceof DiskFormatError || e instanceof FilesystemError) outcomes['typed-error']++
      else if (isAbortError(e)) {
        outcomes.timeout++
        findings.push({ corpus, iteration: i, seed, mutation, error: `no result within ${options.timeBoundMs} ms` })
      } else findings.push({ corpus, iteration: i, seed, mutation, error: e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e) })
    } finally {
      clearTimeout(timer)
    }
    slowestMs = Math.max(slowestMs, Date.now() - started)
  }
  return { iterations: options.iterations, outcomes, findings, slowestMs }
}
