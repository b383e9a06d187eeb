import { useMutation, useQueryClient } from '@tanstack/react-query'
import { useId, useState, type SyntheticEvent } from 'react'
import { repoSetObjectLock, type RepositoryInfoDto } from '../../../engine/api/contract'
import { ApiError, ApiErrorSchema } from '../../../engine/api/contract-errors'
import { useApi } from '../../api/api-client'
import { queryKeys } from '../../api/query-keys'
import { Alert, Field } from '../../components/bits'
import { Button } from '../../components/Button'
import { Dialog } from '../../components/Dialog'
import { errorText, useT, type Translate } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'
import { checkDraft, draftFrom, isChange, MAX_LOCK_DAYS, needsConfirmation, repoKind, stateKeys, type LockDraft, type LockMode, type ObjectLock } from './immutability-model'

/**
 * The engine's refusals here (a bucket made without Object Lock, storage that cannot lock) are whole sentences that
 * say what to do: shown as they come rather than behind "Some of the details are not valid".
 */
function lockErrorText(t: Translate, error: unknown): string {
  const shape = error instanceof ApiError ? error.toJSON() : ApiErrorSchema.safeParse(error).data
  return shape?.code === 'INVALID_INPUT' ? shape.message : errorText(t, error)
}

/**
 * S3 Object Lock for one repository: what it does now, and a form to turn it on, change it or stop it. Folders and
 * SFTP cannot be immutable: for them it says so and where to go instead, with no form.
 */
export function ImmutabilitySection({ repoRef, info }: { readonly repoRef: string | undefined; readonly info: RepositoryInfoDto }) {
  const t = useT()
  const id = useId()
  const kind = repoKind(info.location)
  return (
    <section className="immutability" aria-labelledby={`${id}-title`}>
      <h3 id={`${id}-title`} className="section-title">
        {t('immutability.title')}
      </h3>
      {kind === 's3' ? (
        <LockForm key={`${info.location} ${info.objectLock?.mode ?? ''} ${info.objectLock?.days ?? ''}`} repoRef={repoRef} current={info.objectLock} />
      ) : (
        <>
          <p>{t(kind === 'sftp' ? 'immutability.notSftp' : 'immutability.notFolder')}</p>
          <p className="muted">{t('immutability.useS3')}</p>
        </>
      )}
    </section>
  )
}

function LockForm({ repoRef, current }: { readonly repoRef: string | undefined; readonly current: ObjectLock | undefined }) {
  const t = useT()
  const id = useId()
  const api = useApi()
  const client = useQueryClient()
  const toast = useUi((s) => s.toast)
  const [draft, setDraft] = useState<LockDraft>(() => draftFrom(current))
  const [shown, setShown] = useState(false)
  const [confirming, setConfirming] = useState<ObjectLock | undefined>(undefined)
  const checked = checkDraft(draft)
  const daysError = shown && 'error' in checked ? t(checked.error, checked.params) : undefined
  const save = useMutation({
    mutationFn: (lock: ObjectLock | null) => api.invoke(repoSetObjectLock, { ...(repoRef !== undefined ? { repo: repoRef } : {}), lock }),
    onSuccess: (info, lock) => {
      setConfirming(undefined)
      client.setQueryData(queryKeys.repoInfoAt(repoRef), info)
      toast('success', lock === null ? t('immutability.stopped') : t(lock.mode === 'COMPLIANCE' ? 'immutability.savedCompliance' : 'immutability.savedGovernance', { days: lock.days }))
    },
    onError: () => setConfirming(undefined),
  })
  const submit = (event: SyntheticEvent) => {
    event.preventDefault()
    setShown(true)
    if (!('lock' in checked)) {
      document.getElementById(`${id}-days`)?.focus()
      return
    }
    if (needsConfirmation(checked.lock)) setConfirming(checked.lock)
    else save.mutate(checked.lock)
  }
  const state = stateKeys(current)
  const changed = 'lock' in checked ? isChange(current, checked.lock) : true
  const mode = (m: LockMode) => (
    <label className="check-row">
      <input type="radio" name={`${id}-mode`} value={m} checked={draft.mode === m} onChange={() => setDraft({ ...draft, mode: m })} />
      <span>
        <span className="lock-mode-name">{t(m === 'COMPLIANCE' ? 'immutability.mode.compliance' : 'immutability.mode.governance')}</span>
        <span className="field-hint block">{t(m === 'COMPLIANCE' ? 'immutability.mode.compliance.hint' : 'immutability.mode.governance.hint')}</span>
      </span>
    </label>
  )
  return (
    <>
      <p className="lock-state" data-testid="lock-state">
        <strong>{t(state.title, { days: current?.days ?? 0 })}</strong>: {t(state.text, { days: current?.days ?? 0 })}
      </p>
      <form className="lock-form" onSubmit={submit} noValidate aria-label={t('immutability.formLabel')}>
        <fieldset className="choice-list lock-modes">
          <legend>{t('immutability.mode')}</legend>
          {mode('GOVERNANCE')}
          {mode('COMPLIANCE')}
        </fieldset>
        <Field label={t('immutability.days')} htmlFor={`${id}-days`} hint={t('immutability.days.hint', { max: MAX_LOCK_DAYS })} {...(daysError !== undefined ? { error: daysError } : {})}>
          <input
            id={`${id}-days`}
            className="lock-days"
            inputMode="numeric"
            value={draft.days}
            onChange={(e) => setDraft({ ...draft, days: e.target.value })}
            aria-invalid={daysError !== undefined}
            aria-describedby={daysError !== undefined ? `${id}-days-error` : `${id}-days-hint`}
          />
        </Field>
        <div className="panel-actions">
          <Button type="submit" variant="primary" busy={save.isPending && save.variables !== null} disabled={!changed}>
            {t(current === undefined ? 'immutability.turnOn' : 'immutability.save')}
          </Button>
          {current !== undefined && (
            <Button busy={save.isPending && save.variables === null} onClick={() => save.mutate(null)}>
              {t('immutability.stop')}
            </Button>
          )}
        </div>
        <p className="field-hint">{t(current === undefined ? 'immutability.newOnly' : 'immutability.lockedStay')}</p>
        {save.isError && <Alert>{lockErrorText(t, save.error)}</Alert>}
      </form>
      {confirming !== undefined && (
        <Dialog
          title={t('immutability.confirm.title', { days: confirming.days })}
          closeLabel={t('common.close')}
          tone="danger"
          locked={save.isPending}
          onClose={() => setConfirming(undefined)}
          footer={
            <>
              <Button onClick={() => setConfirming(undefined)} data-autofocus>
                {t('common.cancel')}
              </Button>
              <Button variant="danger" busy={save.isPending} onClick={() => save.mutate(confirming)}>
                {t('immutability.confirm.go')}
              </Button>
            </>
          }
        >
          <p>{t('immutability.confirm.body', { days: confirming.days })}</p>
          <p>{t('immutability.confirm.undo')}</p>
          {current !== undefined && <p className="muted">{t('immutability.confirm.existing')}</p>}
        </Dialog>
      )}
    </>
  )
}
