import { useState } from 'react'
import type { HostDto } from '../../../engine/api/contract'
import { useAcceptKey } from '../../api/queries'
import { Alert } from '../../components/bits'
import { Button } from '../../components/Button'
import { Dialog } from '../../components/Dialog'
import { IconShield } from '../../components/icons'
import { errorText, useT } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'
import { fingerprintCommand } from './add-host-form'

/** Re-pinning a saved host after its key or certificate changed: old and new side by side, explicit consent. */
export function TrustKeyDialog({ host, presented, keyType, onClose }: { readonly host: HostDto; readonly presented: string; readonly keyType: string; readonly onClose: () => void }) {
  const t = useT()
  const toast = useUi((s) => s.toast)
  const accept = useAcceptKey()
  const [error, setError] = useState<string | undefined>(undefined)
  const type = t(keyType === 'tls-certificate' ? 'add.verify.certificate' : 'add.verify.sshKey')
  return (
    <Dialog
      title={t('trust.title', { name: host.name })}
      closeLabel={t('common.close')}
      locked={accept.isPending}
      onClose={onClose}
      tone="danger"
      footer={
        <>
          <Button onClick={onClose} disabled={accept.isPending} data-autofocus>
            {t('common.cancel')}
          </Button>
          <Button
            variant="danger"
            icon={<IconShield />}
            busy={accept.isPending}
            onClick={() =>
              accept.mutate(
                { hostId: host.id, fingerprint: presented },
                {
                  onSuccess: () => {
                    toast('success', t('trust.done', { name: host.name }))
                    onClose()
                  },
                  onError: (e) => setError(errorText(t, e)),
                },
              )
            }
          >
            {t('trust.confirm')}
          </Button>
        </>
      }
    >
      {error && <Alert>{error}</Alert>}
      <p>{t('trust.intro', { type })}</p>
      <div className="fingerprint-compare">
        <p className="verify-label">{t('trust.previous')}</p>
        <code className="fingerprint-value is-old">{host.fingerprint}</code>
        <p className="verify-label">{t('trust.new')}</p>
        <code className="fingerprint-value">{presented}</code>
      </div>
      <p className="verify-label">{t('add.verify.howto')}</p>
      <pre className="command">{fingerprintCommand(host.kind, keyType)}</pre>
      <Alert tone="warning">{t('add.verify.warning')}</Alert>
    </Dialog>
  )
}
