import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { HostsStore, type SavedHost } from './hosts-store'

const record = (id: string, name: string): SavedHost => ({
  id,
  kind: 'linux',
  name,
  address: '10.0.0.1',
  port: 22,
  user: 'root',
  authType: 'password',
  fingerprint: 'SHA256:abc',
  fingerprintType: 'ssh-ed25519',
  addedAt: new Date(0).toISOString(),
})

describe('HostsStore', () => {
  it('adds, finds by id or name, updates and removes', async () => {
    const store = new HostsStore(path.join(await mkdtemp(path.join(tmpdir(), 'lb-hosts-')), 'hosts.json'))
    await store.add(record('1', 'Web01'))
    expect((await store.find('web01'))?.id).toBe('1')
    expect((await store.find('1'))?.name).toBe('Web01')
    await store.update('1', { fingerprint: 'SHA256:new' })
    expect((await store.get('1'))?.fingerprint).toBe('SHA256:new')
    expect((await store.remove('1'))?.name).toBe('Web01')
    expect(await store.list()).toEqual([])
  })

  it('keeps every host when many processes add at once', async () => {
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'lb-hosts-')), 'hosts.json')
    await Promise.all(Array.from({ length: 20 }, (_, i) => new HostsStore(file).add(record(String(i), `h${i}`))))
    expect((await new HostsStore(file).list()).map((h) => h.id).sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 20 }, (_, i) => String(i)))
  })

  it('refuses a damaged or hand-edited file with a clear error and leaves it untouched', async () => {
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'lb-hosts-')), 'hosts.json')
    await writeFile(file, JSON.stringify({ version: 1, hosts: [{ ...record('1', 'a'), port: 99999 }] }))
    const store = new HostsStore(file)
    await expect(store.list()).rejects.toThrow(/hosts\.0\.port/)
    await expect(store.add(record('2', 'b'))).rejects.toMatchObject({ code: 'STATE_CORRUPT' })
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ hosts: [{ port: 99999 }] })
  })
})
