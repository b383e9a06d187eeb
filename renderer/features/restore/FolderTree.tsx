import { useState } from 'react'
import type { DiskSourceRef } from '../../../engine/api/contract'
import { useDirectory } from '../../api/queries'
import { IconChevron, IconFolder } from '../../components/icons'
import { useT } from '../../i18n/i18n'
import { joinPath } from './browse-model'

interface FolderTreeProps {
  readonly source: DiskSourceRef
  readonly volume: string | undefined
  readonly path: string
  readonly current: string
  readonly onOpen: (p: string) => void
  readonly depth: number
}

/** Lazily loaded folder tree: a folder lists its subfolders only when opened. */
export function FolderTree({ source, volume, path, current, onOpen, depth }: FolderTreeProps) {
  const t = useT()
  const [open, setOpen] = useState(depth === 0 || current.startsWith(path === '/' ? '/' : `${path}/`))
  const dir = useDirectory(source, volume, path, open)
  const folders = (dir.data?.entries ?? []).filter((e) => e.type === 'directory')
  const name = path === '/' ? '/' : path.slice(path.lastIndexOf('/') + 1)
  return (
    <li role="treeitem" aria-expanded={open} aria-selected={current === path} aria-level={depth + 1}>
      <div className={`folder-row${current === path ? ' is-current' : ''}`} style={{ paddingLeft: `${depth * 14 + 4}px` }}>
        <button type="button" className="folder-toggle" aria-label={open ? t('browse.collapse', { name }) : t('browse.expand', { name })} onClick={() => setOpen(!open)}>
          <IconChevron size={12} className={open ? 'is-open' : ''} />
        </button>
        <button type="button" className="folder-name truncate" title={path} onClick={() => onOpen(path)}>
          <IconFolder size={14} /> {name}
        </button>
      </div>
      {open && folders.length > 0 && (
        <ul role="group">
          {folders.map((f) => (
            <FolderTree key={f.name} source={source} volume={volume} path={joinPath(path, f.name)} current={current} onOpen={onOpen} depth={depth + 1} />
          ))}
        </ul>
      )}
    </li>
  )
}
