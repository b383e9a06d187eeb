import type { SyntheticEvent } from 'react'
import { Button } from '../../components/Button'
import { IconSearch } from '../../components/icons'
import { useFormat, useT } from '../../i18n/i18n'
import { volumeLabel } from './browse-model'
import type { BrowseLocation } from './use-browse-location'

/** Above the file list: the volume (when there is a choice), where we are, and the name search. */
export function BrowserToolbar({ location, onChooseVolume }: { readonly location: BrowseLocation; readonly onChooseVolume: (locator: string) => void }) {
  const t = useT()
  const fmt = useFormat()
  const { browsable, volume, query, setQuery, search } = location
  const onSearch = (event: SyntheticEvent) => {
    event.preventDefault()
    location.runSearch()
  }
  return (
    <div className="browser-toolbar">
      {browsable.length > 1 && (
        <label className="inline-field">
          <span>{t('browse.volume')}</span>
          <select value={volume} onChange={(e) => onChooseVolume(e.target.value)}>
            {browsable.map((v) => (
              <option key={`${v.disk}-${v.locator}`} value={v.locator}>
                {volumeLabel(v)} ({fmt.bytes(v.size)})
              </option>
            ))}
          </select>
        </label>
      )}
      <Breadcrumb location={location} />
      <form className="browser-search" role="search" onSubmit={onSearch}>
        <input type="search" value={query} onChange={(e) => setQuery(e.target.value)} placeholder={t('browse.searchPlaceholder')} aria-label={t('browse.search')} />
        <Button type="submit" size="sm" icon={<IconSearch />} busy={search.isPending}>
          {t('browse.search')}
        </Button>
      </form>
    </div>
  )
}

function Breadcrumb({ location }: { readonly location: BrowseLocation }) {
  const t = useT()
  const { browsable, volume, path, open } = location
  const crumbs = path === '/' ? [] : path.slice(1).split('/')
  return (
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
  )
}
