/**
 * The console thumbnail against the Hyper-V test host (real pwsh; the model draws the console as RGB 565 and answers
 * GetVirtualSystemThumbnailImage as documented), and against hostile answers from a scripted host.
 */
import { inflateSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { consoleImage } from '../../test-hosts/hyperv-sim/hyperv/thumbnail'
import { canRunHyperVSim, simWithAdapter, type SimAndAdapter } from '../../test-hosts/hyperv-sim/testing'
import { AdapterError } from '../host-adapter'
import type { HyperVContext } from './context'
import { checkScreenshot, consoleThumbnail, rgb565ToPng } from './thumbnail'

const signal = () => AbortSignal.timeout(120_000)

/** Width, height and RGB bytes of a PNG as Lifeboat writes them (truecolour 8 bit, filter 0 on every row). */
function decodePng(png: Buffer): { width: number; height: number; rgb: Buffer } {
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
  expect(png.subarray(12, 16).toString('latin1')).toBe('IHDR')
  const width = png.readUInt32BE(16)
  const height = png.readUInt32BE(20)
  expect([...png.subarray(24, 29)]).toEqual([8, 2, 0, 0, 0])
  const idat: Buffer[] = []
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at)
    if (png.subarray(at + 4, at + 8).toString('latin1') === 'IDAT') idat.push(png.subarray(at + 8, at + 8 + length))
    at += 12 + length
  }
  const rows = inflateSync(Buffer.concat(idat))
  expect(rows.length).toBe((width * 3 + 1) * height)
  const rgb = Buffer.alloc(width * height * 3)
  for (let y = 0; y < height; y++) {
    expect(rows[y * (width * 3 + 1)]).toBe(0)
    rows.copy(rgb, y * width * 3, y * (width * 3 + 1) + 1, (y + 1) * (width * 3 + 1))
  }
  return { width, height, rgb }
}

/** The four colours the model's console uses, as RGB 565 words and as 8-bit RGB. */
const PALETTE: ReadonlyMap<number, readonly number[]> = new Map([
  [0x0000, [0, 0, 0]],
  [0x001f, [0, 0, 255]],
  [0xc618, [198, 195, 198]],
  [0xffff, [255, 255, 255]],
])

function expectedRgb(rgb565: Buffer): Buffer {
  const out = Buffer.alloc((rgb565.length / 2) * 3)
  for (let i = 0; i < rgb565.length / 2; i++) {
    const colour = PALETTE.get(rgb565.readUInt16LE(i * 2))
    if (colour === undefined) throw new Error(`the model drew a colour outside the palette: ${rgb565.readUInt16LE(i * 2).toString(16)}`)
    out.set(colour, i * 3)
  }
  return out
}

function scripted(answer: string, seen: string[] = []): HyperVContext {
  return {
    runner: (script) => {
      seen.push(script.text)
      return Promise.resolve(answer)
    },
    connection: () => Promise.reject(new Error('no connection')),
    executable: () => Promise.resolve('powershell.exe'),
  }
}

async function failure(p: Promise<unknown>): Promise<AdapterError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(AdapterError)
  return err as AdapterError
}

