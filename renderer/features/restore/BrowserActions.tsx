import { useState } from 'react'
import type { DiskSourceRef } from '../../../engine/api/contract'
import { Button } from '../../components/Button'
import { useFormat, useT } from '../../i18n/i18n'
import { GuestRestoreDialog, type GuestTarget } from './GuestRestoreDialog'
import { RestoreFilesDialog } from './RestoreFilesDialog'
import type { FileSelection } from './use-file-selection'

interface ActionsProps {
  readonly source: DiskSourceRef
  readonly volume: string | undefined
  readonly folderName: string
  readonly guest: GuestTarget | undefined
  readonly selection: FileSelection
}

/** Below the file list: what is ticked, and restoring it to a local folder or (one file) into the running guest. */
export function BrowserActions({ source, volume, folderName, guest, selection }: ActionsProps) {
  const t = useT()
  const fmt = useFormat()
  const [restoring, setRestoring] = useState(false)
  const [toGuest, setToGuest] = useState(false)
  const { selected, onlyFile } = selection
  // A restore that started takes the ticks with it; a cancelled one leaves them for another try.
  const after = (close: () => void) => (started: boolean) => {
    close()
    if (started) selection.clear()
  }
  return (
    <>
      <div className="browser-actions">
        <span className="muted" aria-live="polite">
          {selected.size === 0 ? t('browse.hint') : t('browse.selected', { count: selected.size, size: fmt.bytes(selection.bytes) })}
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
        <GuestRestoreDialog source={source} volume={volume} path={onlyFile} guest={guest} onClose={after(() => setToGuest(false))} />
      )}
      {restoring && volume !== undefined && (
        <RestoreFilesDialog source={source} volume={volume} paths={[...selected.keys()]} folderName={folderName} onClose={after(() => setRestoring(false))} />
      )}
    </>
  )
}
