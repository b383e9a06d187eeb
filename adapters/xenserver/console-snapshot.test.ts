/**
 * The console screenshot of a XenServer health check against the XAPI simulator's GET /vncsnapshot: a JPEG of the
 * console from the host the VM runs on, and every way a pool can fail to give one — no vncsnapshot binary, no answer
 * in time, a VM that is not running, bytes that are not a whole JPEG of a sane size — ending in no screenshot and one
 * log line that says why; a cancel is not swallowed.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { XapiSim } from '../../test-hosts/xapi-sim/sim'
import { decodeJpeg, differingPixels, encodeJpeg, renderScreen, screenLines } from '../../test-hosts/xapi-sim/vnc-snapshot'
import { checkScreenshot, consoleSnapshot, MAX_SNAPSHOT_BYTES } from './console-snapshot'
import { jpegInfo } from './jpeg'
import { signal, startSim } from './testing/sim-fixture'
import { XapiClient } from './xapi-client'

const OS = 'Debian GNU/Linux 12 (bookworm)'

describe('XenServer console screenshots (GET /vncsnapshot)', () => {
  let sim: XapiSim
  let client: XapiClient
  const logs: string[] = []
  const log = (level: 'info' | 'warn', message: string) => logs.push(`${level}: ${message}`)
  const shoot = (vm: string, options = {}) => checkScreenshot(client, sim.vmByName(vm).ref, log, signal(), options)

  beforeAll(async () => {
    sim = await startSim({ vms: ['web', { name: 'far', on: 'slave' }, { name: 'off', powerState: 'Halted' }], pool: { slave: true } })
    client = await XapiClient.open({ host: '127.0.0.1', port: sim.port, user: 'root', password: sim.password, pinnedFingerprint: sim.fingerprint, timeoutMs: 5000 }, signal())
  })
  afterEach(() => {
    logs.length = 0
    sim.faults.vncsnapshotMissing = false
    sim.faults.vncsnapshotAnswer = undefined
    sim.faults.vncsnapshotDelayMs = 0
  })
  afterAll(async () => {
    await client.close()
    await sim.stop()
  })

  it('keeps a JPEG of the console, taken on the host the VM runs on (master or member)', async () => {
    for (const name of ['web', 'far']) {
      const shot = await shoot(name)
      expect(shot?.format).toBe('jpeg')
      const data = Buffer.from(shot?.data ?? [])
      expect(jpegInfo(data)).toEqual({ width: 640, height: 400, components: 3 })
      expect(differingPixels(await decodeJpeg(data), renderScreen(screenLines('booted', { name, os: OS })))).toBeLessThan(20)
    }
    expect(logs).toEqual([expect.stringMatching(/^info: Kept a screenshot of the console \(JPEG, 640x400, \d+ KiB\)\.$/), expect.stringMatching(/^info: Kept a screenshot/)])
    const direct = await consoleSnapshot(client, sim.vmByName('web').ref, signal())
    expect(direct.info).toEqual({ width: 640, height: 400, components: 3 })
  })

  it('a pool without /usr/bin/vncsnapshot: no screenshot, and the log says why', async () => {
    sim.faults.vncsnapshotMissing = true
    expect(await shoot('web')).toBeUndefined()
    expect(logs).toEqual(['warn: The pool could not take a console screenshot: the pool refused /vncsnapshot (HTTP 500): Internal Server Error: Taking snapshot of VM console: /usr/bin/vncsnapshot: No such file or directory.'])
  })

  it('a VM that is not running has no console to take', async () => {
    expect(await shoot('off')).toBeUndefined()
    expect(logs).toEqual(['warn: The pool could not take a console screenshot: the VM is not running (power state Halted), so it has no console to take.'])
  })

  it('a pool that does not answer in time: no screenshot once the timeout ends', async () => {
    sim.faults.vncsnapshotDelayMs = 3000
    const started = Date.now()
    expect(await shoot('web', { timeoutMs: 300 })).toBeUndefined()
    expect(Date.now() - started).toBeLessThan(2500)
    expect(logs).toEqual(['warn: The pool could not take a console screenshot: the pool did not answer /vncsnapshot within 300 ms.'])
  })

  it('hostile answers are not kept: not a JPEG, cut short, a made-up header, too large', async () => {
    const real = await encodeJpeg(renderScreen(screenLines('booted', { name: 'web', os: OS })))
    const header = Buffer.from(real.subarray(0, 200))
    const madeUp = Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0, 17, 8, 0xff, 0xff, 0xff, 0xff, 3, 1, 0x11, 0, 2, 0x11, 1, 3, 0x11, 1, 0xff, 0xd9])
    const oversized = Buffer.alloc(MAX_SNAPSHOT_BYTES + 1)
    oversized.set([0xff, 0xd8, 0xff, 0xe0])
    const cases: [Buffer, RegExp][] = [
      [Buffer.from('<html><body>Console unavailable</body></html>'), /does not start with the JPEG signature \(FF D8 FF\)/],
      [header, /does not end with the end-of-image marker \(FF D9\), so it was cut short/],
      [Buffer.concat([header, Buffer.from([0xff, 0xd9])]), /a segment \(marker FF [0-9A-F]{2}\) claims \d+ bytes, more than the \d+ left/],
      [madeUp, /its frame header gives 65535x65535 pixels/],
      [oversized, new RegExp(`larger \\(${MAX_SNAPSHOT_BYTES + 1} bytes or more\\) than any console screenshot`)],
    ]
    for (const [answer, why] of cases) {
      sim.faults.vncsnapshotAnswer = answer
      logs.length = 0
      expect(await shoot('web')).toBeUndefined()
      expect(logs).toHaveLength(1)
      expect(logs[0]).toMatch(/^warn: The pool could not take a console screenshot: /)
      expect(logs[0]).toMatch(why)
    }
  })

  it('a cancel while the pool takes the picture is not swallowed', async () => {
    sim.faults.vncsnapshotDelayMs = 3000
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 200)
    await expect(checkScreenshot(client, sim.vmByName('web').ref, log, controller.signal)).rejects.toMatchObject({ code: 'CANCELLED' })
    expect(logs).toEqual([])
  })
})
