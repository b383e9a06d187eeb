/** Plain-data types the repository hands to its callers (the API layer returns them as they are). */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }

export type BackupMode = 'cold' | 'warm' | 'hot'
export type Consistency = 'offline' | 'app' | 'crash'

export interface VmInfo {
  /** The host's own id for the VM (XAPI uuid, Hyper-V VMId, libvirt uuid); groups points for retention. */
  readonly id: string
  readonly name: string
  /** The VM's configuration exactly as the host described it; the repository never interprets it. */
  readonly config: JsonValue
}

export interface SourceHost {
  readonly name: string
  readonly kind?: string
  readonly id?: string
}

export interface DiskRecord {
  /** Unique within the point, e.g. "xvda" or the disk's uuid; used to find a disk's parent for incrementals. */
  readonly name: string
  /** Virtual size in bytes. */
  readonly size: number
  /** One entry per chunk of the disk in order: the chunk id, or null for an all-zero chunk (not stored). */
  readonly chunks: readonly (string | null)[]
  /** SHA-256 over the chunk list (see FORMAT.md), so a hand-edited list is caught even in a plain manifest. */
  readonly chunkListSha256: string
  /** Optional plain data the caller wants kept with the disk (device position, controller, label...). */
  readonly meta?: JsonValue
}

export interface PointStats {
  readonly bytesRead: number
  readonly bytesNew: number
  readonly bytesStored: number
  readonly chunksNew: number
  readonly chunksReused: number
  readonly chunksZero: number
  readonly chunksFromParent: number
  /**
   * Bytes never read because the source said they are holes (sparse file, unallocated image cluster, host
   * allocation map). Absent in points written before this was counted.
   */
  readonly bytesHoles?: number
  /** Bytes read and found to be all zeros (whole zero chunks, stored as a reference). Absent in older points. */
  readonly bytesZero?: number
}

export interface PointManifest {
  readonly format: 'lifeboat-point'
  readonly version: number
  readonly id: string
  readonly parentId: string | null
  readonly chunkSize: number
  readonly vm: VmInfo
  readonly sourceHost: SourceHost
  readonly mode: BackupMode
  readonly consistency: Consistency
  readonly startedAt: string
  readonly finishedAt: string
  readonly disks: readonly DiskRecord[]
  readonly stats: PointStats
}

/** What listPoints returns: a manifest without its chunk lists and VM config. */
export interface PointSummary {
  readonly id: string
  readonly parentId: string | null
  readonly vm: { readonly id: string; readonly name: string }
  readonly sourceHost: SourceHost
  readonly mode: BackupMode
  readonly consistency: Consistency
  readonly startedAt: string
  readonly finishedAt: string
  readonly disks: readonly { readonly name: string; readonly size: number }[]
  readonly stats: PointStats
}

export function summarize(m: PointManifest): PointSummary {
  return {
    id: m.id,
    parentId: m.parentId,
    vm: { id: m.vm.id, name: m.vm.name },
    sourceHost: m.sourceHost,
    mode: m.mode,
    consistency: m.consistency,
    startedAt: m.startedAt,
    finishedAt: m.finishedAt,
    disks: m.disks.map((d) => ({ name: d.name, size: d.size })),
    stats: m.stats,
  }
}
