export interface PublicImageRecord {
  readonly set: string
  readonly name: string
  /** Path inside the source tarball, from its top folder. */
  readonly archivePath: string
  /** The prepared image, relative to publicImagesDir(). */
  readonly file: string
  readonly expected?: string
  readonly expectedFile?: string
  readonly description?: string
  readonly origin?: string
  /** Why the image could not be prepared (a tool missing, a dump btrfs-image refused). */
  readonly problem?: string
}

export interface PreparedSource {
  readonly package: string
  readonly version: string
  readonly orig?: string
  readonly sha256: string
  readonly images: readonly PublicImageRecord[]
}

export declare const SOURCES: readonly { readonly id: string; readonly package: string; readonly version: string; readonly orig: string; readonly sha256: string }[]
export declare class DownloadError extends Error {}
export declare function publicImagesDir(): string
export declare function ensurePublicImages(options?: { quiet?: boolean }): Promise<PreparedSource[]>
