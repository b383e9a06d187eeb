import { runLanes } from '../common/lanes.js'
import { CONFIG_KEY, MAX_CONFIG_BYTES, chunkKey, pointKey } from './format.js'
import { RepositoryError, throwIfCancelled } from './errors.js'
import { loadManifest } from './points.js'
import type { ObjectLockSetting } from './backend.js'
import type { RepoContext } from './context.js'

/** Said wherever immutability is asked of storage that cannot give it. */
export const NOT_IMMUTABLE =
  'Folders and SFTP repositories cannot be made immutable: anyone who can write there can delete restore points. For restore points that a stolen credential cannot delete or overwrite, use an S3 repository whose bucket has Object Lock enabled.'

/**
 * Turns Object Lock on (or off, for points written from now on) for a repository: recorded in config.json so every
 * Lifeboat that opens it locks what it writes. Points already written keep the locks they have.
 */
export async function configureObjectLock(ctx: RepoContext, setting: ObjectLockSetting | null, signal?: AbortSignal): Promise<void> {
  const lock = ctx.backend.objectLock
  if (lock === undefined) throw new RepositoryError('INVALID_ARGUMENT', `${ctx.backend.label}: ${NOT_IMMUTABLE}`, { location: ctx.backend.label })
  if (setting !== null) {
    if (!Number.isInteger(setting.days) || setting.days < 1 || setting.days > 36_500) throw new RepositoryError('INVALID_ARGUMENT', 'Lock restore points for 1 to 36500 days.')
    await lock.assertAvailable(signal)
  }
  const raw = await ctx.backend.get(CONFIG_KEY, { maxBytes: MAX_CONFIG_BYTES, signal })
  if (raw === undefined) throw new RepositoryError('REPO_NOT_FOUND', `The repository at ${ctx.backend.label} has lost its configuration file.`, { location: ctx.backend.label })
  const config = JSON.parse(raw.toString('utf8')) as Record<string, unknown>
  if (setting === null) delete config.objectLock
  else config.objectLock = { mode: setting.mode, days: setting.days }
  // Turning locking on locks this config.json too: a stolen credential cannot then destroy the key record that opens
  // every locked point (it can only hide it, and `repo undelete` brings it back).
  if (setting !== null) lock.use(setting)
  try {
    await ctx.backend.put(CONFIG_KEY, Buffer.from(JSON.stringify(config, null, 2) + '\n'), signal)
    await ctx.backend.flush(signal)
  } catch (error) {
    lock.use(ctx.config.objectLock)
    throw error
  }
  lock.use(setting ?? undefined)
}

/**
 * After a point is written (a backup or a copy): its manifest and every chunk it needs stay locked for the set number
 * of days from now. Chunks written for it already are; chunks it shares with older points get their lock extended —
 * otherwise an old chunk's lock could lapse while a new point still depends on it. One request per chunk.
 */
export async function lockPoint(ctx: RepoContext, pointId: string, signal?: AbortSignal): Promise<number> {
  const setting = ctx.config.objectLock
  const lock = ctx.backend.objectLock
  if (setting === undefined || lock === undefined) return 0
  const until = ctx.clock() + setting.days * 86_400_000
  const manifest = await loadManifest(ctx, pointId, signal)
  const keys = [pointKey(pointId), ...new Set(manifest.disks.flatMap((d) => d.chunks.filter((c): c is string => c !== null)).map(chunkKey))]
  await runLanes(
    keys.length,
    8,
    async (index, laneSignal) => {
      throwIfCancelled(laneSignal, `Restore point ${pointId} is written; some of the chunks it shares with older points may still be locked for less than ${setting.days} days. Backing up or copying again extends them.`)
      await lock.extend(keys[index] ?? '', until, laneSignal)
    },
    signal,
  )
  return keys.length
}
