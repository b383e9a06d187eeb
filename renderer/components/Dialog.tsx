import { useEffect, useId, useRef, type ReactNode } from 'react'
import { IconClose } from './icons'

export interface DialogProps {
  readonly title: string
  readonly onClose: () => void
  /** While true, Escape and the close button do nothing (e.g. a connection attempt is running). */
  readonly locked?: boolean
  readonly size?: 'md' | 'lg'
  readonly closeLabel: string
  readonly children: ReactNode
  readonly footer?: ReactNode
  readonly tone?: 'default' | 'danger'
}

const focusable = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])'

/** A modal dialog: labelled, focus trapped inside, Escape closes, focus returns to where it was. */
export function Dialog({ title, onClose, locked = false, size = 'md', closeLabel, children, footer, tone = 'default' }: DialogProps) {
  const titleId = useId()
  const ref = useRef<HTMLDivElement>(null)

  useEffect(() => {
    const previous = document.activeElement as HTMLElement | null
    const node = ref.current
    const first = node?.querySelector<HTMLElement>('[data-autofocus]') ?? node?.querySelector<HTMLElement>(focusable)
    first?.focus()
    return () => previous?.focus()
  }, [])

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const node = ref.current
      if (!node) return
      if (event.key === 'Escape' && !locked) {
        event.preventDefault()
        onClose()
        return
      }
      if (event.key !== 'Tab') return
      const items = [...node.querySelectorAll<HTMLElement>(focusable)].filter((el) => el.offsetParent !== null)
      if (items.length === 0) return
      const firstItem = items[0]
      const lastItem = items[items.length - 1]
      if (event.shiftKey && document.activeElement === firstItem) {
        event.preventDefault()
        lastItem?.focus()
      } else if (!event.shiftKey && document.activeElement === lastItem) {
        event.preventDefault()
        firstItem?.focus()
      }
    }
    document.addEventListener('keydown', onKey)
    return () => document.removeEventListener('keydown', onKey)
  }, [locked, onClose])

  return (
    <div className="dialog-backdrop">
      <div ref={ref} className={`dialog dialog-${size} dialog-${tone}`} role="dialog" aria-modal="true" aria-labelledby={titleId}>
        <header className="dialog-header">
          <h2 id={titleId}>{title}</h2>
          <button type="button" className="icon-button" onClick={onClose} disabled={locked} aria-label={closeLabel}>
            <IconClose />
          </button>
        </header>
        <div className="dialog-body">{children}</div>
        {footer && <footer className="dialog-footer">{footer}</footer>}
      </div>
    </div>
  )
}
