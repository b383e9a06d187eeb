import { execFile } from 'node:child_process'
import path from 'node:path'
import { promisify } from 'node:util'
import { changeBlocks, changeOffsets, writeBenchImage, writeShareImage, writeSparseImage } from './bench-image.js'
import { debianImages } from './debian-image.js'

const run = promisify(execFile)

/** Sizes of the mixes, from the environment so a small run fits a shared machine (defaults: the sizes). */
export interface MixSizes {
  /** The dense mixes (today's, zero-heavy, all-random): LIFEBOAT_BENCH_MIB, default 2048. */
  readonly denseMiB: number
  /** The sparse file's size and how much of it is written: LIFEBOAT_BENCH_SPARSE_MIB (20480), LIFEBOAT_BENCH_SPARSE_WRITTEN_MIB (1024). */
  readonly sparseMiB: number
  readonly sparseWrittenMiB: number
  /** The root filesystem image: LIFEBOAT_BENCH_ROOTFS_MIB (2048). */
  readonly rootfsMiB: number
}

export function sizesFromEnv(env: NodeJS.ProcessEnv, denseDefault = 2048): MixSizes {
  const n = (name: string, fallback: number): number => {
    const v = Number(env[name])
    return Number.isSafeInteger(v) && v > 0 ? v : fallback
  }
  return {
    denseMiB: n('LIFEBOAT_BENCH_MIB', denseDefault),
    sparseMiB: n('LIFEBOAT_BENCH_SPARSE_MIB', 20480),
    sparseWrittenMiB: n('LIFEBOAT_BENCH_SPARSE_WRITTEN_MIB', 1024),
    rootfsMiB: n('LIFEBOAT_BENCH_ROOTFS_MIB', 2048),
  }
}

export interface BuiltMix {
  readonly image: string
  /** Virtual size in MiB (what the guest sees). */
  readonly sizeMiB: number
  readonly note: string
  /** Changes 1 % of the disk's 1 MiB blocks (64 KiB inside each), as the guest would. */
  change(): Promise<string>
}

export interface Mix {
  readonly name: string
  build(dir: string, log: (line: string) => void): Promise<BuiltMix>
}

const rawChange = (image: string, sizeMiB: number) => async (): Promise<string> => {
  const c = await changeBlocks(image, sizeMiB, 1)
  return `${c.count} of ${sizeMiB} 1 MiB blocks`
}

/** qcow2 is changed through qemu-io, as a guest's writes would change it (new clusters where it was unallocated). */
const qcow2Change = (image: string, sizeMiB: number) => async (): Promise<string> => {
  const offsets = changeOffsets(sizeMiB, 1)
  const commands = offsets.flatMap((o, i) => ['-c', `write -P ${(i % 255) + 1} ${o} 64k`])
  await run('qemu-io', ['-f', 'qcow2', ...commands, image], { maxBuffer: 64 * 1024 * 1024 })
  return `${offsets.length} of ${sizeMiB} 1 MiB blocks (qemu-io, pattern bytes)`
}

export function benchMixes(sizes: MixSizes): Mix[] {
  const { denseMiB, sparseMiB, sparseWrittenMiB, rootfsMiB } = sizes
  return [
    {
      name: 'mixed',
      build: async (dir) => {
        const image = path.join(dir, 'mixed.img')
        await writeBenchImage(image, denseMiB)
        return { image, sizeMiB: denseMiB, note: `${denseMiB} MiB, zeros/random/text runs of 1–16 MiB (today's image)`, change: rawChange(image, denseMiB) }
      },
    },
    {
      name: 'zero-heavy',
      build: async (dir) => {
        const image = path.join(dir, 'zero-heavy.img')
        await writeShareImage(image, denseMiB, { zero: 40, random: 30, text: 30 })
        return { image, sizeMiB: denseMiB, note: `${denseMiB} MiB, 40 % zeros written as data, 30 % random, 30 % text`, change: rawChange(image, denseMiB) }
      },
    },
    {
      name: 'random',
      build: async (dir) => {
        const image = path.join(dir, 'random.img')
        await writeShareImage(image, denseMiB, { zero: 0, random: 1, text: 0 })
        return { image, sizeMiB: denseMiB, note: `${denseMiB} MiB, all random`, change: rawChange(image, denseMiB) }
      },
    },
    {
      name: 'sparse',
      build: async (dir) => {
        const image = path.join(dir, 'sparse.img')
        await writeSparseImage(image, sparseMiB, sparseWrittenMiB)
        return { image, sizeMiB: sparseMiB, note: `${sparseMiB} MiB sparse file, ${sparseWrittenMiB} MiB written`, change: rawChange(image, sparseMiB) }
      },
    },
    {
      name: 'rootfs-raw',
      build: async (dir, log) => {
        // Each mix makes its images in its own folder (removed after it); the filesystem image itself is cached.
        const d = await debianImages(dir, rootfsMiB, log)
        return { image: d.raw, sizeMiB: rootfsMiB, note: `${rootfsMiB} MiB ext4 (${d.source}), raw, free space as holes`, change: rawChange(d.raw, rootfsMiB) }
      },
    },
    {
      name: 'rootfs-qcow2',
      build: async (dir, log) => {
        const d = await debianImages(dir, rootfsMiB, log)
        return { image: d.qcow2, sizeMiB: rootfsMiB, note: `${rootfsMiB} MiB ext4 (${d.source}), qcow2`, change: qcow2Change(d.qcow2, rootfsMiB) }
      },
    },
  ]
}
