/**
 * What a long operation reports while it works. Producers (ingest, export, disk reads, restores) call a
 * ProgressSink as often as they like; the job runner turns the stream into rate and ETA and throttles what
 * it forwards to the UI, so producers need not throttle themselves.
 */
export interface ProgressUpdate {
  /** Short machine-readable phase name, e.g. 'snapshot', 'reading', 'writing', 'verifying', 'cleanup'. */
  readonly phase: string
  /** Bytes processed so far in this phase (monotonic within a phase). */
  readonly bytesDone: number
  /** Total bytes this phase will process, when known. */
  readonly bytesTotal?: number
  /** Bytes that were new to the repository (after dedup and zero-skipping), when the producer knows. */
  readonly bytesNew?: number
  /** Optional human detail for the log ("disk 2 of 3: xvda"). Never contains secrets. */
  readonly detail?: string
  /**
   * Which try this is, from 1, in a phase that tries again (a served run's `reconnecting`): the number for programs,
   * so they need not read it out of `detail`, whose wording may change.
   */
  readonly attempt?: number
  /** The VM a served run's job is about (points.run while it serves or reconnects), by name on its host. */
  readonly vm?: string
}

export type ProgressSink = (update: ProgressUpdate) => void

export const ignoreProgress: ProgressSink = () => undefined
