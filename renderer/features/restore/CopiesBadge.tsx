import { useQuery } from '@tanstack/react-query'
import { copiesSummary } from '../../../engine/api/contract-copies'
import { useApi } from '../../api/api-client'
import { queryKeys } from '../../api/query-keys'
import { useT } from '../../i18n/i18n'
import { copiesBadge } from './copies-model'

/** "2 copies · 1 off this machine" for a VM's newest restore point; the places are in its tooltip. */
export function CopiesBadge({ vmId }: { readonly vmId: string }) {
  const t = useT()
  const api = useApi()
  const summary = useQuery({ queryKey: queryKeys.copies, queryFn: () => api.invoke(copiesSummary, {}) })
  const badge = copiesBadge(summary.data?.find((r) => r.vmId === vmId))
  if (badge === undefined) return null
  const title = [t('copies.places'), ...badge.places, ...(badge.weak ? [t('copies.hint')] : [])].join('\n')
  return (
    <span className={`badge copies-badge${badge.weak ? ' is-weak' : ''}`} title={title}>
      {t(badge.key, badge.params)}
    </span>
  )
}
