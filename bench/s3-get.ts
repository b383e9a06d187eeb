/**
 * The reference for an export from S3: one GET of one object, its body counted and dropped.
 * node s3-get.js ENDPOINT BUCKET KEY EXPECTED_BYTES (credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3'
import type { Readable } from 'node:stream'

const [endpoint, bucket, key, expected] = process.argv.slice(2)
if (endpoint === undefined || bucket === undefined || key === undefined || expected === undefined) throw new Error('usage: s3-get ENDPOINT BUCKET KEY EXPECTED_BYTES')
const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' })
try {
  const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
  let bytes = 0
  for await (const part of res.Body as Readable) bytes += (part as Buffer).length
  if (bytes !== Number(expected)) throw new Error(`GET returned ${bytes} bytes, expected ${expected}`)
} finally {
  client.destroy()
}
