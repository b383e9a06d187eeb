/** Creates a fresh, initialised repository of each kind for one fault, in the campaign's environment. */
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { HOST_NAME, type TortureEnvironment } from './environment'
import { describeRun } from './lifeboat-process'
import { folderTarget, s3Target, type RepoKind, type RepoTarget } from './repo-target'

/** Why a repository kind cannot be hurt in this environment, or undefined when it can. */
export function missingFor(env: TortureEnvironment, kind: RepoKind): string | undefined {
  if (kind === 'sftp' && env.ssh === undefined) return env.sshMissing ?? 'no SSH test host'
  if (kind === 's3' && env.s3 === undefined) return 'no S3 server'
  return undefined
}

export async function initTarget(target: RepoTarget, env: TortureEnvironment): Promise<RepoTarget> {
  const r = await env.runner.run(['repo', 'init', '--repo', target.location], { timeoutMs: 120_000 })
  if (r.code !== 0) throw new Error(`repo init of ${target.location} failed: ${describeRun(r)}`)
  return target
}

/** A new repository named `name`; `folder` puts a local or SFTP one into that folder instead of the scratch folder. */
export async function newTarget(env: TortureEnvironment, kind: RepoKind, name: string, folder?: string): Promise<RepoTarget> {
  switch (kind) {
    case 'local': {
      const dir = folder ?? path.join(env.dir, 'repos', name)
      await mkdir(path.dirname(dir), { recursive: true })
      return initTarget(folderTarget('local', dir, dir), env)
    }
    case 'sftp': {
      const dir = folder ?? path.join(env.dir, 'repos', name)
      await mkdir(path.dirname(dir), { recursive: true })
      return initTarget(folderTarget('sftp', dir, `sftp://${HOST_NAME}${dir}`), env)
    }
    case 's3': {
      if (env.s3 === undefined) throw new Error('no S3 server in this campaign')
      const { server, proxy } = env.s3
      const location = `s3://${server.bucket}/${name}?endpoint=${encodeURIComponent(proxy.endpoint)}&region=us-east-1`
      return initTarget(s3Target(server.client, server.bucket, `${name}/`, location), env)
    }
  }
}
