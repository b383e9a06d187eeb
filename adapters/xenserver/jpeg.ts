/**
 * Just enough of JPEG (ITU-T T.81, annex B) to tell whether bytes from a pool are a whole JPEG image and how large it
 * is, without decoding it: SOI (FF D8), then marker segments — each a marker (FF, any number of FF fill bytes, a
 * code) and, except for the standalone markers (TEM, RST0–7), a big-endian length that counts itself — up to the
 * frame header. A frame header is SOF0–SOF15 (C0–CF) except C4 (DHT), C8 (JPG, reserved) and CC (DAC); it holds the
 * sample precision, the height, the width and the number of components. The walk goes on to the scan header (SOS),
 * which must follow the frame header and be followed by image data, and the file must end with EOI (FF D9), so a
 * transfer cut short is not kept. The bytes are untrusted: every read is bounds-checked and the walk stops after
 * MAX_SEGMENTS segments.
 */
import { AdapterError } from '../host-adapter'

export interface JpegInfo {
  readonly width: number
  readonly height: number
  /** 1 (grey) or 3 (YCbCr); CMYK (4) is accepted as well. */
  readonly components: number
}

const MAX_SEGMENTS = 1000
/** Larger than any console Lifeboat expects (8K is 7680x4320), small enough to refuse a made-up header. */
export const MAX_JPEG_SIDE = 16_384

const SOI = 0xd8
const EOI = 0xd9
const SOS = 0xda
const TEM = 0x01

function isFrameHeader(code: number): boolean {
  return code >= 0xc0 && code <= 0xcf && code !== 0xc4 && code !== 0xc8 && code !== 0xcc
}

function isStandalone(code: number): boolean {
  return code === TEM || (code >= 0xd0 && code <= 0xd7)
}

function bad(why: string): AdapterError {
  return new AdapterError('BAD_RESPONSE', `The answer is not a usable JPEG image: ${why}.`)
}

/** The size of the JPEG image in `data`; AdapterError BAD_RESPONSE (saying why) for anything that is not one. */
export function jpegInfo(data: Uint8Array): JpegInfo {
  if (data.length < 4 || data[0] !== 0xff || data[1] !== SOI || data[2] !== 0xff) throw bad('it does not start with the JPEG signature (FF D8 FF)')
  if (data[data.length - 2] !== 0xff || data[data.length - 1] !== EOI) throw bad('it does not end with the end-of-image marker (FF D9), so it was cut short')
  let frame: JpegInfo | undefined
  let at = 2
  for (let segment = 0; segment < MAX_SEGMENTS; segment++) {
    if (data[at] !== 0xff) throw bad(`byte ${at} should start a marker (FF) but is ${(data[at] ?? 0).toString(16).padStart(2, '0').toUpperCase()}`)
    while (data[at] === 0xff) at++
    if (at >= data.length) throw bad('it ends inside a marker')
    const code = data[at] ?? 0
    at++
    if (code === 0) throw bad(`byte ${at - 1} is a stuffed zero where a marker should be`)
    if (isStandalone(code)) continue
    if (code === SOI) throw bad('a second start-of-image marker comes before the image data')
    if (code === EOI) throw bad(frame === undefined ? 'the end of the image comes before any frame header' : 'the end of the image comes before its image data')
    if (code === SOS && frame === undefined) throw bad('the image data comes before any frame header')
    if (at + 2 > data.length) throw bad('it ends inside a segment length')
    const length = ((data[at] ?? 0) << 8) | (data[at + 1] ?? 0)
    if (length < 2 || at + length > data.length) throw bad(`a segment (marker FF ${code.toString(16).toUpperCase()}) claims ${length} bytes, more than the ${data.length - at} left`)
    if (code === SOS && frame !== undefined) {
      // The scan header, then entropy-coded data up to the EOI at the end: there must be some.
      if (at + length >= data.length - 2) throw bad('the scan header is not followed by any image data')
      return frame
    }
    if (isFrameHeader(code) && frame === undefined) frame = frameHeader(data, at, length)
    at += length
  }
  throw bad(`no image data within the first ${MAX_SEGMENTS} segments`)
}

/** The frame header whose length field is at `at`, `length` bytes long (bounds already checked). */
function frameHeader(data: Uint8Array, at: number, length: number): JpegInfo {
  if (length < 8) throw bad(`the frame header is ${length} bytes, too short for its fields`)
  const precision = data[at + 2] ?? 0
  const height = ((data[at + 3] ?? 0) << 8) | (data[at + 4] ?? 0)
  const width = ((data[at + 5] ?? 0) << 8) | (data[at + 6] ?? 0)
  const components = data[at + 7] ?? 0
  if (precision !== 8 && precision !== 12 && precision !== 16) throw bad(`the sample precision is ${precision} bits`)
  if (width < 1 || height < 1 || width > MAX_JPEG_SIDE || height > MAX_JPEG_SIDE) throw bad(`its frame header gives ${width}x${height} pixels`)
  if (components !== 1 && components !== 3 && components !== 4) throw bad(`it has ${components} colour components`)
  if (length !== 8 + 3 * components) throw bad(`the frame header is ${length} bytes, not the ${8 + 3 * components} its ${components} components need`)
  return { width, height, components }
}
