import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface QemuResult {
  readonly code: number
  readonly output: string
}

/** Runs qemu-img and returns its exit code and output instead of throwing, so tests can assert on both. */
export async function qemuImg(...args: string[]): Promise<QemuResult> {
  try {
    const { stdout, stderr } = await run('qemu-img', args, { maxBuffer: 16 * 1024 * 1024 })
    return { code: 0, output: stdout + stderr }
  } catch (error) {
    const e = error as { code?: unknown; stdout?: string; stderr?: string }
    return { code: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` }
  }
}

export const QEMU_FORMAT = { raw: 'raw', qcow2: 'qcow2', vhd: 'vpc', vhdx: 'vhdx' } as const

/** `qemu-img check` where the driver supports it; raw and vpc have no checker (exit 63), which is fine. */
export async function qemuCheck(file: string, format: keyof typeof QEMU_FORMAT): Promise<QemuResult> {
  const result = await qemuImg('check', '-f', QEMU_FORMAT[format], file)
  if (result.code === 63 && /does not support checks/.test(result.output)) return { code: 0, output: result.output }
  return result
}
