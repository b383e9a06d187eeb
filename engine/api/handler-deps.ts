import type { AdapterRegistry } from '../../adapters/registry'
import type { BrowseService } from '../browse/browse-service'
import type { EventBus } from '../common/event-bus'
import type { InventoryService } from '../inventory/inventory-service'
import type { JobRunner } from '../jobs/job-runner'
import type { StartBackup } from '../jobs/start-backup'
import type { Repositories } from '../repository-access/repositories'
import type { Scheduler } from '../scheduler/scheduler'
import type { HostsStore } from '../state/hosts-store'
import type { PointChecks } from '../state/point-checks'
import type { SecretStore } from '../state/secret-store'
import type { SnapshotReviews } from '../state/snapshot-reviews'
import type { AppInfo } from './contract'
import type { NotifyService } from '../notify/notify-service'

/** What the handlers are built from: the engine's stores, features and settings (wired in engine/engine.ts). */
export interface HandlerDeps {
  readonly info: AppInfo
  readonly hosts: HostsStore
  readonly secrets: SecretStore
  readonly adapters: AdapterRegistry
  readonly inventory: InventoryService
  readonly jobs: JobRunner
  readonly events: EventBus
  readonly browse: BrowseService
  readonly repositories: Repositories
  readonly scheduler: Scheduler
  readonly startBackup: StartBackup
  readonly snapshotReviews: SnapshotReviews
  readonly pointChecks: PointChecks
  /** Alerts; handler tests that do not need them leave it out and get a service of their own on the same home. */
  readonly notify?: NotifyService
  readonly connectTimeoutMs?: number
}
