import { useCallback, useId, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent, type MouseEvent } from 'react'
import { useRefreshInventory } from '../../api/queries'
import { ContextMenu, type MenuItem } from '../../components/ContextMenu'
import type { HostInventoryDto, HostKindDto } from '../../../engine/api/contract'
import { PowerBadge, StatusDot } from '../../components/bits'
import { IconBackup, IconCamera, IconChevron, IconPool, IconRefresh, IconServer, IconVm, IconWindows } from '../../components/icons'
import { useT } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'
import { keyAction, rowKeyOf, selectionOf, visibleRows, type TreeRow } from './tree-model'
import { scrollToShow, visibleRange } from './windowing'
import { powerKey } from '../../components/power'

/** Every row is exactly this tall (CSS .tree-row), which is what makes windowing simple and exact. */
const ROW_HEIGHT = 34

export function KindIcon({ kind, size = 16 }: { readonly kind: HostKindDto; readonly size?: number }) {
  if (kind === 'xenserver') return <IconPool size={size} />
  if (kind === 'hyperv') return <IconWindows size={size} />
  return <IconServer size={size} />
}

/**
 * The host → VM tree: a WAI-ARIA treeview. The tree itself holds the keyboard focus and points at the active row
 * with aria-activedescendant, so only the rows in view need to exist in the DOM: a pool with hundreds of VMs
 * scrolls smoothly and stays fully keyboard-usable (arrows, Home/End, type-ahead, Enter).
 */
