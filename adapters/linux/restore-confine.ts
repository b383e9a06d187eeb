import { posix } from 'node:path'
import { AdapterError } from '../host-adapter'
import { isPlainHostPath, printable } from './host-names'
import { childElements, textOf, type XmlElement } from './xml'

/**
 * The domain XML of a restore point is a manifest field: anyone with write access to the repository can edit it, and
 * a new-VM restore hands it to libvirt, which acts on it as root. Many parts of a domain name host resources — an
 * emulator binary libvirt executes, a network script it runs, host files QEMU reads (kernel, initrd, firmware, ACPI
 * tables, fw_cfg blobs) or writes (NVRAM, nvdimm/pmem backing files, audio and pstore files), host folders, devices
 * and sockets. Restored as it was recorded, a tampered XML would run a program or expose a host file to the guest.
 *
 * So a new VM gets an allow-listed configuration: elements Lifeboat knows are kept; host-specific devices are
 * dropped, ejected or reset to what libvirt picks on this host (each said in a warning); paths QEMU only reads must be
 * plain absolute paths outside the host's secrets and are checked on the host before anything is written; anything
 * unknown is dropped, so a future libvirt element is not passed through unexamined. Disks are rewritten by the
 * restore itself (new files), character devices with files or sockets by separateHostPaths.
 */

/** Top-level elements of a domain that carry no host path or program (libvirt's formatdomain). */
const ROOT_KEEP = new Set([
  'name', 'uuid', 'genid', 'title', 'description', 'metadata', 'maxMemory', 'memory', 'currentMemory', 'memoryBacking',
  'vcpu', 'vcpus', 'iothreads', 'iothreadids', 'defaultiothread', 'cputune', 'numatune', 'blkiotune', 'memtune',
  'resource', 'sysinfo', 'os', 'idmap', 'features', 'cpu', 'clock', 'on_poweroff', 'on_reboot', 'on_crash',
  'on_lockfailure', 'pm', 'perf', 'devices', 'keywrap', 'launchSecurity', 'throttlegroups',
])

/** Devices kept as they are: nothing in them names a host file, device, program or folder. */
const DEVICES_KEEP = new Set(['disk', 'controller', 'video', 'sound', 'hub', 'memballoon', 'panic', 'iommu', 'vsock', 'watchdog', 'crypto', 'serial', 'parallel', 'console', 'channel'])

/** Devices that only make sense on the host they were made for, or that hand host resources to the guest. */
const DEVICES_DROP: Readonly<Record<string, string>> = {
  filesystem: 'a host folder shared with the guest',
  hostdev: 'a host device passed through',
  redirdev: 'a redirected USB device',
  smartcard: 'a host smartcard',
  shmem: 'host shared memory',
  lease: 'a lock-manager lease file',
  pstore: 'a pstore backing file on the host',
  emulator: 'the emulator path (libvirt picks this host’s own)',
}

/** Host paths QEMU reads that would leak a secret into the guest. */
const SECRET_PREFIXES = ['/etc/', '/root/', '/home/', '/proc/', '/sys/', '/dev/', '/run/', '/var/run/', '/var/log/', '/var/lib/libvirt/qemu/', '/var/lib/lifeboat', '/var/tmp/', '/tmp/lifeboat']

/** Character device kinds that do not open a host path, device or network port. */
const CHAR_KINDS_KEEP = new Set(['pty', 'file', 'unix', 'null', 'vc', 'spicevmc', 'qemu-vdagent', 'spiceport', 'dbus'])

const RNG_SOURCES = new Set(['/dev/random', '/dev/urandom', '/dev/hwrng'])

export interface ConfinedDomain {
  /** What was dropped or reset, in plain words, for the restore's log. */
  readonly warnings: string[]
  /** Files the configuration reads from the host (kernel, initrd, firmware…): the restore checks they exist. */
  readonly hostFiles: { readonly what: string; readonly path: string }[]
}

