/**
 * The one API contract. Every channel and event topic Lifeboat has is listed here; the Electron IPC door, the
 * WebSocket bridge and the CLI all serve exactly this map, and the renderer calls exactly these channels.
 * Environment-neutral: zod and plain types only (the renderer imports this file).
 */
import { z } from 'zod'
import { defineChannel, defineTopic, type Channel } from './contract-core'
import { HostDtoSchema, hostsAcceptKey, hostsAdd, hostsList, hostsRemove, hostsTest, hostsUpdateCredentials } from './contract-hosts'
import { HostInventoryDtoSchema, inventoryRefresh, inventoryTree, vmsList } from './contract-inventory'
import { filesList, filesProbe, filesRestore, filesRestoreToGuest, filesSearch, filesStat } from './contract-files'
import { JobDtoSchema, jobsCancel, jobsGet, jobsList, jobsRetry } from './contract-jobs'
import { backupModes, backupStart, leftoversClean, leftoversList, manualVmsList, manualVmsRegister, manualVmsUnregister, restoreStart, snapshotsCreate, snapshotsList, snapshotsKeep, snapshotsRemove, snapshotsRevert } from './contract-backup'
import { plansDelete, plansList, plansPreview, plansRun, plansRunDue, plansSave } from './contract-plans'
import { archiveExport, archiveImport, restoreDisk } from './contract-archive'
import { pointsCheck, pointsCheckScreenshot } from './contract-checks'
import { pointsRun, runsDiscard, runsList, runsMakePermanent } from './contract-run'
import { pointsServe } from './contract-serve'
import { notifyAddEmail, notifyAddWebhook, notifyRemove, notifySettings, notifyTest, notifyTrustCertificate, notifyUpdate } from './contract-notify'
import { copiesSummary, pointsCopy } from './contract-copies'
import { backupFile, pointsExport, pointsGet, pointsList, repoCheck, repoGc, repoInfo, repoInit, repoPrune, repoSetObjectLock, repoVerify } from './contract-repository'

export * from './contract-archive'
export * from './contract-backup'
export * from './contract-checks'
export * from './contract-copies'
export * from './contract-core'
export * from './contract-errors'
export * from './contract-files'
export * from './contract-hosts'
export * from './contract-inventory'
export * from './contract-jobs'
export * from './contract-notify'
export * from './contract-plans'
export * from './contract-repository'
export * from './contract-serve'
export * from './contract-run'

export const AppInfoSchema = z.object({
  version: z.string(),
  home: z.string(),
  door: z.enum(['electron', 'bridge', 'cli']),
  platform: z.string(),
  /** How saved credentials are protected, in plain words. */
  secretsProtection: z.string(),
  /** Where restored files go unless the admin picks another folder. */
  restoreDirectory: z.string(),
})
export type AppInfo = z.infer<typeof AppInfoSchema>

export const appInfo = defineChannel('app.info', z.object({}), AppInfoSchema, 'Version, data folder and how credentials are protected.')

export const channels = {
  [appInfo.name]: appInfo,
  [hostsList.name]: hostsList,
  [hostsAdd.name]: hostsAdd,
  [hostsTest.name]: hostsTest,
  [hostsRemove.name]: hostsRemove,
  [hostsAcceptKey.name]: hostsAcceptKey,
  [hostsUpdateCredentials.name]: hostsUpdateCredentials,
  [inventoryTree.name]: inventoryTree,
  [inventoryRefresh.name]: inventoryRefresh,
  [vmsList.name]: vmsList,
  [jobsList.name]: jobsList,
  [jobsGet.name]: jobsGet,
  [jobsCancel.name]: jobsCancel,
  [jobsRetry.name]: jobsRetry,
  [filesProbe.name]: filesProbe,
  [filesList.name]: filesList,
  [filesStat.name]: filesStat,
  [filesSearch.name]: filesSearch,
  [filesRestore.name]: filesRestore,
  [filesRestoreToGuest.name]: filesRestoreToGuest,
  [repoInit.name]: repoInit,
  [repoInfo.name]: repoInfo,
  [repoCheck.name]: repoCheck,
  [repoVerify.name]: repoVerify,
  [repoPrune.name]: repoPrune,
  [repoGc.name]: repoGc,
  [repoSetObjectLock.name]: repoSetObjectLock,
  [pointsList.name]: pointsList,
  [pointsGet.name]: pointsGet,
  [pointsExport.name]: pointsExport,
  [pointsCopy.name]: pointsCopy,
  [copiesSummary.name]: copiesSummary,
  [pointsCheck.name]: pointsCheck,
  [pointsCheckScreenshot.name]: pointsCheckScreenshot,
  [pointsServe.name]: pointsServe,
  [pointsRun.name]: pointsRun,
  [runsList.name]: runsList,
  [runsMakePermanent.name]: runsMakePermanent,
  [runsDiscard.name]: runsDiscard,
  [backupFile.name]: backupFile,
  [plansList.name]: plansList,
  [plansSave.name]: plansSave,
  [plansDelete.name]: plansDelete,
  [plansRun.name]: plansRun,
  [plansPreview.name]: plansPreview,
  [plansRunDue.name]: plansRunDue,
  [backupModes.name]: backupModes,
  [backupStart.name]: backupStart,
  [restoreStart.name]: restoreStart,
  [restoreDisk.name]: restoreDisk,
  [archiveExport.name]: archiveExport,
  [archiveImport.name]: archiveImport,
  [snapshotsList.name]: snapshotsList,
  [snapshotsCreate.name]: snapshotsCreate,
  [snapshotsRevert.name]: snapshotsRevert,
  [snapshotsRemove.name]: snapshotsRemove,
  [snapshotsKeep.name]: snapshotsKeep,
  [leftoversList.name]: leftoversList,
  [leftoversClean.name]: leftoversClean,
  [manualVmsList.name]: manualVmsList,
  [manualVmsRegister.name]: manualVmsRegister,
  [manualVmsUnregister.name]: manualVmsUnregister,
  [notifySettings.name]: notifySettings,
  [notifyUpdate.name]: notifyUpdate,
  [notifyAddEmail.name]: notifyAddEmail,
  [notifyAddWebhook.name]: notifyAddWebhook,
  [notifyRemove.name]: notifyRemove,
  [notifyTrustCertificate.name]: notifyTrustCertificate,
  [notifyTest.name]: notifyTest,
} as const satisfies Record<string, Channel>

export type Channels = typeof channels
export type ChannelName = keyof Channels
export const channelNames = Object.keys(channels) as ChannelName[]

export const jobUpdated = defineTopic('job.updated', JobDtoSchema)
export const inventoryChanged = defineTopic('inventory.changed', HostInventoryDtoSchema)
export const hostsChanged = defineTopic(
  'hosts.changed',
  z.object({ change: z.enum(['added', 'removed', 'updated']), host: HostDtoSchema }),
)

export const topics = {
  [jobUpdated.name]: jobUpdated,
  [inventoryChanged.name]: inventoryChanged,
  [hostsChanged.name]: hostsChanged,
} as const

export type Topics = typeof topics
export type TopicName = keyof Topics
export const topicNames = Object.keys(topics) as TopicName[]

export function isChannelName(name: string): name is ChannelName {
  return Object.prototype.hasOwnProperty.call(channels, name)
}

export function isTopicName(name: string): name is TopicName {
  return Object.prototype.hasOwnProperty.call(topics, name)
}
