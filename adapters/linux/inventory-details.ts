import type { Vm } from '../host-adapter'
import { parseDomainXml } from './domain-model'
import { TAG } from './job-lock'

/** Disks, snapshots, size and agent channel of a domain for the inventory; unreadable XML just means no details. */
export function domainDetails(xml: string, snapshotNames: string, blockInfo = ''): Pick<Vm, 'disks' | 'snapshots'> & Partial<Pick<Vm, 'cpus' | 'memoryBytes' | 'guestAgent'>> {
  const capacities = parseDomblkinfo(blockInfo)
  const snapshots = snapshotNames
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .slice(0, 500)
    .map((name) => ({ id: name, name, lifeboat: name.startsWith(`${TAG}-`) }))
  if (xml.trim() === '') return { disks: [], snapshots }
  try {
    const { info } = parseDomainXml(xml)
    return {
      disks: info.disks
        .filter((d) => d.device === 'disk' || d.device === 'lun')
        .map((d) => {
          const size = capacities.get(d.target)
          return { id: d.target, name: d.target, location: d.source ?? '', ...(d.format !== undefined ? { format: d.format } : {}), ...(size !== undefined ? { sizeBytes: size } : {}) }
        }),
      snapshots,
      ...(info.vcpus !== undefined ? { cpus: info.vcpus } : {}),
      ...(info.memoryBytes !== undefined ? { memoryBytes: info.memoryBytes } : {}),
      guestAgent: info.agentChannel,
    }
  } catch {
    return { disks: [], snapshots }
  }
}

/**
 * `virsh domblkinfo DOMAIN --all`: a table of target, capacity, allocation and physical size in bytes. Lines that do
 * not look like that (the header, the rule, a disk without media: "-") are skipped.
 */
export function parseDomblkinfo(text: string): Map<string, number> {
  const sizes = new Map<string, number>()
  for (const line of text.split('\n').slice(0, 200)) {
    const m = /^\s*([A-Za-z0-9_.-]{1,64})\s+(\d{1,20})\s+\d{1,20}\s+\d{1,20}\s*$/.exec(line)
    if (m === null) continue
    const capacity = Number(m[2])
    if (Number.isSafeInteger(capacity)) sizes.set(m[1] ?? '', capacity)
  }
  return sizes
}
