import { useQuery } from '@tanstack/react-query'
import { useMemo, useState } from 'react'
import { plansList, type HostInventoryDto } from '../../../engine/api/contract'
import { useApi } from '../../api/api-client'
import { queryKeys } from '../../api/query-keys'
import type { WizardStart } from '../../stores/ui-store'
import { draftFromPlan, newDraft, type Draft } from './wizard-model'

/**
 * The plan being edited: a new one for the VMs the wizard was opened on, or a saved plan (once the plans have loaded).
 * Undefined until that source is there.
 */
export function useWizardDraft(start: WizardStart, hosts: readonly HostInventoryDto[]) {
  const api = useApi()
  const plans = useQuery({ queryKey: queryKeys.plans, queryFn: () => api.invoke(plansList, {}), enabled: 'planId' in start })
  const names = (host: string, vm: string) => {
    const h = hosts.find((x) => x.hostId === host)
    return { hostName: h?.name ?? host, vmName: h?.vms.find((v) => v.id === vm)?.name ?? vm }
  }
  const initial = useMemo((): Draft | undefined => {
    if ('targets' in start) return newDraft(start.targets.map((x) => ({ ...x, ...names(x.host, x.vm) })))
    const view = plans.data?.find((p) => p.plan.id === start.planId)
    return view ? draftFromPlan(view, names) : undefined
    // names() reads the inventory; the draft is made once, when its source is there.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [start, plans.data])
  const [edited, setDraft] = useState<Draft | undefined>(undefined)
  const draft = edited ?? initial
  const update = (change: (d: Draft) => Draft) => {
    if (draft) setDraft(change(draft))
  }
  return { draft, update }
}
