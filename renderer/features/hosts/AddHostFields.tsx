import { useRef, type ChangeEvent } from 'react'
import type { HostKindDto } from '../../../engine/api/contract'
import { Field } from '../../components/bits'
import { Button } from '../../components/Button'
import { IconKey } from '../../components/icons'
import { useT } from '../../i18n/i18n'
import { KindIcon } from '../inventory/HostTree'
import { portHint, type FormErrors } from './add-host-form'
import type { AddHostFormState } from './use-add-host-form'

const kinds: readonly HostKindDto[] = ['linux', 'hyperv', 'xenserver']

/** What every part of the add-host form gets: the id prefix of its elements, the form state, and whether a connection attempt runs. */
export interface AddHostFieldsProps {
  readonly id: string
  readonly state: AddHostFormState
  readonly busy: boolean
}

function fieldIds(id: string, errors: FormErrors) {
  const fieldId = (k: string) => `${id}-${k}`
  const describedBy = (k: keyof FormErrors) => (errors[k] ? `${fieldId(k)}-error` : undefined)
  return { fieldId, describedBy }
}

/** The kind of host, as cards with a radio button each. */
export function KindPicker({ id, state, busy }: AddHostFieldsProps) {
  const t = useT()
  const { form, chooseKind } = state
  return (
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
  )
}

/** Name, address, user and how to sign in. */
export function ConnectionFields({ id, state, busy }: AddHostFieldsProps) {
  const t = useT()
  const { form, errors, update } = state
  const { fieldId, describedBy } = fieldIds(id, errors)
  return (
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
      <AuthChoice id={id} state={state} busy={busy} />
    </div>
  )
}

/** Password or key; XenServer signs in with a password only. */
function AuthChoice({ id, state, busy }: AddHostFieldsProps) {
  const t = useT()
  const { form, update } = state
  if (form.kind === 'xenserver') return <p className="field-hint form-note">{t('add.xenserverPasswordOnly')}</p>
  return (
    <fieldset className="segmented" disabled={busy}>
      <legend>{t('add.auth')}</legend>
      {(['password', 'key'] as const).map((a) => (
        <label key={a} className={form.authType === a ? 'is-checked' : ''}>
          <input type="radio" name={`${id}-auth`} checked={form.authType === a} onChange={() => update('authType', a)} />
          {t(a === 'password' ? 'add.auth.password' : 'add.auth.key')}
        </label>
      ))}
    </fieldset>
  )
}

/** The secret: a password, or a private key (typed or loaded from a file) with its passphrase. */
export function SecretFields({ id, state, busy }: AddHostFieldsProps) {
  const t = useT()
  const { form, errors, update } = state
  const { fieldId, describedBy } = fieldIds(id, errors)
  if (form.authType === 'password' || form.kind === 'xenserver') {
    return (
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
    )
  }
  return (
    <>
      <PrivateKeyField id={id} state={state} busy={busy} />
      <Field label={t('add.key.passphrase')} htmlFor={fieldId('passphrase')}>
        <input id={fieldId('passphrase')} type="password" value={form.passphrase} onChange={(e) => update('passphrase', e.target.value)} autoComplete="off" disabled={busy} />
      </Field>
    </>
  )
}

function PrivateKeyField({ id, state, busy }: AddHostFieldsProps) {
  const t = useT()
  const { form, errors, keyFileName, typeKey, loadKeyFile } = state
  const { fieldId, describedBy } = fieldIds(id, errors)
  const fileInput = useRef<HTMLInputElement>(null)
  const onKeyFile = (event: ChangeEvent<HTMLInputElement>) => {
    const file = event.target.files?.[0]
    // Cleared so that choosing the same file again loads it again.
    event.target.value = ''
    if (file) loadKeyFile(file)
  }
  return (
    <>
      <Field label={t('add.key')} htmlFor={fieldId('privateKey')} error={errors.privateKey && t(errors.privateKey)} hint={keyFileName && t('add.key.loaded', { file: keyFileName })}>
        <textarea
          id={fieldId('privateKey')}
          className="mono"
          rows={4}
          value={form.privateKey}
          onChange={(e) => typeKey(e.target.value)}
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
    </>
  )
}
