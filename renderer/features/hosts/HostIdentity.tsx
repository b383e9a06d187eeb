import { Alert } from '../../components/bits'
import type { HostKindDto } from '../../../engine/api/contract'
import { useT } from '../../i18n/i18n'
import { fingerprintCommand } from './add-host-form'
import type { PresentedIdentity } from './use-add-host-connect'

/** The key or certificate the host presented, and how to read the same fingerprint on the host's console. */
export function HostIdentity({ presented, kind }: { readonly presented: PresentedIdentity; readonly kind: HostKindDto }) {
  const t = useT()
  const isCert = presented.keyType === 'tls-certificate'
  const type = t(isCert ? 'add.verify.certificate' : 'add.verify.sshKey')
  return (
    <>
      <p>{t('add.verify.intro')}</p>
      <p className="verify-label">{t('add.verify.presented', { type })}</p>
      <div className="fingerprint-box" aria-label={type}>
        <span className="fingerprint-type">{isCert ? 'X.509 SHA-256' : presented.keyType}</span>
        <code className="fingerprint-value">{presented.fingerprint}</code>
      </div>
      <p className="verify-label">{t('add.verify.howto')}</p>
      <pre className="command">{fingerprintCommand(kind, presented.keyType)}</pre>
      <Alert tone="warning">{t('add.verify.warning')}</Alert>
    </>
  )
}
