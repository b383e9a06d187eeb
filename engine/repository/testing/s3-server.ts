import { createRequire } from 'node:module'
import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, rename, rm } from 'node:fs/promises'
import { IncomingMessage } from 'node:http'
import path from 'node:path'
import { Transform, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { S3Client } from '@aws-sdk/client-s3'

interface S3rverObject {
  readonly bucket: string
  readonly key: string
  readonly content: Buffer | Readable
  readonly metadata: Record<string, string>
}
interface S3rverStore {
  getResourcePath(bucket: string, key: string, resource: string): string
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5: string): Promise<void>
  putObject(object: S3rverObject): Promise<{ size: number; md5: string }>
}
interface S3rverInstance {
  run(): Promise<{ port: number }>
  close(): Promise<void>
  readonly httpServer?: { closeAllConnections(): void }
  readonly store: S3rverStore
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance

// s3rver ships no types; this is the little of it the tests use.
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass

export interface TestS3 extends AsyncDisposable {
  readonly client: S3Client
  readonly bucket: string
  /** http://127.0.0.1:PORT */
  readonly endpoint: string
}

/** Starts an S3 emulator on 127.0.0.1 (random port) with one bucket, and a client configured for it. */
export async function startS3(directory: string): Promise<TestS3> {
  const bucket = 'lifeboat-test'
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] })
  // Bodies being received wait beside the emulator's folder (inside it they would be listed as a bucket).
  const incoming = `${path.resolve(directory)}.incoming`
  makePutsAtomic(server.store, incoming)
  const { port } = await server.run()
  const client = new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    // The emulator predates the SDK's default request checksums.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  })
  return {
    client,
    bucket,
    endpoint: `http://127.0.0.1:${port}`,
    async [Symbol.asyncDispose]() {
      client.destroy()
      // close() waits for every open connection, and one left half-way by a test's fault would hold it for ever.
      server.httpServer?.closeAllConnections()
      await server.close()
      await rm(incoming, { recursive: true, force: true })
    },
  }
}

/**
 * S3 makes an object visible whole or not at all: a PUT whose body stops short (the connection cut, fewer bytes than
 * its Content-Length) stores nothing. s3rver writes the body straight into the object's file, so a cut PUT left a
 * truncated object that listings and GETs returned. Here the body goes to a file outside the bucket and is renamed into
 * place only when it arrived whole, as the service behaves.
 */
function makePutsAtomic(store: S3rverStore, incoming: string): void {
  store.putObject = async (object) => {
    await mkdir(incoming, { recursive: true })
    const partial = path.join(incoming, randomBytes(8).toString('hex'))
    const md5 = createHash('md5')
    let size = 0
    const count = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        md5.update(chunk)
        size += chunk.length
        callback(null, chunk)
      },
    })
    try {
      if (Buffer.isBuffer(object.content)) {
        count.end(object.content)
        await pipeline(count, createWriteStream(partial))
      } else {
        await pipeline(object.content, count, createWriteStream(partial))
        if (object.content instanceof IncomingMessage) {
          const declared = object.content.headers['content-length']
          if (!object.content.complete || (declared !== undefined && Number(declared) !== size)) {
            throw new Error(`IncompleteBody: ${size} of ${declared ?? '?'} bytes arrived`)
          }
        }
      }
      const target = store.getResourcePath(object.bucket, object.key, 'object')
      await mkdir(path.dirname(target), { recursive: true })
      await rename(partial, target)
    } finally {
      await rm(partial, { force: true })
    }
    const digest = md5.digest('hex')
    await store.putMetadata(object.bucket, object.key, object.metadata, digest)
    return { size, md5: digest }
  }
}