/** Rewrites `root` (a domain XML to be defined as a new VM) in place; refuses what cannot be made safe. */
export function confineRestoredDomain(root: XmlElement): ConfinedDomain {
  const warnings: string[] = []
  const hostFiles: { what: string; path: string }[] = []
  const readOnly = (what: string, value: string | undefined): void => {
    if (value === undefined) return
    hostFiles.push({ what, path: checkReadPath(what, value) })
  }

  root.attrs = Object.fromEntries(Object.entries(root.attrs).filter(([k]) => !k.startsWith('xmlns:')))
  root.children = root.children.filter((c) => {
    if (typeof c === 'string') return true
    if (ROOT_KEEP.has(c.name)) return true
    if (c.name === 'seclabel') {
      if (c.attrs.type === 'dynamic' && c.attrs.relabel !== 'no') return true
      warnings.push(`The recorded security label (${c.attrs.type ?? 'unknown'}) was not restored: the new VM is confined the way this host confines every guest.`)
      return false
    }
    warnings.push(`<${c.name}> in the recorded configuration was not restored (Lifeboat restores only domain settings it knows to be safe on another host).`)
    return false
  })

  const os = childElements(root, 'os')[0]
  if (os !== undefined) {
    for (const name of ['kernel', 'initrd', 'dtb', 'shim']) for (const el of childElements(os, name)) readOnly(`The kernel setting <${name}>`, textOf(el)?.trim())
    for (const loader of childElements(os, 'loader')) {
      if (loader.attrs.type === 'pflash' && loader.attrs.readonly !== 'yes') throw refuse('The recorded firmware <loader> is a writable flash file; the guest would write to a file on this host.')
      readOnly('The firmware <loader>', textOf(loader)?.trim() || undefined)
    }
    for (const nvram of childElements(os, 'nvram')) {
      // The recorded variable store belongs to the original VM (and may name any file): the new VM gets a fresh one
      // from the firmware's template, in libvirt's own folder, under its own name.
      if (nvram.attrs.template !== undefined) readOnly('The NVRAM template', nvram.attrs.template)
      const template = nvram.attrs.template
      nvram.attrs = template !== undefined ? { template } : {}
      nvram.children = []
      warnings.push('UEFI variables start fresh from the firmware template (the recorded NVRAM file belongs to the original VM); the guest boots through its fallback boot entry.')
    }
    for (const acpi of childElements(os, 'acpi')) for (const table of childElements(acpi, 'table')) readOnly('An ACPI table', textOf(table)?.trim())
    os.children = os.children.filter((c) => typeof c === 'string' || c.name !== 'bootloader')
  }

  for (const sysinfo of childElements(root, 'sysinfo')) {
    for (const entry of childElements(sysinfo, 'entry')) {
      if (entry.attrs.file !== undefined) {
        warnings.push(`The fw_cfg entry ${entry.attrs.name ?? ''} read from a host file was not restored.`)
        sysinfo.children = sysinfo.children.filter((c) => c !== entry)
      }
    }
  }

  const devices = childElements(root, 'devices')[0]
  if (devices !== undefined) devices.children = devices.children.filter((d) => typeof d === 'string' || keepDevice(d, warnings))
  return { warnings, hostFiles }
}

