import { useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { plansRun, plansSave, repoInit } from '../../../engine/api/contract'
import { useApi } from '../../api/api-client'
import { queryKeys } from '../../api/query-keys'
import { errorText, useT } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'
import { toPlanInput, type Draft } from './wizard-model'

/**
 * Saves the plan (creating a new repository first when asked), runs it when asked or when it is a one-off,
 * then shows the plans and closes the wizard. On failure the wizard stays open with the error.
 */
export function useWizardFinish() {
  const t = useT()
  const api = useApi()
  const client = useQueryClient()
  const close = useUi((s) => s.openWizard)
  const toast = useUi((s) => s.toast)
  const setJobsOpen = useUi((s) => s.setJobsOpen)
  const select = useUi((s) => s.select)
  const [error, setError] = useState<string | undefined>(undefined)
  const [busy, setBusy] = useState(false)

  const finish = async (draft: Draft, runNow: boolean) => {
    setBusy(true)
    setError(undefined)
    try {
      if (draft.repo.kind === 'other' && draft.repo.create) {
        const passphrase = draft.repo.passphrase
        await api.invoke(repoInit, { repo: draft.repo.location.trim(), ...(passphrase !== '' ? { passphrase } : {}) })
      }
      const saved = await api.invoke(plansSave, toPlanInput(draft))
      void client.invalidateQueries({ queryKey: queryKeys.plans })
      if (runNow || draft.when === 'now') {
        await api.invoke(plansRun, { id: saved.plan.id })
        setJobsOpen(true)
        toast('info', t('wizard.started', { name: saved.plan.name }))
      } else toast('success', t('wizard.saved', { name: saved.plan.name }))
      select({ kind: 'view', view: 'plans' })
      close(null)
    } catch (err) {
      setError(errorText(t, err))
    } finally {
      setBusy(false)
    }
  }
  return { finish, error, busy }
}
