#!/usr/bin/env node
// Fetches other projects' public test images (and their own expected outputs) for
// engine/filesystems/public-images-*.test.ts. Nothing of these projects is committed: the pinned Debian source
// tarballs are fetched by name with apt-get source (Debian's own client, this machine's mirrors), checked against their SHA-256, and only the image and expected-output
// files are extracted into a cache outside the checkout (~/.cache/lifeboat/public-images/, or
// $LIFEBOAT_PUBLIC_IMAGES_DIR). Images are decompressed (sparse) so that tests open them as `lifeboat image` does.
// A second run finds each source's ready.json and returns at once. Exit code 2: a download failed (no network?).
import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream, existsSync } from 'node:fs'
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createGunzip } from 'node:zlib'


/**
 * The pinned sources: Debian 12 (bookworm) source packages, fetched by name with apt-get from the mirrors this
 * machine's apt already uses; `orig` is the upstream tarball each one's .dsc names, pinned by the SHA-256 the .dsc
 * gives (`apt-get source --print-uris PKG`), so a later Debian revision of the same upstream release still fits.
 */
export const SOURCES = [
  {
    id: 'util-linux',
    package: 'util-linux',
    version: '2.38.1-5+deb12u3',
    orig: 'util-linux_2.38.1.orig.tar.xz',
    sha256: '60492a19b44e6cf9a3ddff68325b333b8b52b6c59ce3ebd6a0ecaa4c5117e84f',
    top: 'util-linux-2.38.1',
    extract: ['tests/ts/blkid/images-fs/*.img.xz', 'tests/ts/blkid/images-pt/*.img.xz', 'tests/expected/blkid/*'],
  },
  {
    id: 'e2fsprogs',
    package: 'e2fsprogs',
    version: '1.47.0-2',
    orig: 'e2fsprogs_1.47.0.orig.tar.gz',
    sha256: '6667afde56eef0c6af26684974400e4d2288ea49e9441bf5e6229195d51a3578',
    top: 'e2fsprogs-1.47.0',
    extract: ['tests/f_*/image*', 'tests/f_*/name'],
  },
  {
    id: 'btrfs-progs',
    package: 'btrfs-progs',
    version: '6.2-1+deb12u2',
    orig: 'btrfs-progs_6.2.orig.tar.xz',
    sha256: '5fa59b9304bec59a8f0cb505f60c95d8c46b2948389033ad9d3cd72928bfd144',
    top: 'btrfs-progs-v6.2',
    extract: ['tests/fsck-tests/*/*.img', 'tests/fsck-tests/*/*.img.xz', 'tests/fsck-tests/*/*.raw.xz', 'tests/misc-tests/*/*.img', 'tests/misc-tests/*/*.img.xz', 'tests/misc-tests/*/*.raw.xz', 'tests/fuzz-tests/images/*.raw.xz'],
  },
  {
    id: 'dosfstools',
    package: 'dosfstools',
    version: '4.2-1',
    orig: 'dosfstools_4.2.orig.tar.gz',
    sha256: '64926eebf90092dca21b14259a5301b7b98e7b1943e8a201c7d726084809b527',
    top: 'dosfstools-4.2',
    extract: ['tests/*.xxd', 'tests/*.label', 'tests/*.fsck'],
  },
]

export function publicImagesDir() {
  // Per user, outside the checkout: a fresh clone (CI's) finds what an earlier one fetched (~340 MB, 2.5 min).
  return process.env.LIFEBOAT_PUBLIC_IMAGES_DIR || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'lifeboat', 'public-images')
}

function say(quiet, text) {
  if (!quiet) process.stderr.write(`fetch-public-images: ${text}\n`)
}

export class DownloadError extends Error {}

/**
 * The deb lines of this machine's apt configuration (one-line and deb822 files), as deb-src entries: the source
 * packages come from the same mirrors as everything else apt installs here, and no mirror is named in this script.
 */
