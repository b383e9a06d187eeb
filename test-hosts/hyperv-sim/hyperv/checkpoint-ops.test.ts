/**
 * The model's checkpoint file tree: a checkpoint freezes the VHDX and continues on an AVHDX that the engine's own
 * reader opens through its parent (a real differencing image, not a private format), and removing the checkpoint
 * merges the AVHDX back into the base file and deletes it.
 */
import { createHash } from 'node:crypto'
import { mkdtemp, open, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openImageFile } from '../../../engine/disks/open-image'
import { hasTool } from '../../../engine/disks/testing/tools'
import { createCheckpoint, detachCheckpoint, mergeCheckpointFiles, removeCheckpoint } from './checkpoint-ops'
import { HyperVHost } from './host'
import { knownContent } from './known-content'

const MiB = 1024 * 1024
const WRITTEN = Buffer.from('written after the checkpoint')
const AT = 5 * MiB + 7

async function readWhole(local: string): Promise<Buffer> {
  const image = await openImageFile(local)
  try {
    return await image.read(0, image.size)
  } finally {
    await image.close()
  }
}

describe.skipIf(!(await hasTool('qemu-img')))('Hyper-V model: checkpoints on real VHDX/AVHDX files', () => {
  let dir: string
  let host: HyperVHost
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lb-hvmodel-ckpt-'))
    host = new HyperVHost({ dataDir: dir, timing: { checkpointMs: 0, saveMs: 0, startMs: 0, mergeMs: 0 } })
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it("writes AVHDX files the engine's reader opens through their parents, and merges them back", async () => {
    const vm = await host.addVm({ name: "web 'prod'", disks: [knownContent('web', 8 * MiB)] })
    const base = vm.drives[0]?.path ?? ''
    const before = knownContent('web', 8 * MiB)
    const checkpoint = await createCheckpoint(host, vm, 'one', false)
    await host.guestWrite(vm.id, 0, AT, WRITTEN)
    const top = vm.drives[0]?.path ?? ''
    expect(top).toMatch(/^C:\\.*_[0-9A-F-]{36}\.avhdx$/)

    const image = await openImageFile(host.fs.toLocal(top))
    try {
      expect(image.format).toBe('vhdx-differencing')
      const now = await image.read(0, image.size)
      expect(now.subarray(AT, AT + WRITTEN.length).equals(WRITTEN)).toBe(true)
      expect(Buffer.concat([now.subarray(0, AT), now.subarray(AT + WRITTEN.length)]).equals(Buffer.concat([before.subarray(0, AT), before.subarray(AT + WRITTEN.length)]))).toBe(true)
    } finally {
      await image.close()
    }
    expect((await readWhole(host.fs.toLocal(base))).equals(before)).toBe(true)

    await removeCheckpoint(host, checkpoint)
    expect(vm.drives[0]?.path).toBe(base)
    expect((await readWhole(host.fs.toLocal(base))).subarray(AT, AT + WRITTEN.length).equals(WRITTEN)).toBe(true)
    expect(await readFile(host.fs.toLocal(top)).catch(() => 'gone')).toBe('gone')
  })

  it('a background merge rewrites the parent file in place piece by piece, holds the chain, and the VM sees one disk throughout', async () => {
    host.timing.backgroundMergeMs = 1400
    const size = 8 * MiB
    const vm = await host.addVm({ name: 'merging', disks: [knownContent('merging', size)], state: 'Off' })
    const base = vm.drives[0]?.path ?? ''
    const expected = knownContent('merging', size)
    const checkpoint = await createCheckpoint(host, vm, 'one', false)
    // Changes in three of the four 2 MiB AVHDX blocks: six 1 MiB pieces to merge.
    for (const at of [MiB / 2, 3 * MiB + 1, 7 * MiB]) {
      await host.guestWrite(vm.id, 0, at, WRITTEN)
      WRITTEN.copy(expected, at)
    }
    const top = vm.drives[0]?.path ?? ''
    // A handle opened before the merge (as anyone who did not wait could hold) sees the parent's bytes change.
    const fh = await open(host.fs.toLocal(base), 'r')
    const seen: string[] = []
    try {
      const look = async () => {
        const st = await fh.stat()
        const buf = Buffer.alloc(st.size)
        await fh.read(buf, 0, st.size, 0)
        const hash = createHash('sha256').update(buf).digest('hex')
        if (seen.at(-1) !== hash) seen.push(hash)
      }
      await look()
      detachCheckpoint(host, checkpoint)
      host.mergeInBackground(vm, (pace) => mergeCheckpointFiles(host, checkpoint, pace))
      const started = Date.now()
      while (vm.merging === true) {
        // The whole chain is held (SFTP, Rename-Item and Remove-Item refuse it) and VMMS refuses other operations.
        expect([host.inUse(base), host.inUse(top)]).toEqual([true, true])
        await expect(host.operate(vm, 'Creating checkpoint', 'Checkpoint-VM', 0, AbortSignal.timeout(5000), () => undefined)).rejects.toThrow(/busy: Merging disks/)
        expect((await host.guestRead(vm.id, 0, 0, size)).equals(expected), 'what the VM sees does not change during the merge').toBe(true)
        await look()
        await new Promise((r) => setTimeout(r, 40))
      }
      expect(Date.now() - started).toBeGreaterThanOrEqual(1300)
      await host.settled()
      await look()
    } finally {
      await fh.close()
      host.timing.backgroundMergeMs = 0
    }
    // At least one state of the file that is neither the one before nor the merged one.
    expect(seen.length).toBeGreaterThanOrEqual(3)
    expect([vm.merging, vm.busy, vm.drives[0]?.path, host.inUse(base)]).toEqual([false, null, base, false])
    expect((await readWhole(host.fs.toLocal(base))).equals(expected)).toBe(true)
    expect(await readFile(host.fs.toLocal(top)).catch(() => 'gone')).toBe('gone')
  })
})
