/**
 * Bounds-checked reads of little/big-endian fields from a buffer taken from an image. Node's Buffer methods throw
 * a bare RangeError on a short buffer; here every failure goes through `fail`, so each layer raises its own
 * typed error (DiskFormatError, FilesystemError) with a message naming the structure.
 */
export type FailFactory = (message: string) => Error

export class ByteView {
  constructor(
    readonly buf: Buffer,
    private readonly fail: FailFactory,
    readonly what: string,
  ) {}

  get length(): number {
    return this.buf.length
  }

  check(offset: number, size: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || size < 0 || offset + size > this.buf.length) {
      throw this.fail(`${this.what} is truncated or damaged (field at byte ${offset}, ${size} bytes, structure is ${this.buf.length} bytes)`)
    }
  }

  u8(o: number): number {
    this.check(o, 1)
    return this.buf.readUInt8(o)
  }
  i8(o: number): number {
    this.check(o, 1)
    return this.buf.readInt8(o)
  }
  u16le(o: number): number {
    this.check(o, 2)
    return this.buf.readUInt16LE(o)
  }
  u32le(o: number): number {
    this.check(o, 4)
    return this.buf.readUInt32LE(o)
  }
  u16be(o: number): number {
    this.check(o, 2)
    return this.buf.readUInt16BE(o)
  }
  u32be(o: number): number {
    this.check(o, 4)
    return this.buf.readUInt32BE(o)
  }
  big64le(o: number): bigint {
    this.check(o, 8)
    return this.buf.readBigUInt64LE(o)
  }
  big64be(o: number): bigint {
    this.check(o, 8)
    return this.buf.readBigUInt64BE(o)
  }
  /** A 64-bit field that must fit a JS number (offsets, sizes); anything larger is damage, not data. */
  u64le(o: number): number {
    return this.safe(this.big64le(o), o)
  }
  u64be(o: number): number {
    return this.safe(this.big64be(o), o)
  }
  bytes(o: number, n: number): Buffer {
    this.check(o, n)
    return this.buf.subarray(o, o + n)
  }
  ascii(o: number, n: number): string {
    return this.bytes(o, n).toString('latin1')
  }
  utf16le(o: number, n: number): string {
    return this.bytes(o, n).toString('utf16le')
  }

  private safe(v: bigint, o: number): number {
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.fail(`${this.what} has an impossible 64-bit value at byte ${o}`)
    return Number(v)
  }
}
