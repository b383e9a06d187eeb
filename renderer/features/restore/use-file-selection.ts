import { useState } from 'react'
import type { FsEntryDto } from '../../../engine/api/contract'
import type { FileRow } from './use-browse-location'

/** The ticked files and folders, by full path; it outlives folder changes and searches, not a change of volume. */
export function useFileSelection(rows: readonly FileRow[]) {
  const [selected, setSelected] = useState<ReadonlyMap<string, FsEntryDto>>(new Map())
  const toggle = (p: string, e: FsEntryDto) => {
    setSelected((prev) => {
      const next = new Map(prev)
      if (next.has(p)) next.delete(p)
      else next.set(p, e)
      return next
    })
  }
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
  const clear = () => setSelected(new Map())
  // Only one plain file at a time goes into a running guest.
  const onlyFile = selected.size === 1 ? [...selected].find(([, e]) => e.type === 'file')?.[0] : undefined
  const bytes = [...selected.values()].reduce((sum, e) => sum + (e.type === 'file' ? e.size : 0), 0)
  return { selected, toggle, allChecked, toggleAll, clear, onlyFile, bytes }
}

export type FileSelection = ReturnType<typeof useFileSelection>
