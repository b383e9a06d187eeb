import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { readBoundedBody } from './s3-body.js'
import { RepositoryError } from '../errors.js'
import {
  ObjectLockedError,
  type GetOptions,
  type ObjectVersion,
  type ObjectVersions,
  type VersionRetention,
} from '../backend.js'

/**
 * Object versions in an S3 bucket (ListObjectVersions, GET/HEAD/DELETE by version id, CopyObject from a version).
 * `objectKey` maps a repository key to the bucket's key (the repository's prefix); keys outside the prefix are never
 * reported.
 */
export class S3Versions implements ObjectVersions {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly prefix: string,
    private readonly objectKey: (key: string) => string,
  ) {}

  async versioning(signal?: AbortSignal): Promise<'Enabled' | 'Suspended' | undefined> {
    const out = await this.client.send(new GetBucketVersioningCommand({ Bucket: this.bucket }), { abortSignal: signal })
    return out.Status === 'Enabled' || out.Status === 'Suspended' ? out.Status : undefined
  }

  async *list(prefix: string, maxEntries: number, signal?: AbortSignal): AsyncIterable<ObjectVersion> {
    let keyMarker: string | undefined
    let versionMarker: string | undefined
    let seen = 0
    do {
      const out = await this.client.send(
        new ListObjectVersionsCommand({ Bucket: this.bucket, Prefix: this.prefix + prefix, KeyMarker: keyMarker, VersionIdMarker: versionMarker }),
        { abortSignal: signal },
      )
      // A page holds versions and delete markers in two lists; S3 orders the entries of one key newest first, so the
      // page is merged back into that order (by key, then newest first, IsLatest breaking a tie of equal times).
      const page = [
        ...(out.Versions ?? []).map((v) => ({ key: v.Key, versionId: v.VersionId, latest: v.IsLatest === true, deleteMarker: false, size: v.Size ?? 0, time: v.LastModified })),
        ...(out.DeleteMarkers ?? []).map((m) => ({ key: m.Key, versionId: m.VersionId, latest: m.IsLatest === true, deleteMarker: true, size: 0, time: m.LastModified })),
      ]
      const order = new Map(page.map((entry, index) => [entry, index]))
      page.sort((a, b) => {
        if (a.key !== b.key) return (a.key ?? '') < (b.key ?? '') ? -1 : 1
        if (a.latest !== b.latest) return a.latest ? -1 : 1
        const dt = (b.time?.getTime() ?? 0) - (a.time?.getTime() ?? 0)
        return dt !== 0 ? dt : (order.get(a) ?? 0) - (order.get(b) ?? 0)
      })
      for (const entry of page) {
        // Version ids are the storage's words, later printed and sent back: printable ASCII only.
        if (entry.key === undefined || entry.versionId === undefined || !entry.key.startsWith(this.prefix) || !/^[\x21-\x7e]{1,1024}$/.test(entry.versionId)) continue
        if (++seen > maxEntries) {
          throw new RepositoryError(
            'INVALID_ARGUMENT',
            `s3://${this.bucket}/${this.prefix}${prefix} holds more than ${maxEntries} object versions; that is more than Lifeboat will go through at once. Nothing more was read.`,
            { bucket: this.bucket },
          )
        }
        yield { key: entry.key.slice(this.prefix.length), versionId: entry.versionId, deleteMarker: entry.deleteMarker, size: entry.size, mtimeMs: entry.time?.getTime() ?? 0 }
      }
      keyMarker = out.IsTruncated === true ? out.NextKeyMarker : undefined
      versionMarker = out.IsTruncated === true ? out.NextVersionIdMarker : undefined
    } while (keyMarker !== undefined)
  }

  async get(key: string, versionId: string, options: GetOptions): Promise<Buffer | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), VersionId: versionId }), { abortSignal: options.signal })
      return await readBoundedBody(out, key, options.maxBytes)
    } catch (error) {
      if (status(error) === 404 || status(error) === 405) return undefined
      throw error
    }
  }

  async retention(key: string, versionId: string, signal?: AbortSignal): Promise<VersionRetention | undefined> {
    const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), VersionId: versionId }), { abortSignal: signal })
    const until = out.ObjectLockRetainUntilDate?.getTime()
    const mode = out.ObjectLockMode
    return until !== undefined && (mode === 'GOVERNANCE' || mode === 'COMPLIANCE') ? { mode, untilMs: until } : undefined
  }

  async remove(key: string, versionId: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), VersionId: versionId }), { abortSignal: signal })
    } catch (error) {
      if (status(error) === 403) {
        const held = await this.retention(key, versionId, signal).catch(() => undefined)
        throw new ObjectLockedError(key, held?.untilMs ?? Date.now())
      }
      throw error
    }
  }

  async promote(key: string, versionId: string, retention: VersionRetention | undefined, signal?: AbortSignal): Promise<void> {
    const source = `${this.bucket}/${this.objectKey(key).split('/').map(encodeURIComponent).join('/')}?versionId=${encodeURIComponent(versionId)}`
    await this.client.send(
      new CopyObjectCommand({
        Bucket: this.bucket,
        Key: this.objectKey(key),
        CopySource: source,
        ...(retention !== undefined ? { ObjectLockMode: retention.mode, ObjectLockRetainUntilDate: new Date(retention.untilMs) } : {}),
      }),
      { abortSignal: signal },
    )
  }
}

function status(error: unknown): number | undefined {
  const code = (error as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode
  return typeof code === 'number' ? code : undefined
}
