import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { Readable } from 'node:stream'
import path from 'node:path'
import { localBackend } from '../engine/repository/backends/local-backend'
import { openRepository } from '../engine/repository/repository'
import { statePaths } from '../engine/state/paths'
import { makeExt4DataDisk, makeTestDir } from '../test-hosts/data-disk'
import { canRunLibvirt, ensureLibvirt, virsh, type LibvirtHandle } from '../test-hosts/libvirt'
import { canRunSshHosts, cutSshSessions, refuseSshConnections } from '../test-hosts/ssh-host'
import { createTestDomain, type TestDomain } from '../test-hosts/test-domain'
import { expect, test } from './support/fixtures'
import { escapeRe } from './support/text'

/**
 * Instant recovery from the app, against the real engine and a real libvirt host (TCG): the tiny guest's cold restore
 * point runs as a new VM served by Lifeboat; the banner across the app says so and survives a reload; "Make permanent"
 * cuts it loose (no NBD left in its definition), a lost SSH connection is shown while it reconnects and once it is
 * served again, "Stop and discard" leaves nothing on the host. Booting the guest to
 * its agent is proven by engine/jobs/point-run.test.ts; here what counts is what the admin sees and that the host
 * agrees with it.
 */
const MiB = 1024 * 1024
const can = canRunLibvirt().ok && canRunSshHosts().ok

/** The phase of the points.run job serving `vm`, from the job records the app keeps in its data folder. */
async function runJobPhase(home: string, vm: string): Promise<string | undefined> {
  const dir = statePaths(home).jobs
  for (const file of await readdir(dir).catch(() => [])) {
    const record: unknown = JSON.parse(await readFile(path.join(dir, file), 'utf8').catch(() => '{}'))
    const job = typeof record === 'object' && record !== null && 'job' in record ? (record.job as { kind?: string; state?: string; progress?: { phase?: string; detail?: string } }) : undefined
    if (job?.kind === 'points.run' && job.state === 'running' && job.progress?.detail === vm) return job.progress.phase
  }
  return undefined
}

async function domainExists(name: string): Promise<boolean> {
  return (await virsh(['list', '--all', '--name'])).split('\n').some((l) => l.trim() === name)
}

