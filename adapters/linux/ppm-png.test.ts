import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { inflateSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { ppmToPng } from './ppm-png'

function ppm(width: number, height: number, header = `P6\n# made by a test\n${width} ${height}\n255\n`): Buffer {
  const pixels = Buffer.alloc(width * height * 3)
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7) & 0xff
  return Buffer.concat([Buffer.from(header, 'latin1'), pixels])
}

const hasPython = (() => {
  try {
    execFileSync('python3', ['-c', 'import zlib'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

describe('ppmToPng', () => {
  it('keeps every pixel, row by row, in a PNG with valid chunks', () => {
    const png = ppmToPng(ppm(5, 3))
    expect(png).toBeDefined()
    if (png === undefined) return
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
    expect(png.readUInt32BE(16)).toBe(5)
    expect(png.readUInt32BE(20)).toBe(3)
    const idatLength = png.readUInt32BE(33)
    expect(png.subarray(37, 41).toString('latin1')).toBe('IDAT')
    const rows = inflateSync(png.subarray(41, 41 + idatLength))
    expect(rows.length).toBe(3 * (5 * 3 + 1))
    expect(rows[16]).toBe(0)
    expect(rows.subarray(17, 32)).toEqual(ppm(5, 3).subarray(-30, -15))
  })

  it.skipIf(!hasPython)('writes CRCs another PNG reader accepts (Python zlib.crc32 over each chunk)', () => {
    const png = ppmToPng(ppm(4, 2))
    if (png === undefined) throw new Error('no PNG')
    const dir = mkdtempSync(path.join(tmpdir(), 'lb-png-'))
    try {
      const file = path.join(dir, 'a.png')
      writeFileSync(file, png)
      const script = 'import sys,zlib,struct\nb=open(sys.argv[1],"rb").read()[8:]\nwhile b:\n n=struct.unpack(">I",b[:4])[0]\n assert zlib.crc32(b[4:8+n])==struct.unpack(">I",b[8+n:12+n])[0], b[4:8]\n b=b[12+n:]\nprint("ok")'
      expect(execFileSync('python3', ['-c', script, file]).toString().trim()).toBe('ok')
      expect(readFileSync(file).length).toBe(png.length)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('refuses what it cannot convert faithfully: other formats, 16-bit samples, truncated or huge pictures', () => {
    expect(ppmToPng(Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'))).toBeUndefined()
    expect(ppmToPng(ppm(2, 2, 'P6 2 2 65535\n'))).toBeUndefined()
    expect(ppmToPng(ppm(4, 4).subarray(0, 30))).toBeUndefined()
    expect(ppmToPng(Buffer.from('P6\n100000 100000\n255\n', 'latin1'))).toBeUndefined()
  })
})