describe('RGB 565 → PNG and hostile answers (scripted host)', () => {
  it('reads little-endian words and widens each channel to 8 bits', () => {
    const words = Buffer.alloc(8)
    ;[0xf800, 0x07e0, 0x001f, 0x8410].forEach((w, i) => words.writeUInt16LE(w, i * 2))
    const { width, height, rgb } = decodePng(rgb565ToPng(words, { width: 2, height: 2 }))
    expect([width, height]).toEqual([2, 2])
    expect([...rgb]).toEqual([255, 0, 0, 0, 255, 0, 0, 0, 255, 132, 130, 132])
  })

  it('a wrong length, bytes that are not base64, more than was asked for or no JSON: BAD_RESPONSE, not a crash', async () => {
    const size = { width: 4, height: 2 }
    const b64 = (n: number) => Buffer.alloc(n, 0x55).toString('base64')
    const answers = [
      { Settings: 1, ReturnValue: 0, ImageData: b64(15) },
      { Settings: 1, ReturnValue: 0, ImageData: b64(17) },
      { Settings: 1, ReturnValue: 0, ImageData: 'not base64 at all!!!' },
      { Settings: 1, ReturnValue: 0, ImageData: `${b64(15)}*` },
      // Node's decoder would take '-' (base64url) and give 16 bytes: outside the alphabet Windows writes, so refused.
      { Settings: 1, ReturnValue: 0, ImageData: `-${b64(16).slice(1)}` },
      { Settings: 1, ReturnValue: 0, ImageData: b64(64) },
      { Settings: 1, ReturnValue: 0, ImageData: null },
      { Settings: 1, ReturnValue: 0, ImageData: 12 },
    ]
    for (const a of answers) expect((await failure(consoleThumbnail(scripted(JSON.stringify(a)), '6f1d0c0e-0000-4000-8000-000000000001', signal(), size))).code, JSON.stringify(a)).toBe('BAD_RESPONSE')
    expect((await failure(consoleThumbnail(scripted('<html>'), '6f1d0c0e-0000-4000-8000-000000000001', signal(), size))).code).toBe('BAD_RESPONSE')
    const ok = decodePng(await consoleThumbnail(scripted(JSON.stringify({ Settings: 1, ReturnValue: 0, ImageData: b64(16) })), '6f1d0c0e-0000-4000-8000-000000000001', signal(), size))
    expect([ok.width, ok.height]).toEqual([4, 2])
  })

  it('no realized settings → NOT_FOUND; a refused call → COMMAND_FAILED with the return value; a bad VM id or size is not sent', async () => {
    expect((await failure(consoleThumbnail(scripted('{"Settings":0}'), '6f1d0c0e-0000-4000-8000-000000000001', signal()))).code).toBe('NOT_FOUND')
    const refused = await failure(consoleThumbnail(scripted('{"Settings":1,"ReturnValue":32770,"ImageData":null}'), '6f1d0c0e-0000-4000-8000-000000000001', signal()))
    expect([refused.code, refused.params.returnValue]).toEqual(['COMMAND_FAILED', 32770])
    const seen: string[] = []
    expect((await failure(consoleThumbnail(scripted('{}', seen), "x' ; Remove-VM *", signal()))).code).toBe('BAD_RESPONSE')
    expect((await failure(consoleThumbnail(scripted('{}', seen), '6f1d0c0e-0000-4000-8000-000000000001', signal(), { width: 0, height: 480 }))).code).toBe('BAD_RESPONSE')
    expect(seen).toEqual([])
  })

  it('for a health check, a failed thumbnail is a log line and no screenshot; a cancel is not swallowed', async () => {
    const logged: string[] = []
    const shot = await checkScreenshot(scripted('{"Settings":1,"ReturnValue":32775}'), '6f1d0c0e-0000-4000-8000-000000000001', (level, m) => logged.push(`${level}: ${m}`), signal())
    expect(shot).toBeUndefined()
    expect(logged).toEqual(['warn: No console screenshot: Taking a console thumbnail (GetVirtualSystemThumbnailImage): return value 32775 (invalid state for this operation, for example a VM that is not running).'])
    const controller = new AbortController()
    const cancelled: HyperVContext = { ...scripted(''), runner: () => (controller.abort(), Promise.reject(new AdapterError('CANCELLED', 'cancelled'))) }
    await expect(checkScreenshot(cancelled, '6f1d0c0e-0000-4000-8000-000000000001', () => undefined, controller.signal)).rejects.toThrow('cancelled')
  })
})

describe.skipIf(!canRunHyperVSim().ok)('the console thumbnail against the Hyper-V test host (GetVirtualSystemThumbnailImage)', { timeout: 300_000 }, () => {
  let t: SimAndAdapter
  let ctx: HyperVContext
  beforeAll(async () => {
    t = await simWithAdapter({ diskSizeMiB: 2, vms: ['shown', 'dark'] })
    await t.sim.addVm('off', { state: 'Off' })
    ctx = t.sim.pwshHost.newContext()
  }, 120_000)
  afterAll(async () => {
    await t.close()
  })

  it('a running, booted VM: a 640x480 PNG that decodes to exactly the console the host drew, not uniform', async () => {
    const vm = t.vm('shown')
    const { width, height, rgb } = decodePng(await consoleThumbnail(ctx, vm.id, signal()))
    expect([width, height]).toEqual([640, 480])
    expect(rgb.equals(expectedRgb(consoleImage(vm, 640, 480)))).toBe(true)
    const colours = new Set<number>()
    for (let i = 0; i < rgb.length; i += 3) colours.add(rgb.readUIntBE(i, 3))
    expect(colours.size).toBeGreaterThan(2)
    expect(t.sim.limits).toEqual([])
  })

  it('a running VM whose guest has not booted: black', async () => {
    const vm = t.vm('dark')
    vm.guest.boot = 'disk'
    vm.guest.upAt = null
    const { width, height, rgb } = decodePng(await consoleThumbnail(ctx, vm.id, signal(), { width: 160, height: 120 }))
    expect([width, height]).toEqual([160, 120])
    expect(rgb.equals(Buffer.alloc(160 * 120 * 3))).toBe(true)
  })

  it('a VM that is off: COMMAND_FAILED with return value 32775 (invalid state), nothing left to the model', async () => {
    const err = await failure(consoleThumbnail(ctx, t.vm('off').id, signal()))
    expect(err.code).toBe('COMMAND_FAILED')
    expect(err.params).toEqual({ returnValue: 32775, reason: 'invalid-state' })
    expect(err.message).toMatch(/return value 32775 \(invalid state/)
    expect(t.sim.limits).toEqual([])
  })
})