async function sourceEntries() {
  const out = []
  const add = (uris, suites, components, signedBy) => {
    for (const uri of uris) for (const suite of suites) out.push(`deb-src ${signedBy ? `[signed-by=${signedBy}] ` : ''}${uri} ${suite} ${components.join(' ')}`)
  }
  const oneLine = (text) => {
    for (const line of text.split('\n')) {
      const m = /^\s*deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.+)$/.exec(line)
      if (m) out.push(`deb-src ${m[1] ?? ''}${m[2]} ${m[3]} ${m[4].trim()}`)
    }
  }
  const deb822 = (text) => {
    for (const block of text.split(/\n\s*\n/)) {
      const field = (name) => new RegExp(`^${name}:\\s*(.*)$`, 'mi').exec(block)?.[1]?.trim() ?? ''
      if (!field('Types').split(/\s+/).includes('deb') || /^Enabled:\s*no/im.test(block)) continue
      add(field('URIs').split(/\s+/).filter(Boolean), field('Suites').split(/\s+/).filter(Boolean), field('Components').split(/\s+/).filter(Boolean), field('Signed-By'))
    }
  }
  oneLine(await readFile('/etc/apt/sources.list', 'utf8').catch(() => ''))
  for (const f of (await readdir('/etc/apt/sources.list.d').catch(() => [])).sort()) {
    const text = await readFile(path.join('/etc/apt/sources.list.d', f), 'utf8').catch(() => '')
    if (f.endsWith('.list')) oneLine(text)
    else if (f.endsWith('.sources')) deb822(text)
  }
  return [...new Set(out.filter((l) => !l.includes('deb-src deb-src')))]
}

/**
 * `apt-get source --download-only PACKAGE` with a private apt state in `work` (its own source list and indexes:
 * nothing system-wide changes, no root needed for the indexes), then the upstream tarball's SHA-256 checked.
 */
async function aptSource(source, work) {
  const apt = path.join(work, 'apt')
  const list = path.join(apt, 'sources.list')
  const parts = path.join(apt, 'sources.list.d')
  await mkdir(path.join(apt, 'lists', 'partial'), { recursive: true })
  await mkdir(path.join(apt, 'cache', 'archives', 'partial'), { recursive: true })
  await mkdir(parts, { recursive: true })
  const entries = await sourceEntries()
  if (entries.length === 0) throw new DownloadError('apt has no Debian package sources configured on this machine, so the source packages holding the public test images cannot be fetched.')
  await writeFile(list, `${entries.join('\n')}\n`)
  const options = ['-q', '-o', `Dir::Etc::SourceList=${list}`, '-o', `Dir::Etc::SourceParts=${parts}`, '-o', `Dir::State::Lists=${path.join(apt, 'lists')}`, '-o', `Dir::Cache=${path.join(apt, 'cache')}`, '-o', 'Debug::NoLocking=1']
  if (process.getuid?.() === 0) options.push('-o', 'APT::Sandbox::User=root')
  const apt_ = (args) =>
    new Promise((resolve) => {
      const child = spawn('apt-get', [...options, ...args], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] })
      let text = ''
      child.stdout.on('data', (d) => (text += d))
      child.stderr.on('data', (d) => (text += d))
      child.on('error', (e) => resolve({ code: 127, text: e.message }))
      child.on('close', (code) => resolve({ code: code ?? 1, text }))
    })
  const update = await apt_(['update'])
  if (update.code !== 0 || /^(Err|E):/m.test(update.text)) throw new DownloadError(`apt-get update for the source packages failed: ${update.text.trim().split('\n').slice(-3).join(' ')}`)
  const got = await apt_(['source', '--download-only', source.package])
  const tarball = path.join(work, source.orig)
  if (got.code !== 0 || !existsSync(tarball)) throw new DownloadError(`apt-get source ${source.package} did not bring ${source.orig}: ${got.text.trim().split('\n').slice(-3).join(' ')}`)
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(tarball)) hash.update(chunk)
  const sha = hash.digest('hex')
  if (sha !== source.sha256) throw new Error(`${source.orig} from apt-get source ${source.package} has SHA-256 ${sha}, not the pinned ${source.sha256}: refusing it (left nothing behind). Debian may have moved to another upstream release; pin it anew.`)
  return tarball
}

