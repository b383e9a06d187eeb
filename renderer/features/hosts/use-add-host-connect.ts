import { useState } from 'react'
import { ApiError } from '../../../engine/api/contract'
import { useAddHost } from '../../api/queries'
import { errorText, useT } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'
import { toInput, type AddHostForm } from './add-host-form'

/** The key or certificate a host presented, for the admin to compare before any credential is sent. */
export interface PresentedIdentity {
  readonly fingerprint: string
  readonly keyType: string
  readonly address: string
}

/**
 * Sends the form to the engine. A first attempt without a confirmed fingerprint comes back with the host's identity
 * (`presented`); the second attempt carries the fingerprint the admin confirmed. Nothing is saved until that works.
 */
export function useAddHostConnect(form: AddHostForm, onNameTaken: () => void, onAdded: () => void) {
  const t = useT()
  const select = useUi((s) => s.select)
  const toast = useUi((s) => s.toast)
  const addHost = useAddHost()
  const [serverError, setServerError] = useState<string | undefined>(undefined)
  const [presented, setPresented] = useState<PresentedIdentity | undefined>(undefined)

  const onError = (err: unknown, acceptFingerprint: string | undefined) => {
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
    if (err instanceof ApiError && err.code === 'HOST_NAME_TAKEN') onNameTaken()
    setServerError(errorText(t, err))
  }

  const submit = (acceptFingerprint?: string) => {
    setServerError(undefined)
    addHost.mutate(toInput(form, acceptFingerprint), {
      onSuccess: (host) => {
        toast('success', t('add.added', { name: host.name }))
        select({ kind: 'host', hostId: host.id })
        onAdded()
      },
      onError: (err) => onError(err, acceptFingerprint),
    })
  }

  return { busy: addHost.isPending, serverError, presented, back: () => setPresented(undefined), submit }
}
