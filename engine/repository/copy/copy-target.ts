import { CONFIG_KEY, MAX_CONFIG_BYTES } from '../format.js'
import { RepositoryError } from '../errors.js'
import { readConfig } from '../config.js'
import type { RepositoryBackend } from '../backend.js'
import type { RepoContext } from '../context.js'

/**
 * A copy repository is a repository whose config.json is the source's, byte for byte: the same id, chunking and
 * wrapped key. Chunk ids, sealed chunks and manifests are then valid in both as they are, so a copy moves stored
 * objects without decrypting or re-compressing them, and the copy opens (and restores) with the same passphrase.
 * Returns whether the target was created here.
 */
export async function prepareCopyTarget(ctx: RepoContext, target: RepositoryBackend, signal?: AbortSignal): Promise<{ created: boolean }> {
  const existing = await target.stat(CONFIG_KEY, signal)
  if (existing === undefined) {
    const own = await ctx.backend.get(CONFIG_KEY, { maxBytes: MAX_CONFIG_BYTES, signal })
    if (own === undefined) throw new RepositoryError('REPO_NOT_FOUND', `The repository at ${ctx.backend.label} has lost its configuration file.`, { location: ctx.backend.label })
    await target.put(CONFIG_KEY, own, signal)
    await target.flush(signal)
    return { created: true }
  }
  await assertSameRepository(ctx, target, signal)
  return { created: false }
}

/** Refuses a target (or repair source) that is another repository: its chunk ids and keys would not match ours. */
export async function assertSameRepository(ctx: RepoContext, other: RepositoryBackend, signal?: AbortSignal): Promise<void> {
  const theirs = await readConfig(other, signal)
  if (theirs.id !== ctx.config.id) {
    throw new RepositoryError(
      'INVALID_ARGUMENT',
      `${other.label} holds another Lifeboat repository (id ${theirs.id}), not a copy of ${ctx.backend.label} (id ${ctx.config.id}). Copies go to an empty place or to an earlier copy of the same repository. Nothing was changed.`,
      { location: other.label },
    )
  }
  if (JSON.stringify(theirs.encryption) !== JSON.stringify(ctx.config.encryption)) {
    throw new RepositoryError(
      'INVALID_ARGUMENT',
      `${other.label} is a copy of this repository but its key record differs (was its passphrase changed?). Nothing was changed.`,
      { location: other.label },
    )
  }
}
