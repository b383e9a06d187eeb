import { useMutation, useQueryClient } from '@tanstack/react-query'
import { useId, useState } from 'react'
import { hostsUpdateCredentials } from '../../../engine/api/contract'
import { useApi } from '../../api/api-client'
import { useHosts } from '../../api/queries'
import { queryKeys } from '../../api/query-keys'
import { Alert, Field } from '../../components/bits'
import { Button } from '../../components/Button'
import { Dialog } from '../../components/Dialog'
import { errorText, useT } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'

/** New credentials for a saved host; they are checked against the host before they replace the old ones. */
export function CredentialsDialog({ hostId, onClose }: { readonly hostId: string; readonly onClose: () => void }) {
  const t = useT()
  const id = useId()
  const api = useApi()
  const client = useQueryClient()
  const toast = useUi((s) => s.toast)
  const host = useHosts().data?.find((h) => h.id === hostId)
  const [user, setUser] = useState<string | undefined>(undefined)
  const [authType, setAuthType] = useState<'password' | 'key'>(host?.authType ?? 'password')
  const [secret, setSecret] = useState('')
  const save = useMutation({
    mutationFn: () =>
      api.invoke(hostsUpdateCredentials, {
        hostId,
        ...(user !== undefined && user.trim() !== '' ? { user: user.trim() } : {}),
        auth: authType === 'password' || host?.kind === 'xenserver' ? { type: 'password', password: secret } : { type: 'key', privateKey: secret.trim() + '\n' },
      }),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: queryKeys.hosts })
      toast('success', t('settings.credentials.saved', { name: host?.name ?? '' }))
      onClose()
    },
  })
  return (
    <Dialog
      title={t('settings.credentials.title', { name: host?.name ?? '' })}
      closeLabel={t('common.close')}
      locked={save.isPending}
      onClose={onClose}
      footer={
        <>
          <Button onClick={onClose} disabled={save.isPending}>
            {t('common.cancel')}
          </Button>
          <Button variant="primary" busy={save.isPending} disabled={secret === ''} onClick={() => save.mutate()}>
            {t('settings.credentials.check')}
          </Button>
        </>
      }
    >
      {save.isError && <Alert>{errorText(t, save.error)}</Alert>}
      <p>{t('settings.credentials.intro')}</p>
      <Field label={t('add.user')} htmlFor={`${id}-user`}>
        <input id={`${id}-user`} value={user ?? host?.user ?? ''} onChange={(e) => setUser(e.target.value)} autoComplete="username" data-autofocus />
      </Field>
      {host?.kind !== 'xenserver' && (
        <fieldset className="segmented">
          <legend>{t('add.auth')}</legend>
          {(['password', 'key'] as const).map((a) => (
            <label key={a} className={authType === a ? 'is-checked' : ''}>
              <input type="radio" name={`${id}-auth`} checked={authType === a} onChange={() => setAuthType(a)} />
              {t(a === 'password' ? 'add.auth.password' : 'add.auth.key')}
            </label>
          ))}
        </fieldset>
      )}
      {authType === 'password' || host?.kind === 'xenserver' ? (
        <Field label={t('add.password')} htmlFor={`${id}-secret`}>
          <input id={`${id}-secret`} type="password" value={secret} onChange={(e) => setSecret(e.target.value)} autoComplete="current-password" />
        </Field>
      ) : (
        <Field label={t('add.key')} htmlFor={`${id}-secret`}>
          <textarea id={`${id}-secret`} className="mono" rows={4} value={secret} onChange={(e) => setSecret(e.target.value)} spellCheck={false} placeholder={t('add.key.placeholder')} />
        </Field>
      )}
    </Dialog>
  )
}
