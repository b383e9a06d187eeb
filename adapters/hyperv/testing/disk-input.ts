import { execFile, execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import type { ImagePiece, JsonValue, RestoreDiskInput } from '../../host-adapter'

const run = promisify(execFile)
const PIECE = 3 * 1024 * 1024

/** Whether qemu-img (the encoder below) is installed; tests that restore skip without it. */
export const hasQemuImg = ((): boolean => {
  try {
    execFileSync('qemu-img', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

/**
 * A restore input as the engine hands it over: guest bytes at random offsets, and an encoder to VHDX or VHD — here
 * qemu-img at test time (the engine's own encoder is not the adapter's business), yielded in pieces as the engine does.
 */
export function restoreDiskInput(name: string, content: Buffer, meta?: JsonValue): RestoreDiskInput {
  return {
    name,
    size: content.length,
    ...(meta !== undefined ? { meta } : {}),
    source: { size: content.length, label: name, read: (o, l) => Promise.resolve(content.subarray(o, o + l)), close: () => Promise.resolve() },
    encode: (format) =>
      (async function* (): AsyncGenerator<ImagePiece> {
        const dir = await mkdtemp(path.join(tmpdir(), 'lb-hv-enc-'))
        try {
          await writeFile(path.join(dir, 'd.raw'), content)
          // A dynamic VHD is rounded to CHS geometry unless force_size says otherwise.
          await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', format === 'vhdx' ? 'vhdx' : 'vpc', ...(format === 'vhd' ? ['-o', 'force_size=on'] : []), path.join(dir, 'd.raw'), path.join(dir, 'd.img')])
          const bytes = await readFile(path.join(dir, 'd.img'))
          for (let at = 0; at < bytes.length; at += PIECE) yield { kind: 'data', data: bytes.subarray(at, at + PIECE) }
        } finally {
          await rm(dir, { recursive: true, force: true })
        }
      })(),
  }
}

/** The same for a disk that was on SCSI controller `controllerNumber` at `location` (named as the engine names it). */
export function scsiDiskInput(content: Buffer, controllerNumber: number, location: number): RestoreDiskInput {
  return restoreDiskInput(`SCSI ${controllerNumber}:${location}`, content, { controllerType: 'SCSI', controllerNumber, controllerLocation: location })
}
