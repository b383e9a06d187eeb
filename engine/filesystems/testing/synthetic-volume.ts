import type { DriverDirent, FsDriver } from '../driver'
import { FilesystemError } from '../errors'
import { GenericVolume } from '../generic-volume'
import type { FsEntry, Volume } from '../types'

/**
 * Test-only: a volume that answers everything from memory at once, like an image whose metadata is all cached — the
 * case where no `await` ever reaches the event loop. A tree of `fanout` folders per level down to `depth`, one small
 * file per folder, and optionally a "loop" folder in every folder that is the root again (a hard link to an ancestor).
 */
export function syntheticVolume(o: { fanout: number; depth: number; loop?: boolean }): Volume {
  const key = (node: string): string => node || '/'
  const driver: FsDriver<string> = {
    info: { type: 'ext4', label: 'synthetic', uuid: '', size: 0, blockSize: 4096, caseInsensitive: false, warnings: [] },
    root: () => Promise.resolve(''),
    key,
    readDir: (dir) => {
      if (dir.endsWith('/f')) return Promise.reject(new FilesystemError('not-a-directory', `${dir} is a file`))
      const depth = dir === '' ? 0 : dir.split('/').length - 1
      const out: DriverDirent<string>[] = [{ name: 'f.txt', node: `${dir}/f` }]
      if (depth < o.depth) for (let i = 0; i < o.fanout; i++) out.push({ name: `d${i}`, node: `${dir}/d${i}` })
      if (o.loop) out.push({ name: 'loop', node: '' })
      return Promise.resolve(out)
    },
    describe: (node, name): Promise<FsEntry> => {
      const file = node.endsWith('/f')
      return Promise.resolve({ name, type: file ? 'file' : 'directory', size: file ? 3 : 0, id: key(node), mode: file ? 0o644 : 0o755, mtime: new Date(0) })
    },
    readlink: () => Promise.reject(new FilesystemError('not-a-symlink', 'no links here')),
    read: async function* () {
      await Promise.resolve()
      yield Buffer.from('abc')
    },
    close: () => Promise.resolve(),
  }
  return new GenericVolume(driver)
}
