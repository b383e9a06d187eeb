import {
  DeleteObjectCommand,
  GetObjectLockConfigurationCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectRetentionCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { createHash } from 'node:crypto'
import { RepositoryError } from '../errors.js'
import { ObjectLockedError, type ObjectLockSetting, type ObjectLockSupport } from '../backend.js'

/**
 * What a locked repository keeps immutable: restore points, the chunks they need and config.json (its wrapped key
 * opens them all; each version written while locking is on stays), not locks or trash.
 */
export function isLockable(key: string): boolean {
  return key.startsWith('chunks/') || key.startsWith('points/') || key === 'config.json'
}

/**
 * S3 Object Lock for the S3 backend. Object Lock needs a versioned bucket created with Object Lock enabled: a
 * "delete" there only hides the current version behind a delete marker, so deleting for real means deleting each
 * version by id, which the storage refuses while a version is locked. delete() therefore asks for the lock first
 * (one HEAD) and skips a locked object with ObjectLockedError instead of sending a request bound to be refused.
 */
export class S3ObjectLock implements ObjectLockSupport {
  setting: ObjectLockSetting | undefined

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly objectKey: (key: string) => string,
    private readonly clock: () => number = Date.now,
  ) {}

  async assertAvailable(signal?: AbortSignal): Promise<void> {
    let enabled = false
    try {
      const out = await this.client.send(new GetObjectLockConfigurationCommand({ Bucket: this.bucket }), { abortSignal: signal })
      enabled = out.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled'
    } catch (error) {
      if (!isMissingLockConfiguration(error)) throw error
    }
    if (!enabled) {
      throw new RepositoryError(
        'INVALID_ARGUMENT',
        `The bucket ${this.bucket} was not created with S3 Object Lock, so its objects cannot be made immutable. Create a bucket with Object Lock enabled (it also turns on versioning) and put the repository there. Nothing was changed.`,
        { bucket: this.bucket },
      )
    }
  }

  use(setting: ObjectLockSetting | undefined): void {
    this.setting = setting
  }

  /** Extra PutObject fields for a new object under the current setting (S3 wants a Content-MD5 with them). */
  putFields(key: string, body: Uint8Array): Record<string, unknown> {
    if (this.setting === undefined || !isLockable(key)) return {}
    return {
      ObjectLockMode: this.setting.mode,
      ObjectLockRetainUntilDate: new Date(this.clock() + this.setting.days * 86_400_000),
      ContentMD5: createHash('md5').update(body).digest('base64'),
    }
  }

  async lockedUntil(key: string, signal?: AbortSignal): Promise<number | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }), { abortSignal: signal })
      const until = out.ObjectLockRetainUntilDate?.getTime()
      return until !== undefined && until > this.clock() ? until : undefined
    } catch (error) {
      if (isNotFound(error)) return undefined
      throw error
    }
  }

  async extend(key: string, untilMs: number, signal?: AbortSignal): Promise<void> {
    const mode = this.setting?.mode ?? 'GOVERNANCE'
    try {
      await this.client.send(
        new PutObjectRetentionCommand({ Bucket: this.bucket, Key: this.objectKey(key), Retention: { Mode: mode, RetainUntilDate: new Date(untilMs) } }),
        { abortSignal: signal },
      )
    } catch (error) {
      // A lock that already reaches further cannot be shortened, and need not be.
      if (isAccessDenied(error) && ((await this.lockedUntil(key, signal)) ?? 0) >= untilMs) return
      throw error
    }
  }

  /** Deletes every version of a key (and its delete markers) once nothing locks it. */
  async delete(key: string, signal?: AbortSignal): Promise<void> {
    const until = await this.lockedUntil(key, signal)
    if (until !== undefined) throw new ObjectLockedError(key, until)
    const full = this.objectKey(key)
    let keyMarker: string | undefined
    let versionMarker: string | undefined
    do {
      const out = await this.client.send(
        new ListObjectVersionsCommand({ Bucket: this.bucket, Prefix: full, KeyMarker: keyMarker, VersionIdMarker: versionMarker }),
        { abortSignal: signal },
      )
      const versions = [...(out.Versions ?? []), ...(out.DeleteMarkers ?? [])].filter((v) => v.Key === full)
      for (const v of versions) {
        try {
          await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: full, VersionId: v.VersionId }), { abortSignal: signal })
        } catch (error) {
          // An older version may carry a lock of its own (an object written twice): it stays, and so does the key.
          if (!isAccessDenied(error)) throw error
          throw new ObjectLockedError(key, this.clock())
        }
      }
      keyMarker = out.IsTruncated === true ? out.NextKeyMarker : undefined
      versionMarker = out.IsTruncated === true ? out.NextVersionIdMarker : undefined
    } while (keyMarker !== undefined)
  }
}

function isNotFound(error: unknown): boolean {
  const e = error as { name?: unknown; $metadata?: { httpStatusCode?: unknown } } | null
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404
}

function isAccessDenied(error: unknown): boolean {
  const e = error as { name?: unknown; $metadata?: { httpStatusCode?: unknown } } | null
  return e?.name === 'AccessDenied' || e?.$metadata?.httpStatusCode === 403
}

function isMissingLockConfiguration(error: unknown): boolean {
  const e = error as { name?: unknown; $metadata?: { httpStatusCode?: unknown } } | null
  return e?.name === 'ObjectLockConfigurationNotFoundError' || e?.$metadata?.httpStatusCode === 404 || e?.$metadata?.httpStatusCode === 501
}
