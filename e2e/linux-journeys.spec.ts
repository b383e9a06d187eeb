import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { blockList, hasJobs, taggedFiles } from '../test-hosts/libvirt-inspect'
import { makeExt4DataDisk, makeTestDir } from '../test-hosts/data-disk'
import { canRunLibvirt, ensureLibvirt, virsh, type LibvirtHandle } from '../test-hosts/libvirt'
import { run } from '../test-hosts/run'
import { canRunSshHosts, type SshTestHost } from '../test-hosts/ssh-host'
import { createTestDomain, type TestDomain } from '../test-hosts/test-domain'
import { AppPage } from './pages/app-page'
import { BackupWizard, JobsPanel } from './pages/backup-pages'
import { expect, test, type LifeboatApp } from './support/fixtures'
import { sha256 } from './support/text'

/**
 * The admin's journeys against a real Linux host: sshd in a network namespace, libvirt with a booted TCG guest
 * (qemu-guest-agent inside). One guest is shared by the journeys, in order, because booting costs seconds.
 *   vda: qcow2 ext4 data disk, mounted by the guest at /data, holding a report file.
 *   vdb: qcow2 with 384 MiB of random data, so a backup takes long enough to be cancelled while it streams.
 */
const MiB = 1024 * 1024
const can = canRunLibvirt().ok && canRunSshHosts().ok

