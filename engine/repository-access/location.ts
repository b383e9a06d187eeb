import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ApiError } from '../api/contract-errors'

/**
 * Where a repository lives, parsed from the one string the contract, the CLI and the UI use:
 *
 *   /abs/folder  or  file:///abs/folder          a local folder
 *   sftp://HOST/abs/folder                       a folder on a host saved in Lifeboat (by its name)
 *   s3://BUCKET[/PREFIX][?endpoint=URL&region=R]  S3-compatible object storage
 *
 * Parsing is strict — a typo should fail loudly here, not become a surprising place — and every error names the
 * field. `formatLocation` gives the normalised spelling, used in messages and as the key of saved secrets.
 */
export type RepositoryLocation =
  | { readonly kind: 'local'; readonly path: string }
  | { readonly kind: 'sftp'; readonly host: string; readonly path: string }
  | { readonly kind: 's3'; readonly bucket: string; readonly prefix: string; readonly endpoint?: string; readonly region?: string }

export const LOCATION_FORMS = 'an absolute folder path, file:///FOLDER, sftp://HOST/FOLDER (HOST: a saved host\'s name) or s3://BUCKET/PREFIX?endpoint=URL&region=R'

/** The region the AWS SDK is given when a location names none. */
export const DEFAULT_S3_REGION = 'us-east-1'

export function parseLocation(text: string, field = 'repo'): RepositoryLocation {
  const fail = (why: string): never => {
    throw new ApiError('INVALID_INPUT', `The repository location ${JSON.stringify(redact(text).slice(0, 300))} ${why}`, { field })
  }
  // eslint-disable-next-line no-control-regex -- exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(text)) fail('contains control characters.')
  if (text !== text.trim() || text === '') fail('is empty or has spaces around it.')
  if (text.length > 4096) fail('is too long.')
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]+):/.exec(text)?.[1]?.toLowerCase()
  if (scheme === undefined) {
    if (path.isAbsolute(text)) return { kind: 'local', path: path.resolve(text) }
    return fail(`is not absolute. Give ${LOCATION_FORMS}.`)
  }
  if (scheme === 'file') return parseFile(text, fail)
  if (scheme === 'sftp') return parseSftp(text, fail)
  if (scheme === 's3') return parseS3(text, fail)
  return fail(`uses "${scheme}:", which Lifeboat does not know. Give ${LOCATION_FORMS}.`)
}

/** The normalised spelling: equal for equal places, free of secrets. */
export function formatLocation(location: RepositoryLocation): string {
  switch (location.kind) {
    case 'local':
      return location.path
    case 'sftp':
      return `sftp://${encodeURIComponent(location.host)}${location.path.split('/').map(encodeURIComponent).join('/')}`
    case 's3': {
      const query = [
        ...(location.endpoint !== undefined ? [`endpoint=${location.endpoint}`] : []),
        ...(location.region !== undefined ? [`region=${location.region}`] : []),
      ]
      return `s3://${location.bucket}/${location.prefix}${query.length > 0 ? `?${query.join('&')}` : ''}`
    }
  }
}

/**
 * What the CLI passes for `--repo ARG`: a location string as given (anything with a scheme of two or more letters,
 * so a Windows drive letter stays a path), otherwise a folder resolved against the working directory as before.
 */
export function locationFromCommandLine(arg: string, cwd: string = process.cwd()): string {
  return /^[A-Za-z][A-Za-z0-9+.-]+:/.test(arg) ? arg : path.resolve(cwd, arg)
}

type Fail = (why: string) => never

function parseFile(text: string, fail: Fail): RepositoryLocation {
  if (!/^file:\/\//i.test(text)) fail('is not a file URL: write file:///ABSOLUTE/FOLDER.')
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return fail('is not a valid file URL.')
  }
  if (url.search !== '' || url.hash !== '') fail('has a query or fragment; a file URL names a folder only.')
  if (url.hostname !== '' && url.hostname !== 'localhost') fail('names another machine; file URLs must be local (file:///FOLDER). For a folder on a saved host use sftp://HOST/FOLDER.')
  let folder: string
  try {
    folder = fileURLToPath(url)
  } catch (error) {
    return fail(`is not a usable file URL (${error instanceof Error ? error.message : String(error)}).`)
  }
  if (folder.includes('\0')) fail('contains a NUL character.')
  return { kind: 'local', path: path.resolve(folder) }
}

