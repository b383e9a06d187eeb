import { Alert } from '../../components/bits'
import { Button } from '../../components/Button'
import { IconFile, IconFolder, IconLink } from '../../components/icons'
import { errorText, useFormat, useT } from '../../i18n/i18n'
import type { BrowseLocation, FileRow } from './use-browse-location'
import type { FileSelection } from './use-file-selection'

interface PaneProps {
  readonly location: BrowseLocation
  readonly selection: FileSelection
}

/** The folder's entries or the search hits, with the search's banner and a "show more" for long folders. */
export function FilePane({ location, selection }: PaneProps) {
  const t = useT()
  const { search, dir, rows, shown, query, path } = location
  return (
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
        <FileTable location={location} selection={selection} />
      )}
      {rows.length > shown && (
        <div className="more-row">
          <Button size="sm" onClick={location.showMore}>
            {t('browse.showMore', { count: rows.length - shown })}
          </Button>
        </div>
      )}
    </div>
  )
}

function FileTable({ location, selection }: PaneProps) {
  const t = useT()
  return (
    <table className="table file-table">
      <thead>
        <tr>
          <th scope="col" className="check-cell">
            <input type="checkbox" checked={selection.allChecked} onChange={selection.toggleAll} aria-label={t('browse.selectAll')} />
          </th>
          <th scope="col">{t('browse.name')}</th>
          <th scope="col" className="num">{t('vm.disk.size')}</th>
          <th scope="col" className="date">{t('browse.modified')}</th>
        </tr>
      </thead>
      <tbody>
        {location.rows.slice(0, location.shown).map((row) => (
          <FileTableRow key={row.path} row={row} location={location} selection={selection} />
        ))}
      </tbody>
    </table>
  )
}

/** Search hits show their full path, folder entries their name; a folder opens, a file or link does not. */
function FileTableRow({ row: { path: p, entry: e }, location, selection }: PaneProps & { readonly row: FileRow }) {
  const t = useT()
  const fmt = useFormat()
  const label = location.search.data ? p : e.name
  return (
    <tr className={selection.selected.has(p) ? 'is-selected' : undefined}>
      <td className="check-cell">
        <input type="checkbox" checked={selection.selected.has(p)} onChange={() => selection.toggle(p, e)} aria-label={t('browse.select', { name: e.name })} />
      </td>
      <td className="name">
        {e.type === 'directory' ? (
          <button type="button" className="link-button truncate" title={p} onClick={() => location.open(p)}>
            <IconFolder size={14} /> {label}
          </button>
        ) : (
          <span className="truncate file-name" title={p}>
            {e.type === 'symlink' ? <IconLink size={14} /> : <IconFile size={14} />} {label}
            {e.symlinkTarget !== undefined && <span className="muted"> → {e.symlinkTarget}</span>}
          </span>
        )}
      </td>
      <td className="num">{e.type === 'file' ? fmt.bytes(e.size) : ''}</td>
      <td className="date">{fmt.shortDate(e.mtime)}</td>
    </tr>
  )
}
