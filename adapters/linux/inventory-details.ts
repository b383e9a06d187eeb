import type { Vm } from '../host-adapter'
import { parseDomainXml } from './domain-model'
import { TAG } from './job-lock'

/** Disks, snapshots, size and agent channel of a domain for the inventory; unreadable XML just means no details. */
export function domainDetails(xml: string, snapshotNames: string): Pick<Vm, 'disks' | 'snapshots'> & Partial<Pick<Vm, 'cpus' | 'memoryBytes' | 'guestAgent'>> {
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
        .map((d) => ({ id: d.target, name: d.target, location: d.source ?? '', ...(d.format !== undefined ? { format: d.format } : {}) })),
      snapshots,
      ...(info.vcpus !== undefined ? { cpus: info.vcpus } : {}),
      ...(info.memoryBytes !== undefined ? { memoryBytes: info.memoryBytes } : {}),
      guestAgent: info.agentChannel,
    }
  } catch {
    return { disks: [], snapshots }
  }
}
