import { useMemo, useState } from 'react'
import type { DiskSourceRef, FsEntryDto } from '../../../engine/api/contract'
import { useDirectory, useDiskTree, useSearchFiles } from '../../api/queries'
import { joinPath, PAGE } from './browse-model'

/** A row of the file list: an entry and its full path (search hits come from many folders). */
export interface FileRow {
  readonly path: string
  readonly entry: FsEntryDto
}

/**
 * Where the file browser is: the volume, the folder, how many rows are shown, and a name search below that folder.
 * The rows are the search hits while a search is shown, else the folder's entries.
 */
export function useBrowseLocation(source: DiskSourceRef) {
  const tree = useDiskTree(source)
  const browsable = (tree.data?.volumes ?? []).filter((v) => v.filesystem !== undefined && v.problem === undefined)
  const [chosenVolume, setChosenVolume] = useState<string | undefined>(undefined)
  const volume = chosenVolume ?? browsable[0]?.locator
  const [path, setPath] = useState('/')
  const [shown, setShown] = useState(PAGE)
  const [query, setQuery] = useState('')
  const search = useSearchFiles()
  const dir = useDirectory(source, volume, path, volume !== undefined)

  const rows: FileRow[] = useMemo(() => {
    if (search.data) return search.data.hits.map((h) => ({ path: h.path, entry: h.entry }))
    return (dir.data?.entries ?? []).map((e) => ({ path: joinPath(path, e.name), entry: e }))
  }, [search.data, dir.data, path])

  const open = (p: string) => {
    setPath(p)
    setShown(PAGE)
    search.reset()
  }
  const chooseVolume = (locator: string) => {
    setChosenVolume(locator)
    open('/')
  }
  // A plain word finds names containing it; with a wildcard it is taken as the whole pattern.
  const runSearch = () => {
    if (query.trim() === '' || volume === undefined) return
    search.mutate({ source, volume, root: path, pattern: query.includes('*') || query.includes('?') ? query.trim() : `*${query.trim()}*`, limit: 1000 })
  }
  const showMore = () => setShown(shown + PAGE)

  return { tree, browsable, volume, path, shown, query, setQuery, search, dir, rows, open, chooseVolume, runSearch, showMore }
}

export type BrowseLocation = ReturnType<typeof useBrowseLocation>
