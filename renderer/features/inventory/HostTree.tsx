import { useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react'
import type { HostInventoryDto, HostKindDto } from '../../../engine/api/contract'
import { PowerBadge, StatusDot } from '../../components/bits'
import { IconChevron, IconPool, IconServer, IconVm, IconWindows } from '../../components/icons'
import { useT } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'
import { keyAction, rowKeyOf, selectionOf, visibleRows, type TreeRow } from './tree-model'

export function KindIcon({ kind, size = 16 }: { readonly kind: HostKindDto; readonly size?: number }) {
  if (kind === 'xenserver') return <IconPool size={size} />
  if (kind === 'hyperv') return <IconWindows size={size} />
  return <IconServer size={size} />
}

/** The host → VM tree: a WAI-ARIA treeview with roving focus, type-ahead and live status. */
export function HostTree({ hosts }: { readonly hosts: readonly HostInventoryDto[] }) {
  const t = useT()
  const collapsed = useUi((s) => s.collapsed)
  const selection = useUi((s) => s.selection)
  const select = useUi((s) => s.select)
  const setExpanded = useUi((s) => s.setExpanded)
  const rows = useMemo(() => visibleRows(hosts, collapsed), [hosts, collapsed])
  const selectedKey = rowKeyOf(selection)
  const [focusedKey, setFocusedKey] = useState<string | undefined>(undefined)
  const activeKey = rows.some((r) => r.key === focusedKey) ? focusedKey : (rows.find((r) => r.key === selectedKey) ?? rows[0])?.key
  const refs = useRef(new Map<string, HTMLDivElement>())
  const wantFocus = useRef(false)

  useEffect(() => {
    if (wantFocus.current && activeKey !== undefined) {
      refs.current.get(activeKey)?.focus()
      wantFocus.current = false
    }
  }, [activeKey])

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    const action = keyAction(rows, activeKey, event.key)
    if (action.type === 'none') return
    event.preventDefault()
    switch (action.type) {
      case 'focus':
        wantFocus.current = true
        setFocusedKey(action.key)
        refs.current.get(action.key)?.focus()
        return
      case 'expand':
        setExpanded(action.hostId, true)
        return
      case 'collapse':
        setExpanded(action.hostId, false)
        return
      case 'select': {
        const row = rows.find((r) => r.key === action.key)
        if (row) select(selectionOf(row))
      }
    }
  }

  const statusLabel = (h: HostInventoryDto) => t(h.status === 'online' ? 'status.online' : h.status === 'connecting' ? 'status.connecting' : 'status.error')

  const renderRow = (row: TreeRow, index: number) => {
    const selected = row.key === selectedKey
    const common = {
      key: row.key,
      ref: (el: HTMLDivElement | null) => {
        if (el) refs.current.set(row.key, el)
        else refs.current.delete(row.key)
      },
      role: 'treeitem',
      'aria-level': row.level,
      'aria-selected': selected,
      'aria-posinset': index + 1,
      'aria-setsize': rows.length,
      tabIndex: row.key === activeKey ? 0 : -1,
      className: `tree-row tree-${row.kind}${selected ? ' is-selected' : ''}`,
      onClick: () => {
        setFocusedKey(row.key)
        select(selectionOf(row))
      },
      onFocus: () => setFocusedKey(row.key),
    } as const
    if (row.kind === 'host') {
      const count = row.host.vms.length
      const meta = row.host.status === 'connecting' && row.host.updatedAt === undefined ? t('tree.connecting') : count === 1 ? t('tree.vmCount.one') : t('tree.vmCount', { count })
      return (
        <div {...common} aria-expanded={row.expanded} aria-label={`${row.host.name}, ${statusLabel(row.host)}, ${meta}`}>
          <span
            className={`tree-chevron${row.expanded ? ' is-open' : ''}`}
            onClick={(e) => {
              e.stopPropagation()
              setExpanded(row.hostId, !row.expanded)
            }}
            aria-hidden="true"
          >
            <IconChevron size={14} />
          </span>
          <span className="tree-icon">
            <KindIcon kind={row.host.kind} />
          </span>
          <span className="tree-name" title={row.host.name}>
            {row.host.name}
          </span>
          <span className="tree-meta">{meta}</span>
          <StatusDot status={row.host.status} label={statusLabel(row.host)} />
        </div>
      )
    }
    return (
      <div {...common} aria-label={`${row.vm.name}, ${t(`power.${row.vm.powerState}`)}`}>
        <span className="tree-icon">
          <IconVm />
        </span>
        <span className="tree-name" title={row.vm.name}>
          {row.vm.name}
        </span>
        <PowerBadge state={row.vm.powerState} />
      </div>
    )
  }

  return (
    <div className="tree" role="tree" aria-label={t('tree.label')} onKeyDown={onKeyDown}>
      {rows.map(renderRow)}
    </div>
  )
}
