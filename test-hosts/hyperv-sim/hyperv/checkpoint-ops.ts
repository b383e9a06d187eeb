/**
 * Checkpoint semantics on the file tree, as Hyper-V does them:
 * - create: every drive's current file is frozen (read-only) and the VM continues on a new AVHDX child of it;
 * - remove: the changes after the checkpoint are merged back (the frozen file's only child merges into it; a frozen
 *   differencing file with several children is pushed down into each child), and the tree is re-linked;
 * - apply (restore): the VM's current state is discarded and it continues on a new child of the checkpoint's files.
 */
import type { MergePace } from './disks'
import type { HyperVHost, SimCheckpoint, SimVm } from './host'

export async function createCheckpoint(host: HyperVHost, vm: SimVm, name: string, saved: boolean): Promise<SimCheckpoint> {
  const files = new Map<string, string>()
  for (const d of vm.drives) {
    const frozen = d.path
    const file = host.disks.get(frozen)
    if (!file) throw new Error(`disk ${frozen} of ${vm.name} is unknown to the simulator`)
    const child = await host.disks.createDifferencing(frozen)
    file.readOnly = true
    files.set(d.id, frozen)
    d.path = child.path
    host.acls.grantVm(child.path, vm.id)
  }
  const c: SimCheckpoint = {
    id: host.newCheckpointId(),
    name,
    vmId: vm.id,
    created: Date.now(),
    parentId: vm.parentCheckpointId,
    saved,
    files,
    config: { processorCount: vm.processorCount, memoryStartup: vm.memoryStartup },
  }
  host.checkpoints.set(c.id, c)
  vm.parentCheckpointId = c.id
  return c
}

function frozenBy(host: HyperVHost, path: string): SimCheckpoint | undefined {
  const key = path.toLowerCase()
  return [...host.checkpoints.values()].find((c) => [...c.files.values()].some((f) => f.toLowerCase() === key))
}

/** Every reference to `from` (VM drives, checkpoint files, child disks) now points at `to`. */
function repoint(host: HyperVHost, from: string, to: string): void {
  const key = from.toLowerCase()
  for (const vm of host.vms.values()) for (const d of vm.drives) if (d.path.toLowerCase() === key) d.path = to
  for (const c of host.checkpoints.values()) for (const [k, f] of c.files) if (f.toLowerCase() === key) c.files.set(k, to)
}

export async function removeCheckpoint(host: HyperVHost, c: SimCheckpoint): Promise<void> {
  detachCheckpoint(host, c)
  await mergeCheckpointFiles(host, c)
}

/** Takes the checkpoint out of the tree (what Get-VMSnapshot lists); its files are merged by mergeCheckpointFiles. */
export function detachCheckpoint(host: HyperVHost, c: SimCheckpoint): void {
  const vm = host.vms.get(c.vmId)
  host.checkpoints.delete(c.id)
  for (const other of host.checkpoints.values()) if (other.parentId === c.id) other.parentId = c.parentId
  if (vm && vm.parentCheckpointId === c.id) vm.parentCheckpointId = c.parentId
}

/**
 * Merges a detached checkpoint's files: the AVHDX back into its parent, the VM's drives repointed once it is done.
 * With `pace` (a background merge) the parent is rewritten piece by piece (DiskStore.mergeIntoParent).
 */
export async function mergeCheckpointFiles(host: HyperVHost, c: SimCheckpoint, pace?: MergePace): Promise<void> {
  for (const frozen of c.files.values()) {
    const file = host.disks.get(frozen)
    if (!file) continue
    const children = host.disks.all().filter((f) => f.parent?.toLowerCase() === frozen.toLowerCase())
    if (children.length === 1) {
      const child = children[0]
      if (child === undefined) continue
      const grandchildren = host.disks.all().filter((f) => f.parent?.toLowerCase() === child.path.toLowerCase())
      // Drives and the child's own children move to the parent before the child is deleted: a chain read meanwhile
      // (the guest's disk during a background merge) never meets a missing file.
      await host.disks.mergeIntoParent(child.path, pace, async () => {
        repoint(host, child.path, file.path)
        for (const g of grandchildren) await host.disks.relink(g.path, file.path)
      })
      file.readOnly = frozenBy(host, file.path) !== undefined
    } else if (children.length > 1 && file.type === 'differencing') {
      for (const [i, ch] of children.entries()) {
        await pace?.(i, children.length)
        await host.disks.absorbParent(ch.path, file.path)
      }
      await pace?.(children.length, children.length)
      await host.disks.remove(file.path)
    } else if (children.length === 0 && file.type === 'differencing' && frozenBy(host, file.path) === undefined) {
      await host.disks.remove(file.path)
    }
  }
}

export async function applyCheckpoint(host: HyperVHost, vm: SimVm, c: SimCheckpoint): Promise<void> {
  for (const d of vm.drives) {
    const frozen = c.files.get(d.id)
    if (frozen === undefined) continue
    const current = host.disks.get(d.path)
    if (current?.type === 'differencing' && frozenBy(host, current.path) === undefined) await host.disks.remove(current.path)
    const child = await host.disks.createDifferencing(frozen)
    d.path = child.path
    host.acls.grantVm(child.path, vm.id)
  }
  vm.parentCheckpointId = c.id
  vm.processorCount = c.config.processorCount
  vm.memoryStartup = c.config.memoryStartup
  vm.state = c.saved ? 'Saved' : 'Off'
}
