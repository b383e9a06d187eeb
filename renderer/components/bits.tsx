import type { ReactNode } from 'react'
import type { HostKindDto, PowerStateDto } from '../../engine/api/contract'
import { useT } from '../i18n/i18n'
import { IconInfo, IconWarning } from './icons'
import { powerKey } from './power'

export function PowerBadge({ state, kind }: { readonly state: PowerStateDto; readonly kind?: HostKindDto }) {
  const t = useT()
  return <span className={`badge power-${state}`}>{t(powerKey(state, kind))}</span>
}

export function StatusDot({ status, label }: { readonly status: 'online' | 'connecting' | 'error'; readonly label: string }) {
  return <span className={`status-dot status-${status}`} role="img" aria-label={label} title={label} />
}

export function ProgressBar({ value, label }: { readonly value: number | undefined; readonly label: string }) {
  const pct = value === undefined ? undefined : Math.max(0, Math.min(100, value * 100))
  return (
    <div
      className={`progress${pct === undefined ? ' is-indeterminate' : ''}`}
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={pct === undefined ? undefined : Math.round(pct)}
    >
      <div className="progress-fill" style={pct === undefined ? undefined : { width: `${pct}%` }} />
    </div>
  )
}

export function EmptyState({ icon, title, children, action }: { readonly icon?: ReactNode; readonly title: string; readonly children?: ReactNode; readonly action?: ReactNode }) {
  return (
    <div className="empty-state">
      {icon && <div className="empty-icon">{icon}</div>}
      <p className="empty-title">{title}</p>
      {children && <div className="empty-body">{children}</div>}
      {action && <div className="empty-action">{action}</div>}
    </div>
  )
}

export function Alert({ tone = 'error', title, children, action }: { readonly tone?: 'error' | 'warning' | 'info'; readonly title?: string; readonly children: ReactNode; readonly action?: ReactNode }) {
  return (
    <div className={`alert alert-${tone}`} role={tone === 'info' ? 'status' : 'alert'}>
      {tone === 'info' ? <IconInfo className="alert-icon" size={18} /> : <IconWarning className="alert-icon" size={18} />}
      <div className="alert-content">
        {title && <p className="alert-title">{title}</p>}
        <div className="alert-text">{children}</div>
        {action && <div className="alert-action">{action}</div>}
      </div>
    </div>
  )
}

export function Field({ label, hint, error, htmlFor, children }: { readonly label: string; readonly hint?: string; readonly error?: string; readonly htmlFor: string; readonly children: ReactNode }) {
  return (
    <div className={`field${error ? ' has-error' : ''}`}>
      <label htmlFor={htmlFor}>{label}</label>
      {children}
      {error ? (
        <p className="field-error" id={`${htmlFor}-error`}>
          {error}
        </p>
      ) : (
        hint && (
          <p className="field-hint" id={`${htmlFor}-hint`}>
            {hint}
          </p>
        )
      )}
    </div>
  )
}

/** A definition list row set: label/value pairs that wrap nicely. */
export function Facts({ items }: { readonly items: readonly (readonly [string, ReactNode])[] }) {
  return (
    <dl className="facts">
      {items.map(([k, v]) => (
        <div className="fact" key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  )
}
