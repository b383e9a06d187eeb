/**
 * The tiny real Linux guest for libvirt tests: Debian's cloud kernel + a busybox initramfs running qemu-guest-agent,
 * built once into a cache folder by build-tiny-guest.sh (which is also the command-line entry point).
 *
 * What the guest does (see rootfs/): loads the virtio and ACPI-button modules, mounts its data disk (/dev/vda, ext4 —
 * or lb.data=<dev>|none on the kernel command line) read-write at /data so guest-fsfreeze-freeze has a filesystem to
 * freeze, runs qemu-ga on org.qemu.guest_agent.0, powers off cleanly on the ACPI power button (busybox acpid) and on
 * agent guest-shutdown (through a /sbin/shutdown shim), unmounting /data first.
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { run } from '../run'

export interface TinyGuest {
  readonly kernelVersion: string
  /** Absolute path of the kernel image (`<os><kernel>`). */
  readonly kernel: string
  /** Absolute path of the gzip'd newc initramfs (`<os><initrd>`). */
  readonly initrd: string
  /** Kernel command line the guest expects (serial console on ttyS0). */
  readonly cmdline: string
  /** The cache folder holding all of the above. */
  readonly dir: string
}

export const TINY_GUEST_BUILD_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'build-tiny-guest.sh')

const built = new Map<string, Promise<TinyGuest>>()

/**
 * Builds the guest if the cache lacks it (first time: ~5 s plus a 27 MB kernel download), else just returns the paths.
 * `cacheDir` defaults to $LIFEBOAT_TEST_CACHE or /var/cache/lifeboat-test.
 */
export function ensureTinyGuest(options: { readonly cacheDir?: string } = {}): Promise<TinyGuest> {
  const key = options.cacheDir ?? ''
  let pending = built.get(key)
  if (pending === undefined) {
    pending = build(options.cacheDir)
    built.set(key, pending)
    pending.catch(() => built.delete(key))
  }
  return pending
}

async function build(cacheDir: string | undefined): Promise<TinyGuest> {
  const env = cacheDir === undefined ? process.env : { ...process.env, LIFEBOAT_TEST_CACHE: cacheDir }
  const { stdout } = await run('bash', [TINY_GUEST_BUILD_SCRIPT], { env, timeoutMs: 15 * 60_000 })
  const parsed = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Partial<TinyGuest>
  const { kernelVersion, kernel, initrd, cmdline, dir } = parsed
  if (kernelVersion === undefined || kernel === undefined || initrd === undefined || cmdline === undefined || dir === undefined) {
    throw new Error(`build-tiny-guest.sh printed an unexpected result: ${stdout}`)
  }
  return { kernelVersion, kernel, initrd, cmdline, dir }
}
