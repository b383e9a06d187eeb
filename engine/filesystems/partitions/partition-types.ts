/** A partition as found in a table. Offsets are bytes from the start of the disk. */
export interface PartitionEntry {
  /** 1-based, as Linux numbers them: MBR primaries 1–4, logicals from 5; GPT in table order. */
  readonly index: number
  readonly scheme: 'mbr' | 'gpt'
  readonly start: number
  readonly size: number
  /** MBR type byte as two hex digits, or the GPT type GUID. */
  readonly type: string
  readonly typeName: string
  readonly name?: string
  readonly uuid?: string
  readonly bootable?: boolean
  readonly logical?: boolean
}

export interface PartitionTable {
  readonly scheme: 'mbr' | 'gpt'
  readonly sectorSize: number
  readonly diskId?: string
  readonly partitions: readonly PartitionEntry[]
  /** Damage that was worked around (backup GPT used, a logical partition skipped). */
  readonly warnings: readonly string[]
}

const MBR_TYPES: Record<number, string> = {
  0x01: 'FAT12',
  0x04: 'FAT16 <32M',
  0x06: 'FAT16',
  0x07: 'NTFS/exFAT',
  0x0b: 'FAT32',
  0x0c: 'FAT32 (LBA)',
  0x0e: 'FAT16 (LBA)',
  0x27: 'Windows recovery',
  0x82: 'Linux swap',
  0x83: 'Linux',
  0x8e: 'Linux LVM',
  0xef: 'EFI system',
  0xfd: 'Linux RAID',
}

export function mbrTypeName(type: number): string {
  return MBR_TYPES[type] ?? `type 0x${type.toString(16).padStart(2, '0')}`
}

const GPT_TYPES: Record<string, string> = {
  'C12A7328-F81F-11D2-BA4B-00A0C93EC93B': 'EFI system',
  'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7': 'Microsoft basic data',
  'E3C9E316-0B5C-4DB8-817D-F92DF00215AE': 'Microsoft reserved',
  'DE94BBA4-06D1-4D40-A16A-BFD50179D6AC': 'Windows recovery',
  '0FC63DAF-8483-4772-8E79-3D69D8477DE4': 'Linux filesystem',
  'E6D6D379-F507-44C2-A23C-238F2A3DF928': 'Linux LVM',
  '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F': 'Linux swap',
  '21686148-6449-6E6F-744E-656564454649': 'BIOS boot',
  '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709': 'Linux root (x86-64)',
  'BC13C2FF-59E6-4262-A352-B275FD6F7172': 'Linux extended boot',
  'A19D880F-05FC-4D3B-A006-743F0F84911E': 'Linux RAID',
}

export function gptTypeName(guid: string): string {
  return GPT_TYPES[guid] ?? guid
}
