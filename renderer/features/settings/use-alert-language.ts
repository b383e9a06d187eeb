import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useEffect } from 'react'
import { notifySettings, notifyUpdate } from '../../../engine/api/contract'
import { useApi } from '../../api/api-client'
import { queryKeys } from '../../api/query-keys'
import { useUi } from '../../stores/ui-store'

/**
 * Alerts go out in the app's language, but the engine writes them (also from `run-due` with no window open): it is
 * told whenever the admin switches, from the top bar or from Settings. Mounted once, by the app.
 */
export function useAlertLanguage(): void {
  const api = useApi()
  const client = useQueryClient()
  const language = useUi((s) => s.language)
  const settings = useQuery({ queryKey: queryKeys.notify, queryFn: () => api.invoke(notifySettings, {}) })
  const { mutate, isPending } = useMutation({
    mutationFn: (value: 'en' | 'de') => api.invoke(notifyUpdate, { language: value }),
    onSuccess: (value) => client.setQueryData(queryKeys.notify, value),
  })
  const engineLanguage = settings.data?.language
  useEffect(() => {
    if (engineLanguage !== undefined && engineLanguage !== language && !isPending) mutate(language)
  }, [engineLanguage, language, isPending, mutate])
}
