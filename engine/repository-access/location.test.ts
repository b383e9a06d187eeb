import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ApiError } from '../api/contract-errors'
import { formatLocation, locationFromCommandLine, parseLocation } from './location'

const normalised = (text: string) => formatLocation(parseLocation(text))

function refusal(text: string): ApiError {
  try {
    parseLocation(text)
  } catch (err) {
    if (err instanceof ApiError) return err
    throw err
  }
  throw new Error(`${text} was accepted`)
}

describe('repository locations', () => {
  it('reads folders, file URLs, saved-host SFTP folders and S3 buckets, and spells each one way', () => {
    expect(parseLocation('/srv/lifeboat/')).toEqual({ kind: 'local', path: '/srv/lifeboat' })
    expect(parseLocation('/srv/x/../lifeboat')).toEqual({ kind: 'local', path: '/srv/lifeboat' })
    expect(parseLocation('file:///srv/life%20boat')).toEqual({ kind: 'local', path: '/srv/life boat' })
    expect(normalised('FILE://localhost/srv/lifeboat')).toBe('/srv/lifeboat')
    expect(parseLocation('sftp://Backup01/srv/lifeboat/')).toEqual({ kind: 'sftp', host: 'backup01', path: '/srv/lifeboat' })
    expect(parseLocation('sftp://file%20server/srv/my%20repo')).toEqual({ kind: 'sftp', host: 'file server', path: '/srv/my repo' })
    expect(normalised('sftp://file%20server/srv/my%20repo/')).toBe('sftp://file%20server/srv/my%20repo')
    expect(parseLocation('s3://lifeboat-backups')).toEqual({ kind: 's3', bucket: 'lifeboat-backups', prefix: '' })
    expect(parseLocation('s3://lifeboat-backups/shop1/vms?endpoint=https://S3.Example.net:9000/&region=eu-central-1')).toEqual({
      kind: 's3',
      bucket: 'lifeboat-backups',
      prefix: 'shop1/vms/',
      endpoint: 'https://s3.example.net:9000',
      region: 'eu-central-1',
    })
    expect(normalised('s3://b1b/p/?region=eu-west-1&endpoint=http%3A%2F%2F127.0.0.1%3A4569')).toBe('s3://b1b/p/?endpoint=http://127.0.0.1:4569&region=eu-west-1')
    // The default region, written or not, is the same place (and keys the same saved secrets).
    expect(normalised('s3://b1b/p?region=us-east-1')).toBe(normalised('s3://b1b/p/'))
  })

  it('refuses anything ambiguous, naming the repo field', () => {
    const cases: [string, RegExp][] = [
      ['', /empty/],
      [' /srv/x', /spaces around/],
      ['relative/folder', /not absolute/],
      ['/srv/x\n', /control characters/],
      ['ftp://host/x', /"ftp:"/],
      ['file://nas/share', /another machine/],
      ['file:///srv/x?y=1', /query or fragment/],
      ['sftp://admin@web01/srv/x', /names a user/],
      ['sftp://web01:2222/srv/x', /names a port/],
      ['sftp:///srv/x', /names no host/],
      ['sftp://web01', /names no folder/],
      ['sftp://web01/', /names no folder/],
      ['sftp://web01/srv/../etc', /"\.\."/],
      ['sftp://web01/srv//x', /empty/],
      ['sftp://web01/~/backups', /home folders are not expanded/],
      ['sftp://web01/srv/x?mode=1', /query or fragment/],
      ['sftp://web01/a%2Fb', /encoded "\/"/],
      ['sftp://web01/a%zz', /broken %-escape/],
      ['s3://AKIA:secret@bucket/x', /carries credentials/],
      ['s3://Bad_Bucket/x', /valid bucket name/],
      ['s3://ab/x', /valid bucket name/],
      ['s3://10.0.0.1/x', /valid bucket name/],
      ['s3://bucket/x y', /prefix/],
      ['s3://bucket/.hidden', /prefix/],
      ['s3://bucket/x?acl=private', /unknown option "acl"/],
      ['s3://bucket/x?region=a&region=b', /region twice/],
      ['s3://bucket/x?endpoint=', /without a value/],
      ['s3://bucket/x?', /empty option/],
      ['s3://bucket/x?endpoint=ftp://host', /not http/],
      ['s3://bucket/x?endpoint=https://key:secret@host', /credentials in its endpoint/],
      ['s3://bucket/x?endpoint=https://host/path', /path or query/],
      ['s3://bucket/x?region=EU', /invalid region/],
      ['s3://bucket/x#frag', /not an S3 location/],
    ]
    for (const [text, message] of cases) {
      const err = refusal(text)
      expect(err.code, text).toBe('INVALID_INPUT')
      expect(err.params.field, text).toBe('repo')
      expect(err.message, text).toMatch(message)
    }
    // A secret written into a location by mistake is refused and never repeated back.
    for (const text of ['s3://KEYID:hunter2@bucket/x', 's3://bucket/x?endpoint=https://KEYID:hunter2@host', 's3://bucket/x?endpoint=https%3A%2F%2FKEYID%3Ahunter2%40host', 'sftp://root:hunter2@web01/srv']) {
      const err = refusal(text)
      expect(err.message, text).not.toMatch(/hunter2|KEYID/)
      expect(err.message, text).toContain('***@')
    }
  })

  it('keeps the CLI forms: relative folders resolve against the working directory, locations pass as given', () => {
    expect(locationFromCommandLine('repo', '/home/admin')).toBe('/home/admin/repo')
    expect(locationFromCommandLine('/srv/repo', '/home/admin')).toBe('/srv/repo')
    expect(locationFromCommandLine('sftp://web01/srv/repo', '/x')).toBe('sftp://web01/srv/repo')
    expect(locationFromCommandLine('s3://bucket/p?region=eu-west-1', '/x')).toBe('s3://bucket/p?region=eu-west-1')
    expect(locationFromCommandLine('sftp:/typo', '/x')).toBe('sftp:/typo')
    expect(path.isAbsolute(locationFromCommandLine('./r'))).toBe(true)
  })
})
