import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { jpegInfo } from './jpeg'

/** A real JPEG from libjpeg-turbo's cjpeg (.ci/run installs it), of a `width`x`height` colour gradient. */
function cjpeg(width: number, height: number, args: string[] = []): Buffer {
  const header = Buffer.from(`P6\n${width} ${height}\n255\n`, 'latin1')
  const pixels = Buffer.alloc(width * height * 3)
  for (let i = 0; i < width * height; i++) pixels.set([i % 256, (i >> 3) % 256, 128], i * 3)
  const r = spawnSync('cjpeg', args, { input: Buffer.concat([header, pixels]), maxBuffer: 16 * 1024 * 1024 })
  if (r.status !== 0) throw new Error(`cjpeg failed: ${r.stderr.toString()}`)
  return r.stdout
}

const seg = (code: number, body: number[]) => [0xff, code, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body]
const sof = (code: number, width: number, height: number, components = 3) => seg(code, [8, height >> 8, height & 0xff, width >> 8, width & 0xff, components, ...Array.from({ length: components }, (_, i) => [i + 1, 0x11, 0]).flat()])
const soi = [0xff, 0xd8]
const eoi = [0xff, 0xd9]
/** A scan header for one component and two bytes of (made-up) entropy-coded data. */
const scan = [...seg(0xda, [1, 1, 0, 0, 0x3f, 0]), 0x12, 0x34]
const jpeg = (...parts: number[][]) => Uint8Array.from([...soi, ...parts.flat(), ...eoi])

describe('jpegInfo: the size of a JPEG image from its frame header', () => {
  it('reads what cjpeg wrote: baseline, progressive, greyscale', () => {
    expect(jpegInfo(cjpeg(640, 400))).toEqual({ width: 640, height: 400, components: 3 })
    expect(jpegInfo(cjpeg(33, 17, ['-progressive']))).toEqual({ width: 33, height: 17, components: 3 })
    expect(jpegInfo(cjpeg(8, 1, ['-grayscale']))).toEqual({ width: 8, height: 1, components: 1 })
  })

  it('walks over other segments, fill bytes and standalone markers to the first frame header (any SOF but DHT, JPG, DAC)', () => {
    const app0 = seg(0xe0, [0x4a, 0x46, 0x49, 0x46, 0])
    expect(jpegInfo(jpeg(app0, [0xff, 0xff, 0xff], seg(0xfe, [1, 2, 3]), [0xff, 0xd3], sof(0xc2, 1024, 768), scan))).toEqual({ width: 1024, height: 768, components: 3 })
    // DHT (C4), JPG (C8) and DAC (CC) are in the SOF range but are not frame headers: walked over.
    expect(jpegInfo(jpeg(seg(0xc4, [0, 1]), seg(0xc8, []), seg(0xcc, [0, 0]), sof(0xcf, 2, 3, 1), seg(0xc4, [0, 1]), scan))).toEqual({ width: 2, height: 3, components: 1 })
  })

  it('refuses what is not a JPEG or was cut short', () => {
    expect(() => jpegInfo(Buffer.from('<html>500 Internal Error</html>'))).toThrow(/does not start with the JPEG signature/)
    expect(() => jpegInfo(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toThrow(/signature/)
    expect(() => jpegInfo(new Uint8Array(0))).toThrow(/signature/)
    const real = cjpeg(64, 48)
    expect(() => jpegInfo(real.subarray(0, real.length - 100))).toThrow(/cut short/)
    // The header alone (no image data, no EOI), and a header cut inside the frame header with an EOI glued on.
    expect(() => jpegInfo(Uint8Array.from([...soi, ...sof(0xc0, 64, 48)]))).toThrow(/cut short/)
    expect(() => jpegInfo(Uint8Array.from([...soi, ...sof(0xc0, 64, 48).slice(0, 7), ...eoi]))).toThrow(/claims 17 bytes/)
  })

  it('refuses made-up headers: lengths past the end, zero or huge sizes, odd precisions and component counts', () => {
    expect(() => jpegInfo(jpeg([0xff, 0xe0, 0xff, 0xff], sof(0xc0, 8, 8)))).toThrow(/claims 65535 bytes/)
    expect(() => jpegInfo(jpeg([0xff, 0xe0, 0x00, 0x01]))).toThrow(/claims 1 bytes/)
    expect(() => jpegInfo(jpeg(sof(0xc0, 0, 8)))).toThrow(/0x8 pixels/)
    expect(() => jpegInfo(jpeg(sof(0xc0, 8, 0)))).toThrow(/8x0 pixels/)
    expect(() => jpegInfo(jpeg(sof(0xc0, 65535, 65535)))).toThrow(/65535x65535 pixels/)
    expect(() => jpegInfo(jpeg(sof(0xc0, 8, 8, 2)))).toThrow(/2 colour components/)
    const sof0 = sof(0xc0, 8, 8)
    sof0[4] = 7
    expect(() => jpegInfo(jpeg(sof0))).toThrow(/precision is 7 bits/)
    expect(() => jpegInfo(jpeg(seg(0xc0, [8, 0, 8, 0, 8, 3, 1, 0x11, 0])))).toThrow(/not the 17 its 3 components need/)
    expect(() => jpegInfo(jpeg(seg(0xc0, [8, 0, 8])))).toThrow(/too short/)
  })

  it('refuses images whose data or end come before any frame header (or without image data), stray bytes and endless segment chains', () => {
    expect(() => jpegInfo(jpeg(seg(0xda, [0])))).toThrow(/image data comes before any frame header/)
    expect(() => jpegInfo(Uint8Array.from([...soi, ...eoi]))).toThrow(/end of the image comes before any frame header/)
    expect(() => jpegInfo(jpeg(soi, sof(0xc0, 8, 8)))).toThrow(/second start-of-image/)
    expect(() => jpegInfo(jpeg(seg(0xe0, [0]), [0x12], sof(0xc0, 8, 8)))).toThrow(/byte 7 should start a marker \(FF\) but is 12/)
    expect(() => jpegInfo(jpeg([0xff, 0x00]))).toThrow(/stuffed zero/)
    const many = Array.from({ length: 1001 }, () => [0xff, 0xd0]).flat()
    expect(() => jpegInfo(jpeg(many, sof(0xc0, 8, 8), scan))).toThrow(/no image data within the first 1000 segments/)
    // A frame header but no image: the end comes first, or a scan header with nothing after it.
    expect(() => jpegInfo(jpeg(sof(0xc0, 8, 8)))).toThrow(/end of the image comes before its image data/)
    expect(() => jpegInfo(jpeg(sof(0xc0, 8, 8), seg(0xda, [1, 1, 0, 0, 0x3f, 0])))).toThrow(/scan header is not followed by any image data/)
  })
})
