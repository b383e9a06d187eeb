import { create } from 'zustand'

/** A job this window started for a run, followed until it ends so its outcome is said in words (a toast). */
export interface WatchedRunJob {
  readonly jobId: string
  readonly kind: 'run' | 'permanent'
  readonly vm: string
  readonly hostId: string
  readonly hostName: string
}

interface RunJobsState {
  readonly watched: readonly WatchedRunJob[]
  watch: (job: WatchedRunJob) => void
  forget: (jobId: string) => void
}

/** UI state only: which run jobs this window started. The runs themselves come from the hosts (runs.list). */
export const useRunJobs = create<RunJobsState>()((set) => ({
  watched: [],
  watch: (job) => set((s) => ({ watched: [...s.watched.filter((w) => w.jobId !== job.jobId), job] })),
  forget: (jobId) => set((s) => ({ watched: s.watched.filter((w) => w.jobId !== jobId) })),
}))
