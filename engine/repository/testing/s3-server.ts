import { createRequire } from 'node:module'
import { S3Client } from '@aws-sdk/client-s3'

interface S3rverInstance {
  run(): Promise<{ port: number }>
  close(): Promise<void>
  readonly httpServer?: { closeAllConnections(): void }
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
    },
  }
}