/** Writes a stream to a file, leaving all-zero 4 KiB blocks as holes (e2fsprogs' images are mostly zeros). */
async function writeSparse(makeReadable, to) {
  const fh = await open(to, 'w')
  // Made only now, and read from at once: a child process that exits while nobody reads its stdout has that output
  // thrown away by Node (its stdio is resumed on exit), which left some decompressed dumps empty.
  const readable = makeReadable()
  const zero = Buffer.alloc(4096)
  let pos = 0
  let pending = Buffer.alloc(0)
  // Runs of non-zero blocks go out in one write each.
  const flush = async (buf, final) => {
    let at = 0
    let run = -1
    const end = final ? buf.length : buf.length - (buf.length % 4096)
    for (; at < end; at += 4096) {
      const n = Math.min(4096, end - at)
      const isZero = buf.subarray(at, at + n).equals(zero.subarray(0, n))
      if (!isZero && run < 0) run = at
      if (isZero && run >= 0) {
        await fh.write(buf, run, at - run, pos + run)
        run = -1
      }
    }
    if (run >= 0) await fh.write(buf, run, end - run, pos + run)
    pos += end
    return Buffer.from(buf.subarray(end))
  }
  try {
    for await (const chunk of readable) pending = await flush(pending.length ? Buffer.concat([pending, chunk]) : chunk, false)
    await flush(pending, true)
    await fh.truncate(pos)
  } finally {
    await fh.close()
  }
}

