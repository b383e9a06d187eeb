import { mkdir } from 'node:fs/promises'
import { homedir, platform } from 'node:os'
import path from 'node:path'
import { defaultAdapterRegistry, type AdapterRegistry } from '../adapters/registry'
import packageJson from '../package.json'
import type { AppInfo } from './api/contract'
import { EventBus } from './common/event-bus'
import { BrowseService } from './browse/browse-service'
import { createHandlers } from './api/handlers'
import type { HandlerMap } from './api/handler-types'
import { InventoryService } from './inventory/inventory-service'
import { Repositories } from './repository-access/repositories'
import { PlansStore } from './scheduler/plans-store'
import { checkStarter } from './scheduler/plan-check'
import { Scheduler } from './scheduler/scheduler'
import { CopyService } from './copies/copy-service'
import { CopyRecords } from './copies/copy-records'
import { createNotifyService } from './notify/notify-service'
import { JobRunner } from './jobs/job-runner'
import { JobStore } from './jobs/job-store'
import { backupStarter } from './jobs/start-backup'
import { HostsStore } from './state/hosts-store'
import { SnapshotReviews } from './state/snapshot-reviews'
import { statePaths, type StatePaths } from './state/paths'
import { PointChecks } from './state/point-checks'
import { nodeSecretStore, type SecretStore } from './state/secret-store'

export interface EngineOptions {
  readonly home: string
  readonly door: AppInfo['door']
  /** Defaults to the 0600 file store (passphrase-encrypted when LIFEBOAT_SECRETS_PASSPHRASE is set). */
  readonly secrets?: SecretStore
  readonly adapters?: AdapterRegistry
  readonly pollMs?: number
  readonly connectTimeoutMs?: number
}

export interface Engine extends AsyncDisposable {
  readonly paths: StatePaths
  readonly events: EventBus
  readonly handlers: HandlerMap
  readonly inventory: InventoryService
  readonly jobs: JobRunner
  readonly hosts: HostsStore
  readonly secrets: SecretStore
  readonly browse: BrowseService
  readonly repositories: Repositories
  readonly scheduler: Scheduler
  /** Starts background work (inventory polling) for the long-running doors (desktop app, bridge). */
  startBackground(): void
  dispose(): Promise<void>
}

/** Composition root: wires stores, adapters, jobs and inventory into the handler map the doors serve. */
export async function createEngine(options: EngineOptions): Promise<Engine> {
  const paths = statePaths(options.home)
  await mkdir(paths.home, { recursive: true, mode: 0o700 })
  const events = new EventBus()
  const hosts = new HostsStore(paths.hosts)
  const secrets = options.secrets ?? nodeSecretStore(paths.secrets)
  const adapters = options.adapters ?? defaultAdapterRegistry()
  const jobs = new JobRunner({ store: new JobStore(paths.jobs), events })
  const inventory = new InventoryService({
    hosts,
    secrets,
    adapters,
    events,
    ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
    ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
  })
  const repositories = new Repositories({ defaultPath: paths.repository, secrets, hosts, summaryCacheDir: paths.pointSummaries, ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}) })
  const browse = new BrowseService({ jobs, repositories, hosts: { hosts, secrets, adapters, ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}) } })
  // The scheduler's plan runs and the `backup.start` handler start backups through the same feature.
  const startBackup = backupStarter({ hosts, secrets, adapters, repositories, jobs, inventory, ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}) })
  const pointChecks = new PointChecks(paths.pointChecks, paths.checkScreenshots)
  // One alert service for the doors (settings, "Send test") and the scheduler (failed runs, stale VMs, the summary).
  const notify = createNotifyService({ home: paths.home, secrets })
  const scheduler = new Scheduler({
    notify,
    copies: new CopyService({ repositories, records: new CopyRecords(path.join(paths.home, 'copies.json')) }),
    store: new PlansStore(path.join(paths.home, 'plans.json')),
    jobs,
    repositories,
    lockDir: paths.home,
    startBackup,
    startCheck: checkStarter({ hosts, secrets, adapters, repositories, jobs, pointChecks, ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}) }),
  })
  const handlers = createHandlers({
    info: { version: packageJson.version, home: paths.home, door: options.door, platform: platform(), secretsProtection: secrets.protection, restoreDirectory: path.join(homedir(), 'Lifeboat restores') },
    hosts,
    secrets,
    adapters,
    inventory,
    jobs,
    events,
    browse,
    repositories,
    scheduler,
    startBackup,
    snapshotReviews: new SnapshotReviews(paths.snapshotReviews),
    pointChecks,
    notify,
    ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
  })
  let disposed = false
  const dispose = async () => {
    if (disposed) return
    disposed = true
    scheduler.stopTimer()
    await jobs.cancelAll()
    await jobs.recordsWritten()
    await inventory.stop()
    await browse.close()
  }
  return {
    paths,
    events,
    handlers,
    inventory,
    jobs,
    hosts,
    secrets,
    browse,
    repositories,
    scheduler,
    startBackground: () => {
      inventory.start()
      scheduler.startTimer()
    },
    dispose,
    [Symbol.asyncDispose]: dispose,
  }
}
