import { useMutation, useQuery, useQueryClient, type QueryClient } from '@tanstack/react-query'
import { useEffect } from 'react'
import {
  appInfo,
  filesList,
  filesProbe,
  filesRestore,
  filesRestoreToGuest,
  filesSearch,
  pointsCheck,
  pointsCheckScreenshot,
  pointsExport,
  pointsList,
  restoreStart,
  snapshotsCreate,
  snapshotsKeep,
  snapshotsList,
  snapshotsRemove,
  snapshotsRevert,
  type DiskSourceRef,
  type InputOf,
  hostsAcceptKey,
  hostsAdd,
  hostsList,
  hostsRemove,
  hostsTest,
  inventoryRefresh,
  inventoryTree,
  jobsCancel,
  jobsGet,
  jobsList,
  jobsRetry,
  type HostAddInput,
  type InventoryTree,
  type JobDto,
} from '../../engine/api/contract'
import { useApi, type ApiClient } from './api-client'
import { mergeFetchedTree, mergeHostEvent } from './inventory-merge'
import { keysAfterJob, queryKeys } from './query-keys'

export function useHosts() {
  const api = useApi()
  return useQuery({ queryKey: queryKeys.hosts, queryFn: () => api.invoke(hostsList, {}) })
}

export function useInventory() {
  const api = useApi()
  const client = useQueryClient()
  return useQuery({
    queryKey: queryKeys.inventory,
    queryFn: async () => mergeFetchedTree(client.getQueryData<InventoryTree>(queryKeys.inventory), await api.invoke(inventoryTree, {})),
  })
}

export function useJobs() {
  const api = useApi()
  return useQuery({ queryKey: queryKeys.jobs, queryFn: () => api.invoke(jobsList, { limit: 50 }) })
}

/** Keeps the react-query cache in step with the engine's events, once for the whole app. */
export function useLiveUpdates(): void {
  const api = useApi()
  const client = useQueryClient()
  useEffect(() => {
    const offInventory = api.subscribe('inventory.changed', (host) => {
      client.setQueryData<InventoryTree>(queryKeys.inventory, (tree) => mergeHostEvent(tree, host))
    })
    const offHosts = api.subscribe('hosts.changed', ({ change, host }) => {
      if (change === 'removed') client.setQueryData<InventoryTree>(queryKeys.inventory, (tree) => tree && { hosts: tree.hosts.filter((h) => h.hostId !== host.id) })
      void client.invalidateQueries({ queryKey: queryKeys.hosts })
      void client.invalidateQueries({ queryKey: queryKeys.inventory })
    })
    const offJobs = api.subscribe('job.updated', (job) => {
      const before = client.getQueryData<JobDto[]>(queryKeys.jobs)?.find((j) => j.id === job.id)
      if (before?.state !== job.state && (job.state === 'succeeded' || job.state === 'failed' || job.state === 'cancelled')) {
        for (const key of keysAfterJob(job.id)) void client.invalidateQueries({ queryKey: key })
      }
      client.setQueryData<JobDto[]>(queryKeys.jobs, (jobs = []) => {
        const rest = jobs.filter((j) => j.id !== job.id)
        return [job, ...rest].sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, 50)
      })
    })
    // After a reconnect the events in between are lost: fetch everything again.
    const offStatus = api.onStatus((status) => {
      if (status === 'open') void client.invalidateQueries()
    })
    return () => {
      offInventory()
      offHosts()
      offJobs()
      offStatus()
    }
  }, [api, client])
}

export function useAddHost() {
  const api = useApi()
  const client = useQueryClient()
  return useMutation({
    mutationFn: (input: HostAddInput) => api.invoke(hostsAdd, input),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: queryKeys.hosts })
      void client.invalidateQueries({ queryKey: queryKeys.inventory })
    },
  })
}

export function useRemoveHost() {
  const api = useApi()
  const client = useQueryClient()
  return useMutation({
    mutationFn: (hostId: string) => api.invoke(hostsRemove, { hostId }),
    onSuccess: (_, hostId) => {
      client.setQueryData<InventoryTree>(queryKeys.inventory, (tree) => tree && { hosts: tree.hosts.filter((h) => h.hostId !== hostId) })
      void client.invalidateQueries({ queryKey: queryKeys.hosts })
    },
  })
}

export function useTestHost() {
  const api = useApi()
  return useMutation({ mutationFn: (hostId: string) => api.invoke(hostsTest, { hostId }) })
}

export function useAcceptKey() {
  const api = useApi()
  const client = useQueryClient()
  return useMutation({
    mutationFn: (vars: { hostId: string; fingerprint: string }) => api.invoke(hostsAcceptKey, vars),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: queryKeys.hosts })
    },
  })
}

export function useRefreshInventory() {
  const api = useApi()
  const client = useQueryClient()
  return useMutation({
    // An explicit refresh by the admin reconnects, so a changed key or password shows at once.
    mutationFn: (hostId?: string) => api.invoke(inventoryRefresh, hostId !== undefined ? { hostId, reconnect: true } : { reconnect: true }),
    onSuccess: (tree) => client.setQueryData(queryKeys.inventory, tree),
  })
}

export function useCancelJob() {
  const api = useApi()
  return useMutation({ mutationFn: (jobId: string) => api.invoke(jobsCancel, { jobId }) })
}