function toolStream(cmd, file) {
  const child = spawn(cmd, ['-dc', file], { stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  child.stderr.on('data', (d) => (err += d))
  const done = new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} -dc ${file} failed: ${err.trim()}`))))
  })
  return { stream: child.stdout, done }
}

async function decompress(file, to) {
  await unpack(file, to)
  // No test image is empty: an empty one means the bytes were lost on the way, and would only be "refused" by the tests.
  if ((await stat(to)).size === 0) throw new Error(`${path.basename(file)} decompressed to nothing`)
}

async function unpack(file, to) {
  if (file.endsWith('.gz')) return writeSparse(() => createReadStream(file).pipe(createGunzip()), to)
  if (file.endsWith('.xz') || file.endsWith('.bz2')) {
    let done
    await writeSparse(() => {
      const tool = toolStream(file.endsWith('.xz') ? 'xz' : 'bzip2', file)
      done = tool.done
      done.catch(() => undefined) // awaited below; a failing tool must not count as unhandled meanwhile
      return tool.stream
    }, to)
    await done
    return undefined
  }
  return writeSparse(() => createReadStream(file), to)
}

/** `xxd -r`: lines "OFFSET: hex hex …  text"; offsets not listed stay holes. */
async function unXxd(file, to) {
  const fh = await open(to, 'w')
  let end = 0
  try {
    for (const line of (await readFile(file, 'latin1')).split('\n')) {
      const m = /^([0-9a-f]+):((?: [0-9a-f]{2,4})+) /i.exec(line)
      if (!m) continue
      const bytes = Buffer.from(m[2].replace(/ /g, ''), 'hex')
      const at = parseInt(m[1], 16)
      await fh.write(bytes, 0, bytes.length, at)
      end = Math.max(end, at + bytes.length)
    }
    await fh.truncate(end)
  } finally {
    await fh.close()
  }
}

async function filesUnder(dir) {
  const out = []
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) out.push(...(await filesUnder(p)))
    else out.push(p)
  }
  return out.sort()
}

/** Turns the extracted files of one source into images: [{ set, name, archivePath, file, expected?, problem? }]. */
async function prepare(source, srcDir, imgDir, quiet) {
  const rel = (p) => path.relative(srcDir, p)
  const images = []
  const add = async (set, name, input, make, extra = {}) => {
    const file = path.join(imgDir, set, `${name}.img`)
    await mkdir(path.dirname(file), { recursive: true })
    const record = { set, name, archivePath: `${source.top}/${rel(input)}`, file: path.relative(publicImagesDir(), file), ...extra }
    try {
      await make(input, file)
    } catch (e) {
      record.problem = e instanceof Error ? e.message : String(e)
      say(quiet, `${record.archivePath}: ${record.problem}`)
    }
    images.push(record)
  }
  const files = await filesUnder(srcDir)
  if (source.id === 'util-linux') {
    for (const f of files.filter((p) => p.endsWith('.img.xz'))) {
      const set = f.includes('images-pt') ? 'blkid-pt' : 'blkid-fs'
      const name = path.basename(f, '.img.xz')
      const expected = path.join(srcDir, 'tests/expected/blkid', set === 'blkid-pt' ? `lowprobe-pt-${name}` : `low-probe-${name}`)
      await add(set, name, f, decompress, existsSync(expected) ? { expected: `${source.top}/${rel(expected)}`, expectedFile: path.relative(publicImagesDir(), expected) } : {})
    }
  } else if (source.id === 'e2fsprogs') {
    const dirs = [...new Set(files.map((f) => path.dirname(f)))]
    for (const d of dirs) {
      const pick = ['image.gz', 'image.bz2', 'image'].map((n) => path.join(d, n)).find((p) => existsSync(p))
      if (!pick) continue
      const nameFile = path.join(d, 'name')
      const description = existsSync(nameFile) ? (await readFile(nameFile, 'utf8')).trim() : undefined
      await add('e2fsprogs-f', path.basename(d), pick, decompress, description ? { description } : {})
    }
  } else if (source.id === 'btrfs-progs') {
    const haveImageTool = spawnSync('sh', ['-c', 'command -v btrfs-image'], { stdio: 'ignore' }).status === 0
    for (const f of files) {
      const name = `${path.basename(path.dirname(f))}--${path.basename(f).replace(/\.(img|raw)(\.xz)?$/, '')}`
      if (/\.raw(\.xz)?$/.test(f)) {
        await add('btrfs-progs', name, f, decompress, { origin: 'raw image' })
        continue
      }
      // *.img are btrfs-image metadata dumps: `btrfs-image -r` restores them (file data reads as zeros).
      await add('btrfs-progs', name, f, async (input, to) => {
        if (!haveImageTool) throw new Error('btrfs-image (btrfs-progs) is not installed, so this metadata dump cannot be restored')
        let dump = input
        if (input.endsWith('.xz')) {
          dump = `${to}.dump`
          await decompress(input, dump)
        }
        // Tried three times: btrfs-image -r of Debian 12 once failed on a fresh CI machine with "restore failed: -5" on a
        // dump it restored every time after (60 runs, idle and with the CPU saturated).
        let r
        for (let attempt = 1; attempt <= 3; attempt++) {
          await rm(to, { force: true })
          r = spawnSync('btrfs-image', ['-r', dump, to], { encoding: 'utf8', timeout: 120_000 })
          if (r.status === 0) break
          say(quiet, `${path.basename(input)}: btrfs-image -r failed (attempt ${attempt} of 3): ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-1)[0]}`)
        }
        if (dump !== input) await rm(dump, { force: true })
        if (r.status !== 0) throw new Error(`btrfs-image -r failed three times: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-1)[0]}`)
      }, { origin: 'btrfs-image dump restored with btrfs-image -r' })
    }
  } else if (source.id === 'dosfstools') {
    for (const f of files.filter((p) => p.endsWith('.xxd'))) {
      const name = path.basename(f, '.xxd')
      const label = f.replace(/\.xxd$/, '.label')
      await add('dosfstools', name, f, unXxd, existsSync(label) ? { expected: `${source.top}/${rel(label)}`, expectedFile: path.relative(publicImagesDir(), label) } : {})
    }
  }
  return images
}

function alive(pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return e.code === 'EPERM'
  }
}

/** One process prepares a source at a time (test files that start together all call this); others wait for it. */
async function withLock(lockDir, fn) {
  for (;;) {
    try {
      await mkdir(lockDir)
      break
    } catch (e) {
      if (e.code !== 'EEXIST') throw e
      const owner = Number(await readFile(path.join(lockDir, 'pid'), 'utf8').catch(() => '0'))
      const age = Date.now() - (await stat(lockDir).then((s) => s.mtimeMs, () => Date.now()))
      if ((owner > 0 && !alive(owner)) || (owner === 0 && age > 60_000)) await rm(lockDir, { recursive: true, force: true })
      else await new Promise((r) => setTimeout(r, 500))
    }
  }
  try {
    await writeFile(path.join(lockDir, 'pid'), String(process.pid))
    return await fn()
  } finally {
    await rm(lockDir, { recursive: true, force: true })
  }
}

async function readReady(dir, source) {
  const ready = await readFile(path.join(dir, 'ready.json'), 'utf8').then(JSON.parse, () => undefined)
  if (!ready || ready.sha256 !== source.sha256) return undefined
  // An image a tool failed to make (not one whose tool is missing) is made again: a cached failure would stay forever.
  return ready.images.some((i) => i.problem && !i.problem.includes('not installed')) ? undefined : ready
}

async function ensureSource(source, quiet) {
  const root = publicImagesDir()
  const dir = path.join(root, `${source.package}_${source.version}`)
  const done = await readReady(dir, source)
  if (done) return done
  await mkdir(root, { recursive: true })
  return withLock(path.join(root, `.lock-${source.id}`), async () => {
    const again = await readReady(dir, source)
    if (again) return again
    await rm(dir, { recursive: true, force: true })
    const work = `${dir}.partial`
    await rm(work, { recursive: true, force: true })
    await mkdir(work, { recursive: true })
    try {
      return await fill(source, dir, work, quiet)
    } finally {
      // After the rename this is gone already; after a failure nothing half-made stays behind.
      await rm(work, { recursive: true, force: true })
    }
  })
}

/** Downloads, checks, extracts and prepares one source in `work`, then renames it to `dir`. */
async function fill(source, dir, work, quiet) {
  say(quiet, `fetching the source package ${source.package} with apt-get`)
  const tarball = await aptSource(source, work)
  const srcDir = path.join(work, 'src')
  await mkdir(srcDir)
  const r = spawnSync('tar', ['-x', '-f', tarball, '-C', srcDir, '--strip-components=1', '--wildcards', ...source.extract.map((p) => `${source.top}/${p}`)], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`tar could not extract ${source.extract.join(', ')} from ${tarball}: ${r.stderr.trim()}`)
  await rm(tarball)
  await rm(path.join(work, 'apt'), { recursive: true, force: true })
  for (const f of await readdir(work)) if (/\.(dsc|debian\.tar\.\w+|diff\.gz|asc)$|\.orig\./.test(f)) await rm(path.join(work, f), { force: true })
  say(quiet, `preparing the images of ${source.package} ${source.version}`)
  const images = await prepare(source, srcDir, path.join(work, 'images'), quiet)
  // Paths were computed inside `work`; they must name the final folder, which `work` is renamed to below.
  const fix = (p) => p && p.replace(`${path.basename(work)}${path.sep}`, `${path.basename(dir)}${path.sep}`)
  const ready = { package: source.package, version: source.version, orig: source.orig, sha256: source.sha256, images: images.map((i) => ({ ...i, file: fix(i.file), ...(i.expectedFile ? { expectedFile: fix(i.expectedFile) } : {}) })) }
  await writeFile(path.join(work, 'ready.json'), JSON.stringify(ready, null, 1))
  await rename(work, dir)
  return ready
}

/** Every source ready in the cache: [{ package, version, url, sha256, images }]. Throws DownloadError offline. */
export async function ensurePublicImages(options = {}) {
  const out = []
  for (const source of SOURCES) out.push(await ensureSource(source, options.quiet === true))
  return out
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now()
  ensurePublicImages().then(
    (sources) => {
      const n = sources.reduce((a, s) => a + s.images.length, 0)
      process.stderr.write(`fetch-public-images: ${n} images from ${sources.map((s) => `${s.package} ${s.version}`).join(', ')} ready in ${publicImagesDir()} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`)
    },
    (e) => {
      process.stderr.write(`fetch-public-images: ${e instanceof Error ? e.message : String(e)}\n`)
      process.exit(e instanceof DownloadError ? 2 : 1)
    },
  )
}
