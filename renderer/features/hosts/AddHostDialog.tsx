import { useId, useRef, useState, type ChangeEvent, type SyntheticEvent } from 'react'
import { ApiError, type HostKindDto } from '../../../engine/api/contract'
import { useAddHost, useHosts } from '../../api/queries'
import { Alert, Field } from '../../components/bits'
import { Button } from '../../components/Button'
import { Dialog } from '../../components/Dialog'
import { IconKey, IconShield } from '../../components/icons'
import { errorText, useT } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'
import { KindIcon } from '../inventory/HostTree'
import { defaultUser, emptyForm, fingerprintCommand, MAX_KEY_BYTES, portHint, toInput, validate, type AddHostForm, type FormErrors } from './add-host-form'

interface Presented {
  readonly fingerprint: string
  readonly keyType: string
  readonly address: string
}

const kinds: readonly HostKindDto[] = ['linux', 'hyperv', 'xenserver']

/**
 * Add a host in two steps: the details, then — before any credential leaves this machine — the host's key or
 * certificate fingerprint for the admin to compare with the host's console. Nothing is saved until the
 * connection with the confirmed identity and the credentials has worked.
 */
export function AddHostDialog() {
  const t = useT()
  const id = useId()
  const setOpen = useUi((s) => s.setAddHostOpen)
  const close = () => setOpen(false)
  const select = useUi((s) => s.select)
  const toast = useUi((s) => s.toast)
  const hosts = useHosts()
  const addHost = useAddHost()
  const [form, setForm] = useState<AddHostForm>(() => emptyForm())
  const [errors, setErrors] = useState<FormErrors>({})
  const [serverError, setServerError] = useState<string | undefined>(undefined)
  const [presented, setPresented] = useState<Presented | undefined>(undefined)
  const [keyFileName, setKeyFileName] = useState<string | undefined>(undefined)
  const fileInput = useRef<HTMLInputElement>(null)
  const busy = addHost.isPending
  const takenNames = (hosts.data ?? []).map((h) => h.name)

  const update = <K extends keyof AddHostForm>(key: K, value: AddHostForm[K]) => {
    setForm((f) => ({ ...f, [key]: value }))
    if (key in errors) setErrors((e) => ({ ...e, [key]: undefined }))
  }

  const chooseKind = (kind: HostKindDto) => {
    setForm((f) => ({ ...f, kind, user: f.user === '' || f.user === defaultUser[f.kind] ? defaultUser[kind] : f.user }))
  }

  const submit = (acceptFingerprint?: string) => {
    setServerError(undefined)
    addHost.mutate(toInput(form, acceptFingerprint), {
      onSuccess: (host) => {
        toast('success', t('add.added', { name: host.name }))
        select({ kind: 'host', hostId: host.id })
        close()
      },
      onError: (err) => {
        if (err instanceof ApiError && err.code === 'HOST_KEY_UNKNOWN' && acceptFingerprint === undefined) {
          setPresented({ fingerprint: String(err.params.fingerprint ?? ''), keyType: String(err.params.keyType ?? ''), address: form.address.trim() })
          return
        }
        if (err instanceof ApiError && err.code === 'HOST_KEY_MISMATCH' && acceptFingerprint !== undefined) {
          setPresented(undefined)
          setServerError(t('add.verify.mismatch'))
          return
        }
        setPresented(undefined)
        if (err instanceof ApiError && err.code === 'HOST_NAME_TAKEN') setErrors((e) => ({ ...e, name: 'validation.name.taken' }))
        setServerError(errorText(t, err))
      },
    })
  }

  const onSubmit = (event: SyntheticEvent) => {
    event.preventDefault()
    const found = validate(form, takenNames)
    setErrors(found)
    const firstBad = (['name', 'address', 'user', 'password', 'privateKey'] as const).find((k) => found[k] !== undefined)
    if (firstBad) {
      document.getElementById(`${id}-${firstBad}`)?.focus()
      return
    }
    submit()
  }

  const onKeyFile = (event: ChangeEvent<HTMLInputElement>) => {
    const file = event.target.files?.[0]
    event.target.value = ''
    if (!file) return
    if (file.size > MAX_KEY_BYTES) {
      setErrors((e) => ({ ...e, privateKey: 'validation.key.tooBig' }))
      return
    }
    void file.text().then((text) => {
      update('privateKey', text)
      setKeyFileName(file.name)
    })
  }

  if (presented) {
    const isCert = presented.keyType === 'tls-certificate'
    const type = t(isCert ? 'add.verify.certificate' : 'add.verify.sshKey')
    return (
      <Dialog
        title={t('add.verify.title', { address: presented.address })}
        closeLabel={t('common.close')}
        size="lg"
        locked={busy}
        onClose={close}
        footer={
          <>
            <Button onClick={() => setPresented(undefined)} disabled={busy}>
              {t('add.back')}
            </Button>
            <Button variant="primary" icon={<IconShield />} busy={busy} onClick={() => submit(presented.fingerprint)} data-autofocus>
              {busy ? t('add.saving') : t('add.verify.trust')}
            </Button>
          </>
        }
      >
        <p>{t('add.verify.intro')}</p>
        <p className="verify-label">{t('add.verify.presented', { type })}</p>
        <div className="fingerprint-box" aria-label={type}>
          <span className="fingerprint-type">{isCert ? 'X.509 SHA-256' : presented.keyType}</span>
          <code className="fingerprint-value">{presented.fingerprint}</code>
        </div>
        <p className="verify-label">{t('add.verify.howto')}</p>
        <pre className="command">{fingerprintCommand(form.kind, presented.keyType)}</pre>
        <Alert tone="warning">{t('add.verify.warning')}</Alert>
      </Dialog>
    )
  }

  const fieldId = (k: string) => `${id}-${k}`
  const describedBy = (k: keyof FormErrors) => (errors[k] ? `${fieldId(k)}-error` : undefined)
  const usesPassword = form.authType === 'password' || form.kind === 'xenserver'

  return (
    <Dialog
      title={t('add.title')}
      closeLabel={t('common.close')}
      locked={busy}
      onClose={close}
      size="lg"
      footer={
        <>
          <Button onClick={close} disabled={busy}>
            {t('add.cancel')}
          </Button>
          <Button variant="primary" type="submit" form={`${id}-form`} busy={busy}>
            {busy ? t('add.connecting', { address: form.address.trim() }) : t('add.submit')}
          </Button>
        </>
      }
    >
      <form id={`${id}-form`} onSubmit={onSubmit} noValidate>
        {serverError && <Alert tone="error">{serverError}</Alert>}
        <fieldset className="kind-picker" disabled={busy}>
          <legend>{t('add.kind')}</legend>
          <div className="kind-options" role="radiogroup" aria-label={t('add.kind')}>
            {kinds.map((k) => (
              <label key={k} className={`kind-option${form.kind === k ? ' is-checked' : ''}`}>
                <input type="radio" name={`${id}-kind`} value={k} checked={form.kind === k} onChange={() => chooseKind(k)} />
                <span className="kind-option-icon">
                  <KindIcon kind={k} size={20} />
                </span>
                <span className="kind-option-text">
                  <span className="kind-option-title">{t(`kind.${k}`)}</span>
                  <span className="kind-option-detail">{t(`kind.${k}.detail`)}</span>
                </span>
              </label>
            ))}
          </div>
        </fieldset>

        <div className="form-grid">
          <Field label={t('add.name')} htmlFor={fieldId('name')} error={errors.name && t(errors.name)}>
            <input
              id={fieldId('name')}
              value={form.name}
              onChange={(e) => update('name', e.target.value)}
              placeholder={t('add.name.placeholder')}
              autoComplete="off"
              maxLength={120}
              disabled={busy}
              aria-invalid={errors.name !== undefined}
              aria-describedby={describedBy('name')}
              data-autofocus
            />
          </Field>
          <Field label={t('add.address')} htmlFor={fieldId('address')} error={errors.address && t(errors.address)} hint={t('add.address.hint', { port: portHint(form) })}>
            <input
              id={fieldId('address')}
              value={form.address}
              onChange={(e) => update('address', e.target.value)}
              placeholder={t('add.address.placeholder')}
              autoComplete="off"
              spellCheck={false}
              disabled={busy}
              aria-invalid={errors.address !== undefined}
              aria-describedby={describedBy('address') ?? `${fieldId('address')}-hint`}
            />
          </Field>
          <Field label={t('add.user')} htmlFor={fieldId('user')} error={errors.user && t(errors.user)}>
            <input
              id={fieldId('user')}
              value={form.user}
              onChange={(e) => update('user', e.target.value)}
              autoComplete="username"
              spellCheck={false}
              disabled={busy}
              aria-invalid={errors.user !== undefined}
              aria-describedby={describedBy('user')}
            />
          </Field>
          {form.kind !== 'xenserver' ? (
            <fieldset className="segmented" disabled={busy}>
              <legend>{t('add.auth')}</legend>
              {(['password', 'key'] as const).map((a) => (
                <label key={a} className={form.authType === a ? 'is-checked' : ''}>
                  <input type="radio" name={`${id}-auth`} checked={form.authType === a} onChange={() => update('authType', a)} />
                  {t(a === 'password' ? 'add.auth.password' : 'add.auth.key')}
                </label>
              ))}
            </fieldset>
          ) : (
            <p className="field-hint form-note">{t('add.xenserverPasswordOnly')}</p>
          )}
        </div>

        {usesPassword ? (
          <Field label={t('add.password')} htmlFor={fieldId('password')} error={errors.password && t(errors.password)}>
            <input
              id={fieldId('password')}
              type="password"
              value={form.password}
              onChange={(e) => update('password', e.target.value)}
              autoComplete="current-password"
              disabled={busy}
              aria-invalid={errors.password !== undefined}
              aria-describedby={describedBy('password')}
            />
          </Field>
        ) : (
          <>
            <Field label={t('add.key')} htmlFor={fieldId('privateKey')} error={errors.privateKey && t(errors.privateKey)} hint={keyFileName && t('add.key.loaded', { file: keyFileName })}>
              <textarea
                id={fieldId('privateKey')}
                className="mono"
                rows={4}
                value={form.privateKey}
                onChange={(e) => {
                  update('privateKey', e.target.value)
                  setKeyFileName(undefined)
                }}
                placeholder={t('add.key.placeholder')}
                spellCheck={false}
                disabled={busy}
                aria-invalid={errors.privateKey !== undefined}
                aria-describedby={describedBy('privateKey')}
              />
            </Field>
            <div className="key-row">
              <Button size="sm" icon={<IconKey />} onClick={() => fileInput.current?.click()} disabled={busy}>
                {t('add.key.load')}
              </Button>
              <input ref={fileInput} type="file" className="visually-hidden" tabIndex={-1} aria-hidden="true" onChange={onKeyFile} data-testid="key-file" />
            </div>
            <Field label={t('add.key.passphrase')} htmlFor={fieldId('passphrase')}>
              <input id={fieldId('passphrase')} type="password" value={form.passphrase} onChange={(e) => update('passphrase', e.target.value)} autoComplete="off" disabled={busy} />
            </Field>
          </>
        )}
      </form>
    </Dialog>
  )
}
