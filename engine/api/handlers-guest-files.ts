import { restoreToGuest } from '../browse/guest-restore'
import type { Handler } from './handler-types'
import type { HandlerDeps } from './handler-deps'

export function guestFileHandlers(deps: HandlerDeps) {
  const toGuest: Handler<'files.restoreToGuest'> = (input) =>
    restoreToGuest(deps, {
      source: input.source,
      path: input.path,
      host: input.host,
      vm: input.vm,
      guestPath: input.guestPath,
      overwrite: input.overwrite,
      ...(input.volume !== undefined ? { volume: input.volume } : {}),
    })
  return { 'files.restoreToGuest': toGuest } as const
}