export function HostTree({ hosts }: { readonly hosts: readonly HostInventoryDto[] }) {
  const t = useT()
  const baseId = useId()
  const collapsed = useUi((s) => s.collapsed)
  const selection = useUi((s) => s.selection)
  const select = useUi((s) => s.select)
  const setExpanded = useUi((s) => s.setExpanded)
  const openWizard = useUi((s) => s.openWizard)
  const openPatch = useUi((s) => s.openPatchSnapshot)
  const refresh = useRefreshInventory()
  const [menu, setMenu] = useState<{ x: number; y: number; row: TreeRow } | null>(null)
  const closeMenu = useCallback(() => setMenu(null), [])
  const rows = useMemo(() => visibleRows(hosts, collapsed), [hosts, collapsed])
  const selectedKey = rowKeyOf(selection)
  const [focusedKey, setFocusedKey] = useState<string | undefined>(undefined)
  const activeKey = rows.some((r) => r.key === focusedKey) ? focusedKey : (rows.find((r) => r.key === selectedKey) ?? rows[0])?.key
  const activeIndex = rows.findIndex((r) => r.key === activeKey)
  const container = useRef<HTMLDivElement>(null)
  const [viewport, setViewport] = useState({ top: 0, height: 600 })

  useLayoutEffect(() => {
    const node = container.current
    if (!node) return
    const measure = () => setViewport({ top: node.scrollTop, height: node.clientHeight || 600 })
    measure()
    const observer = new ResizeObserver(measure)
    observer.observe(node)
    return () => observer.disconnect()
  }, [])

  const reveal = (index: number) => {
    const node = container.current
    if (!node || index < 0) return
    const top = scrollToShow(index, node.scrollTop, node.clientHeight, ROW_HEIGHT)
    if (top !== node.scrollTop) {
      node.scrollTop = top
      setViewport({ top, height: node.clientHeight })
    }
  }

  const openMenuAt = (row: TreeRow, index: number) => {
    const el = document.getElementById(rowId(index))
    const r = el?.getBoundingClientRect()
    setMenu({ x: (r?.left ?? 0) + 24, y: (r?.bottom ?? 0) - 4, row })
  }

  const menuItems = (row: TreeRow): MenuItem[] => {
    if (row.kind === 'host') {
      const vms = row.host.vms
      return [
        { id: 'backup', label: t('menu.backupHost', { count: vms.length }), icon: <IconBackup />, disabled: vms.length === 0, ...(vms.length === 0 ? { reason: t('menu.noVms') } : {}), onSelect: () => openWizard({ targets: vms.map((vm) => ({ host: row.hostId, vm: vm.id })) }) },
        { id: 'refresh', label: t('menu.refresh'), icon: <IconRefresh />, onSelect: () => refresh.mutate(row.hostId) },
      ]
    }
    const offline = row.host.status !== 'online'
    return [
      { id: 'backup', label: t('vm.backup'), icon: <IconBackup />, onSelect: () => openWizard({ targets: [{ host: row.hostId, vm: row.vm.id }] }) },
      {
        id: 'patch',
        label: t('vm.patchSnapshot'),
        icon: <IconCamera />,
        disabled: offline,
        ...(offline ? { reason: t('vm.hostOffline') } : {}),
        onSelect: () => openPatch({ hostId: row.hostId, vmId: row.vm.id, vmName: row.vm.name }),
      },
    ]
  }

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    if (event.key === 'ContextMenu' || (event.key === 'F10' && event.shiftKey)) {
      const row = rows[activeIndex]
      if (!row) return
      event.preventDefault()
      select(selectionOf(row))
      openMenuAt(row, activeIndex)
      return
    }
    const action = keyAction(rows, activeKey, event.key)
    if (action.type === 'none') return
    event.preventDefault()
    switch (action.type) {
      case 'focus':
        setFocusedKey(action.key)
        reveal(rows.findIndex((r) => r.key === action.key))
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
  const rowId = (index: number) => `${baseId}-row-${index}`

  const renderRow = (row: TreeRow, index: number) => {
    const selected = row.key === selectedKey
    const common = {
      key: row.key,
      id: rowId(index),
      role: 'treeitem',
      'aria-level': row.level,
      'aria-selected': selected,
      'aria-posinset': index + 1,
      'aria-setsize': rows.length,
      className: `tree-row tree-${row.kind}${selected ? ' is-selected' : ''}${row.key === activeKey ? ' is-active' : ''}`,
      onClick: () => {
        setFocusedKey(row.key)
        select(selectionOf(row))
        container.current?.focus({ preventScroll: true })
      },
      onContextMenu: (e: MouseEvent) => {
        e.preventDefault()
        setFocusedKey(row.key)
        select(selectionOf(row))
        container.current?.focus({ preventScroll: true })
        setMenu({ x: e.clientX, y: e.clientY, row })
      },
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
      <div {...common} aria-label={`${row.vm.name}, ${t(powerKey(row.vm.powerState, row.host.kind))}`}>
        <span className="tree-icon">
          <IconVm />
        </span>
        <span className="tree-name" title={row.vm.name}>
          {row.vm.name}
        </span>
        <PowerBadge state={row.vm.powerState} kind={row.host.kind} />
      </div>
    )
  }

  const { first, last } = visibleRange(viewport.top, viewport.height, ROW_HEIGHT, rows.length)
  return (
    <>
    <div
      ref={container}
      className="tree"
      role="tree"
      tabIndex={0}
      aria-label={t('tree.label')}
      aria-activedescendant={activeIndex >= first && activeIndex <= last ? rowId(activeIndex) : undefined}
      onKeyDown={onKeyDown}
      onFocus={() => reveal(activeIndex)}
      onScroll={(e) => setViewport({ top: e.currentTarget.scrollTop, height: e.currentTarget.clientHeight })}
    >
      <div style={{ height: `${first * ROW_HEIGHT}px` }} aria-hidden="true" />
      {rows.slice(first, last + 1).map((row, i) => renderRow(row, first + i))}
      <div style={{ height: `${Math.max(0, rows.length - 1 - last) * ROW_HEIGHT}px` }} aria-hidden="true" />
    </div>
    {menu && (
      <ContextMenu
        x={menu.x}
        y={menu.y}
        label={t('menu.label', { name: menu.row.kind === 'host' ? menu.row.host.name : menu.row.vm.name })}
        items={menuItems(menu.row)}
        onClose={closeMenu}
      />
    )}
    </>
  )
}