export function useRetryJob() {
  const api = useApi()
  return useMutation({ mutationFn: (jobId: string) => api.invoke(jobsRetry, { jobId }) })
}

/** One job with its log; polled while the job runs (the log is not part of job.updated events). */
export function useJobDetail(jobId: string, enabled: boolean, running: boolean) {
  const api = useApi()
  return useQuery({
    queryKey: queryKeys.job(jobId),
    queryFn: () => api.invoke(jobsGet, { jobId }),
    enabled,
    refetchInterval: running ? 1000 : false,
  })
}

export function useAppInfo() {
  const api = useApi()
  return useQuery({ queryKey: queryKeys.appInfo, queryFn: () => api.invoke(appInfo, {}), staleTime: Infinity })
}

export function usePoints(vmId?: string) {
  const api = useApi()
  return useQuery({ queryKey: queryKeys.pointsOf(vmId), queryFn: () => api.invoke(pointsList, vmId !== undefined ? { vm: vmId } : {}) })
}

export function useDiskTree(source: DiskSourceRef | undefined) {
  const api = useApi()
  return useQuery({
    queryKey: queryKeys.diskTree(source),
    queryFn: () => api.invoke(filesProbe, { source: source as DiskSourceRef }),
    enabled: source !== undefined,
    staleTime: Infinity,
    retry: false,
  })
}

export function useDirectory(source: DiskSourceRef | undefined, volume: string | undefined, path: string, enabled = true) {
  const api = useApi()
  return useQuery({
    queryKey: queryKeys.directory(source, volume, path),
    queryFn: () => api.invoke(filesList, { source: source as DiskSourceRef, ...(volume !== undefined ? { volume } : {}), path, limit: 10_000 }),
    enabled: enabled && source !== undefined,
    staleTime: Infinity,
    retry: false,
  })
}

export function useRestoreFiles() {
  const api = useApi()
  return useMutation({ mutationFn: (input: InputOf<typeof filesRestore>) => api.invoke(filesRestore, input) })
}

export function useRestoreToGuest() {
  const api = useApi()
  return useMutation({ mutationFn: (input: InputOf<typeof filesRestoreToGuest>) => api.invoke(filesRestoreToGuest, input) })
}

export function useExportDisk() {
  const api = useApi()
  return useMutation({ mutationFn: (input: InputOf<typeof pointsExport>) => api.invoke(pointsExport, input) })
}

export function useRestoreVm() {
  const api = useApi()
  return useMutation({ mutationFn: (input: InputOf<typeof restoreStart>) => api.invoke(restoreStart, input) })
}

export function useSearchFiles() {
  const api = useApi()
  return useMutation({ mutationFn: (input: InputOf<typeof filesSearch>) => api.invoke(filesSearch, input) })
}

/** A VM's snapshots with their details (review dates, what the admin kept); asks the host. */
export function useSnapshots(hostId: string, vmId: string, enabled = true) {
  const api = useApi()
  return useQuery({ queryKey: queryKeys.snapshots(hostId, vmId), queryFn: () => api.invoke(snapshotsList, { host: hostId, vm: vmId }), enabled, staleTime: 15_000 })
}

/** Asks one host for its VMs now and shows the answer in the inventory (tree, dashboard) after a change made there. */
export function refreshHostTree(api: ApiClient, client: QueryClient, hostId: string): void {
  void api.invoke(inventoryRefresh, { hostId }).then(
    () => client.invalidateQueries({ queryKey: queryKeys.inventory }),
    () => undefined,
  )
}

/** Snapshot changes show in the VM's list and in the inventory (tree, dashboard) at once. */
function useSnapshotMutation<I extends { host: string; vm: string }, O>(run: (input: I) => Promise<O>) {
  const client = useQueryClient()
  const api = useApi()
  return useMutation({
    mutationFn: run,
    onSettled: (_data, _error, input) => {
      void client.invalidateQueries({ queryKey: queryKeys.snapshots(input.host, input.vm) })
      refreshHostTree(api, client, input.host)
    },
  })
}

export function useCreateSnapshot() {
  const api = useApi()
  return useSnapshotMutation((input: InputOf<typeof snapshotsCreate>) => api.invoke(snapshotsCreate, input))
}

export function useRevertSnapshot() {
  const api = useApi()
  return useSnapshotMutation((input: InputOf<typeof snapshotsRevert>) => api.invoke(snapshotsRevert, input))
}

export function useRemoveSnapshot() {
  const api = useApi()
  return useSnapshotMutation((input: InputOf<typeof snapshotsRemove>) => api.invoke(snapshotsRemove, input))
}

export function useKeepSnapshot() {
  const api = useApi()
  return useSnapshotMutation((input: InputOf<typeof snapshotsKeep>) => api.invoke(snapshotsKeep, input))
}

/** Starts a health check (a job: its phases show in the jobs view, its verdict comes back with the point). */
export function useCheckPoint() {
  const api = useApi()
  return useMutation({ mutationFn: (input: InputOf<typeof pointsCheck>) => api.invoke(pointsCheck, input) })
}

/** The screenshot of a point's last health check, fetched when it is about to be shown. */
export function useCheckScreenshot(pointId: string, jobId: string, enabled: boolean) {
  const api = useApi()
  return useQuery({ queryKey: queryKeys.checkScreenshot(pointId, jobId), queryFn: () => api.invoke(pointsCheckScreenshot, { point: pointId }), enabled, staleTime: Infinity, retry: false })
}
