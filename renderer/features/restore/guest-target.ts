import type { HostInventoryDto } from '../../../engine/api/contract'

/** Host kinds whose adapter can put a file into a running guest (Hyper-V: Guest Service Interface; libvirt: the QEMU guest agent). */
const guestCopyKinds: ReadonlySet<string> = new Set(['hyperv', 'linux'])

/** The running VM a file can be put back into, when its host can do that; otherwise undefined (no button). */
export function guestTargetOf(hosts: readonly HostInventoryDto[] | undefined, hostRef: { readonly id?: string; readonly name: string }, vm: { readonly id: string; readonly name: string }): { host: string; vm: string; vmName: string; windows: boolean } | undefined {
  const host = hosts?.find((h) => (hostRef.id !== undefined ? h.hostId === hostRef.id : h.name === hostRef.name))
  if (host === undefined || !guestCopyKinds.has(host.kind)) return undefined
  const found = host.vms.find((v) => v.id === vm.id) ?? host.vms.find((v) => v.name === vm.name)
  if (found === undefined || found.powerState !== 'running') return undefined
  return { host: host.hostId, vm: found.id, vmName: found.name, windows: host.kind === 'hyperv' }
}

/**
 * Where the file goes in the guest by default: the same path (on C: for Windows guests) with a "-restored" suffix
 * before the extension, so nothing the guest has now is replaced unless the admin says so.
 */
export function suggestedGuestPath(path: string, windows = true): string {
  const parts = path.split('/').filter((p) => p !== '')
  const name = parts.pop() ?? 'file'
  const dot = name.lastIndexOf('.')
  const restored = dot > 0 ? `${name.slice(0, dot)}-restored${name.slice(dot)}` : `${name}-restored`
  return windows ? `C:\\${[...parts, restored].join('\\')}` : `/${[...parts, restored].join('/')}`
}