test.describe.configure({ mode: 'serial' })
test.describe('Linux host journeys', () => {
  test.skip(!can, 'needs root, libvirt and network namespaces')
  let libvirt: LibvirtHandle
  let domain: TestDomain
  let dir: string
  const disks: Record<'vda' | 'vdb', string> = { vda: '', vdb: '' }

  test.beforeAll(async () => {
    test.setTimeout(300_000)
    libvirt = await ensureLibvirt()
    dir = await makeTestDir('lb-e2e-linux-')
    const files = path.join(dir, 'files')
    await mkdir(path.join(files, 'reports'), { recursive: true })
    await writeFile(path.join(files, 'reports', 'q3-revenue.csv'), randomBytes(300_000).toString('base64'))
    await writeFile(path.join(files, 'readme.txt'), 'Data disk of the web server.\n')
    disks.vda = await makeExt4DataDisk({ fromDir: files, path: path.join(dir, 'vda.qcow2'), sizeBytes: 64 * MiB })
    const rawB = path.join(dir, 'vdb.raw')
    await run('sh', ['-c', `head -c ${384 * MiB} /dev/urandom > '${rawB}'`])
    disks.vdb = path.join(dir, 'vdb.qcow2')
    await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', rawB, disks.vdb], { timeoutMs: 120_000 })
    await rm(rawB)
    domain = await createTestDomain({
      disks: [
        { path: disks.vda, format: 'qcow2' },
        { path: disks.vdb, format: 'qcow2' },
      ],
    })
    await domain.start()
    await domain.waitForAgent(180_000)
  })

  test.afterAll(async () => {
    await domain.remove()
    await rm(dir, { recursive: true, force: true })
    await libvirt.stop()
  })

  /** Saves the namespace host (root, key) through the CLI on the app's data folder and opens its VM. */
  const openVm = async (lifeboat: LifeboatApp, sshHost: SshTestHost) => {
    const key = path.join(await mkdtemp(path.join(tmpdir(), 'lb-e2e-key-')), 'id')
    await writeFile(key, await readFile(sshHost.clientKeyPath), { mode: 0o600 })
    const added = await lifeboat.cli(['host', 'add', '--kind', 'linux', '--name', 'kvm1', '--address', sshHost.address, '--user', 'root', '--key', key, '--accept-fingerprint', sshHost.fingerprint])
    expect(added.code, added.stderr).toBe(0)
    const { page } = lifeboat
    await page.reload()
    const tree = page.getByRole('tree', { name: 'Hosts and virtual machines' })
    await tree.getByRole('treeitem', { name: new RegExp(`^${domain.name},`) }).click()
    await expect(page.getByRole('heading', { level: 1, name: domain.name })).toBeVisible()
    return tree
  }

  const guestFile = async (p: string): Promise<string> => {
    const r = await domain.exec(['cat', p])
    expect(r.exitCode, r.stderr).toBe(0)
    return r.stdout
  }
  /** The guest's own checksum of one of its files. */
  const guestSha256 = async (p: string): Promise<string> => {
    const r = await domain.exec(['sha256sum', p])
    expect(r.exitCode, r.stderr).toBe(0)
    return r.stdout.split(/\s+/)[0] ?? ''
  }

  test('schedule a hot backup, watch it run, browse its files, restore one file identical to the guest’s', async ({ lifeboat, sshHost }) => {
    test.setTimeout(480_000)
    const { page } = lifeboat
    const tree = await openVm(lifeboat, sshHost)
    await page.getByRole('button', { name: 'Back up…' }).click()
    const wizard = page.getByRole('dialog', { name: 'New backup plan' })
    await expect(wizard.getByRole('checkbox', { name: new RegExp(domain.name) })).toBeChecked()
    await wizard.getByRole('button', { name: 'Next' }).click()
    const hot = wizard.getByRole('radio', { name: /Hot/ })
    await expect(hot).toBeEnabled({ timeout: 60_000 })
    await hot.check()
    await lifeboat.shot('35-wizard-mode')
    await wizard.getByRole('button', { name: 'Next' }).click() // destination: the default repository
    await wizard.getByRole('button', { name: 'Next' }).click()
    await expect(wizard.getByRole('radio', { name: 'On a schedule' })).toBeChecked() // the default
    await expect(wizard.getByText('Next runs:')).toBeVisible()
    await lifeboat.shot('36-wizard-schedule')
    await wizard.getByRole('button', { name: 'Next' }).click()
    // Options: quiesce on by default; "required" only makes sense with it, so it follows the quiesce choice.
    const quiesce = wizard.getByRole('checkbox', { name: /flush and freeze the filesystems/ })
    const required = wizard.getByRole('checkbox', { name: /fail its backup instead of saving it crash-consistent/ })
    await expect(quiesce).toBeChecked()
    await expect(required).not.toBeChecked()
    await quiesce.uncheck()
    await expect(required).toBeDisabled()
    await quiesce.check()
    await expect(required).toBeEnabled()
    await lifeboat.shot('46-wizard-options')
    await wizard.getByRole('button', { name: 'Next' }).click()
    await lifeboat.shot('37-wizard-review')
    await wizard.getByRole('button', { name: 'Save and run now' }).click()
    await expect(wizard).toBeHidden()

    // The job runs with a progress bar, rate and steps; then it is done.
    const jobs = page.getByRole('complementary', { name: 'Jobs' })
    await expect(jobs).toBeVisible()
    const job = jobs.getByRole('listitem').filter({ hasText: /Backup plan/ }).first()
    await expect(job.getByRole('progressbar')).toBeVisible({ timeout: 60_000 })
    await expect(job).toContainText(/\/s/, { timeout: 60_000 })
    await lifeboat.shot('38-backup-running')
    await expect(job.getByText('Done', { exact: true })).toBeVisible({ timeout: 240_000 })
    await lifeboat.shot('39-backup-done')
    await jobs.getByRole('button', { name: 'Close jobs' }).click()

    // The plan is saved with its schedule and last result.
    await expect(page.getByRole('heading', { level: 1, name: 'Backup plans' })).toBeVisible()
    await expect(page.getByText('Last run OK')).toBeVisible()

    // Browse the restore point and restore one file.
    await tree.getByRole('treeitem', { name: new RegExp(`^${domain.name},`) }).click()
    await page.getByRole('tab', { name: 'Restore points' }).click()
    const timeline = page.getByRole('list', { name: `Restore points of ${domain.name}` })
    await expect(timeline.getByRole('button')).toHaveCount(1)
    await expect(page.getByText(/Hot/).first()).toBeVisible()
    const folders = page.getByRole('tree', { name: 'Folders' })
    await folders.getByRole('button', { name: 'reports', exact: true }).click()
    await page.getByRole('checkbox', { name: 'Select q3-revenue.csv' }).check()
    await lifeboat.shot('40-point-files')
    await page.getByRole('button', { name: 'Restore to a folder…' }).click()
    const dialog = page.getByRole('dialog', { name: 'Restore 1 item' })
    const target = path.join(await mkdtemp(path.join(tmpdir(), 'lb-e2e-restore-')), 'out')
    await dialog.getByLabel('Restore into').fill(target)
    await dialog.getByRole('button', { name: 'Restore', exact: true }).click()
    await expect(jobs.getByRole('listitem').filter({ hasText: /Restore \/reports\/q3-revenue.csv/ }).getByText('Done', { exact: true })).toBeVisible({ timeout: 60_000 })
    const restored = await readFile(path.join(target, 'q3-revenue.csv'))
    expect(sha256(restored)).toBe(await guestSha256('/data/reports/q3-revenue.csv'))

    // Put the file back into the running guest, beside the original, through its guest agent.
    await page.getByRole('checkbox', { name: 'Select q3-revenue.csv' }).check()
    await page.getByRole('button', { name: `Put back into ${domain.name}…` }).click()
    const toGuest = page.getByRole('dialog', { name: `Put a file back into ${domain.name}` })
    await expect(toGuest.getByLabel('Path inside the VM')).toHaveValue('/reports/q3-revenue-restored.csv')
    await toGuest.getByLabel('Path inside the VM').fill('/data/reports/q3-revenue-restored.csv')
    await lifeboat.shot('42-guest-restore')
    await toGuest.getByRole('button', { name: 'Copy into VM' }).click()
    await expect(toGuest).toBeHidden()
    await expect(jobs.getByRole('listitem').filter({ hasText: /q3-revenue-restored\.csv/ }).getByText('Done', { exact: true })).toBeVisible({ timeout: 120_000 })
    expect(await guestSha256('/data/reports/q3-revenue-restored.csv')).toBe(sha256(restored))

    // The whole VM, as a new VM beside the running original (overwriting it is refused while it runs).
    await page.getByRole('tab', { name: 'Whole VM' }).click()
    await page.getByRole('button', { name: 'Restore whole VM…' }).click()
    const restoreVm = page.getByRole('dialog', { name: `Restore ${domain.name}` })
    await expect(restoreVm.getByRole('radio', { name: /A new VM/ })).toBeChecked()
    await expect(restoreVm.getByRole('radio', { name: /Overwrite the original VM/ })).toBeDisabled()
    await expect(restoreVm).toContainText(`${domain.name} is running. Shut it down first`)
    const copyName = `${domain.name}-copy`
    await restoreVm.getByLabel('Name of the new VM').fill(copyName)
    await expect(restoreVm.getByRole('region', { name: 'Summary' })).toContainText(`A new VM ${copyName} is created on kvm1`)
    await lifeboat.shot('43-restore-vm-dialog')
    await restoreVm.getByRole('button', { name: 'Restore VM' }).click()
    await expect(restoreVm).toBeHidden()
    const restoreJob = jobs.getByRole('listitem').filter({ hasText: `Restore as ${copyName} on kvm1` }).first()
    await expect(restoreJob.getByText('Done', { exact: true })).toBeVisible({ timeout: 240_000 })
    await lifeboat.shot('44-restore-vm-done')
    try {
      // The host has the new VM, shut off, on disk files of its own; the original still runs on its disks.
      expect((await virsh(['domstate', copyName])).trim()).toBe('shut off')
      const copyDisks = (await virsh(['domblklist', copyName, '--details'])).split('\n').filter((l) => /\sdisk\s/.test(l)).map((l) => l.trim().split(/\s+/).pop() ?? '')
      expect(copyDisks).toHaveLength(2)
      for (const d of copyDisks) expect([disks.vda, disks.vdb]).not.toContain(d)
      expect(await blockList(domain.name)).toContain(`vda ${disks.vda}`)
      // The restored data disk holds the backed-up report, byte for byte.
      const out = path.join(dir, 'restored-report.csv')
      const vdaCopy = copyDisks[0] ?? ''
      const rawCopy = path.join(dir, 'copy-vda.raw')
      await run('qemu-img', ['convert', '-O', 'raw', vdaCopy, rawCopy], { timeoutMs: 120_000 })
      await run('e2cp', [`${rawCopy}:/reports/q3-revenue.csv`, out])
      expect(sha256(await readFile(out))).toBe(sha256(restored))
      await rm(rawCopy)
    } finally {
      const left = (await virsh(['domblklist', copyName, '--details']).catch(() => '')).split('\n').filter((l) => /\sdisk\s/.test(l)).map((l) => l.trim().split(/\s+/).pop() ?? '')
      await virsh(['undefine', copyName, '--nvram']).catch(() => virsh(['undefine', copyName]).catch(() => ''))
      for (const f of left) if (f.startsWith('/')) await rm(f, { force: true })
    }
  })

  test('snapshot before patching, then revert: the change made after it is gone', async ({ lifeboat, sshHost }) => {
    const { page } = lifeboat
    const tree = await openVm(lifeboat, sshHost)

    // One click from the tree's context menu, reachable from the keyboard too (Shift+F10 on the focused row).
    await tree.focus()
    await page.keyboard.press('Shift+F10')
    const menu = page.getByRole('menu', { name: `Actions for ${domain.name}` })
    await expect(menu.getByRole('menuitem', { name: 'Snapshot before patching' })).toBeVisible()
    await lifeboat.shot('30-context-menu')
    await page.keyboard.press('ArrowDown')
    await page.keyboard.press('Enter')
    const dialog = page.getByRole('dialog', { name: `Snapshot ${domain.name} before patching` })
    await dialog.getByLabel('What are you about to install? (optional)').fill('openssl 3.0.15 and kernel 6.1.0-28')
    await expect(dialog.getByLabel('Remind me to keep or discard it after')).toHaveValue('7')
    await lifeboat.shot('31-patch-dialog')
    await dialog.getByRole('button', { name: 'Take snapshot' }).click()
    await expect(dialog).toBeHidden({ timeout: 60_000 })

    // The snapshot is on the VM's page, prominently, with its review date; the host has it, tagged.
    const banner = page.getByRole('region', { name: 'Snapshot before patching' })
    await expect(banner).toContainText('openssl 3.0.15 and kernel 6.1.0-28')
    await expect(banner).toContainText('Reminder on')
    expect(await virsh(['snapshot-list', domain.name, '--name'])).toMatch(/lifeboat/i)
    await lifeboat.shot('32-patch-banner')

    // "Patching": a file appears on the data disk.
    const patched = await domain.exec(['sh', '-c', 'echo patched > /data/patched.txt && sync'])
    expect(patched.exitCode).toBe(0)
    expect(await guestFile('/data/patched.txt')).toBe('patched\n')

    // The snapshot is in the VM's timeline beside restore points and can be browsed in place: as before the patch.
    await page.getByRole('tab', { name: 'Restore points' }).click()
    const timeline = page.getByRole('list', { name: `Restore points of ${domain.name}` })
    await timeline.getByRole('button', { name: /openssl 3\.0\.15 and kernel 6\.1\.0-28/ }).click()
    const snapDetail = page.getByRole('region', { name: 'Snapshot openssl 3.0.15 and kernel 6.1.0-28' })
    await expect(snapDetail.getByRole('checkbox', { name: 'Select readme.txt' })).toBeVisible({ timeout: 60_000 })
    await expect(snapDetail.getByRole('checkbox', { name: 'Select patched.txt' })).toHaveCount(0)
    await lifeboat.shot('45-snapshot-browse')
    await page.getByRole('tab', { name: 'Overview' }).click()

    await banner.getByRole('button', { name: 'Revert…' }).click()
    const revert = page.getByRole('dialog', { name: `Revert ${domain.name} to “openssl 3.0.15 and kernel 6.1.0-28”?` })
    await expect(revert).toContainText('is thrown away')
    await expect(revert).toContainText('the revert stops it at once')
    const go = revert.getByRole('button', { name: 'Revert', exact: true })
    await expect(go).toBeDisabled()
    await revert.getByRole('checkbox', { name: 'First take a snapshot of the current state' }).uncheck()
    await revert.getByRole('checkbox', { name: /^I understand that the changes since/ }).check()
    await lifeboat.shot('33-revert-dialog')
    await go.click()
    await expect(revert).toBeHidden({ timeout: 120_000 })
    await expect(page.getByText(`${domain.name} is back at “openssl 3.0.15 and kernel 6.1.0-28”.`)).toBeVisible()

    // The guest runs again from the snapshot (memory included): the file written after it is gone.
    await domain.waitForAgent(120_000)
    expect(await domain.state()).toBe('running')
    const gone = await domain.exec(['test', '-e', '/data/patched.txt'])
    expect(gone.exitCode).not.toBe(0)

    // It went fine this time: discard the snapshot; nothing of it stays on the host.
    await banner.getByRole('button', { name: 'Discard…' }).click()
    const discard = page.getByRole('dialog', { name: 'Discard the snapshot “openssl 3.0.15 and kernel 6.1.0-28”?' })
    await discard.getByRole('button', { name: 'Discard snapshot' }).click()
    await expect(discard).toBeHidden({ timeout: 60_000 })
    await expect(banner).toBeHidden()
    expect((await virsh(['snapshot-list', domain.name, '--name'])).trim()).toBe('')
    await lifeboat.shot('34-after-discard')
  })

  test('cancel a running backup: the job says what it cleaned up and the host has nothing left', async ({ lifeboat, sshHost }) => {
    const { page } = lifeboat
    await openVm(lifeboat, sshHost)
    const wizard = await BackupWizard.openFor(new AppPage(page), domain.name)
    await wizard.next()
    await expect(wizard.mode('Hot')).toBeEnabled({ timeout: 60_000 })
    await wizard.mode('Hot').check()
    await wizard.backUpOnceNow()

    const jobs = new JobsPanel(page)
    const job = jobs.backupPlan
    await expect(job.getByRole('progressbar')).toBeVisible({ timeout: 60_000 })
    await expect(job).toContainText(/MiB of/, { timeout: 60_000 })
    await jobs.cancel(job, 120_000)
    await job.getByRole('button', { name: 'Show log' }).click()
    await expect(job.getByRole('log')).toContainText('Cancel requested')
    await lifeboat.shot('41-cancelled')

    // On the host: no snapshot, overlay, block job or tagged file; the VM runs on its own disks.
    expect(await hasJobs(domain.name, ['vda', 'vdb'])).toEqual([])
    expect(await blockList(domain.name)).toContain(`vda ${disks.vda}`)
    expect(await blockList(domain.name)).toContain(`vdb ${disks.vdb}`)
    expect(await taggedFiles([dir, '/var/tmp'])).toEqual([])
    expect((await virsh(['snapshot-list', domain.name, '--name'])).trim()).toBe('')
    expect(await domain.state()).toBe('running')
  })
})
