/**
 * The repositories a campaign hurts: a local folder, a folder on the SSH test host over SFTP, and an S3 bucket
 * (s3rver behind the fault proxy). Each knows its `--repo` location and how to list its raw objects from the
 * outside, which is how leftovers (temp objects, lock objects) are counted without trusting Lifeboat's own report.
 */
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3'
import { readdir } from 'node:fs/promises'
import path from 'node:path'

export type RepoKind = 'local' | 'sftp' | 's3'
export const REPO_KINDS: readonly RepoKind[] = ['local', 'sftp', 's3']

export interface RepoTarget {
  readonly kind: RepoKind
  /** What `--repo` takes. */
  readonly location: string
  /** Every object key below the repository, relative to it ("locks/…", "chunks/ab/…"). */
  listKeys(): Promise<string[]>
}

/** A folder repository (local, or SFTP on a test host that shares this machine's filesystem). */
export function folderTarget(kind: 'local' | 'sftp', folder: string, location: string): RepoTarget {
  return {
    kind,
    location,
    async listKeys() {
      const out: string[] = []
      const walk = async (dir: string, depth: number): Promise<void> => {
        if (depth > 8) return
        const entries = await readdir(dir, { withFileTypes: true }).catch(() => [])
        for (const e of entries) {
          const full = path.join(dir, e.name)
          if (e.isDirectory()) await walk(full, depth + 1)
          else out.push(path.relative(folder, full))
        }
      }
      await walk(folder, 0)
      return out
    },
  }
}

export function s3Target(client: S3Client, bucket: string, prefix: string, location: string): RepoTarget {
  return {
    kind: 's3',
    location,
    async listKeys() {
      const out: string[] = []
      let token: string | undefined
      for (let page = 0; page < 1000; page++) {
        const r = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token !== undefined ? { ContinuationToken: token } : {}) }))
        for (const o of r.Contents ?? []) if (o.Key !== undefined) out.push(o.Key.slice(prefix.length))
        if (r.IsTruncated !== true || r.NextContinuationToken === undefined) break
        token = r.NextContinuationToken
      }
      return out
    },
  }
}

/** Objects a finished (or killed, then reconnected) operation must not leave: temp objects and lock objects. */
export function leftoverKeys(keys: readonly string[]): string[] {
  return keys.filter((k) => k.includes('.tmp-') || k.startsWith('locks/'))
}
