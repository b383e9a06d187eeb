import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { fileCodec, nodeSecretStore, passphraseCodec, SecretStore, type SecretCodec } from './secret-store'
import { StateError } from './state-error'

async function tempFile(): Promise<string> {
  return path.join(await mkdtemp(path.join(tmpdir(), 'lb-secrets-')), 'secrets.json')
}

describe('SecretStore', () => {
  it('keeps secrets in a 0600 file and returns them intact', async () => {
    const file = await tempFile()
    const store = new SecretStore(file, fileCodec)
    await store.set('h1', { type: 'password', password: 'pa$$ word' })
    await store.set('h2', { type: 'key', privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n', passphrase: 'pp' })
    expect(await store.get('h1')).toEqual({ type: 'password', password: 'pa$$ word' })
    expect(await store.get('h2')).toEqual({ type: 'key', privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n', passphrase: 'pp' })
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    await store.delete('h1')
    await expect(store.get('h1')).rejects.toMatchObject({ code: 'SECRET_MISSING' })
  })

  it('encrypts with a passphrase so the file holds no readable secret, and refuses a wrong passphrase', async () => {
    const file = await tempFile()
    await nodeSecretStore(file, { LIFEBOAT_SECRETS_PASSPHRASE: 'right horse' }).set('h1', { type: 'password', password: 'topsecret' })
    const raw = await readFile(file, 'utf8')
    expect(raw).not.toContain('topsecret')
    expect(raw).not.toContain(Buffer.from('topsecret').toString('base64'))
    expect(await nodeSecretStore(file, { LIFEBOAT_SECRETS_PASSPHRASE: 'right horse' }).get('h1')).toEqual({ type: 'password', password: 'topsecret' })
    await expect(nodeSecretStore(file, { LIFEBOAT_SECRETS_PASSPHRASE: 'wrong' }).get('h1')).rejects.toMatchObject({ code: 'SECRET_LOCKED' })
    await expect(nodeSecretStore(file, {}).get('h1')).rejects.toThrow(/LIFEBOAT_SECRETS_PASSPHRASE/)
  })

  it('explains a secret sealed by the desktop keychain instead of failing obscurely', async () => {
    const file = await tempFile()
    const keychain: SecretCodec = { scheme: 'electron-safe-storage', description: 'keychain', seal: (p) => Promise.resolve({ scheme: 'electron-safe-storage', data: Buffer.from(p).toString('hex') }), open: () => Promise.reject(new Error('unused')) }
    await new SecretStore(file, keychain).set('h1', { type: 'password', password: 'x' })
    const err = await new SecretStore(file, fileCodec).get('h1').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StateError)
    expect((err as StateError).message).toMatch(/desktop app/)
  })

  it('never overwrites a damaged file', async () => {
    const file = await tempFile()
    await writeFile(file, '{ not json')
    const store = new SecretStore(file, fileCodec)
    await expect(store.set('h1', { type: 'password', password: 'x' })).rejects.toMatchObject({ code: 'STATE_CORRUPT' })
    expect(await readFile(file, 'utf8')).toBe('{ not json')
  })

  it('passphrase codec round-trips unicode', async () => {
    const codec = passphraseCodec('ä')
    expect(await codec.open(await codec.seal('pässwörd ☃'))).toBe('pässwörd ☃')
  })
})
