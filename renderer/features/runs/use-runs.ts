import { useMutation, useQueries, useQueryClient } from '@tanstack/react-query'
import { useEffect, useMemo } from 'react'
import { jobsGet, pointsRun, runsDiscard, runsList, runsMakePermanent, type HostDto, type InputOf, type JobDto } from '../../../engine/api/contract'
import { useApi } from '../../api/api-client'
import { refreshHostTree, useHosts, useJobs } from '../../api/queries'
import { queryKeys } from '../../api/query-keys'
import { changesRuns, permanentRequestOf, type PermanentJobRequest } from './run-model'

/** While a VM runs from a backup its state can change on the host (paused, stalled): look again now and then. */
const RUNS_POLL_MS = 30_000

/**
 * The runs on every KVM/libvirt host, asked of the hosts themselves (runs.list), so they survive a reload of the app
 * and show runs started by the CLI too. A host that cannot be asked shows no runs and does not hide the others.
 */
export function useRunsEverywhere() {
  const api = useApi()
  const hosts = useHosts()
  const kvm = useMemo(() => (hosts.data ?? []).filter((h) => h.kind === 'linux'), [hosts.data])
  const results = useQueries({
    queries: kvm.map((host) => ({
      queryKey: queryKeys.runsOn(host.id),
      queryFn: () => api.invoke(runsList, { host: host.id }),
      retry: false,
      refetchInterval: (q: { state: { data?: readonly { permanent: boolean }[] } }) => ((q.state.data ?? []).some((r) => !r.permanent) ? RUNS_POLL_MS : false),
    })),
  })
  return kvm.map((host: HostDto, i) => ({ host, runs: results[i]?.data, error: results[i]?.error ?? undefined }))
}

/**
 * Asks the hosts again when a run starts serving, ends, or is made permanent: its runs, and its tree of VMs (a run
 * adds, removes or changes a VM there, and the tree must not keep showing a discarded VM until its next regular look).
 */
export function useRunsLiveUpdates(): void {
  const api = useApi()
  const client = useQueryClient()
  useEffect(() => {
    const seen = new Map<string, JobDto>()
    return api.subscribe('job.updated', (job) => {
      const before = seen.get(job.id)
      seen.set(job.id, job)
      if (!changesRuns(before, job)) return
      void client.invalidateQueries({ queryKey: job.hostId !== undefined ? queryKeys.runsOn(job.hostId) : queryKeys.runs })
      if (job.hostId !== undefined) refreshHostTree(api, client, job.hostId)
    })
  }, [api, client])
}

/**
 * Which run each active make-permanent job copies. The job list does not say (only its title does, in words), so the
 * request the job keeps for retry is read once per job: that is what ties a job to its run after a reload.
 */
export function usePermanentRequests(started: readonly PermanentJobRequest[]): PermanentJobRequest[] {
  const api = useApi()
  const jobs = useJobs()
  const unknown = (jobs.data ?? []).filter((j) => j.kind === 'runs.makePermanent' && !started.some((s) => s.jobId === j.id))
  const details = useQueries({
    queries: unknown.map((j) => ({ queryKey: queryKeys.job(j.id), queryFn: () => api.invoke(jobsGet, { jobId: j.id }), staleTime: Infinity, retry: false })),
  })
  const read = details.flatMap((d, i) => {
    const job = unknown[i]
    const request = job !== undefined && d.data !== undefined ? permanentRequestOf(job.id, d.data.retry) : undefined
    return request === undefined ? [] : [request]
  })
  return [...started, ...read]
}

export function useRunFromBackup() {
  const api = useApi()
  return useMutation({ mutationFn: (input: InputOf<typeof pointsRun>) => api.invoke(pointsRun, input) })
}

export function useMakePermanent() {
  const api = useApi()
  return useMutation({ mutationFn: (input: InputOf<typeof runsMakePermanent>) => api.invoke(runsMakePermanent, input) })
}

export function useDiscardRun() {
  const api = useApi()
  const client = useQueryClient()
  return useMutation({
    mutationFn: (input: InputOf<typeof runsDiscard>) => api.invoke(runsDiscard, input),
    onSettled: (_data, _error, input) => {
      void client.invalidateQueries({ queryKey: queryKeys.runsOn(input.host) })
      refreshHostTree(api, client, input.host)
    },
  })
}
