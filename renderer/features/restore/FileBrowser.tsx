import type { DiskSourceRef } from '../../../engine/api/contract'
import { Alert, EmptyState } from '../../components/bits'
import { errorText, useT } from '../../i18n/i18n'
import { BrowserActions } from './BrowserActions'
import { BrowserToolbar } from './BrowserToolbar'
import { FilePane } from './FilePane'
import { FolderTree } from './FolderTree'
import type { GuestTarget } from './GuestRestoreDialog'
import { useBrowseLocation } from './use-browse-location'
import { useFileSelection } from './use-file-selection'

/**
 * Browse the files of a restore point (or any disk source): pick a volume, walk folders, search by name,
 * tick files and folders, restore them to a local folder. Nothing is mounted; everything is read in userspace.
 */
export function FileBrowser({ source, folderName, guest }: { readonly source: DiskSourceRef; readonly folderName: string; readonly guest?: GuestTarget | undefined }) {
  const t = useT()
  const location = useBrowseLocation(source)
  const selection = useFileSelection(location.rows)
  const { tree, browsable, volume } = location

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

  const chooseVolume = (locator: string) => {
    location.chooseVolume(locator)
    selection.clear()
  }
  return (
    <div className="browser">
      <BrowserToolbar location={location} onChooseVolume={chooseVolume} />
      <div className="browser-body">
        <ul className="folder-tree" role="tree" aria-label={t('browse.folders')}>
          {volume !== undefined && <FolderTree key={volume} source={source} volume={volume} path="/" current={location.path} onOpen={location.open} depth={0} />}
        </ul>
        <FilePane location={location} selection={selection} />
      </div>
      <BrowserActions source={source} volume={volume} folderName={folderName} guest={guest} selection={selection} />
    </div>
  )
}
