import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { readBoundedBody } from './s3-body.js'
import { assertValidKey, assertValidPrefix, type GetOptions, type ObjectInfo, type RepositoryBackend } from '../backend.js'
import { S3ObjectLock } from './s3-object-lock.js'
import { S3Versions } from './s3-versions.js'

export interface S3BackendOptions {
  /** A configured client (endpoint, region, credentials, forcePathStyle): the caller owns its settings. */
  readonly client: S3Client
  readonly bucket: string
  /** Folder inside the bucket, e.g. "lifeboat/shop1/" (empty for the bucket root). */
  readonly prefix?: string
  /** Whether close() also destroys the client (true when the caller made it only for this backend). */
  readonly ownsClient?: boolean
}

/**
 * S3-compatible object storage. A PUT is atomic by the protocol, so put() needs no temp objects, and a PUT that
 * has returned is durable, so flush() has nothing to do.
 */
export function s3Backend(options: S3BackendOptions): RepositoryBackend {
  const prefix = options.prefix ?? ''
  assertValidPrefix(prefix)
  return new S3Backend(options.client, options.bucket, prefix, options.ownsClient ?? false)
}

class S3Backend implements RepositoryBackend {
  readonly label: string
  /** One GET per object, each a round trip before its first byte: 16 at a time, as S3 clients commonly use. */
  readonly readsInFlight = 16
  readonly objectLock: S3ObjectLock
  readonly versions: S3Versions

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly prefix: string,
    private readonly ownsClient: boolean,
  ) {
    this.label = `s3://${bucket}/${prefix}`
    this.objectLock = new S3ObjectLock(client, bucket, (key) => this.objectKey(key))
    this.versions = new S3Versions(client, bucket, prefix, (key) => this.objectKey(key))
  }

  private objectKey(key: string): string {
    assertValidKey(key)
    return this.prefix + key
  }

  async get(key: string, options: GetOptions): Promise<Buffer | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }), { abortSignal: options.signal })
      return await readBoundedBody(out, key, options.maxBytes, options.into)
    } catch (error) {
      if (isS3NotFound(error)) return undefined
      throw error
    }
  }

  async put(key: string, data: Uint8Array | readonly Uint8Array[], signal?: AbortSignal): Promise<void> {
    const body = data instanceof Uint8Array ? data : Buffer.concat(data)
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), Body: body, ContentLength: body.length, ...this.objectLock.putFields(key, body) }),
      { abortSignal: signal },
    )
  }

  async flush(): Promise<void> {
    // A completed PUT is already durable.
  }

  async *list(prefix: string, signal?: AbortSignal): AsyncIterable<ObjectInfo> {
    assertValidPrefix(prefix)
    let token: string | undefined
    do {
      const out = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, ContinuationToken: token }),
        { abortSignal: signal },
      )
      for (const item of out.Contents ?? []) {
        if (item.Key === undefined || !item.Key.startsWith(this.prefix)) continue
        yield { key: item.Key.slice(this.prefix.length), size: item.Size ?? 0, mtimeMs: item.LastModified?.getTime() ?? 0 }
      }
      token = out.IsTruncated === true ? out.NextContinuationToken : undefined
    } while (token !== undefined)
  }

  async stat(key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }), { abortSignal: signal })
      return { key, size: out.ContentLength ?? 0, mtimeMs: out.LastModified?.getTime() ?? 0 }
    } catch (error) {
      if (isS3NotFound(error)) return undefined
      throw error
    }
  }

  async delete(key: string, signal?: AbortSignal): Promise<void> {
    // A locked repository's bucket is versioned: a plain DELETE would only hide the object, never free its space.
    if (this.objectLock.setting !== undefined) return this.objectLock.delete(key, signal)
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }), { abortSignal: signal })
  }

  close(): Promise<void> {
    if (this.ownsClient) this.client.destroy()
    return Promise.resolve()
  }
}

function isS3NotFound(error: unknown): boolean {
  const e = error as { name?: unknown; $metadata?: { httpStatusCode?: unknown } } | null
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404
}