function parseSftp(text: string, fail: Fail): RepositoryLocation {
  const m = /^sftp:\/\/([^/?#]*)(\/[^?#]*)?$/i.exec(text)
  if (m === null) {
    if (/[?#]/.test(text)) fail('has a query or fragment; write sftp://HOST/ABSOLUTE/FOLDER.')
    return fail('is not an SFTP location: write sftp://HOST/ABSOLUTE/FOLDER.')
  }
  const authority = m[1] ?? ''
  if (authority.includes('@')) fail('names a user. sftp:// locations name a host saved in Lifeboat; its saved user and credentials are used (write sftp://HOST/FOLDER).')
  if (authority.includes(':')) fail('names a port. sftp:// locations name a host saved in Lifeboat; its saved address and port are used (write sftp://HOST/FOLDER).')
  const host = decode(authority, fail)
  if (host === '') fail('names no host: write sftp://HOST/ABSOLUTE/FOLDER, where HOST is the name of a saved host.')
  const rawPath = m[2] ?? ''
  if (rawPath === '' || rawPath === '/') fail('names no folder: write sftp://HOST/ABSOLUTE/FOLDER.')
  const segments = rawPath.slice(1).replace(/\/$/, '').split('/')
  const decoded = segments.map((s) => decode(s, fail))
  for (const s of decoded) {
    if (s === '' || s === '.' || s === '..') fail('has an empty, "." or ".." folder in its path; give the folder\'s plain absolute path.')
    if (s.includes('/') || s.includes('\0')) fail('has an encoded "/" or NUL in a folder name.')
  }
  if (decoded[0] === '~') fail('starts with "~": home folders are not expanded. Give the absolute path (e.g. /home/USER/FOLDER).')
  return { kind: 'sftp', host: host.toLowerCase(), path: `/${decoded.join('/')}` }
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/
const PREFIX_SEGMENT = /^[0-9A-Za-z._-]+$/
const REGION = /^[a-z0-9][a-z0-9-]{0,62}$/

function parseS3(text: string, fail: Fail): RepositoryLocation {
  const m = /^s3:\/\/([^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/i.exec(text)
  if (m === null) return fail('is not an S3 location: write s3://BUCKET/PREFIX?endpoint=URL&region=R (fragments are not allowed).')
  const bucket = m[1] ?? ''
  if (bucket.includes('@')) fail('carries credentials. They never go into a location: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or save them with `lifeboat repo init --s3-access-key ID --s3-secret-stdin`.')
  if (!BUCKET.test(bucket) || bucket.includes('..') || /^\d+\.\d+\.\d+\.\d+$/.test(bucket)) {
    fail('has no valid bucket name (3–63 characters: lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit). Put the endpoint in ?endpoint=URL.')
  }
  const rawPrefix = (m[2] ?? '').replace(/^\//, '').replace(/\/$/, '')
  const segments = rawPrefix === '' ? [] : rawPrefix.split('/')
  for (const s of segments) {
    if (!PREFIX_SEGMENT.test(s) || s.startsWith('.')) fail('has a prefix Lifeboat cannot use: folders of letters, digits, ".", "_" and "-", none starting with a dot, no empty ones.')
  }
  const params = new Map<string, string>()
  for (const pair of m[3] === undefined ? [] : m[3].slice(1).split('&')) {
    if (pair === '') fail('has an empty option (a stray "?" or "&").')
    const eq = pair.indexOf('=')
    const name = eq < 0 ? pair : pair.slice(0, eq)
    const value = eq < 0 ? '' : decode(pair.slice(eq + 1), fail)
    if (name !== 'endpoint' && name !== 'region') fail(`has an unknown option "${name.slice(0, 40)}"; only endpoint=URL and region=R are understood.`)
    if (params.has(name)) fail(`gives ${name} twice.`)
    if (value === '') fail(`gives ${name} without a value.`)
    params.set(name, value)
  }
  const endpoint = params.get('endpoint')
  const region = params.get('region')
  if (region !== undefined && !REGION.test(region)) fail('has an invalid region (lowercase letters, digits and hyphens, e.g. eu-central-1).')
  return {
    kind: 's3',
    bucket,
    prefix: segments.length > 0 ? `${segments.join('/')}/` : '',
    ...(endpoint !== undefined ? { endpoint: parseEndpoint(endpoint, fail) } : {}),
    // The SDK's default, spelled out or not, is the same place: normalise it away.
    ...(region !== undefined && region !== DEFAULT_S3_REGION ? { region } : {}),
  }
}

function parseEndpoint(value: string, fail: Fail): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return fail('has an endpoint that is not a URL (e.g. endpoint=https://s3.example.net:9000).')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail('has an endpoint that is not http:// or https://.')
  if (url.username !== '' || url.password !== '') fail('has credentials in its endpoint. They never go into a location: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use --s3-secret-stdin.')
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') fail('has an endpoint with a path or query; give only scheme, host and port.')
  return url.origin
}

/** Hides anything written as URL user info (`//user:secret@`, also %-encoded): a refused location is quoted back. */
function redact(text: string): string {
  return text.replace(/(\/\/|%2f%2f)[^/?#&]*(@|%40)/gi, '$1***@')
}

function decode(s: string, fail: Fail): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return fail('has a broken %-escape.')
  }
}
