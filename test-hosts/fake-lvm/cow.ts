/**
 * Snapshot space accounting as dm-snapshot's persistent exception store does it (drivers/md/dm-snap-persistent.c):
 * chunk 0 is the header, then areas of one metadata chunk followed by chunkSize/16 data chunks. Every chunk of the
 * origin written for the first time after the snapshot (or written through the snapshot) costs one data chunk; when
 * the next allocation would not fit, the snapshot becomes invalid for good. lvs's data_percent is
 * allocated chunks × chunk size ÷ COW size, and lvcreate caps a snapshot's COW size at what a full copy needs.
 *
 * Which chunks were written is known two ways: the test hook (writeToLv) records them as it writes, and before every
 * command the fake compares origin and snapshot files chunk by chunk (if either changed since the last look), which
 * catches writes by anything else — a VM, `dd` over SSH — to either device. A write that leaves a chunk's bytes as
 * they were is only seen through the hook (dm-snapshot would count it).
 */
import { open, rm, stat } from 'node:fs/promises'
import { dataFile, invalidTarget, linkDevice, type FakeLvmConfig, type FakeLvmState, type LvRecord, type SnapshotRecord } from './state'

export const DEFAULT_CHUNK_SIZE = 4096
const EXCEPTION_BYTES = 16

/** dm-snapshot's next_free after `n` exceptions: header + first metadata chunk + data chunks + later metadata chunks. */
export function allocatedChunks(exceptions: number, chunkSize: number): number {
  return 2 + exceptions + Math.floor(exceptions / (chunkSize / EXCEPTION_BYTES))
}

/** Whether `exceptions` allocations all succeed in a COW store of `cowBytes` (each needs next_free + 1 ≤ chunks). */
export function fits(exceptions: number, chunkSize: number, cowBytes: number): boolean {
  return exceptions === 0 || Math.floor(cowBytes / chunkSize) >= allocatedChunks(exceptions - 1, chunkSize) + 1
}

/** LVM's cow_max_extents: header + one chunk per origin chunk + metadata chunks, rounded up to whole extents. */
export function cowMaxExtents(originBytes: number, chunkSize: number, extentSize: number): number {
  const originChunks = Math.ceil(originBytes / chunkSize)
  const metadataChunks = Math.ceil(originChunks / (chunkSize / EXCEPTION_BYTES))
  return Math.ceil(((1 + originChunks + metadataChunks) * chunkSize) / extentSize)
}

export function cowUsedBytes(snapshot: SnapshotRecord): number {
  return allocatedChunks(snapshot.exceptions.length, snapshot.chunkSize) * snapshot.chunkSize
}

export function mergeChunks(existing: readonly number[], added: Iterable<number>): number[] {
  const set = new Set(existing)
  for (const c of added) set.add(c)
  return [...set].sort((a, b) => a - b)
}

export function chunksTouched(offset: number, length: number, chunkSize: number): number[] {
  if (length <= 0) return []
  const first = Math.floor(offset / chunkSize)
  const lastChunk = Math.floor((offset + length - 1) / chunkSize)
  return Array.from({ length: lastChunk - first + 1 }, (_, i) => first + i)
}

/** Chunks whose bytes differ between two files over `length` bytes. */
export async function differingChunks(a: string, b: string, length: number, chunkSize: number): Promise<number[]> {
  const block = Math.max(chunkSize, 1 << 20)
  const fa = await open(a, 'r')
  const fb = await open(b, 'r')
  try {
    const ba = Buffer.alloc(block)
    const bb = Buffer.alloc(block)
    const found: number[] = []
    for (let pos = 0; pos < length; pos += block) {
      const want = Math.min(block, length - pos)
      const ra = (await fa.read(ba, 0, want, pos)).bytesRead
      const rb = (await fb.read(bb, 0, want, pos)).bytesRead
      ba.fill(0, ra, want)
      bb.fill(0, rb, want)
      for (let off = 0; off < want; off += chunkSize) {
        const end = Math.min(off + chunkSize, want)
        if (ba.compare(bb, off, end, off, end) !== 0) found.push((pos + off) / chunkSize)
      }
    }
    return found
  } finally {
    await fa.close()
    await fb.close()
  }
}

async function fingerprint(files: readonly string[]): Promise<string> {
  const parts: string[] = []
  for (const f of files) {
    const s = await stat(f, { bigint: true })
    parts.push(`${s.mtimeNs}:${s.size}`)
  }
  return parts.join('/')
}

export async function invalidate(config: FakeLvmConfig, snap: LvRecord): Promise<void> {
  if (snap.snapshot === undefined || snap.snapshot.invalid) return
  snap.snapshot.invalid = true
  await linkDevice(config, snap.vg, snap.name, invalidTarget(config))
  await rm(dataFile(config, snap.vg, snap.name), { force: true })
}

/** Records `chunks` as copied into `snap`'s COW store; invalidates it when they no longer fit. Returns whether it is still valid. */
export async function consume(config: FakeLvmConfig, state: FakeLvmState, snap: LvRecord, chunks: Iterable<number>): Promise<boolean> {
  const s = snap.snapshot
  if (s === undefined || s.invalid) return false
  s.exceptions = mergeChunks(s.exceptions, chunks)
  const extentSize = state.vgs.find((v) => v.name === snap.vg)?.extentSize ?? 4 * 1024 * 1024
  if (fits(s.exceptions.length, s.chunkSize, snap.extents * extentSize)) return true
  await invalidate(config, snap)
  return false
}

/** Brings every valid snapshot's COW accounting up to date with what was written to it or its origin. */
export async function refreshSnapshots(config: FakeLvmConfig, state: FakeLvmState): Promise<void> {
  for (const snap of state.lvs) {
    const s = snap.snapshot
    if (s === undefined || s.invalid) continue
    const originFile = dataFile(config, snap.vg, s.origin)
    const snapFile = dataFile(config, snap.vg, snap.name)
    const before = await fingerprint([originFile, snapFile])
    if (before === s.scanned) continue
    if (await consume(config, state, snap, await differingChunks(originFile, snapFile, snap.deviceBytes, s.chunkSize))) s.scanned = before
  }
}
