/**
 * The model's checkpoint file tree: a checkpoint freezes the VHDX and continues on an AVHDX that the engine's own
 * reader opens through its parent (a real differencing image, not a private format), and removing the checkpoint
 * merges the AVHDX back into the base file and deletes it.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openImageFile } from '../../../engine/disks/open-image'
import { hasTool } from '../../../engine/disks/testing/tools'
import { createCheckpoint, removeCheckpoint } from './checkpoint-ops'
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
})
