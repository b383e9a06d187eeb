import { useMutation, useQueryClient } from '@tanstack/react-query'
import { useId, useState } from 'react'
import { notifyAddEmail, notifyAddWebhook, webhookKinds, type WebhookKind } from '../../../engine/api/contract'
import { useApi } from '../../api/api-client'
import { queryKeys } from '../../api/query-keys'
import { Alert, Field } from '../../components/bits'
import { Button } from '../../components/Button'
import { errorText, useT } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'
import { emailInput, emptyEmailForm, emptyWebhookForm, tokenUse, webhookInput, webhookKindKey, type EmailForm, type WebhookForm } from './alerts-model'

/** The form for a new e-mail or webhook channel; secrets typed here go to the engine's credential store. */
export function AddAlertChannel({ type, onDone }: { readonly type: 'email' | 'webhook'; readonly onDone: () => void }) {
  const t = useT()
  const id = useId()
  const api = useApi()
  const client = useQueryClient()
  const toast = useUi((s) => s.toast)
  const [email, setEmail] = useState<EmailForm>(emptyEmailForm)
  const [hook, setHook] = useState<WebhookForm>(emptyWebhookForm)
  const [shown, setShown] = useState(false)
  const checked = type === 'email' ? emailInput(email) : webhookInput(hook)
  const errors = shown && !checked.ok ? checked.errors : {}
  const err = (field: string) => {
    const key = errors[field]
    return key !== undefined ? { error: t(key) } : {}
  }
  const add = useMutation({
    mutationFn: async () => {
      const e = emailInput(email)
      const w = webhookInput(hook)
      if (type === 'email' && e.ok) return api.invoke(notifyAddEmail, e.input)
      if (type === 'webhook' && w.ok) return api.invoke(notifyAddWebhook, w.input)
      return undefined
    },
    onSuccess: (channel) => {
      if (!channel) return
      void client.invalidateQueries({ queryKey: queryKeys.notify })
      toast('success', t('settings.alerts.added', { name: channel.name }))
      onDone()
    },
  })
  const submit = () => {
    setShown(true)
    if (checked.ok) add.mutate()
  }
  return (
    <fieldset className="retention">
      <legend>{t(type === 'email' ? 'settings.alerts.addEmail' : 'settings.alerts.addWebhook')}</legend>
      {add.isError && <Alert>{errorText(t, add.error)}</Alert>}
      {type === 'email' ? (
        <div className="form-grid">
          <Field label={t('settings.alerts.host')} htmlFor={`${id}-host`} {...err('host')}>
            <input id={`${id}-host`} value={email.host} onChange={(e) => setEmail({ ...email, host: e.target.value })} placeholder="smtp.example.com" data-autofocus />
          </Field>
          <Field label={t('settings.alerts.security')} htmlFor={`${id}-security`}>
            <select
              id={`${id}-security`}
              value={email.security}
              onChange={(e) => {
                const security = e.target.value === 'tls' ? 'tls' : 'starttls'
                setEmail({ ...email, security, port: security === 'tls' ? '465' : '587' })
              }}
            >
              <option value="starttls">{t('settings.alerts.security.starttls')}</option>
              <option value="tls">{t('settings.alerts.security.tls')}</option>
            </select>
          </Field>
          <Field label={t('settings.alerts.port')} htmlFor={`${id}-port`} {...err('port')}>
            <input id={`${id}-port`} inputMode="numeric" value={email.port} onChange={(e) => setEmail({ ...email, port: e.target.value })} />
          </Field>
          <Field label={t('settings.alerts.user')} htmlFor={`${id}-user`} {...err('user')}>
            <input id={`${id}-user`} value={email.user} onChange={(e) => setEmail({ ...email, user: e.target.value })} autoComplete="off" />
          </Field>
          <Field label={t('settings.alerts.password')} htmlFor={`${id}-password`}>
            <input id={`${id}-password`} type="password" value={email.password} onChange={(e) => setEmail({ ...email, password: e.target.value })} autoComplete="new-password" />
          </Field>
          <Field label={t('settings.alerts.from')} htmlFor={`${id}-from`} {...err('from')}>
            <input id={`${id}-from`} value={email.from} onChange={(e) => setEmail({ ...email, from: e.target.value })} placeholder="lifeboat@example.com" />
          </Field>
          <Field label={t('settings.alerts.to')} htmlFor={`${id}-to`} {...err('to')}>
            <input id={`${id}-to`} value={email.to} onChange={(e) => setEmail({ ...email, to: e.target.value })} placeholder="admin@example.com" />
          </Field>
          <Field label={t('settings.alerts.name')} htmlFor={`${id}-name`}>
            <input id={`${id}-name`} value={email.name} onChange={(e) => setEmail({ ...email, name: e.target.value })} />
          </Field>
        </div>
      ) : (
        <div className="form-grid">
          <Field label={t('settings.alerts.kind')} htmlFor={`${id}-kind`}>
            <select id={`${id}-kind`} value={hook.kind} onChange={(e) => setHook({ ...hook, kind: webhookKinds.find((k) => k === e.target.value) ?? 'json' })}>
              {webhookKinds.map((k: WebhookKind) => (
                <option key={k} value={k}>
                  {t(webhookKindKey(k))}
                </option>
              ))}
            </select>
          </Field>
          <Field label={t('settings.alerts.name')} htmlFor={`${id}-name`}>
            <input id={`${id}-name`} value={hook.name} onChange={(e) => setHook({ ...hook, name: e.target.value })} />
          </Field>
          <Field label={t('settings.alerts.url')} htmlFor={`${id}-url`} hint={t('settings.alerts.url.hint')} {...err('url')}>
            <input id={`${id}-url`} type="password" value={hook.url} onChange={(e) => setHook({ ...hook, url: e.target.value })} autoComplete="off" spellCheck={false} data-autofocus />
          </Field>
          {tokenUse(hook.kind) !== 'none' && (
            <Field label={t('settings.alerts.token')} htmlFor={`${id}-token`} {...err('token')}>
              <input id={`${id}-token`} type="password" value={hook.token} onChange={(e) => setHook({ ...hook, token: e.target.value })} autoComplete="off" />
            </Field>
          )}
        </div>
      )}
      <div className="panel-actions settings-actions">
        <Button onClick={onDone} disabled={add.isPending}>
          {t('common.cancel')}
        </Button>
        <Button variant="primary" busy={add.isPending} onClick={submit}>
          {t('settings.alerts.add')}
        </Button>
      </div>
    </fieldset>
  )
}
