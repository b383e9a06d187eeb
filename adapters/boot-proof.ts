import type { BlockSource } from './block-source'

/** A wait as an admin reads it in a verdict: "14 s", "3 min", "2 min 5 s". */
export function duration(ms: number): string {
  const s = Math.round(ms / 1000)
  if (s < 120) return `${s} s`
  const m = Math.floor(s / 60)
  return s % 60 === 0 ? `${m} min` : `${m} min ${s % 60} s`
}

/** The pause between two polls of a booting guest: ends early on abort (the caller checks the signal and stops). */
export function pollPause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}

/**
 * Why a guest may have stayed silent, from the restore point itself: a first disk without a boot sector boots nothing.
 * `silence` is how the host's proof of life puts it ("answered", "reported") and what usually keeps a booted guest quiet.
 */
export async function silentGuestReason(first: BlockSource | undefined, signal: AbortSignal, silence: { readonly verb: string; readonly likely: string }): Promise<string> {
  if (first === undefined) return ': the restore point has no disk'
  try {
    const sector = await first.read(0, 512, signal)
    if (sector.length === 512 && sector[510] === 0x55 && sector[511] === 0xaa) return `; the VM ran, but its guest never ${silence.verb} (${silence.likely})`
    return ': the disk has no bootable system (its first disk has no boot sector: no 0x55AA signature at byte 510)'
  } catch {
    return `; the VM ran, but its guest never ${silence.verb}`
  }
}
