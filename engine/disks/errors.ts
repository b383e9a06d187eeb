/**
 * Errors raised while decoding a disk image or a partition/volume layer. The code is stable (the UI and the
 * contract translate it); the message is plain words naming the disk, for logs and the CLI.
 */
export type DiskFormatErrorCode =
  | 'truncated' // the image ends before a structure it declares
  | 'bad-signature' // a magic number is wrong: not this format, or badly damaged
  | 'bad-checksum' // a structure's checksum does not match
  | 'corrupt' // values contradict each other or point outside the image
  | 'unsupported' // a valid feature this reader does not implement (encryption, external data files…)
  | 'too-large' // a count or size beyond what any sane image uses; refused before allocating
  | 'loop' // a chain (parents, EBRs, …) goes round in circles or is too deep
  | 'missing-parent' // a differencing image whose parent could not be opened
  | 'dirty-log' // a VHDX whose log must be replayed first
  | 'io' // the underlying source failed
  | 'not-a-file' // the path names a named pipe, socket, character device or folder, not an image file

export class DiskFormatError extends Error {
  override readonly name = 'DiskFormatError'
  readonly code: DiskFormatErrorCode
  readonly params: Readonly<Record<string, string | number>>

  constructor(code: DiskFormatErrorCode, message: string, params: Record<string, string | number> = {}, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.params = params
  }
}

export function isDiskFormatError(e: unknown): e is DiskFormatError {
  return e instanceof DiskFormatError
}
