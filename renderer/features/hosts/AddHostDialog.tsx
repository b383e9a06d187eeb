import { useId, type SyntheticEvent } from 'react'
import { Alert } from '../../components/bits'
import { Button } from '../../components/Button'
import { Dialog } from '../../components/Dialog'
import { IconShield } from '../../components/icons'
import { useT } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'
import { ConnectionFields, KindPicker, SecretFields } from './AddHostFields'
import { HostIdentity } from './HostIdentity'
import { useAddHostConnect, type PresentedIdentity } from './use-add-host-connect'
import { useAddHostForm } from './use-add-host-form'

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
  const state = useAddHostForm(id)
  const connect = useAddHostConnect(state.form, state.markNameTaken, close)
  const { busy, presented } = connect

  const onSubmit = (event: SyntheticEvent) => {
    event.preventDefault()
    if (state.check()) connect.submit()
  }

  // One dialog for both steps, so that it stays open (and keeps the focus) from one step to the other.
  return (
    <Dialog
      title={presented ? t('add.verify.title', { address: presented.address }) : t('add.title')}
      closeLabel={t('common.close')}
      size="lg"
      locked={busy}
      onClose={close}
      footer={<AddHostFooter formId={`${id}-form`} presented={presented} busy={busy} address={state.form.address.trim()} onCancel={close} onBack={connect.back} onTrust={connect.submit} />}
    >
      {presented ? (
        <HostIdentity presented={presented} kind={state.form.kind} />
      ) : (
        <form id={`${id}-form`} onSubmit={onSubmit} noValidate>
          {connect.serverError && <Alert tone="error">{connect.serverError}</Alert>}
          <KindPicker id={id} state={state} busy={busy} />
          <ConnectionFields id={id} state={state} busy={busy} />
          <SecretFields id={id} state={state} busy={busy} />
        </form>
      )}
    </Dialog>
  )
}

interface FooterProps {
  readonly formId: string
  readonly presented: PresentedIdentity | undefined
  readonly busy: boolean
  readonly address: string
  readonly onCancel: () => void
  readonly onBack: () => void
  readonly onTrust: (fingerprint: string) => void
}

/** Cancel and connect on the details step; back and trust on the fingerprint step. */
function AddHostFooter({ formId, presented, busy, address, onCancel, onBack, onTrust }: FooterProps) {
  const t = useT()
  if (presented) {
    return (
      <>
        <Button onClick={onBack} disabled={busy}>
          {t('add.back')}
        </Button>
        <Button variant="primary" icon={<IconShield />} busy={busy} onClick={() => onTrust(presented.fingerprint)} data-autofocus>
          {busy ? t('add.saving') : t('add.verify.trust')}
        </Button>
      </>
    )
  }
  return (
    <>
      <Button onClick={onCancel} disabled={busy}>
        {t('add.cancel')}
      </Button>
      <Button variant="primary" type="submit" form={formId} busy={busy}>
        {busy ? t('add.connecting', { address }) : t('add.submit')}
      </Button>
    </>
  )
}
