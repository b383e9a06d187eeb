/**
 * Looking at a libvirt host from the outside, as an admin would after a backup: which files a domain runs on, whether
 * any block or domain job is still active, whether Lifeboat-tagged files are lying around. Test support only.
 */
import { run } from './run'
import { virsh } from './virsh'

/** `domblklist` as "target source" lines. */
export async function blockList(domain: string): Promise<string> {
  return (await virsh(['domblklist', domain])).replace(/[ \t]+/g, ' ')
}

/** True while libvirt reports any block job or domain job on the domain. */
export async function hasJobs(domain: string, targets: readonly string[]): Promise<string[]> {
  const found: string[] = []
  for (const t of targets) {
    const info = await virsh(['blockjob', domain, t, '--info']).catch(() => '')
    if (info.trim() !== '' && !/No current block job/i.test(info)) found.push(`${t}: ${info.trim()}`)
  }
  const dj = await virsh(['domjobinfo', domain]).catch(() => '')
  if (/Job type:\s+(Unbounded|Bounded)/.test(dj)) found.push(`domain job: ${dj.trim()}`)
  return found
}

/** Files in `dir` whose names carry Lifeboat's tag. */
export async function taggedFiles(dirs: readonly string[]): Promise<string[]> {
  const out: string[] = []
  for (const d of dirs) {
    const { stdout } = await run('find', [d, '-maxdepth', '1', '-name', '*lifeboat-*'])
    out.push(...stdout.split('\n').filter((l) => l !== ''))
  }
  return out
}

