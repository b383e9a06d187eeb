import { useEffect, useLayoutEffect, useRef, useState, type ReactNode } from 'react'

export interface MenuItem {
  readonly id: string
  readonly label: string
  readonly icon?: ReactNode
  readonly disabled?: boolean
  /** Why it is disabled, shown as its tooltip and read with it. */
  readonly reason?: string
  readonly onSelect: () => void
}

/**
 * A WAI-ARIA menu at a point (right click, or the context-menu key on the focused row): arrow keys and
 * Home/End move, Enter/Space choose, Escape or a click outside closes and focus returns where it was.
 */
export function ContextMenu({ x, y, label, items, onClose }: { readonly x: number; readonly y: number; readonly label: string; readonly items: readonly MenuItem[]; readonly onClose: () => void }) {
  const ref = useRef<HTMLDivElement>(null)
  const [active, setActive] = useState(() => Math.max(0, items.findIndex((i) => i.disabled !== true)))
  const [position, setPosition] = useState({ left: x, top: y })

  // Keep the whole menu on screen.
  useLayoutEffect(() => {
    const node = ref.current
    if (!node) return
    const r = node.getBoundingClientRect()
    setPosition({ left: Math.max(4, Math.min(x, window.innerWidth - r.width - 4)), top: Math.max(4, Math.min(y, window.innerHeight - r.height - 4)) })
  }, [x, y])

  useEffect(() => {
    const previous = document.activeElement as HTMLElement | null
    ref.current?.focus()
    const onDown = (e: MouseEvent) => {
      if (!ref.current?.contains(e.target as Node)) onClose()
    }
    document.addEventListener('mousedown', onDown)
    return () => {
      document.removeEventListener('mousedown', onDown)
      previous?.focus({ preventScroll: true })
    }
  }, [onClose])

  const move = (from: number, step: number) => {
    for (let n = 1; n <= items.length; n++) {
      const i = (from + step * n + items.length * n) % items.length
      if (items[i]?.disabled !== true) return i
    }
    return from
  }
  const choose = (i: number) => {
    const item = items[i]
    if (!item || item.disabled === true) return
    onClose()
    item.onSelect()
  }

  return (
    <div
      ref={ref}
      className="context-menu"
      role="menu"
      aria-label={label}
      tabIndex={-1}
      style={{ left: position.left, top: position.top }}
      aria-activedescendant={`ctx-item-${active}`}
      onKeyDown={(e) => {
        const keys: Record<string, () => void> = {
          ArrowDown: () => setActive((a) => move(a, 1)),
          ArrowUp: () => setActive((a) => move(a, -1)),
          Home: () => setActive(move(-1, 1)),
          End: () => setActive(move(items.length, -1)),
          Enter: () => choose(active),
          ' ': () => choose(active),
          Escape: onClose,
          Tab: onClose,
        }
        const action = keys[e.key]
        if (!action) return
        e.preventDefault()
        e.stopPropagation()
        action()
      }}
      onContextMenu={(e) => e.preventDefault()}
    >
      {items.map((item, i) => (
        <div
          key={item.id}
          id={`ctx-item-${i}`}
          role="menuitem"
          aria-disabled={item.disabled === true || undefined}
          title={item.reason}
          className={`context-item${i === active ? ' is-active' : ''}${item.disabled === true ? ' is-disabled' : ''}`}
          onMouseEnter={() => item.disabled !== true && setActive(i)}
          onClick={() => choose(i)}
        >
          <span className="context-icon">{item.icon}</span>
          <span>{item.label}</span>
        </div>
      ))}
    </div>
  )
}
