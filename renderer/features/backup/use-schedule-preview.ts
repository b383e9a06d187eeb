import { useQuery } from '@tanstack/react-query'
import { plansPreview, type Schedule } from '../../../engine/api/contract'
import { useApi } from '../../api/api-client'
import { queryKeys } from '../../api/query-keys'
import type { Draft } from './wizard-model'

/** The next few run times of a schedule, as the engine's scheduler computes them; none for undefined. */
export function usePreviewOf(schedule: Schedule | undefined): readonly string[] | undefined {
  const api = useApi()
  const preview = useQuery({
    queryKey: queryKeys.schedulePreview(schedule),
    queryFn: () => api.invoke(plansPreview, { schedule: schedule ?? { kind: 'manual' }, count: 3 }),
    enabled: schedule !== undefined,
    retry: false,
  })
  return preview.data?.nextRuns
}

/** The next run times of the draft's backup schedule; none for "now". */
export function useSchedulePreview(draft: Draft | undefined): readonly string[] | undefined {
  return usePreviewOf(draft?.when === 'schedule' ? draft.schedule : undefined)
}
