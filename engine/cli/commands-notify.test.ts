import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startReceiver, type HttpReceiver } from '../notify/testing/http-receiver'
import { lifeboat } from './testing/run-lifeboat'

const HOOK = 'T0/B0/cliSecretHookPath'

describe('lifeboat notify', () => {
  let home: string
  let receiver: HttpReceiver
  beforeAll(async () => {
    home = await mkdtemp(path.join(tmpdir(), 'lifeboat-cli-notify-'))
    receiver = await startReceiver()
  })
  afterAll(async () => {
    await receiver[Symbol.asyncDispose]()
    await rm(home, { recursive: true, force: true })
  })

  it('adds a webhook with its URL on stdin, lists it without the secret, tests it (exit 0) and removes it', async () => {
    const added = await lifeboat(home, ['notify', 'add-webhook', '--kind', 'slack', '--url-stdin', '--name', 'ops chat', '--json'], `${receiver.base}/services/${HOOK}\n`)
    expect(added.code).toBe(0)
    const channel = JSON.parse(added.stdout) as { id: string; summary: string }
    expect(channel.summary).toBe(`slack · ${receiver.base}/…`)

    const listed = await lifeboat(home, ['notify', 'list'])
    expect(listed.code).toBe(0)
    expect(listed.stdout).toContain('ops chat')
    expect(listed.stdout).not.toContain(HOOK)
    expect(await readFile(path.join(home, 'notify.json'), 'utf8')).not.toContain(HOOK)

    const tested = await lifeboat(home, ['notify', 'test', '--json'])
    expect(tested.code).toBe(0)
    expect(JSON.parse(tested.stdout)).toEqual({ results: [{ channelId: channel.id, name: 'ops chat', ok: true, attempts: 1, message: 'Sent (HTTP 200).' }] })
    expect(receiver.received.at(-1)).toMatchObject({ url: `/services/${HOOK}` })
    expect(JSON.parse(receiver.received.at(-1)?.body ?? '{}')).toEqual({ text: '*Lifeboat test message*\nThis is a test message from Lifeboat. If you can read it, alerts reach you on this channel.' })

    const set = await lifeboat(home, ['notify', 'set', '--language', 'de', '--events', 'run-failed,vm-stale', '--stale-hours', '30', '--json'])
    expect(set.code).toBe(0)
    expect(JSON.parse(set.stdout)).toMatchObject({ language: 'de', events: ['run-failed', 'vm-stale'], staleHours: 30 })

    expect((await lifeboat(home, ['notify', 'remove', 'ops chat'])).code).toBe(0)
    expect(await readFile(path.join(home, 'secrets.json'), 'utf8')).not.toContain(channel.id)
  })

  it('exits 1 and says per channel what happened when one channel fails', async () => {
    await using failing = await startReceiver(() => 404)
    expect((await lifeboat(home, ['notify', 'add-webhook', '--kind', 'json', '--url', `${receiver.base}/ok`, '--name', 'good'])).code).toBe(0)
    expect((await lifeboat(home, ['notify', 'add-webhook', '--kind', 'ntfy', '--url', `${failing.base}/topic`, '--name', 'bad'])).code).toBe(0)
    const res = await lifeboat(home, ['notify', 'test'])
    expect(res.code).toBe(1)
    expect(res.stdout).toMatch(/^sent {4}good \(ch-[0-9a-f]{8}\), 1 try: Sent \(HTTP 200\)\.$/m)
    expect(res.stdout).toMatch(/^FAILED {2}bad \(ch-[0-9a-f]{8}\), 1 try: The webhook answered HTTP 404: receiver says no to \/\.$/m)
    const listed = await lifeboat(home, ['notify', 'list', '--json'])
    expect((JSON.parse(listed.stdout) as { recentFailures: { channel: string }[] }).recentFailures[0]?.channel).toBe('bad')
  })

  it('refuses wrong command lines with exit 2', async () => {
    expect((await lifeboat(home, ['notify', 'add-webhook', '--kind', 'pager', '--url', 'https://x.example/'])).code).toBe(2)
    expect((await lifeboat(home, ['notify', 'add-email', '--host', 'smtp.example.com'])).code).toBe(2)
    expect((await lifeboat(home, ['notify', 'set', '--events', 'everything'])).code).toBe(2)
    const missing = await lifeboat(home, ['notify', 'remove', 'nope'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('There is no alert channel "nope"')
  })
})
