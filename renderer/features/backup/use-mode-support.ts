import { useQueries } from '@tanstack/react-query'
import { useMemo } from 'react'
import { backupModes } from '../../../engine/api/contract'
import { useApi } from '../../api/api-client'
import { queryKeys } from '../../api/query-keys'
import { errorText, useT } from '../../i18n/i18n'
import type { Draft } from './wizard-model'
import type { ModeSupportDto } from './WizardSteps'

/**
 * Which backup modes each chosen VM supports on its host, by `host/vm` (undefined while any answer is missing), and
 * whether the draft's mode works for all of them. A host that cannot answer makes every mode unavailable, saying why.
 */
export function useModeSupport(draft: Draft | undefined) {
  const t = useT()
  const api = useApi()
  const modeQueries = useQueries({
    queries: (draft?.targets ?? []).map((x) => ({
      queryKey: queryKeys.backupModes(x.host, x.vm),
      queryFn: () => api.invoke(backupModes, { host: x.host, vm: x.vm }),
      staleTime: 60_000,
      retry: false,
    })),
  })
  const support = useMemo(() => {
    if (!draft || modeQueries.some((q) => q.isLoading)) return undefined
    const map = new Map<string, readonly ModeSupportDto[]>()
    draft.targets.forEach((x, i) => {
      const q = modeQueries[i]
      if (q?.data) map.set(`${x.host}/${x.vm}`, q.data)
      else if (q?.error) map.set(`${x.host}/${x.vm}`, (['cold', 'warm', 'hot'] as const).map((mode) => ({ mode, available: false, reason: errorText(t, q.error), downtime: 'none', consistency: 'crash' })))
    })
    return map
  }, [draft, modeQueries, t])
  const modeAvailable = support !== undefined && (draft?.targets ?? []).every((x) => support.get(`${x.host}/${x.vm}`)?.find((m) => m.mode === draft?.mode)?.available === true)
  return { support, modeAvailable }
}
