import { randomBytes } from 'node:crypto'
import { CHUNK_SIZE } from '../format.js'
import { crc32c } from '../../disks/crc32c.js'
import { data, zeros, type ExportInput, type Piece } from './pieces.js'

/**
 * VHDX (Microsoft [MS-VHDX] 1.0), dynamic, written in one pass:
 *   0 file type identifier · 64 KiB header 1 · 128 KiB header 2 · 192 KiB region table 1 · 256 KiB region table 2
 *   1 MiB log (empty, LogGuid zero: nothing to replay) · 2 MiB metadata region · 3 MiB BAT · payload blocks
 * Block size equals the chunk size (4 MiB), so every zero chunk is exactly one PAYLOAD_BLOCK_ZERO entry.
 */
const KiB = 1024
const MiB = 1024 * KiB
const BLOCK = CHUNK_SIZE
const LOGICAL_SECTOR = 512
const CHUNK_RATIO = (2 ** 23 * LOGICAL_SECTOR) / BLOCK
const LOG_OFFSET = 1 * MiB
const LOG_LENGTH = 1 * MiB
const METADATA_OFFSET = 2 * MiB
const METADATA_LENGTH = 1 * MiB
const BAT_OFFSET = 3 * MiB
const PAYLOAD_BLOCK_ZERO = 2n
const PAYLOAD_BLOCK_FULLY_PRESENT = 6n

const GUID = {
  bat: '2DC27766-F623-4200-9D64-115E9BFD4A08',
  metadata: '8B7CA206-4790-4B9A-B8FE-575F050F886E',
  fileParameters: 'CAA16737-FA36-4D43-B3B6-33F0AA44E76B',
  virtualDiskSize: '2FA54224-CD1B-4876-B211-5DBED83BF4B8',
  page83: 'BECA12AB-B2E6-4523-93EF-C309E000C746',
  logicalSectorSize: '8141BF1D-A96F-4709-BA47-F233A8FAAB5F',
  physicalSectorSize: 'CDA348C7-445D-4471-9CC9-E9885251C556',
}

/** A GUID in its on-disk form: the first three fields little-endian, the last eight bytes as written. */
function guid(text: string): Buffer {
  const hex = text.replace(/-/g, '')
  const b = Buffer.from(hex, 'hex')
  const out = Buffer.alloc(16)
  out.writeUInt32LE(b.readUInt32BE(0), 0)
  out.writeUInt16LE(b.readUInt16BE(4), 4)
  out.writeUInt16LE(b.readUInt16BE(6), 6)
  b.copy(out, 8, 8, 16)
  return out
}

export async function* vhdxImage(input: ExportInput, signal?: AbortSignal): AsyncGenerator<Piece> {
  const size = Math.ceil(input.size / LOGICAL_SECTOR) * LOGICAL_SECTOR
  const dataBlocks = Math.max(1, Math.ceil(size / BLOCK))
  const batEntries = dataBlocks + Math.floor((dataBlocks - 1) / CHUNK_RATIO)
  const batLength = Math.ceil((batEntries * 8) / MiB) * MiB
  const payloadAt = BAT_OFFSET + batLength

  const identifier = Buffer.alloc(64 * KiB)
  identifier.write('vhdxfile', 0, 'latin1')
  identifier.write('Lifeboat', 8, 'utf16le')
  yield data(identifier)

  const fileWrite = randomBytes(16)
  const dataWrite = randomBytes(16)
  for (const sequence of [1n, 2n]) {
    const header = Buffer.alloc(64 * KiB)
    header.write('head', 0, 'latin1')
    header.writeBigUInt64LE(sequence, 8)
    fileWrite.copy(header, 16)
    dataWrite.copy(header, 32)
    header.writeUInt16LE(0, 64)
    header.writeUInt16LE(1, 66)
    header.writeUInt32LE(LOG_LENGTH, 68)
    header.writeBigUInt64LE(BigInt(LOG_OFFSET), 72)
    header.writeUInt32LE(crc32c(header.subarray(0, 4 * KiB)), 4)
    yield data(header)
  }

  const regions = Buffer.alloc(64 * KiB)
  regions.write('regi', 0, 'latin1')
  regions.writeUInt32LE(2, 8)
  const entry = (at: number, id: string, offset: number, length: number): void => {
    guid(id).copy(regions, at)
    regions.writeBigUInt64LE(BigInt(offset), at + 16)
    regions.writeUInt32LE(length, at + 24)
    regions.writeUInt32LE(1, at + 28)
  }
  entry(16, GUID.bat, BAT_OFFSET, batLength)
  entry(48, GUID.metadata, METADATA_OFFSET, METADATA_LENGTH)
  regions.writeUInt32LE(crc32c(regions), 4)
  yield data(regions)
  yield data(regions)
  yield zeros(LOG_OFFSET - 320 * KiB)
  yield zeros(LOG_LENGTH)
  yield data(metadataRegion(size))

  const bat = Buffer.alloc(batLength)
  let next = payloadAt
  for (let b = 0; b < dataBlocks; b++) {
    const index = b + Math.floor(b / CHUNK_RATIO)
    if (input.zeroChunks[b] === false) {
      bat.writeBigUInt64LE(BigInt(next) | PAYLOAD_BLOCK_FULLY_PRESENT, index * 8)
      next += BLOCK
    } else {
      bat.writeBigUInt64LE(PAYLOAD_BLOCK_ZERO, index * 8)
    }
  }
  yield data(bat)

  let i = 0
  for await (const chunk of input.chunks(signal)) {
    if (input.zeroChunks[i++] === false) {
      yield data(chunk)
      if (chunk.length < BLOCK) yield zeros(BLOCK - chunk.length)
    }
  }
}

function metadataRegion(size: number): Buffer {
  const region = Buffer.alloc(METADATA_LENGTH)
  region.write('metadata', 0, 'latin1')
  const items: { id: string; flags: number; value: Buffer }[] = []
  const u32 = (v: number): Buffer => {
    const b = Buffer.alloc(4)
    b.writeUInt32LE(v)
    return b
  }
  const params = Buffer.alloc(8)
  params.writeUInt32LE(BLOCK, 0)
  const sizeField = Buffer.alloc(8)
  sizeField.writeBigUInt64LE(BigInt(size))
  // Flags: bit 1 IsVirtualDisk, bit 2 IsRequired.
  items.push({ id: GUID.fileParameters, flags: 4, value: params })
  items.push({ id: GUID.virtualDiskSize, flags: 6, value: sizeField })
  items.push({ id: GUID.page83, flags: 6, value: randomBytes(16) })
  items.push({ id: GUID.logicalSectorSize, flags: 6, value: u32(LOGICAL_SECTOR) })
  items.push({ id: GUID.physicalSectorSize, flags: 6, value: u32(4096) })
  region.writeUInt16LE(items.length, 10)
  let offset = 64 * KiB
  items.forEach((item, k) => {
    const at = 32 + k * 32
    guid(item.id).copy(region, at)
    region.writeUInt32LE(offset, at + 16)
    region.writeUInt32LE(item.value.length, at + 20)
    region.writeUInt32LE(item.flags, at + 24)
    item.value.copy(region, offset)
    offset += 64
  })
  return region
}
