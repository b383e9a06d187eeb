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
  let result: JobDto | undefined
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
  await new Promise<void>((resolve) => {
    const off = engine.events.on('job.updated', (job) => {
      if (job.id !== jobId) return
      if (!io.json) show(job)
      if (finished.has(job.state)) {
        result = job
        off()
        resolve()
      }
    })
    const onAbort = () => void engine.jobs.cancel(jobId)
    // A SIGTERM that came while the job was being started has already fired its event: cancel now, not never.
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
    // The job may have ended before we subscribed.
    void engine.jobs.get(jobId).then((record) => {
      const job = toJobDto(record)
      if (finished.has(job.state)) {
        result = job
        off()
        resolve()
      }
    })
  })
  if (tty && !io.json) process.stderr.write('\n')
  return result ?? toJobDto(await engine.jobs.get(jobId))
}
