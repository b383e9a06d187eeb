import type { InventoryService } from '../inventory/inventory-service'
import { findHost } from '../inventory/host-access'
import { backupJob, type BackupJobDeps, type BackupRequest } from './backup-job'
import type { JobRunner } from './job-runner'

export interface StartBackupDeps extends BackupJobDeps {
  readonly jobs: JobRunner
  readonly inventory: InventoryService
}

/** Starts a backup job; the caller gets its id at once and follows the job (jobs.get, progress events). */
export type StartBackup = (request: BackupRequest) => Promise<{ readonly jobId: string }>

/**
 * Starting a backup is one feature with two callers — the `backup.start` handler and the scheduler's plan runs — so
 * both start exactly the same job: same host lookup, same title, same refresh of the live tree afterwards.
 */
export function backupStarter(deps: StartBackupDeps): StartBackup {
  return async (request) => {
    const record = await findHost(deps, request.host)
    // The live tree usually knows the VM already: its name makes the job's title readable ("web01", not a UUID).
    const known = (await deps.inventory.tree()).hosts.find((h) => h.hostId === record.id)?.vms.find((v) => v.id === request.vm || v.name === request.vm)
    const job = deps.jobs.start(backupJob(deps, record, request, known !== undefined ? { vmId: known.id, vmName: known.name } : undefined))
    refreshWhenDone(deps, job.id, record.id)
    return { jobId: job.id }
  }
}

/**
 * A backup or restore changes the host (a new VM, a VM stopped and started again, a checkpoint made and merged): when
 * its job ends, the live tree asks the host again instead of waiting for the next poll (hosts without change events,
 * like Hyper-V, are polled every 30 s). Only where the tree is live: the CLI, which never showed it, does not ask.
 */
export function refreshWhenDone(deps: { readonly jobs: JobRunner; readonly inventory: InventoryService }, jobId: string, hostId: string): void {
  void deps.jobs
    .waitFor(jobId)
    .then(async () => {
      const shown = (await deps.inventory.tree()).hosts.find((h) => h.hostId === hostId)
      if (shown?.updatedAt !== undefined) await deps.inventory.refresh(hostId, AbortSignal.timeout(60_000))
    })
    .catch(() => undefined)
}
