import type { Engine } from '../../engine'

/** Every byte of one disk of a restore point in the engine's default repository, as a restore would read it. */
export async function pointDiskBytes(engine: Engine, pointId: string, disk: string): Promise<Buffer> {
  const repo = await engine.repositories.open({})
  try {
    const source = await repo.openDisk(pointId, disk)
    try {
      return await source.read(0, source.size)
    } finally {
      await source.close()
    }
  } finally {
    await repo.close()
  }
}
