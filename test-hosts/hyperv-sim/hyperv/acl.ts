/**
 * NTFS security descriptors of the host's files, as SDDL. A file created in a folder has only the entries it inherits
 * from the folder (the same for every folder here: SYSTEM and Administrators full control, Users read). Hyper-V adds
 * an explicit entry for the VM's own account (`NT VIRTUAL MACHINE\<VM id>`) when it attaches a disk (or creates an
 * AVHDX for a checkpoint), and the VM's worker process can open only files that carry it. A rename keeps the file's
 * descriptor (it moves with the file, as on one NTFS volume); a new file at a name starts over with the folder's.
 */
import { normalizeWin } from './winfs'

export const INHERITED_SDDL = 'O:BAG:SYD:AI(A;ID;FA;;;SY)(A;ID;FA;;;BA)(A;ID;0x1200a9;;;BU)'
/** FILE_GENERIC_READ | FILE_GENERIC_WRITE: what Hyper-V grants the VM account on its disks. */
const VM_RIGHTS = '0x12019f'

/** The SID of `NT VIRTUAL MACHINE\<VM id>`: S-1-5-83-1 and the GUID's 16 bytes (in .NET order) as four little-endian DWORDs. */
export function vmAccountSid(vmId: string): string {
  const hex = vmId.replace(/-/g, '')
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new Error(`not a VM id: ${vmId}`)
  const raw = Buffer.from(hex, 'hex')
  const bytes = Buffer.concat([Buffer.from(raw.subarray(0, 4)).reverse(), Buffer.from(raw.subarray(4, 6)).reverse(), Buffer.from(raw.subarray(6, 8)).reverse(), raw.subarray(8)])
  return `S-1-5-83-1-${[0, 4, 8, 12].map((o) => bytes.readUInt32LE(o)).join('-')}`
}

/** The trustees of the allow entries of an SDDL string's DACL. */
function allowed(sddl: string): string[] {
  const dacl = /D:[A-Z]*((?:\([^)]*\))*)/.exec(sddl)?.[1] ?? ''
  return [...dacl.matchAll(/\(A;[^;]*;[^;]*;[^;]*;[^;]*;([^)]*)\)/g)].map((m) => (m[1] ?? '').toUpperCase())
}

export class FileAcls {
  /** Lower-case Windows path → the file's SDDL, for files whose descriptor is not just the folder's inherited one. */
  private readonly explicit = new Map<string, string>()

  private key(p: string): string {
    return normalizeWin(p).toLowerCase()
  }

  sddl(p: string): string {
    return this.explicit.get(this.key(p)) ?? INHERITED_SDDL
  }

  set(p: string, sddl: string): void {
    if (sddl === INHERITED_SDDL) this.explicit.delete(this.key(p))
    else this.explicit.set(this.key(p), sddl)
  }

  /** What Hyper-V does when it attaches a file to a VM: an explicit allow entry for the VM's account, before the inherited ones. */
  grantVm(p: string, vmId: string): void {
    const sid = vmAccountSid(vmId)
    const current = this.sddl(p)
    if (this.allows(p, sid)) return
    this.set(p, current.replace(/(D:[A-Z]*)/, `$1(A;;${VM_RIGHTS};;;${sid})`))
  }

  allows(p: string, sid: string): boolean {
    return allowed(this.sddl(p)).includes(sid.toUpperCase())
  }

  moved(from: string, to: string): void {
    const sddl = this.explicit.get(this.key(from))
    this.explicit.delete(this.key(from))
    if (sddl !== undefined) this.explicit.set(this.key(to), sddl)
    else this.explicit.delete(this.key(to))
  }

  /** Every file with more than its folder's inherited entries, sorted (tests compare hosts with it). */
  entries(): [string, string][] {
    return [...this.explicit.entries()].sort((a, b) => a[0].localeCompare(b[0]))
  }

  /** The file (or a folder and everything below it) is gone, or a new file takes the name. */
  removed(p: string): void {
    const k = this.key(p)
    for (const key of [...this.explicit.keys()]) if (key === k || key.startsWith(`${k}\\`)) this.explicit.delete(key)
  }
}
