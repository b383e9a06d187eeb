import { stat } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { run } from '../run'
import { TINY_GUEST_BUILD_SCRIPT, ensureTinyGuest } from './tiny-guest'

describe.skipIf(process.getuid?.() !== 0)('tiny guest builder', () => {
  it('builds a kernel and an initramfs with busybox init, the virtio modules and qemu-ga', { timeout: 600_000 }, async () => {
    const guest = await ensureTinyGuest()
    expect(guest.kernelVersion).toMatch(/^6\.1\.0-\d+-cloud-amd64$/)
    expect(guest.dir).toContain(`tiny-guest-${guest.kernelVersion}-`)
    expect((await stat(guest.kernel)).size).toBeGreaterThan(5_000_000)
    expect(guest.cmdline).toContain('console=ttyS0')
    const { stdout } = await run('sh', ['-c', `zcat "$0" | cpio -t --quiet`, guest.initrd])
    const files = stdout.split('\n')
    for (const f of ['init', 'bin/busybox', 'sbin/acpid', 'usr/sbin/qemu-ga', 'sbin/shutdown', 'etc/inittab', 'etc/acpi/PWRF/00000080']) {
      expect(files).toContain(f)
    }
    for (const m of ['virtio_pci.ko', 'virtio_blk.ko', 'virtio_console.ko', 'button.ko', 'evdev.ko']) expect(files).toContain(`lib/modules/${m}`)
    expect(files.some((f) => /^lib\/x86_64-linux-gnu\/libglib-2\.0\.so\.0$/.test(f))).toBe(true)
  })

  it('reuses the cached build, from TypeScript and from the command line', async () => {
    const first = await ensureTinyGuest()
    const built = (await stat(first.initrd)).mtimeMs
    const { stdout } = await run('bash', [TINY_GUEST_BUILD_SCRIPT])
    expect(JSON.parse(stdout)).toEqual(first)
    // Not rebuilt: the cached initramfs is the very same file.
    expect((await stat(first.initrd)).mtimeMs).toBe(built)
  })
})
