import { useMemo, useState, type SyntheticEvent } from 'react'
import type { DiskSourceRef, FsEntryDto, VolumeDto } from '../../../engine/api/contract'
import { useDirectory, useDiskTree, useSearchFiles } from '../../api/queries'
import { Alert, EmptyState } from '../../components/bits'
import { Button } from '../../components/Button'
import { IconChevron, IconFile, IconFolder, IconLink, IconSearch } from '../../components/icons'
import { errorText, useFormat, useT } from '../../i18n/i18n'
import { GuestRestoreDialog, type GuestTarget } from './GuestRestoreDialog'
import { RestoreFilesDialog } from './RestoreFilesDialog'

const PAGE = 500

function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`
}

function volumeLabel(v: VolumeDto): string {
  const fs = v.filesystem
  return [v.locator, fs?.type ?? v.content, fs?.label || v.partitionName || '', ].filter((x) => x !== '').join(' · ')
}

/** Lazily loaded folder tree: a folder lists its subfolders only when opened. */
function FolderTree({ source, volume, path, current, onOpen, depth }: { readonly source: DiskSourceRef; readonly volume: string | undefined; readonly path: string; readonly current: string; readonly onOpen: (p: string) => void; readonly depth: number }) {
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

/**
 * Browse the files of a restore point (or any disk source): pick a volume, walk folders, search by name,
 * tick files and folders, restore them to a local folder. Nothing is mounted; everything is read in userspace.
 */
export function FileBrowser({ source, folderName, guest }: { readonly source: DiskSourceRef; readonly folderName: string; readonly guest?: GuestTarget | undefined }) {
  const t = useT()
  const fmt = useFormat()
  const tree = useDiskTree(source)
  const browsable = (tree.data?.volumes ?? []).filter((v) => v.filesystem !== undefined && v.problem === undefined)
  const [chosenVolume, setChosenVolume] = useState<string | undefined>(undefined)
  const volume = chosenVolume ?? browsable[0]?.locator
  const [path, setPath] = useState('/')
  const [shown, setShown] = useState(PAGE)
  const [selected, setSelected] = useState<ReadonlyMap<string, FsEntryDto>>(new Map())
  const [query, setQuery] = useState('')
  const search = useSearchFiles()
  const [restoring, setRestoring] = useState(false)
  const [toGuest, setToGuest] = useState(false)
  const dir = useDirectory(source, volume, path, volume !== undefined)

  const rows: { path: string; entry: FsEntryDto }[] = useMemo(() => {
    if (search.data) return search.data.hits.map((h) => ({ path: h.path, entry: h.entry }))
    return (dir.data?.entries ?? []).map((e) => ({ path: joinPath(path, e.name), entry: e }))
  }, [search.data, dir.data, path])

  const open = (p: string) => {
    setPath(p)
    setShown(PAGE)
    search.reset()
  }
  const toggle = (p: string, e: FsEntryDto) => {
    setSelected((prev) => {
      const next = new Map(prev)
      if (next.has(p)) next.delete(p)
      else next.set(p, e)
      return next
    })
  }
  // Only one plain file at a time goes into a running guest.
  const onlyFile = selected.size === 1 ? [...selected].find(([, e]) => e.type === 'file')?.[0] : undefined
  const allChecked = rows.length > 0 && rows.every((r) => selected.has(r.path))
  const toggleAll = () => {
    setSelected((prev) => {
      const next = new Map(prev)
      for (const r of rows) {
        if (allChecked) next.delete(r.path)
        else next.set(r.path, r.entry)
      }
      return next
    })
  }
  const onSearch = (event: SyntheticEvent) => {
    event.preventDefault()
    if (query.trim() === '' || volume === undefined) return
    search.mutate({ source, volume, root: path, pattern: query.includes('*') || query.includes('?') ? query.trim() : `*${query.trim()}*`, limit: 1000 })
  }

  if (tree.isError) return <Alert>{errorText(t, tree.error)}</Alert>
  if (tree.isLoading) return <p className="muted">{t('browse.opening')}</p>
  if (browsable.length === 0) {
    return (
      <EmptyState title={t('browse.noVolumes')}>
        <ul className="plain-list">
          {(tree.data?.volumes ?? []).map((v) => (
            <li key={`${v.disk}-${v.locator}`}>
              {v.locator}: {v.problem ?? v.content}
            </li>
          ))}
        </ul>
      </EmptyState>
    )
  }

  const crumbs = path === '/' ? [] : path.slice(1).split('/')
  const selectedBytes = [...selected.values()].reduce((sum, e) => sum + (e.type === 'file' ? e.size : 0), 0)
  return (
    <div className="browser">
      <div className="browser-toolbar">
        {browsable.length > 1 && (
          <label className="inline-field">
            <span>{t('browse.volume')}</span>
            <select
              value={volume}
              onChange={(e) => {
                setChosenVolume(e.target.value)
                open('/')
                setSelected(new Map())
              }}
            >
              {browsable.map((v) => (
                <option key={`${v.disk}-${v.locator}`} value={v.locator}>
                  {volumeLabel(v)} ({fmt.bytes(v.size)})
                </option>
              ))}
            </select>
          </label>
        )}
        <nav className="breadcrumb" aria-label={t('browse.location')}>
          <button type="button" onClick={() => open('/')}>
            {browsable.find((v) => v.locator === volume)?.filesystem?.label || volume}
          </button>
          {crumbs.map((c, i) => (
            <span key={`${i}-${c}`}>
              <span aria-hidden="true"> / </span>
              <button type="button" onClick={() => open('/' + crumbs.slice(0, i + 1).join('/'))}>
                {c}
              </button>
            </span>
          ))}
        </nav>
        <form className="browser-search" role="search" onSubmit={onSearch}>
          <input type="search" value={query} onChange={(e) => setQuery(e.target.value)} placeholder={t('browse.searchPlaceholder')} aria-label={t('browse.search')} />
          <Button type="submit" size="sm" icon={<IconSearch />} busy={search.isPending}>
            {t('browse.search')}
          </Button>
        </form>
      </div>
      <div className="browser-body">
        <ul className="folder-tree" role="tree" aria-label={t('browse.folders')}>
          {volume !== undefined && <FolderTree key={volume} source={source} volume={volume} path="/" current={path} onOpen={open} depth={0} />}
        </ul>
        <div className="file-pane">
          {search.data && (
            <div className="search-banner" role="status">
              {t(search.data.truncated ? 'browse.searchMany' : 'browse.searchResults', { count: search.data.hits.length, query, path })}
              <Button size="sm" variant="ghost" onClick={() => search.reset()}>
                {t('browse.clearSearch')}
              </Button>
            </div>
          )}
          {search.isError && <Alert>{errorText(t, search.error)}</Alert>}
          {dir.isError && !search.data ? (
            <Alert>{errorText(t, dir.error)}</Alert>
          ) : dir.isLoading && !search.data ? (
            <p className="muted">{t('common.loading')}</p>
          ) : rows.length === 0 ? (
            <p className="muted">{search.data ? t('browse.noHits') : t('browse.empty')}</p>
          ) : (
            <table className="table file-table">
              <thead>
                <tr>
                  <th scope="col" className="check-cell">
                    <input type="checkbox" checked={allChecked} onChange={toggleAll} aria-label={t('browse.selectAll')} />
                  </th>
                  <th scope="col">{t('browse.name')}</th>
                  <th scope="col" className="num">{t('vm.disk.size')}</th>
                  <th scope="col" className="date">{t('browse.modified')}</th>
                </tr>
              </thead>
              <tbody>
                {rows.slice(0, shown).map(({ path: p, entry: e }) => (
                  <tr key={p} className={selected.has(p) ? 'is-selected' : undefined}>
                    <td className="check-cell">
                      <input type="checkbox" checked={selected.has(p)} onChange={() => toggle(p, e)} aria-label={t('browse.select', { name: e.name })} />
                    </td>
                    <td className="name">
                      {e.type === 'directory' ? (
                        <button type="button" className="link-button truncate" title={p} onClick={() => open(p)}>
                          <IconFolder size={14} /> {search.data ? p : e.name}
                        </button>
                      ) : (
                        <span className="truncate file-name" title={p}>
                          {e.type === 'symlink' ? <IconLink size={14} /> : <IconFile size={14} />} {search.data ? p : e.name}
                          {e.symlinkTarget !== undefined && <span className="muted"> → {e.symlinkTarget}</span>}
                        </span>
                      )}
                    </td>
                    <td className="num">{e.type === 'file' ? fmt.bytes(e.size) : ''}</td>
                    <td className="date">{fmt.shortDate(e.mtime)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {rows.length > shown && (
            <div className="more-row">
              <Button size="sm" onClick={() => setShown(shown + PAGE)}>
                {t('browse.showMore', { count: rows.length - shown })}
              </Button>
            </div>
          )}
        </div>
      </div>
      <div className="browser-actions">
        <span className="muted" aria-live="polite">
          {selected.size === 0 ? t('browse.hint') : t('browse.selected', { count: selected.size, size: fmt.bytes(selectedBytes) })}
        </span>
        {guest !== undefined && (
          <Button disabled={onlyFile === undefined} onClick={() => setToGuest(true)}>
            {t('guestRestore.button', { vm: guest.vmName })}
          </Button>
        )}
        <Button variant="primary" disabled={selected.size === 0} onClick={() => setRestoring(true)}>
          {t('browse.restore')}
        </Button>
      </div>
      {toGuest && guest !== undefined && volume !== undefined && onlyFile !== undefined && (
        <GuestRestoreDialog
          source={source}
          volume={volume}
          path={onlyFile}
          guest={guest}
          onClose={(started) => {
            setToGuest(false)
            if (started) setSelected(new Map())
          }}
        />
      )}
      {restoring && volume !== undefined && (
        <RestoreFilesDialog
          source={source}
          volume={volume}
          paths={[...selected.keys()]}
          folderName={folderName}
          onClose={(started) => {
            setRestoring(false)
            if (started) setSelected(new Map())
          }}
        />
      )}
    </div>
  )
}
