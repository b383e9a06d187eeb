import { useEffect } from 'react'
import { useT } from '../i18n/i18n'
import { useUi, type Toast } from '../stores/ui-store'
import { IconCheck, IconClose, IconInfo, IconWarning } from './icons'

function ToastItem({ toast }: { readonly toast: Toast }) {
  const t = useT()
  const dismiss = useUi((s) => s.dismissToast)
  useEffect(() => {
    // Errors stay until dismissed: an admin must not miss a failure because they looked away.
    if (toast.tone === 'error') return
    const timer = setTimeout(() => dismiss(toast.id), 5000)
    return () => clearTimeout(timer)
  }, [toast, dismiss])
  return (
    <div className={`toast toast-${toast.tone}`} role={toast.tone === 'error' ? 'alert' : 'status'}>
      {toast.tone === 'error' ? <IconWarning size={18} /> : toast.tone === 'info' ? <IconInfo size={18} /> : <IconCheck size={18} />}
      <span className="toast-text">{toast.text}</span>
      <button type="button" className="icon-button" onClick={() => dismiss(toast.id)} aria-label={t('common.dismiss')}>
        <IconClose size={14} />
      </button>
    </div>
  )
}

export function Toasts() {
  const toasts = useUi((s) => s.toasts)
  return (
    <div className="toasts" aria-live="polite">
      {toasts.map((toast) => (
        <ToastItem key={toast.id} toast={toast} />
      ))}
    </div>
  )
}
