import { posix } from 'node:path'
import { AdapterError, type HostAllocation } from '../host-adapter'
import { ExecByteStream } from '../ssh/exec-byte-stream'
import type { RootShell } from '../ssh/root-shell'
import { sh } from '../ssh/shell-quote'
import { parseQemuImgMap } from './qemu-img-map'

interface Range {
  readonly offset: number
  readonly length: number
}

/** A map longer than this is not worth its parsing (a badly fragmented file): the file is read whole instead. */
const MAX_MAP_BYTES = 32 * 1024 * 1024
/** Each range becomes two words of one remote command line, which must stay well under any SSH/shell limit. */
export const MAX_STREAM_RANGES = 1024
const STREAM_BLOCK = 4 * 1024 * 1024

function checkStreamRanges(ranges: readonly Range[], size: number): number {
  if (ranges.length > MAX_STREAM_RANGES) throw new RangeError(`At most ${MAX_STREAM_RANGES} ranges can be streamed at once (${ranges.length} asked for)`)
  let end = 0
  let total = 0
  for (const r of ranges) {
    if (!Number.isSafeInteger(r.offset) || !Number.isSafeInteger(r.length) || r.length <= 0 || r.offset < end || r.offset + r.length > size) {
      throw new RangeError(`The ranges to stream must be ascending, non-overlapping and inside the file (size ${size})`)
    }
    end = r.offset + r.length
    total += r.length
  }
  return total
}

/**
 * Asks the host where a raw file's data is (`qemu-img map`, which uses SEEK_DATA/SEEK_HOLE there; KVM hosts have
 * it), so that a thin disk moves only what is written. Block devices are not asked: qemu-img reports a device as all
 * data, and a thin LV's map would need the thin-pool tools. A missing tool or an answer that does not add up
 * gives `known: false` with the reason; the caller then reads the file whole.
 */
export async function hostAllocation(
  shell: RootShell,
  file: { readonly path: string; readonly size: number; readonly label: string; readonly isBlockDevice: boolean },
  signal?: AbortSignal,
): Promise<HostAllocation> {
  if (file.isBlockDevice) return { known: false, reason: `${file.label} is a block device; its allocation is not asked for` }
  // Anything but an absolute path could be read by qemu-img as a protocol ("nbd:…") or an option.
  if (!posix.isAbsolute(file.path)) return { known: false, reason: `${file.label} is not an absolute path` }
  let stdout: string
  try {
    const result = await shell.exec(sh`qemu-img map --output=json -U -f raw ${file.path}`, { ...(signal ? { signal } : {}), timeoutMs: 120_000, maxOutputBytes: MAX_MAP_BYTES })
    if (result.code === 127) return { known: false, reason: `qemu-img is not installed on ${shell.conn.label}` }
    if (result.code !== 0) return { known: false, reason: `qemu-img map failed on ${shell.conn.label}: ${result.stderr.trim().slice(0, 200)}` }
    stdout = result.stdout
  } catch (err) {
    if (err instanceof AdapterError && err.code === 'CANCELLED') throw err
    return { known: false, reason: `qemu-img map did not answer usefully on ${shell.conn.label}: ${err instanceof Error ? err.message : String(err)}` }
  }
  const parsed = parseQemuImgMap(stdout, file.size)
  if ('reason' in parsed) return { known: false, reason: `${file.label}: ${parsed.reason}` }
  return {
    known: true,
    dataRanges: parsed.ranges,
    stream: (ranges, sig) => {
      const total = checkStreamRanges(ranges, file.size)
      const words = ranges.flatMap((r) => [r.offset, r.length])
      const script = `f=$1; shift; while [ $# -ge 2 ]; do dd if="$f" bs=${STREAM_BLOCK} iflag=skip_bytes,count_bytes,fullblock skip="$1" count="$2" status=none || exit 1; shift 2; done`
      return new ExecByteStream(shell, sh`sh -c ${script} lifeboat-ranges ${file.path} ${words}`, total, file.label, sig)
    },
  }
}
