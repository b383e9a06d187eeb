import { describe, expect, it } from 'vitest'
import { ApiError } from '../api/contract-errors'
import type { FsEntryDto } from '../api/contract-files'
import { resolveCatTarget } from './stream-path'

const file = (name: string, streams?: { name: string; size: number }[]): FsEntryDto => ({ name, type: 'file', size: 3, ...(streams ? { streams } : {}) })

/** A volume as files.stat sees it: path → entry. */
function statOf(entries: Record<string, FsEntryDto>): (path: string) => Promise<FsEntryDto> {
  return (path) => {
    const e = entries[path]
    return e ? Promise.resolve(e) : Promise.reject(new ApiError('PATH_NOT_FOUND', `${path} not found`))
  }
}

describe('cat PATH:STREAM', () => {
  const ntfs = statOf({ '/docs/report.txt': file('report.txt', [{ name: 'Zone.Identifier', size: 24 }]) })

  it('reads a stream an NTFS file lists, also written PATH:STREAM:$DATA', async () => {
    await expect(resolveCatTarget('/docs/report.txt:Zone.Identifier', ntfs)).resolves.toMatchObject({ path: '/docs/report.txt', stream: 'Zone.Identifier' })
    await expect(resolveCatTarget('/docs/report.txt:Zone.Identifier:$DATA', ntfs)).resolves.toMatchObject({ path: '/docs/report.txt', stream: 'Zone.Identifier' })
    await expect(resolveCatTarget('/docs/report.txt', ntfs)).resolves.toMatchObject({ path: '/docs/report.txt' })
  })

  it('is not found for a stream the file does not have', async () => {
    await expect(resolveCatTarget('/docs/report.txt:other', ntfs)).rejects.toMatchObject({ code: 'PATH_NOT_FOUND' })
    await expect(resolveCatTarget('/docs:x/report.txt', ntfs)).rejects.toMatchObject({ code: 'PATH_NOT_FOUND' })
  })

  it('leaves names holding ":" alone where they are ordinary names (ext, XFS)', async () => {
    const ext = statOf({ '/a:b': file('a:b'), '/c': file('c') })
    await expect(resolveCatTarget('/a:b', ext)).resolves.toEqual({ path: '/a:b', entry: file('a:b') })
    await expect(resolveCatTarget('/c:d', ext)).rejects.toMatchObject({ code: 'PATH_NOT_FOUND' })
  })
})
