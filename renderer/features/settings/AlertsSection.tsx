import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useId, useState } from 'react'
import { notifyEventKinds, notifyRemove, notifySettings, notifyTest, notifyTrustCertificate, notifyUpdate, type InputOf, type NotifyTestResult } from '../../../engine/api/contract'
import { useApi } from '../../api/api-client'
import { queryKeys } from '../../api/query-keys'
import { Alert, Field } from '../../components/bits'
import { Button } from '../../components/Button'
import { errorText, useFormat, useT } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'
import { AddAlertChannel } from './AddAlertChannel'
import { eventKey, toggleEvent } from './alerts-model'

/** Settings → Alerts: channels, "Send test" with what happened per channel, the events that alert, failed deliveries. */
export function AlertsSection() {
  const t = useT()
  const fmt = useFormat()
  const id = useId()
  const api = useApi()
  const client = useQueryClient()
  const toast = useUi((s) => s.toast)
  const language = useUi((s) => s.language)
  const settings = useQuery({ queryKey: queryKeys.notify, queryFn: () => api.invoke(notifySettings, {}) })
  const [adding, setAdding] = useState<'email' | 'webhook' | undefined>(undefined)
  const [results, setResults] = useState<readonly NotifyTestResult[] | undefined>(undefined)
  const refresh = () => void client.invalidateQueries({ queryKey: queryKeys.notify })
  const update = useMutation({
    mutationFn: (patch: InputOf<typeof notifyUpdate>) => api.invoke(notifyUpdate, patch),
    onSuccess: (value) => client.setQueryData(queryKeys.notify, value),
    onError: (e) => toast('error', errorText(t, e)),
  })
  const remove = useMutation({
    mutationFn: (channel: string) => api.invoke(notifyRemove, { channel }),
    onSuccess: ({ removed }) => {
      toast('success', t('settings.alerts.removed', { name: removed.name }))
      setResults((r) => r?.filter((x) => x.channelId !== removed.id))
      refresh()
    },
    onError: (e) => toast('error', errorText(t, e)),
  })
  const test = useMutation({
    mutationFn: () => api.invoke(notifyTest, {}),
    onSuccess: (value) => {
      setResults(value.results)
      refresh()
    },
    onError: (e) => toast('error', errorText(t, e)),
  })
  const trust = useMutation({
    mutationFn: (input: { channel: string; fingerprint: string }) => api.invoke(notifyTrustCertificate, input),
    onSuccess: (channel) => {
      toast('success', t('settings.alerts.trusted', { name: channel.name }))
      setResults((r) => r?.filter((x) => x.channelId !== channel.id))
      refresh()
    },
    onError: (e) => toast('error', errorText(t, e)),
  })
  const data = settings.data
  const number = (text: string, min: number, max: number) => (/^\d+$/.test(text) && Number(text) >= min && Number(text) <= max ? Number(text) : undefined)
  return (
    <div className="card" aria-labelledby={`${id}-title`}>
      <h2 className="card-title" id={`${id}-title`}>
        {t('settings.alerts')}
      </h2>
      <p className="muted">{t('settings.alerts.intro', { language: language === 'de' ? 'Deutsch' : 'English' })}</p>
      {settings.isError && <Alert>{errorText(t, settings.error)}</Alert>}
      {data && data.channels.length === 0 && <Alert tone="warning">{t('settings.alerts.none')}</Alert>}
      {data && data.channels.length > 0 && (
        <table className="table">
          <tbody>
            {data.channels.map((c) => {
              const r = results?.find((x) => x.channelId === c.id)
              return (
                <tr key={c.id}>
                  <td className="truncate">{c.name}</td>
                  <td>
                    <code>{c.summary}</code>
                    {r && (
                      <p role="status">
                        <span className={r.ok ? 'badge' : 'badge badge-warning'}>{t(r.ok ? 'settings.alerts.testSent' : 'settings.alerts.testFailed')}</span> {r.attempts > 1 ? `${t('settings.alerts.tries', { count: r.attempts })} · ` : ''}
                        {r.message}
                      </p>
                    )}
                    {r?.certificate && (
                      <Alert
                        tone="warning"
                        action={
                          <Button size="sm" busy={trust.isPending} onClick={() => r.certificate && trust.mutate({ channel: c.id, fingerprint: r.certificate.fingerprint })}>
                            {t('settings.alerts.trust')}
                          </Button>
                        }
                      >
                        {t('settings.alerts.certificate', { subject: r.certificate.subject, fingerprint: r.certificate.fingerprint })}
                      </Alert>
                    )}
                  </td>
                  <td className="actions">
                    <Button size="sm" busy={remove.isPending && remove.variables === c.id} onClick={() => remove.mutate(c.id)}>
                      {t('settings.alerts.remove')}
                    </Button>
                  </td>
                </tr>
              )
            })}
          </tbody>
        </table>
      )}
      <div className="panel-actions settings-actions">
        <Button onClick={() => setAdding('email')} disabled={adding !== undefined}>
          {t('settings.alerts.addEmail')}
        </Button>
        <Button onClick={() => setAdding('webhook')} disabled={adding !== undefined}>
          {t('settings.alerts.addWebhook')}
        </Button>
        <Button variant="primary" busy={test.isPending} disabled={!data || data.channels.length === 0} onClick={() => test.mutate()}>
          {t('settings.alerts.sendTest')}
        </Button>
      </div>
      {adding !== undefined && <AddAlertChannel key={adding} type={adding} onDone={() => setAdding(undefined)} />}
      <p className="muted">{t('settings.alerts.secretsNote')}</p>
      {data && (
        <fieldset className="retention">
          <legend>{t('settings.alerts.events')}</legend>
          <ul className="plain-list">
            {notifyEventKinds.map((k) => (
              <li key={k}>
                <label>
                  <input type="checkbox" checked={data.events.includes(k)} onChange={(e) => update.mutate({ events: toggleEvent(notifyEventKinds, data.events, k, e.target.checked) })} /> {t(eventKey(k))}
                </label>
              </li>
            ))}
          </ul>
          <div className="form-grid">
            <Field label={t('settings.alerts.staleHours')} htmlFor={`${id}-stale`}>
              <input
                id={`${id}-stale`}
                inputMode="numeric"
                defaultValue={String(data.staleHours)}
                onBlur={(e) => {
                  const n = number(e.target.value, 1, 24 * 90)
                  if (n !== undefined && n !== data.staleHours) update.mutate({ staleHours: n })
                }}
              />
            </Field>
            <Field label={t('settings.alerts.summaryHour')} htmlFor={`${id}-hour`}>
              <input
                id={`${id}-hour`}
                inputMode="numeric"
                defaultValue={String(data.summaryHour)}
                onBlur={(e) => {
                  const n = number(e.target.value, 0, 23)
                  if (n !== undefined && n !== data.summaryHour) update.mutate({ summaryHour: n })
                }}
              />
            </Field>
          </div>
        </fieldset>
      )}
      {data && data.recentFailures.length > 0 && (
        <fieldset className="retention">
          <legend>{t('settings.alerts.failures')}</legend>
          <ul className="plain-list">
            {data.recentFailures.slice(0, 5).map((f) => (
              <li key={`${f.at}-${f.channel}`}>
                <span className="muted">{fmt.shortDate(f.at)}</span> {f.channel}: {f.message}
              </li>
            ))}
          </ul>
        </fieldset>
      )}
    </div>
  )
}
