import type { BrowseService } from '../browse/browse-service'
import { retryOf } from '../jobs/retry'
import type { Handler } from './handler-types'

export function fileHandlers(browse: BrowseService) {
  const probe: Handler<'files.probe'> = (input, ctx) => browse.probe(input.source, ctx.signal)
  const list: Handler<'files.list'> = (input, ctx) => browse.list(input.source, input.volume, input.path, input.offset, input.limit, ctx.signal)
  const stat: Handler<'files.stat'> = (input, ctx) => browse.stat(input.source, input.volume, input.path, ctx.signal)
  const search: Handler<'files.search'> = (input, ctx) => browse.search(input.source, input.volume, input.root, input.pattern, input.limit, ctx.signal)
  const restore: Handler<'files.restore'> = (input) => {
    const { jobId } = browse.restore(input.source, input.volume, input.paths, input.toDirectory, retryOf('files.restore', input), { streams: input.streams === true })
    return Promise.resolve({ jobId })
  }
  return { 'files.probe': probe, 'files.list': list, 'files.stat': stat, 'files.search': search, 'files.restore': restore } as const
}
