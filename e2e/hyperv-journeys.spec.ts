import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import ssh2 from 'ssh2'
import { makeWebDataDisk } from '../test-hosts/data-disk'
import { startHyperVSim, type HyperVSim } from '../test-hosts/hyperv-pwsh/sim'
import { AppPage } from './pages/app-page'
import { BackupWizard, JobsPanel, restoreOneFile, restoreWholeVmAsNew } from './pages/backup-pages'
import { expect, test, type LifeboatApp } from './support/fixtures'
import { sha256 } from './support/text'

/**
 * The admin's journeys against a Hyper-V host: the Hyper-V test host (test-hosts/hyperv-pwsh: real sshd in a network
 * namespace running real pwsh as Windows OpenSSH runs PowerShell, the Hyper-V cmdlets in front of the simulator's model
 * serving real VHDX files).
 *   web01: a 64 MiB dynamic VHDX (qemu-img) holding an ext4 filesystem (mkfs.ext4 -d) with a report file.
 *   db01:  a 256 MiB VHDX of random bytes, big enough for a backup to be cancelled while it reads.
 * What the journeys change on the host is checked in the simulator's VMs, checkpoints and files, not only on screen.
 */
const MiB = 1024 * 1024

test.describe.configure({ mode: 'serial' })
test.describe('Hyper-V host journeys', () => {
  let sim: HyperVSim
  let dir: string
  let webDisk: Buffer
  let report: Buffer

  test.beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lb-e2e-hyperv-'))
    ;({ disk: webDisk, report } = await makeWebDataDisk(dir))
    sim = await startHyperVSim({ computerName: 'HV01' })
    await sim.addVm('web01', { disks: [webDisk] })
    await sim.addVm('db01', { disks: [randomBytes(256 * MiB)] })
  })

  test.afterAll(async () => {
    await sim.close()
    await rm(dir, { recursive: true, force: true })
  })

  /** What the admin types into PowerShell on the host, over its OpenSSH (as Lifeboat reaches it, but by hand). */
  const onHost = async (script: string): Promise<string> => {
    const client = new ssh2.Client()
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('ready', resolve).once('error', reject)
        client.connect({ host: sim.address, port: sim.port, username: sim.user, privateKey: sim.privateKey })
      })
      return await new Promise<string>((resolve, reject) => {
        client.exec(`powershell.exe -NoProfile -NonInteractive -Command "${script}"`, (err, channel) => {
          if (err) return reject(err)
          let out = ''
          let errors = ''
          channel.on('data', (d: Buffer) => (out += d.toString()))
          channel.stderr.on('data', (d: Buffer) => (errors += d.toString()))
          channel.on('exit', (code: number | null) => (code === 0 ? resolve(out) : reject(new Error(`${script}: exit ${code}: ${errors}`))))
        })
      })
    } finally {
      client.end()
    }
  }
  const vm = (name: string) => {
    const found = sim.host.vmByName(name)
    if (!found) throw new Error(`the host has no VM ${name}`)
    return found
  }
  const guestDisk = (name: string) => sim.host.guestRead(vm(name).id, 0, 0, 64 * MiB)

  /** Saves the host through the CLI (the first journey adds it through the dialog) and opens the app on it. */
  const addHost = async (lifeboat: LifeboatApp): Promise<AppPage> => {
    const key = path.join(dir, 'admin-key')
    await writeFile(key, sim.privateKey, { mode: 0o600 })
    const added = await lifeboat.cli(['host', 'add', '--kind', 'hyperv', '--name', 'hv1', '--address', `${sim.address}:${sim.port}`, '--user', sim.user, '--key', key, '--accept-fingerprint', sim.fingerprint])
    expect(added.code, added.stderr).toBe(0)
    await lifeboat.page.reload()
    const app = new AppPage(lifeboat.page)
    await expect(app.hostItem('hv1')).toHaveAccessibleName(/hv1, Online, 2 VMs/)
    return app
  }

  test('add the host after checking its SSH key; the tree follows the host', async ({ lifeboat }) => {
    const { page } = lifeboat
    const app = new AppPage(page)
    const dialog = await app.openAddHost()
    await dialog.fill({ kind: 'Hyper-V', name: 'hv1', address: `${sim.address}:${sim.port}`, user: 'Administrator', password: sim.password })
    await lifeboat.shot('70-add-hyperv')
    await dialog.connect()

    // The host's SSH key is shown before the password is sent, with the command to check it on Windows.
    await expect(dialog.root.getByRole('heading', { name: `Is this really ${sim.address}:${sim.port}?` })).toBeVisible()
    await expect(dialog.fingerprint).toHaveText(sim.fingerprint)
    await expect(dialog.root.getByText('ssh-keygen -lf C:\\ProgramData\\ssh\\ssh_host_ed25519_key.pub')).toBeVisible()
    await lifeboat.shot('71-hyperv-host-key')
    await dialog.trust()
    await expect(dialog.root).toBeHidden()

    await expect(app.mainHeading).toHaveText('hv1')
    await expect(app.hostItem('hv1')).toHaveAccessibleName(/hv1, Online, 2 VMs/)
    await expect(app.vmItem('web01')).toHaveAccessibleName('web01, Running')
    await expect(app.vmItem('db01')).toHaveAccessibleName('db01, Running')
    const main = page.getByRole('main')
    await expect(main).toContainText('HV01')
    await expect(main).toContainText('Microsoft Windows Server 2022')
    await expect(main.getByText(sim.fingerprint)).toBeVisible()
    await expect(main.getByText('SSH host key (ssh-ed25519)')).toBeVisible()
    await lifeboat.shot('72-hyperv-tree')
    const saved = JSON.parse((await lifeboat.cli(['host', 'list', '--json'])).stdout) as { name: string; kind: string; fingerprint: string; authType: string }[]
    expect(saved).toEqual([expect.objectContaining({ name: 'hv1', kind: 'hyperv', fingerprint: sim.fingerprint, authType: 'password' })])

    // The admin saves web01 on the host (Save-VM): the tree shows it at the next poll, without a reload.
    await onHost('Save-VM -Name web01')
    expect(vm('web01').state).toBe('Saved')
    await expect(app.vmItem('web01')).toHaveAccessibleName('web01, Saved', { timeout: 45_000 })
    await expect(app.vmItem('db01')).toHaveAccessibleName('db01, Running')
    await lifeboat.shot('73-hyperv-power-change')
  })

  test('back up a VM through the wizard, restore one file and the whole VM as a new VM', async ({ lifeboat }) => {
    const { page } = lifeboat
    const app = await addHost(lifeboat)
    expect(vm('web01').state).toBe('Saved')
    const wizard = await BackupWizard.openFor(app, 'web01')
    await wizard.next()

    // web01 is saved: a cold backup (a clean shutdown) is impossible and says why; hot is explained for it.
    await expect(wizard.mode('Cold')).toBeDisabled({ timeout: 30_000 })
    await expect(wizard.modeCard('Cold')).toContainText('The VM is saved: its guest was not shut down. Start it (or use a warm backup) first.')
    await expect(wizard.mode('Hot')).toBeEnabled()
    await wizard.mode('Hot').check()
    await expect(wizard.modeCard('Hot')).toContainText('web01 is suspended, so its disks do not change')
    await lifeboat.shot('74-hyperv-wizard-mode')
    await wizard.backUpOnceNow()

    const jobs = new JobsPanel(page)
    await expect(jobs.backupPlan.getByRole('progressbar')).toBeVisible({ timeout: 30_000 })
    await lifeboat.shot('75-hyperv-backup-running')
    await jobs.waitDone(jobs.backupPlan, 90_000)
    await lifeboat.shot('76-hyperv-backup-done')
    await jobs.close()
    // The backup's checkpoint is gone again; web01 is still saved.
    expect(sim.host.checkpointsOf(vm('web01').id)).toEqual([])
    expect(vm('web01').state).toBe('Saved')

    // Browse the restore point and restore one file.
    await restoreOneFile(app, { vm: 'web01', folder: 'reports', file: 'q3-revenue.csv', target: path.join(dir, 'restored-files'), expected: report, shot: () => lifeboat.shot('77-hyperv-point-files') })

    // The whole VM, as a new VM beside the original.
    const copyName = 'web01-copy'
    await restoreWholeVmAsNew(app, { vm: 'web01', copy: copyName, host: 'hv1', configure: () => lifeboat.shot('78-hyperv-restore-vm-dialog'), timeout: 90_000 })
    await lifeboat.shot('79-hyperv-restore-vm-done')

    // The host has the new VM, off, on a VHDX of its own that holds the backed-up filesystem.
    const copy = vm(copyName)
    expect(copy.id).not.toBe(vm('web01').id)
    expect(copy.state).toBe('Off')
    expect(copy.drives).toHaveLength(1)
    expect(copy.drives[0]?.path).not.toBe(vm('web01').drives[0]?.path)
    expect(sha256(await guestDisk(copyName))).toBe(sha256(webDisk))
    // The restore's end refreshes the tree at once (a Hyper-V host is otherwise polled every 30 s).
    await expect(app.vmItem(copyName)).toHaveAccessibleName(`${copyName}, Off`, { timeout: 10_000 })

    // The admin checked the copy, removes it, and starts web01 again.
    await onHost(`Remove-VM -Name ${copyName} -Force`)
    await onHost('Start-VM -Name web01')
    expect(vm('web01').state).toBe('Running')
  })

  test('snapshot before patching, revert to it, discard it: the host keeps no Lifeboat checkpoint', async ({ lifeboat }) => {
    const { page } = lifeboat
    const app = await addHost(lifeboat)
    await expect(app.vmItem('web01')).toHaveAccessibleName('web01, Running')
    await app.vmItem('web01').click()
    await page.getByRole('button', { name: 'Snapshot before patching' }).first().click()
    const dialog = page.getByRole('dialog', { name: 'Snapshot web01 before patching' })
    await dialog.getByLabel('What are you about to install? (optional)').fill('KB5034439 and IIS 10.0.20348.2227')
    await lifeboat.shot('80-hyperv-patch-dialog')
    await dialog.getByRole('button', { name: 'Take snapshot' }).click()
    await expect(dialog).toBeHidden({ timeout: 30_000 })

    const banner = page.getByRole('region', { name: 'Snapshot before patching' })
    await expect(banner).toContainText('KB5034439 and IIS 10.0.20348.2227')
    const checkpoints = sim.host.checkpointsOf(vm('web01').id)
    expect(checkpoints.map((c) => c.name)).toEqual([expect.stringMatching(/^Before patching .* - KB5034439 and IIS 10\.0\.20348\.2227 \[Lifeboat/)])
    await lifeboat.shot('81-hyperv-patch-banner')

    // "Patching" changes the disk; the revert brings back the bytes of the checkpoint.
    await sim.host.guestWrite(vm('web01').id, 0, 0, Buffer.alloc(MiB, 0xcd))
    expect(sha256(await guestDisk('web01'))).not.toBe(sha256(webDisk))
    await banner.getByRole('button', { name: 'Revert…' }).click()
    const revert = page.getByRole('dialog', { name: 'Revert web01 to “KB5034439 and IIS 10.0.20348.2227”?' })
    await revert.getByRole('checkbox', { name: 'First take a snapshot of the current state' }).uncheck()
    await revert.getByRole('checkbox', { name: /^I understand that the changes since/ }).check()
    await lifeboat.shot('82-hyperv-revert-dialog')
    await revert.getByRole('button', { name: 'Revert', exact: true }).click()
    await expect(revert).toBeHidden({ timeout: 60_000 })
    await expect(page.getByText('web01 is back at “KB5034439 and IIS 10.0.20348.2227”.')).toBeVisible()
    expect(sha256(await guestDisk('web01'))).toBe(sha256(webDisk))
    expect(vm('web01').state).toBe('Running')

    await banner.getByRole('button', { name: 'Discard…' }).click()
    const discard = page.getByRole('dialog', { name: 'Discard the snapshot “KB5034439 and IIS 10.0.20348.2227”?' })
    await discard.getByRole('button', { name: 'Discard snapshot' }).click()
    await expect(discard).toBeHidden({ timeout: 30_000 })
    await expect(banner).toBeHidden()
    await lifeboat.shot('83-hyperv-after-discard')
    expect(sim.host.checkpointsOf(vm('web01').id)).toEqual([])
    expect(vm('web01').drives[0]?.path).toMatch(/\.vhdx$/)
    expect(sha256(await guestDisk('web01'))).toBe(sha256(webDisk))
  })

  test('cancel a running backup: the job says what it cleaned up and the host has nothing left', async ({ lifeboat }) => {
    const { page } = lifeboat
    const app = await addHost(lifeboat)
    const db01 = vm('db01')
    const diskBefore = db01.drives[0]?.path
    const wizard = await BackupWizard.openFor(app, 'db01')
    await wizard.next()
    await expect(wizard.mode('Hot')).toBeEnabled({ timeout: 30_000 })
    await wizard.mode('Hot').check()
    // Said for db01 as Hyper-V does it: a production checkpoint while it runs.
    await expect(wizard.modeCard('Hot')).toContainText('db01 keeps running. Hyper-V takes a production checkpoint')
    await expect(wizard.modeCard('Hot')).toContainText('no downtime · App-consistent')
    await expect(wizard.modeCard('Warm')).toContainText('db01 is saved (its memory goes to disk and it stops, as with Save-VM)')
    await wizard.backUpOnceNow()

    const jobs = new JobsPanel(page)
    const job = jobs.backupPlan
    await expect(job).toContainText(/MiB of/, { timeout: 60_000 })
    await lifeboat.shot('84-hyperv-backup-running')
    expect(sim.host.checkpointsOf(db01.id)).toHaveLength(1)
    await jobs.cancel(job)
    const vmJob = jobs.job('Hot backup of db01 on hv1')
    await expect(vmJob.getByText('Cancelled', { exact: true })).toBeVisible()
    await vmJob.getByRole('button', { name: 'Show log' }).click()
    await expect(vmJob.getByRole('log')).toContainText('Cancel requested')
    await expect(vmJob.getByRole('log')).toContainText(/Removed the checkpoint "Lifeboat backup .*" of db01; Hyper-V merged it into the disks\./)
    await lifeboat.shot('85-hyperv-cancelled')

    // On the host: no checkpoint, no AVHDX, no job lock; db01 runs on its own VHDX with its checkpoint type.
    expect(sim.host.checkpointsOf(db01.id)).toEqual([])
    expect(db01.state).toBe('Running')
    expect(db01.checkpointType).toBe('Production')
    expect(db01.drives[0]?.path).toBe(diskBefore)
    const vhdFolder = path.join(sim.dataDir, 'C', 'ProgramData', 'Microsoft', 'Windows', 'Virtual Hard Disks')
    expect((await readdir(vhdFolder, { recursive: true })).filter((f) => /\.avhdx$/i.test(f))).toEqual([])
    const locks = await readdir(path.join(sim.dataDir, 'C', 'ProgramData', 'Lifeboat', 'jobs')).catch(() => [])
    expect(locks).toEqual([])
  })
})
