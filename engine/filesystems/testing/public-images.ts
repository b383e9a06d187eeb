import path from 'node:path'
import { DownloadError, ensurePublicImages, publicImagesDir, type PublicImageRecord } from '../../../scripts/fetch-public-images.mjs'

/** Test-only: other projects' public test images, fetched by scripts/fetch-public-images.mjs into a local cache. */
export interface PublicImage extends PublicImageRecord {
  readonly package: string
  readonly version: string
  /** Absolute path of the prepared (decompressed) image. */
  readonly path: string
  /** Absolute path of the project's own expected output, where it has one. */
  readonly expectedPath?: string
}

/** "util-linux 2.38.1-5+deb12u3 util-linux-2.38.1/tests/ts/blkid/images-fs/ext2.img.xz": how every case names its source. */
export function sourceOf(image: PublicImage): string {
  return `${image.package} ${image.version} ${image.archivePath}`
}

/**
 * All prepared images, fetching them first when the cache is missing (a fresh clone; .ci/run fetches them before
 * the tests). Offline, the tests cannot run: that fails under CI=true and skips elsewhere, saying so loudly.
 */
export async function publicImages(): Promise<PublicImage[] | undefined> {
  try {
    const sources = await ensurePublicImages({ quiet: true })
    return sources.flatMap((s) =>
      s.images.map((i) => ({
        ...i,
        package: s.package,
        version: s.version,
        path: path.join(publicImagesDir(), i.file),
        ...(i.expectedFile ? { expectedPath: path.join(publicImagesDir(), i.expectedFile) } : {}),
      })),
    )
  } catch (e) {
    if (!(e instanceof DownloadError)) throw e
    const loud = `PUBLIC TEST IMAGES UNAVAILABLE — ${e.message} (run \`node scripts/fetch-public-images.mjs\` where deb.debian.org is reachable).`
    if (process.env.CI === 'true') throw new Error(loud, { cause: e })
    console.warn(`\n*** ${loud} These tests are SKIPPED. ***\n`)
    return undefined
  }
}

/** The images of one set ('blkid-fs', 'blkid-pt', 'e2fsprogs-f', 'btrfs-progs', 'dosfstools'). */
export function imageSet(all: readonly PublicImage[] | undefined, set: string): PublicImage[] {
  return (all ?? []).filter((i) => i.set === set)
}
