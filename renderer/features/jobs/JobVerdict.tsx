import type { JobDto } from '../../../engine/api/contract'
import { useJobDetail } from '../../api/queries'
import { useT } from '../../i18n/i18n'
import { jobVerdict, kindsWithVerdict } from './job-verdict'

/** The verdict of a finished health check (or of a plan run's check), so "succeeded" never hides "did not boot". */
export function JobVerdict({ job }: { readonly job: JobDto }) {
  const t = useT()
  const wanted = job.state === 'succeeded' && kindsWithVerdict.has(job.kind)
  const detail = useJobDetail(job.id, wanted, false)
  const v = wanted && detail.data ? jobVerdict(job.kind, detail.data.result) : undefined
  if (v === undefined) return null
  const ok = v.verdict === 'booted'
  const text =
    v.kind === 'check'
      ? t(ok ? 'check.booted' : 'check.failed', { reason: v.reason })
      : t(ok ? 'plans.check.booted' : v.verdict === 'failed' ? 'plans.check.failed' : 'plans.check.error', { summary: v.summary })
  return (
    <p className={`job-verdict ${ok ? 'is-ok' : 'is-bad'}`} role="status">
      {text}
    </p>
  )
}
