import type { UndoStack, UndoStep } from '../undo-stack'
import { tags, TAG } from './tags'
import type { XapiClient } from './xapi-client'
import { allTagKeys, removeOtherConfig, setOtherConfig } from './xapi-objects'
import { madeAnyway, runTaskForRef } from './xapi-tasks'

export interface MarkedSnapshotOptions {
  readonly vmRef: string
  /** VM.snapshot or VM.checkpoint, with its arguments. */
  readonly method: string
  readonly args: unknown[]
  readonly fields: { readonly job: string; readonly vm: string }
  /** The undo that takes Lifeboat's marker off the VM again (the flow wraps it in its own logging or retries). */
  readonly markerUndo: (remove: (signal: AbortSignal) => Promise<void>) => UndoStep['undo']
  readonly markerLabel: string
  /** Registers the removal of a snapshot the pool made (also one a failed or cancelled call made anyway). */
  readonly register: (snapshotRef: string) => void
  readonly onProgress?: (fraction: number) => void
}

/**
 * A VM snapshot or checkpoint that is findable from the first moment: the VM carries Lifeboat's "pending" marker
 * while the pool takes it, so the snapshot inherits the marker and a crash right after still leaves it tagged; a
 * snapshot a failed or cancelled call made anyway is registered for removal too. Afterwards the VM loses the marker
 * and the snapshot VM gets the backup tags and a first heartbeat, which are returned for its disks.
 */
export async function markedSnapshot(client: XapiClient, undo: UndoStack, o: MarkedSnapshotOptions, signal: AbortSignal): Promise<{ snapRef: string; marks: Record<string, string> }> {
  // Removing keys that are not there is harmless, so the undo comes first: a cancelled call may still land.
  const marker = undo.push(o.markerLabel, o.markerUndo((s) => removeOtherConfig(client, 'VM', o.vmRef, allTagKeys, s)))
  await setOtherConfig(client, 'VM', o.vmRef, tags('pending', o.fields), signal)
  let snapRef: string
  try {
    snapRef = await runTaskForRef(client, o.method, o.args, { signal, ...(o.onProgress !== undefined ? { onProgress: o.onProgress } : {}) })
  } catch (err) {
    const orphan = madeAnyway(err)
    if (orphan !== undefined) o.register(orphan)
    throw err
  }
  o.register(snapRef)
  await removeOtherConfig(client, 'VM', o.vmRef, allTagKeys, signal)
  marker.done()
  const marks = { ...tags('backup', o.fields), [TAG.heartbeat]: new Date().toISOString() }
  await setOtherConfig(client, 'VM', snapRef, marks, signal)
  return { snapRef, marks }
}
