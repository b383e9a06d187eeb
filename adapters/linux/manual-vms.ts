import { createHash } from 'node:crypto'
import { z } from 'zod'
import { AdapterError, type ManualVmCapability, type ManualVmSpec } from '../host-adapter'
import type { RootShell } from '../ssh/root-shell'
import { raw, sh, type ShellFragment } from '../ssh/shell-quote'
import type { ExecOptions, ExecResult } from '../ssh/ssh-connection'
import type { ShellProvider } from './libvirt-prepare'

/**
 * VMs the admin registers by hand (Xen or KVM on LVM, btrfs or image files, without libvirt) are kept on the host
 * itself, in /etc/lifeboat/vms.json: every Lifeboat that connects sees the same list, and an admin can read or
 * write it by hand. The file is parsed as hostile input (zod, bounded).
 */
export const MANUAL_VMS_FILE = '/etc/lifeboat/vms.json'
/** The file as the host's shell names it: LIFEBOAT_VMS_FILE in the login's environment may move it (test hosts do). */
const FILE = raw('"${LIFEBOAT_VMS_FILE:-/etc/lifeboat/vms.json}"')
const MAX_FILE = 1024 * 1024

const Command = z.string().min(1).max(4096)
const SpecSchema = z.object({
  name: z.string().min(1).max(200).regex(/^[^\n\0]+$/),
  disks: z
    .array(z.object({ name: z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/), path: z.string().min(2).max(4096).regex(/^\/[^\n\0]*$/) }))
    .min(1)
    .max(64),
  commands: z.object({ start: Command.optional(), stop: Command.optional(), suspend: Command.optional(), resume: Command.optional(), status: Command.optional() }).optional(),
})
const FileSchema = z.object({ version: z.literal(1), vms: z.array(SpecSchema).max(10_000) })

export type ManualVm = ManualVmSpec & { readonly id: string }

/** A stable id from the name: the same VM keeps its restore point history across edits of its disks. */
export function manualVmId(name: string): string {
  return `manual-${createHash('sha256').update(name).digest('hex').slice(0, 24)}`
}

/** Anything that runs a command: a RootShell, or the plain login (the list is world-readable, for inventories). */
export interface CommandRunner {
  exec(command: ShellFragment, options: ExecOptions): Promise<ExecResult>
}

export async function readManualVms(shell: RootShell | CommandRunner & { readonly label: string }, signal?: AbortSignal): Promise<ManualVm[]> {
  const label = 'conn' in shell ? shell.conn.label : shell.label
  const out = await shell.exec(sh`cat -- ${FILE} 2>/dev/null || { [ -e ${FILE} ] && echo unreadable >&2 && exit 2; exit 0; }`, { ...(signal ? { signal } : {}), maxOutputBytes: MAX_FILE, timeoutMs: 30_000 })
  if (out.code !== 0) throw new AdapterError('PERMISSION_DENIED', `${label} does not let this login read ${MANUAL_VMS_FILE}.`)
  if (out.stdout.trim() === '') return []
  let parsed: unknown
  try {
    parsed = JSON.parse(out.stdout)
  } catch {
    throw new AdapterError('BAD_RESPONSE', `${MANUAL_VMS_FILE} on ${label} is not valid JSON; fix or remove it.`)
  }
  const r = FileSchema.safeParse(parsed)
  if (!r.success) throw new AdapterError('BAD_RESPONSE', `${MANUAL_VMS_FILE} on ${label} does not have the expected layout (${r.error.issues[0]?.message ?? ''}).`)
  return r.data.vms.map((v) => ({ ...v, id: manualVmId(v.name) }))
}

async function writeManualVms(shell: RootShell, vms: readonly ManualVmSpec[], signal: AbortSignal): Promise<void> {
  const text = `${JSON.stringify({ version: 1, vms: vms.map((v) => ({ name: v.name, disks: v.disks, ...(v.commands ? { commands: v.commands } : {}) })) }, null, 2)}\n`
  // Written beside and renamed, so a reader never sees half a file. Readable by all: inventories run as the login.
  await shell.run(sh`f=${FILE}; mkdir -p "$(dirname "$f")" && umask 022 && cat > "$f.tmp" && mv -f "$f.tmp" "$f"`, { signal, stdin: text, what: `Saving ${MANUAL_VMS_FILE}` })
}

export function manualVms(getShell: ShellProvider): ManualVmCapability {
  return {
    list: async (signal) => await readManualVms(await getShell(signal), signal),
    async register(spec, signal) {
      const r = SpecSchema.safeParse(spec)
      if (!r.success) throw new AdapterError('BAD_RESPONSE', `That VM description is not valid: ${r.error.issues[0]?.path.join('.') ?? ''} ${r.error.issues[0]?.message ?? ''}`)
      const shell = await getShell(signal)
      const vms = await readManualVms(shell, signal)
      await writeManualVms(shell, [...vms.filter((v) => v.name !== spec.name), r.data], signal)
      return { id: manualVmId(spec.name) }
    },
    async unregister(idOrName, signal) {
      const shell = await getShell(signal)
      const vms = await readManualVms(shell, signal)
      const left = vms.filter((v) => v.id !== idOrName && v.name !== idOrName)
      if (left.length === vms.length) throw new AdapterError('NOT_FOUND', `No registered VM "${idOrName}" on ${shell.conn.label}.`)
      await writeManualVms(shell, left, signal)
    },
  }
}
