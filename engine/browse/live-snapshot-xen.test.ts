import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeExt4DataDisk } from '../../test-hosts/data-disk'
import { XapiSim } from '../../test-hosts/xapi-sim/sim'
import type { ChannelName, Channels, InputOf, OutputOf } from '../api/contract'
import type { DiskSourceRef } from '../api/contract-files'
import { call } from '../cli/cli-call'
import { createEngine, type Engine } from '../engine'

const MiB = 1024 * 1024
const SIZE = 32 * MiB

/** An ext4 filesystem made by mkfs.ext4 -d from `files`, as raw bytes of `SIZE`. */
async function ext4Image(work: string, name: string, files: Record<string, string>): Promise<Buffer> {
  const from = path.join(work, `${name}-files`)
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(from, file)), { recursive: true })
    await writeFile(path.join(from, file), content)
  }
  const image = path.join(work, `${name}.raw`)
  await makeExt4DataDisk({ fromDir: from, path: image, sizeBytes: SIZE, format: 'raw', label: 'xendata' })
  return await readFile(image)
}

// The engine's browse channels on a XenServer snapshot (the XAPI simulator): what the UI and the CLI do.
describe('Browsing XenServer/XCP-ng snapshots in place', () => {
  let sim: XapiSim
  let engine: Engine
  let home: string
  let work: string
  let snapshot = ''
  const run = <K extends ChannelName>(channel: K, input: InputOf<Channels[K]>): Promise<OutputOf<Channels[K]>> => call(engine.handlers, channel, input, AbortSignal.timeout(120_000))
  const source = (snap: string): DiskSourceRef => ({ kind: 'snapshot', host: 'pool1', vm: 'files', snapshot: snap })
  const cat = async (src: DiskSourceRef, file: string): Promise<string> => {
    const parts: Buffer[] = []
    for await (const chunk of engine.browse.readFile(src, undefined, file, AbortSignal.timeout(60_000))) parts.push(chunk)
    return Buffer.concat(parts).toString('utf8')
  }
  const names = async (src: DiskSourceRef, dir = '/') => (await run('files.list', { source: src, path: dir, offset: 0, limit: 100 })).entries.map((e) => e.name)

  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'lb-xen-browse-'))
    sim = await XapiSim.start({ vms: [{ name: 'files', diskSize: SIZE }] })
    await sim.writeGuest('files', 0, 0, await ext4Image(work, 'before', { 'etc/app.conf': 'port=8080\n', 'readme.txt': 'before the patch\n' }))
    home = await mkdtemp(path.join(tmpdir(), 'lb-xen-browse-home-'))
    engine = await createEngine({ home, door: 'cli' })
    await run('hosts.add', { kind: 'xenserver', name: 'pool1', address: `127.0.0.1:${sim.port}`, user: 'root', auth: { type: 'password', password: sim.password }, acceptFingerprint: sim.fingerprint })
  })
  afterAll(async () => {
    await engine.dispose()
    await sim.stop()
    await rm(home, { recursive: true, force: true })
    await rm(work, { recursive: true, force: true })
  })

  it('shows the files as they were when the snapshot was taken, over NBD', async () => {
    snapshot = (await run('snapshots.create', { host: 'pool1', vm: 'files', label: 'before patching' })).id
    await sim.writeGuest('files', 0, 0, await ext4Image(work, 'after', { 'etc/app.conf': 'port=9090\n', 'readme.txt': 'after the patch\n', 'new.txt': 'new\n' }))
    sim.stats.nbdBytesRead.clear()
    expect(await names(source(snapshot))).toEqual(['etc', 'lost+found', 'readme.txt'])
    expect(await cat(source(snapshot), '/etc/app.conf')).toBe('port=8080\n')
    expect(await cat(source('before patching'), '/readme.txt')).toBe('before the patch\n')
    const read = [...sim.stats.nbdBytesRead.values()].reduce((s, n) => s + n, 0)
    expect(read).toBeGreaterThan(0)
    expect(read).toBeLessThan(SIZE) // only what the filesystem reader asked for
    await engine.browse.close()
  })

  it('reads the same through the raw export when no pool network offers NBD', async () => {
    sim.setNbd(false)
    try {
      const exported = sim.stats.exportBytes
      expect(await names(source(snapshot), '/etc')).toEqual(['app.conf'])
      expect(await cat(source(snapshot), '/readme.txt')).toBe('before the patch\n')
      expect(sim.stats.exportBytes).toBeGreaterThan(exported)
      await engine.browse.close()
    } finally {
      sim.setNbd(true)
    }
  })

  it('says which snapshot is missing', async () => {
    await expect(run('files.probe', { source: source('no such snapshot') })).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await run('snapshots.remove', { host: 'pool1', vm: 'files', snapshot })
    await expect(run('files.probe', { source: source(snapshot) })).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })
})