function keepDevice(d: XmlElement, warnings: string[]): boolean {
  const dropped = DEVICES_DROP[d.name]
  if (dropped !== undefined) {
    if (d.name !== 'emulator') warnings.push(`A <${d.name}> device (${dropped}) was not restored; add it again with virsh edit if this VM should have it here.`)
    return false
  }
  switch (d.name) {
    case 'disk':
      if (d.attrs.device === 'cdrom' || d.attrs.device === 'floppy') {
        if (childElements(d, 'source').length > 0) warnings.push(`The ${d.attrs.device} ${targetOf(d)} was restored empty (its medium is a file of the original host).`)
        d.children = d.children.filter((c) => typeof c === 'string' || c.name !== 'source')
        d.attrs.type = 'file'
      }
      return true
    case 'serial':
    case 'parallel':
    case 'console':
    case 'channel':
      if (!CHAR_KINDS_KEEP.has(d.attrs.type ?? 'pty')) {
        warnings.push(`The ${d.name} device of type ${d.attrs.type ?? '?'} (a host device, pipe or network port) was restored as a pseudo-terminal.`)
        d.attrs.type = 'pty'
        d.children = d.children.filter((c) => typeof c === 'string' || (c.name !== 'source' && c.name !== 'protocol'))
      }
      return true
    case 'graphics':
      // A listening socket's path is made (and an existing file there removed) by QEMU on the host: libvirt picks one.
      delete d.attrs.socket
      for (const listen of childElements(d, 'listen')) delete listen.attrs.socket
      return true
    case 'interface':
      for (const name of ['script', 'downscript', 'backend']) {
        if (childElements(d, name).length > 0) warnings.push(`The network interface's <${name}> (a program or device path on the original host) was not restored.`)
        d.children = d.children.filter((c) => typeof c === 'string' || c.name !== name)
      }
      return true
    case 'input':
      if (d.attrs.type === 'passthrough' || d.attrs.type === 'evdev') {
        warnings.push(`A host input device passed through (${d.attrs.type}) was not restored.`)
        return false
      }
      return true
    case 'rng': {
      const backend = childElements(d, 'backend')[0]
      if (backend?.attrs.model === 'random') {
        const source = textOf(backend)?.trim() ?? ''
        if (source !== '' && !RNG_SOURCES.has(source)) {
          warnings.push(`The random-number device read ${source}; it reads /dev/urandom instead.`)
          backend.children = ['/dev/urandom']
        }
        return true
      }
      if (backend?.attrs.model === 'egd' && !CHAR_KINDS_KEEP.has(backend.attrs.type ?? '')) {
        warnings.push('The random-number device fed from a host daemon was not restored.')
        return false
      }
      return true
    }
    case 'tpm': {
      const backend = childElements(d, 'backend')[0]
      if (backend?.attrs.type === 'emulator') return true
      warnings.push(`A TPM of type ${backend?.attrs.type ?? '?'} (the host's own TPM) was not restored.`)
      return false
    }
    case 'memory':
      if (d.attrs.model === 'nvdimm' || d.attrs.model === 'virtio-pmem' || childElements(d, 'source').length > 0) {
        warnings.push(`A ${d.attrs.model ?? 'memory'} device backed by a host file was not restored.`)
        return false
      }
      return true
    case 'audio':
      if (d.attrs.type === 'file' || d.attrs.path !== undefined) {
        warnings.push('An audio backend writing to a host file was not restored.')
        return false
      }
      return true
    default:
      if (DEVICES_KEEP.has(d.name)) return true
      warnings.push(`A <${d.name}> device was not restored (Lifeboat restores only devices it knows to be safe on another host).`)
      return false
  }
}

function targetOf(d: XmlElement): string {
  return childElements(d, 'target')[0]?.attrs.dev ?? ''
}

/** A path QEMU reads from the host: plain, absolute, normalised, and outside the places secrets live. */
function checkReadPath(what: string, value: string): string {
  if (!isPlainHostPath(value)) {
    throw refuse(`${what} is "${printable(value, 200)}", not a plain absolute file path on the host.`)
  }
  const normal = posix.normalize(value)
  if (SECRET_PREFIXES.some((p) => normal.startsWith(p) || `${normal}/` === p)) throw refuse(`${what} is ${normal}, a file in a folder where this host keeps secrets or state; the guest would read it.`)
  return normal
}

function refuse(why: string): AdapterError {
  return new AdapterError('BAD_RESPONSE', `${why} The restore point's configuration may have been tampered with; nothing was written. Restore the disks alone (as files) and define the VM by hand if this is intended.`)
}
