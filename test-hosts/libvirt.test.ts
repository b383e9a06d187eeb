import { readdir, stat } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { canRunLibvirt, ensureLibvirt, virsh, type LibvirtHandle } from './libvirt'
import { cleanupStaleTestDomains, createTestDomain, type TestDomain } from './test-domain'

describe.skipIf(!canRunLibvirt().ok)('libvirt test daemon', () => {
  let handles: LibvirtHandle[] = []

  beforeAll(async () => {
    // Concurrent callers (as parallel test files are) must share one daemon.
    handles = await Promise.all([ensureLibvirt(), ensureLibvirt(), ensureLibvirt()])
  })
  afterAll(async () => {
    for (const h of handles) await h.stop()
  })

  it('answers on qemu:///system with QEMU in TCG mode', async () => {
    expect(await virsh(['uri'])).toBe('qemu:///system\n\n')
    const caps = await virsh(['domcapabilities', '--virttype', 'qemu', '--arch', 'x86_64'])
    expect(caps).toContain('<domain>qemu</domain>')
  })

  it('defines domains without re-probing QEMU each time (the cached capabilities stay as they are)', async () => {
    const first = await createBareDomain()
    await first.d.remove()
    const before = await capabilityCache()
    expect(before.size).toBeGreaterThan(0)
    const domain = await createBareDomain()
    try {
      expect(await capabilityCache()).toEqual(before)
    } finally {
      await domain.d.remove()
    }
  })

  it('cleans up test domains whose owner process is gone, and only those', async () => {
    const mine = await createTestDomain({ guest: { kernel: '/nonexistent/vmlinuz', initrd: '/nonexistent/initrd', cmdline: '' }, disks: [] })
    const orphan = await createTestDomain({ guest: { kernel: '/nonexistent/vmlinuz', initrd: '/nonexistent/initrd', cmdline: '' }, disks: [] })
    try {
      // What a killed run leaves: a domain whose recorded owner no longer exists.
      await virsh(['desc', orphan.name, '--config', '--new-desc', 'Lifeboat test domain (test-hosts/test-domain.ts); owner pid=999999999 start=1'])
      const removed = await cleanupStaleTestDomains()
      expect(removed).toContain(orphan.name)
      expect(removed).not.toContain(mine.name)
      const names = await virsh(['list', '--all', '--name'])
      expect(names).toContain(mine.name)
      expect(names).not.toContain(orphan.name)
    } finally {
      await mine.remove()
      await orphan.remove()
    }
  })
})

async function createBareDomain(): Promise<{ d: TestDomain }> {
  return { d: await createTestDomain({ guest: { kernel: '/nonexistent/vmlinuz', initrd: '/nonexistent/initrd', cmdline: '' }, disks: [] }) }
}

/** libvirt rewrites its QEMU capability cache whenever it re-probes QEMU: file → mtime. */
async function capabilityCache(): Promise<Map<string, number>> {
  const dir = '/var/cache/libvirt/qemu/capabilities'
  const out = new Map<string, number>()
  for (const name of await readdir(dir)) out.set(name, (await stat(path.join(dir, name))).mtimeMs)
  return out
}
