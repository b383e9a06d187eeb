import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { makeWebDataDisk } from '../test-hosts/data-disk'
import { startXapiSim, type XapiSim } from '../test-hosts/xapi-sim/sim'
import { SimClient } from '../test-hosts/xapi-sim/test-client'
import { AppPage } from './pages/app-page'
import { BackupWizard, JobsPanel, restoreOneFile, restoreWholeVmAsNew } from './pages/backup-pages'
import { expect, test, type LifeboatApp } from './support/fixtures'
import { sha256 } from './support/text'

/**
 * The admin's journeys against a XenServer/XCP-ng pool: the XAPI simulator (test-hosts/xapi-sim), in this process.
 *   web01: one 64 MiB disk holding an ext4 filesystem (made by mkfs.ext4 -d) with a report file.
 *   db01:  one 96 MiB disk of random bytes, big enough for a backup to be cancelled while it streams.
 * What the journeys change on the pool is checked in the simulator's own records and files, not only on screen.
 * They run twice: against the newest XAPI, and against a pool playing XAPI 1.249.0 (XCP-ng 8.2 LTS, issue 21), with
 * the fields, messages and parameters of that release only; that pass names its tests with the version and takes no
 * screenshots (the screens are the same).
 */
const MiB = 1024 * 1024

for (const xapiVersion of [undefined, '1.249.0']) {
  const played = xapiVersion === undefined ? '' : ` (XAPI ${xapiVersion})`
  test.describe('XenServer pool journeys', () => {
    // Each pass is serial (its journeys build on each other's pool); a failure in one pass leaves the other to run.
    test.describe.configure({ mode: 'serial' })
    let sim: XapiSim
    let xapi: SimClient
    let dir: string
    let webDisk: Buffer
    let report: Buffer

    test.beforeAll(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'lb-e2e-xen-'))
      ;({ disk: webDisk, report } = await makeWebDataDisk(dir))
      sim = await startXapiSim({ vms: [{ name: 'web01', diskSize: 64 * MiB }, { name: 'db01', diskSize: 96 * MiB }], ...(xapiVersion !== undefined ? { xapiVersion } : {}) })
      await sim.writeGuest('web01', 0, 0, webDisk)
      xapi = new SimClient(sim)
      await xapi.login()
    })

    test.afterAll(async () => {
      await xapi.close()
      await sim.stop()
      await rm(dir, { recursive: true, force: true })
    })

    const powerOf = (vm: string) => String(sim.vmByName(vm).record.power_state)
    /** A screenshot for review, from the first pass only (the second would show the same screens). */
    const shot = async (lifeboat: LifeboatApp, name: string) => {
      if (xapiVersion === undefined) await lifeboat.shot(name)
    }

    /** Saves the pool through the CLI (the first journey adds it through the dialog) and opens the app on it. */
    const addPool = async (lifeboat: LifeboatApp): Promise<AppPage> => {
      const added = await lifeboat.cli(['host', 'add', '--kind', 'xenserver', '--name', 'pool1', '--address', `127.0.0.1:${sim.port}`, '--user', sim.user, '--password-stdin', '--accept-fingerprint', sim.fingerprint], sim.password)
      expect(added.code, added.stderr).toBe(0)
      await lifeboat.page.reload()
      const app = new AppPage(lifeboat.page)
      await expect(app.hostItem('pool1')).toHaveAccessibleName(/pool1, Online, 2 VMs/)
      return app
    }

    test(`add the pool after checking its certificate; the tree follows the pool live${played}`, async ({ lifeboat }) => {
      const { page } = lifeboat
      const app = new AppPage(page)
      const dialog = await app.openAddHost()
      await dialog.fill({ kind: 'XenServer / XCP-ng', name: 'pool1', address: `127.0.0.1:${sim.port}`, user: 'root', password: sim.password })
      await expect(dialog.root.getByText('XAPI signs in with a user name and password.')).toBeVisible()
      await shot(lifeboat, '50-add-pool')
      await dialog.connect()

      // The pool's TLS certificate is shown before the password is sent, and it is the one the pool really has.
      await expect(dialog.root.getByRole('heading', { name: `Is this really 127.0.0.1:${sim.port}?` })).toBeVisible()
      await expect(dialog.fingerprint).toHaveText(sim.fingerprint)
      await expect(dialog.root.getByText('openssl x509 -noout -fingerprint -sha256 -in /etc/xensource/xapi-ssl.pem')).toBeVisible()
      await shot(lifeboat, '51-pool-certificate')
      await dialog.trust()
      await expect(dialog.root).toBeHidden()

      // The pool and its VMs with their power states; the pool's identity on its page.
      await expect(app.mainHeading).toHaveText('pool1')
      await expect(app.hostItem('pool1')).toHaveAccessibleName(/pool1, Online, 2 VMs/)
      await expect(app.vmItem('web01')).toHaveAccessibleName('web01, Running')
      await expect(app.vmItem('db01')).toHaveAccessibleName('db01, Running')
      await expect(page.getByRole('main')).toContainText('XCP-ng')
      await expect(page.getByRole('main').getByText(sim.fingerprint)).toBeVisible()
      await expect(page.getByRole('main').getByText('TLS certificate')).toBeVisible()
      await shot(lifeboat, '52-pool-tree')
      const saved = JSON.parse((await lifeboat.cli(['host', 'list', '--json'])).stdout) as { name: string; kind: string; fingerprint: string }[]
      expect(saved).toEqual([expect.objectContaining({ name: 'pool1', kind: 'xenserver', fingerprint: sim.fingerprint })])

      // The admin shuts web01 down on the pool (xe vm-shutdown): the tree shows it without a reload.
      await xapi.call('VM.clean_shutdown', sim.vmByName('web01').ref)
      expect(powerOf('web01')).toBe('Halted')
      await expect(app.vmItem('web01')).toHaveAccessibleName('web01, Off', { timeout: 15_000 })
      await expect(app.vmItem('db01')).toHaveAccessibleName('db01, Running')
      await shot(lifeboat, '53-power-change-live')
    })

    test(`back up a VM through the wizard, restore one file and the whole VM onto a chosen storage repository${played}`, async ({ lifeboat }) => {
      const { page } = lifeboat
      const app = await addPool(lifeboat)
      expect(powerOf('web01')).toBe('Halted')
      const wizard = await BackupWizard.openFor(app, 'web01')
      await wizard.next()

      // web01 is shut down: warm (pause a running VM) is impossible and says why; hot and cold are explained for it.
      await expect(wizard.mode('Warm')).toBeDisabled({ timeout: 30_000 })
      await expect(wizard.root).toContainText('web01 is not running, so there is nothing to pause: use a cold or hot backup.')
      await expect(wizard.mode('Hot')).toBeEnabled()
      await expect(wizard.modeCard('Hot')).toContainText('web01 is shut down, so its disks do not change: Lifeboat copies them as they are and leaves web01 off.')
      await expect(wizard.modeCard('Hot')).toContainText('no downtime · Offline')
      await wizard.mode('Hot').check()
      await shot(lifeboat, '54-wizard-mode')
      await wizard.backUpOnceNow()

      const jobs = new JobsPanel(page)
      await jobs.waitDone(jobs.backupPlan)
      await shot(lifeboat, '55-backup-done')
      await jobs.close()
      // Nothing of the backup's snapshot stays on the pool (a changed-block reference may, as metadata only).
      expect(sim.lifeboatObjects().filter((o) => o.cls === 'VM' || o.type !== 'cbt_metadata')).toEqual([])

      // Browse the restore point and restore one file.
      await restoreOneFile(app, { vm: 'web01', folder: 'reports', file: 'q3-revenue.csv', target: path.join(dir, 'restored-files'), expected: report, shot: () => shot(lifeboat, '56-point-files') })

      // The whole VM, as a new VM on the storage repository the admin picks.
      const copyName = 'web01-copy'
      await restoreWholeVmAsNew(app, {
        vm: 'web01',
        copy: copyName,
        host: 'pool1',
        configure: async (dialog) => {
          const storage = dialog.getByLabel('Storage')
          await storage.selectOption({ label: (await storage.locator('option', { hasText: /^Local storage/ }).first().textContent()) ?? '' })
          await shot(lifeboat, '57-restore-vm-dialog')
        },
      })
      await shot(lifeboat, '58-restore-vm-done')

      // The pool has the new VM, halted, on a disk of its own in that SR holding the backed-up filesystem.
      const copy = sim.vmByName(copyName)
      expect(copy.record.power_state).toBe('Halted')
      const copyDisks = sim.disksOf(copyName)
      expect(copyDisks).toHaveLength(1)
      expect(copyDisks[0]?.uuid).not.toBe(sim.disksOf('web01')[0]?.uuid)
      expect(sha256(await readFile(copyDisks[0]?.path ?? ''))).toBe(sha256(webDisk))
      await expect(app.vmItem(copyName)).toHaveAccessibleName(`${copyName}, Off`)

      // The admin checked the copy and deletes it on the pool (xe vm-uninstall): it leaves the tree by itself.
      await xapi.call('VM.destroy', copy.ref)
      // Right after the restore's transfer dom0 still holds a VBD on each disk for a few seconds (the simulator does as
      // xapi does): VDI_IN_USE until it lets go, and the admin tries again.
      for (const d of copyDisks) {
        for (let attempt = 0; ; attempt++) {
          try {
            await xapi.call('VDI.destroy', d.vdi)
            break
          } catch (e) {
            if (attempt >= 30 || (e as { code?: string }).code !== 'VDI_IN_USE') throw e
            await new Promise((r) => setTimeout(r, 500))
          }
        }
      }
      await expect(app.vmItem(copyName)).toHaveCount(0, { timeout: 15_000 })
    })

    test(`snapshot before patching, revert to it, discard it: the pool keeps no Lifeboat snapshot${played}`, async ({ lifeboat }) => {
      const { page } = lifeboat
      const app = await addPool(lifeboat)
      await xapi.call('VM.start', sim.vmByName('web01').ref, false, false)
      await expect(app.vmItem('web01')).toHaveAccessibleName('web01, Running', { timeout: 15_000 })
      await app.vmItem('web01').click()
      await page.getByRole('button', { name: 'Snapshot before patching' }).first().click()
      const dialog = page.getByRole('dialog', { name: 'Snapshot web01 before patching' })
      await dialog.getByLabel('What are you about to install? (optional)').fill('nginx 1.26 and openssl 3.0.15')
      await shot(lifeboat, '59-patch-dialog')
      await dialog.getByRole('button', { name: 'Take snapshot' }).click()
      await expect(dialog).toBeHidden({ timeout: 30_000 })

      const banner = page.getByRole('region', { name: 'Snapshot before patching' })
      await expect(banner).toContainText('nginx 1.26 and openssl 3.0.15')
      const tagged = sim.lifeboatObjects().filter((o) => o.other['lifeboat:purpose'] === 'before-patching')
      expect(tagged.filter((o) => o.cls === 'VM').map((o) => o.name)).toHaveLength(1)
      await shot(lifeboat, '60-patch-banner')

      // "Patching" changes the disk; the revert brings back the bytes of the snapshot.
      await sim.writeGuest('web01', 0, 0, Buffer.alloc(MiB, 0xcd))
      await banner.getByRole('button', { name: 'Revert…' }).click()
      const revert = page.getByRole('dialog', { name: 'Revert web01 to “nginx 1.26 and openssl 3.0.15”?' })
      await revert.getByRole('checkbox', { name: 'First take a snapshot of the current state' }).uncheck()
      await revert.getByRole('checkbox', { name: /^I understand that the changes since/ }).check()
      await shot(lifeboat, '61-revert-dialog')
      await revert.getByRole('button', { name: 'Revert', exact: true }).click()
      await expect(revert).toBeHidden({ timeout: 60_000 })
      await expect(page.getByText('web01 is back at “nginx 1.26 and openssl 3.0.15”.')).toBeVisible()
      const live = sim.disksOf('web01')[0]
      expect(sha256(await readFile(live?.path ?? ''))).toBe(sha256(webDisk))

      await banner.getByRole('button', { name: 'Discard…' }).click()
      const discard = page.getByRole('dialog', { name: 'Discard the snapshot “nginx 1.26 and openssl 3.0.15”?' })
      await discard.getByRole('button', { name: 'Discard snapshot' }).click()
      await expect(discard).toBeHidden({ timeout: 30_000 })
      await expect(banner).toBeHidden()
      await shot(lifeboat, '62-after-discard')
      expect(sim.lifeboatObjects().filter((o) => o.other['lifeboat:purpose'] === 'before-patching')).toEqual([])
      expect(sim.vmByName('web01').record.snapshots).toEqual([])
    })

    test(`cancel a running backup: the job says what it cleaned up and the pool has nothing left${played}`, async ({ lifeboat }) => {
      const { page } = lifeboat
      const app = await addPool(lifeboat)
      // A slow network to the pool (export_raw_vdi at 8 MiB/s, no NBD), so the backup is still streaming when cancelled.
      sim.setNbd(false)
      sim.faults.transferBytesPerSecond = 8 * MiB
      try {
        const wizard = await BackupWizard.openFor(app, 'db01')
        await wizard.next()
        await expect(wizard.mode('Hot')).toBeEnabled({ timeout: 30_000 })
        await wizard.mode('Hot').check()
        // Said for db01 as XenServer does it: a snapshot while it runs, no quiescing on XAPI any more.
        await expect(wizard.modeCard('Hot')).toContainText('db01 keeps running. XenServer takes a snapshot of it')
        await expect(wizard.modeCard('Hot')).toContainText('no downtime · Crash-consistent')
        await expect(wizard.modeCard('Cold')).toContainText('db01 is shut down cleanly (as xe vm-shutdown does)')
        await wizard.backUpOnceNow()

        const jobs = new JobsPanel(page)
        const job = jobs.backupPlan
        await expect(job).toContainText(/MiB of/, { timeout: 30_000 })
        await shot(lifeboat, '63-backup-running')
        expect(sim.lifeboatObjects().filter((o) => o.cls === 'VM')).toHaveLength(1)
        await jobs.cancel(job)
        // The backup of db01 itself says what it removed from the pool.
        const vmJob = jobs.job('Hot backup of db01 on pool1')
        await expect(vmJob.getByText('Cancelled', { exact: true })).toBeVisible()
        await vmJob.getByRole('button', { name: 'Show log' }).click()
        await expect(vmJob.getByRole('log')).toContainText('Cancel requested')
        await expect(vmJob.getByRole('log')).toContainText('Removed the backup snapshot of db01 from the pool.')
        await shot(lifeboat, '64-cancelled')

        // On the pool: no snapshot VM, no snapshot VDI, nothing tagged as Lifeboat's (but web01's changed-block
        // reference from the earlier backup, metadata only); db01 runs on its own disk.
        const db01 = sim.vmByName('db01')
        const web01 = String(sim.vmByName('web01').record.uuid)
        expect(sim.lifeboatObjects().filter((o) => !(o.type === 'cbt_metadata' && o.other['lifeboat:vm'] === web01))).toEqual([])
        expect(db01.record.snapshots).toEqual([])
        expect(db01.record.power_state).toBe('Running')
        const disk = sim.disksOf('db01')[0]?.vdi
        expect(sim.db.all('VDI').filter(([, r]) => r.snapshot_of === disk)).toEqual([])
      } finally {
        sim.faults.transferBytesPerSecond = undefined
        sim.setNbd(true)
      }
    })
  })
}