test.describe.configure({ mode: 'serial' })
test.describe('Run from backup', () => {
  test.skip(!can, 'needs root, libvirt and network namespaces')
  let libvirt: LibvirtHandle
  let original: TestDomain
  let dir: string
  const made: string[] = []

  test.beforeAll(async () => {
    test.setTimeout(300_000)
    libvirt = await ensureLibvirt()
    dir = await makeTestDir('lb-e2e-run-')
    const files = path.join(dir, 'files')
    await mkdir(files)
    await writeFile(path.join(files, 'orders.csv'), 'id,total\n1,42\n')
    const disk = await makeExt4DataDisk({ fromDir: files, path: path.join(dir, 'data.raw'), sizeBytes: 32 * MiB, format: 'raw' })
    original = await createTestDomain({ disks: [{ path: disk, format: 'raw' }] })
  })

  test.afterAll(async () => {
    for (const vm of made) {
      if (!(await domainExists(vm).catch(() => false))) continue
      await virsh(['destroy', vm]).catch(() => '')
      await virsh(['undefine', vm]).catch(() => '')
    }
    await original.remove()
    await rm(dir, { recursive: true, force: true })
    await libvirt.stop()
  })

  test('run a restore point as a new VM, see the banner, make it permanent; run it again and discard it', async ({ lifeboat, sshHost }) => {
    test.setTimeout(300_000)
    const { page } = lifeboat
    const key = path.join(await mkdtemp(path.join(tmpdir(), 'lb-e2e-key-')), 'id')
    await writeFile(key, await readFile(sshHost.clientKeyPath), { mode: 0o600 })
    const added = await lifeboat.cli(['host', 'add', '--kind', 'linux', '--name', 'kvm1', '--address', sshHost.address, '--user', 'root', '--key', key, '--accept-fingerprint', sshHost.fingerprint])
    expect(added.code, added.stderr).toBe(0)
    const backup = await lifeboat.cli(['backup', '--host', 'kvm1', '--vm', original.name, '--mode', 'cold'])
    expect(backup.code, backup.stderr).toBe(0)
    await page.reload()

    await page.getByRole('list', { name: 'Backups' }).getByRole('button', { name: new RegExp(escapeRe(original.name)) }).click()
    await page.getByRole('button', { name: 'Run from backup…' }).click()
    const dialog = page.getByRole('dialog', { name: `Run ${original.name} from the backup` })
    await expect(dialog.getByLabel('KVM/libvirt host that runs it')).toHaveValue(/.+/)
    const nameField = dialog.getByLabel('Name of the new VM')
    await expect(nameField).toHaveValue(new RegExp(`^${escapeRe(original.name)}-from-backup-\\d{8}-\\d{4}$`))
    // The original's own name is refused: running the backup must not clash with the VM it came from.
    await nameField.fill(original.name)
    await expect(dialog.getByText(`kvm1 already has a VM called ${original.name}: choose another name.`)).toBeVisible()
    await expect(dialog.getByRole('button', { name: 'Run from backup' })).toBeDisabled()
    const first = `${original.name}-rescue`
    await nameField.fill(first)
    await expect(dialog.getByRole('radio', { name: /No network \(safe\)/ })).toBeChecked()
    await dialog.getByRole('radio', { name: /The original VM’s network|The original VM's network/ }).check()
    await expect(dialog.getByText(/If the original VM still runs, two machines with the same name and addresses/)).toBeVisible()
    await dialog.getByRole('radio', { name: /No network \(safe\)/ }).check()
    await lifeboat.shot('90-run-dialog')

    made.push(first)
    const started = Date.now()
    await dialog.getByRole('button', { name: 'Run from backup' }).press('Enter')
    await expect(dialog).toBeHidden()
    const banner = page.getByRole('region', { name: 'VMs running from a backup' })
    const firstRow = banner.getByRole('listitem').filter({ hasText: first })
    await expect(firstRow.getByText(new RegExp(`^${escapeRe(first)} is running from the backup of .+ on kvm1 — writes go to an overlay; make it permanent or stop it\\.$`))).toBeVisible({ timeout: 90_000 })
    const seconds = (Date.now() - started) / 1000
    console.log(`run from backup: banner up ${seconds.toFixed(1)} s after the click`)
    expect((await virsh(['domstate', first])).trim()).toBe('running')
    expect(await virsh(['dumpxml', first])).toContain("protocol='nbd'")
    await lifeboat.shot('91-run-banner')

    // The banner comes from the host (runs.list), not from this page's memory.
    await page.reload()
    await expect(firstRow.getByRole('button', { name: 'Make permanent' })).toBeVisible({ timeout: 60_000 })
    await firstRow.getByRole('button', { name: 'Make permanent' }).click()
    // A 32 MiB disk is copied in a moment: the progress bar is photographed when it can be caught, not required.
    // The success message is a toast that goes after 5 s: it is waited for together with the figures, not after them.
    const figures = firstRow.getByText(/ of .*(\/s|left)/)
    const permanent = page.getByText(`${first} runs on kvm1’s own storage now and no longer needs Lifeboat.`).or(page.getByText(`${first} runs on kvm1's own storage now and no longer needs Lifeboat.`))
    await expect(figures.or(firstRow.getByRole('progressbar')).or(permanent)).toBeVisible({ timeout: 60_000 })
    if (!(await permanent.isVisible())) await lifeboat.shot('92-making-permanent')
    await expect(permanent).toBeVisible({ timeout: 120_000 })
    await expect(banner).toBeHidden({ timeout: 60_000 })
    await lifeboat.shot('93-made-permanent')
    expect((await virsh(['domstate', first])).trim()).toBe('running')
    expect(await virsh(['dumpxml', '--inactive', first])).not.toContain('nbd')

    // Again, under a name typed by keyboard only, then stopped and discarded.
    const second = `${original.name}-try2`
    made.push(second)
    await page.getByRole('list', { name: 'Backups' }).getByRole('button', { name: new RegExp(escapeRe(original.name)) }).click()
    await page.getByRole('button', { name: 'Run from backup…' }).focus()
    await page.keyboard.press('Enter')
    await expect(dialog).toBeVisible()
    await nameField.fill(second)
    await dialog.getByRole('button', { name: 'Run from backup' }).focus()
    await page.keyboard.press('Enter')
    const secondRow = banner.getByRole('listitem').filter({ hasText: second })
    await expect(secondRow.getByRole('button', { name: 'Stop and discard…' })).toBeVisible({ timeout: 90_000 })
    // Cut once its job serves it (the row shows the VM a moment before the start ends, and a drop during the start
    // fails the start, by design).
    await expect.poll(async () => await runJobPhase(lifeboat.home, second), { timeout: 90_000 }).toBe('running')

    // A network drop: every SSH session of the host ends (the disks' sockets with them) and the host turns new ones
    // away for a while. The row says that the VM waits and which try it is, in a live status line; once the host lets
    // Lifeboat in again the VM is served again and the row says so, calmly.
    const status = secondRow.getByRole('status')
    const admit = await refuseSshConnections(sshHost)
    const cutAt = Date.now()
    try {
      await cutSshSessions(sshHost)
      await expect(status).toHaveText(new RegExp(`^Connection to kvm1 lost — ${escapeRe(second)} pauses at its next read of the backup and waits; nothing it wrote is lost\\. Reconnecting \\(try [2-9]\\)…$`), { timeout: 30_000 })
      console.log(`run from backup: reconnecting shown ${((Date.now() - cutAt) / 1000).toFixed(1)} s after the cut`)
      await expect(secondRow.getByRole('button', { name: 'Make permanent' })).toBeDisabled()
      await expect(secondRow.getByRole('button', { name: 'Stop and discard…' })).toBeEnabled()
      await lifeboat.shot('94a-run-reconnecting')
    } finally {
      await admit()
    }
    await expect(status).toHaveText(`Reconnected to kvm1: ${second} is served from the backup again.`, { timeout: 90_000 })
    console.log(`run from backup: served again ${((Date.now() - cutAt) / 1000).toFixed(1)} s after the cut`)
    await lifeboat.shot('94b-run-reconnected')
    // A read the guest made during the outage paused it; served again, the job resumes it (at once, or on its next look).
    await expect.poll(async () => (await virsh(['domstate', '--reason', second])).trim(), { timeout: 20_000 }).toMatch(/^running/)
    console.log(`run from backup: running again ${((Date.now() - cutAt) / 1000).toFixed(1)} s after the cut`)
    // The row asks the host again after "Reconnected": it does not keep saying "(paused)" until the next regular look.
    await expect(secondRow.getByText(new RegExp(`^${escapeRe(second)} is running from the backup of .+ on kvm1`))).toBeVisible({ timeout: 15_000 })
    await expect(secondRow.getByRole('button', { name: 'Make permanent' })).toBeEnabled()
    await expect(status).toHaveText('', { timeout: 30_000 })

    await secondRow.getByRole('button', { name: 'Stop and discard…' }).click()
    const confirm = page.getByRole('dialog', { name: `Stop and discard ${second}?` })
    const overlay = (await confirm.locator('code').first().textContent()) ?? ''
    expect(overlay).toMatch(/\.qcow2$/)
    expect(existsSync(overlay)).toBe(true)
    await expect(confirm.getByText('The restore point is not changed, and the original VM is not touched.')).toBeVisible()
    await expect(confirm.getByRole('button', { name: 'Cancel' })).toBeFocused()
    await lifeboat.shot('94-discard-confirm')
    await confirm.getByRole('button', { name: 'Stop and discard', exact: true }).click()
    await expect(confirm).toBeHidden({ timeout: 60_000 })
    await expect(page.getByText(`${second} was turned off and removed from kvm1, with everything it wrote.`)).toBeVisible()
    await expect(banner).toBeHidden({ timeout: 60_000 })
    // The host's tree follows at once (asked of the host), not at its next regular look.
    await expect(page.getByRole('tree', { name: 'Hosts and virtual machines' }).getByRole('treeitem', { name: new RegExp(`^${escapeRe(second)},`) })).toHaveCount(0, { timeout: 15_000 })
    await lifeboat.shot('95-after-discard')
    expect(await domainExists(second)).toBe(false)
    expect(existsSync(overlay)).toBe(false)
  })
})

// XenServer and Hyper-V cannot boot a disk Lifeboat serves: the action stays visible, says why in one sentence and
// leads to the full restore. A XenServer point is written straight into the app's repository (no XAPI host needed).
test('a XenServer restore point explains why it cannot run from the backup and offers the restore as a new VM', async ({ lifeboat }) => {
  const { page } = lifeboat
  const dir = await mkdtemp(path.join(tmpdir(), 'lb-e2e-run-xen-'))
  const disk = path.join(dir, 'seed.raw')
  await writeFile(disk, Buffer.alloc(MiB))
  const seeded = await lifeboat.cli(['backup-file', disk, '--name', 'seed'])
  expect(seeded.code, seeded.stderr).toBe(0)
  const repo = await openRepository({ backend: localBackend({ path: statePaths(lifeboat.home).repository }) })
  try {
    const stream = Readable.from([new Uint8Array(MiB).fill(7)])
    await repo.ingest({ vm: { id: 'a3c1f0e2-xen', name: 'erp01', config: {} }, sourceHost: { name: 'xen1', kind: 'xenserver' }, mode: 'cold', consistency: 'offline', disks: [{ name: 'xvda', stream, size: MiB }] })
  } finally {
    await repo.close()
    await rm(dir, { recursive: true, force: true })
  }
  await page.reload()
  await page.getByRole('list', { name: 'Backups' }).getByRole('button', { name: /erp01/ }).click()
  await page.getByRole('button', { name: 'Run from backup…' }).click()
  const dialog = page.getByRole('dialog', { name: 'Run erp01 from the backup' })
  await expect(dialog.getByText(/^Running a VM straight from a backup works on KVM\/libvirt hosts only: XenServer\/XCP-ng cannot yet boot a disk that Lifeboat serves over the network\. Restore it as a new VM instead/)).toBeVisible()
  await expect(dialog.getByRole('button', { name: 'Run from backup' })).toHaveCount(0)
  await lifeboat.shot('96-run-not-offered-xen')
  await dialog.getByRole('button', { name: 'Restore as a new VM…' }).click()
  await expect(dialog).toBeHidden()
  await expect(page.getByRole('dialog', { name: 'Restore erp01' })).toBeVisible()
})
