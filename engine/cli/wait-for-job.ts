import type { JobDto } from '../api/contract-jobs'
import type { Engine } from '../engine'
import { formatBytes, type CliIo } from './cli-io'
import { toJobDto } from '../jobs/job-record'

/** The states a job does not leave. */
export const finished: ReadonlySet<JobDto['state']> = new Set<JobDto['state']>(['succeeded', 'failed', 'cancelled'])

/**
 * Follows a job started through the contract until it ends, showing progress on stderr (one updating line on
 * a terminal, a line every few seconds otherwise). Ctrl+C cancels the job and waits for its cleanup.
 */
export async function waitForJob(engine: Engine, jobId: string, io: CliIo, signal: AbortSignal): Promise<JobDto> {
  const tty = process.stderr.isTTY
  let lastLine = 0
  const show = (job: JobDto) => {
    const p = job.progress
    const pct = p.bytesTotal ? ` ${Math.floor((100 * p.bytesDone) / Math.max(1, p.bytesTotal))}%` : ''
    const figures = [
      p.bytesTotal !== undefined ? `${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)}` : p.bytesDone > 0 ? formatBytes(p.bytesDone) : '',
      p.rate !== undefined ? `${formatBytes(p.rate)}/s` : '',
      p.etaSeconds !== undefined ? `${p.etaSeconds} s left` : '',
    ].filter((x) => x !== '')
    const line = `${p.phase}${pct}${figures.length ? ` · ${figures.join(' · ')}` : ''}`
    if (tty) process.stderr.write(`\r\x1b[2K${line}`)
    else if (Date.now() - lastLine > 5000 || finished.has(job.state)) {
      io.err(line)
      lastLine = Date.now()
    }
  }
  const result = await watchJob(engine, jobId, signal, (job) => {
    if (!io.json) show(job)
  })
  if (tty && !io.json) process.stderr.write('\n')
  return result
}

/**
 * Resolves with the job once it has ended, telling `onUpdate` each state it is seen in (the current one first, as the
 * job may have moved on or ended before we subscribed). An abort of `signal` — Ctrl+C, SIGTERM, even one that came
 * while the job was being started — cancels the job, and this still waits for its cleanup to end.
 */
export async function watchJob(engine: Pick<Engine, 'events' | 'jobs'>, jobId: string, signal: AbortSignal, onUpdate: (job: JobDto) => void = () => undefined): Promise<JobDto> {
  return await new Promise<JobDto>((resolve, reject) => {
    let ended = false
    const settle = (job: JobDto) => {
      if (ended) return
      ended = true
      off()
      signal.removeEventListener('abort', onAbort)
      resolve(job)
    }
    const off = engine.events.on('job.updated', (job) => {
      if (job.id !== jobId || ended) return
      onUpdate(job)
      if (finished.has(job.state)) settle(job)
    })
    const onAbort = () => void engine.jobs.cancel(jobId)
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
    engine.jobs.get(jobId).then(
      (record) => {
        if (ended) return
        const job = toJobDto(record)
        onUpdate(job)
        if (finished.has(job.state)) settle(job)
      },
      (error: unknown) => {
        if (ended) return
        ended = true
        off()
        signal.removeEventListener('abort', onAbort)
        reject(error instanceof Error ? error : new Error(String(error)))
      },
    )
  })
}
