import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { PointCheckDto } from '../engine/api/contract-checks'
import { statePaths } from '../engine/state/paths'
import { PointChecks } from '../engine/state/point-checks'
import { startHyperVSim, type HyperVSim } from '../test-hosts/hyperv-pwsh/sim'
import { AppPage } from './pages/app-page'
import { BackupWizard } from './pages/backup-pages'
import { expect, test } from './support/fixtures'

const MiB = 1024 * 1024

// The boot check as the admin sets it up and reads it back: the wizard's option in both variants (after each backup,
// on its own schedule), the plan card saying what is checked when, and the dashboard's "Last proven bootable" column.
// Booting a point is tested elsewhere (engine/jobs/point-check.test.ts, adapters/hyperv/integration-services.test.ts):
// here the check's verdict is recorded as a finished check records it.
test.describe('boot checks of a plan', () => {
  let sim: HyperVSim
  let dir: string

  test.beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lb-e2e-plancheck-'))
    sim = await startHyperVSim({ computerName: 'HV01' })
    await sim.addVm('web01', { disks: [Buffer.alloc(16 * MiB, 1)] })
  })

  test.afterAll(async () => {
    await sim.close()
    await rm(dir, { recursive: true, force: true })
  })

  test('the wizard offers a check after each backup or on its own schedule; the plan and the dashboard show it', async ({ lifeboat }) => {
    const { page } = lifeboat
    const key = path.join(dir, 'admin-key')
    await writeFile(key, sim.privateKey, { mode: 0o600 })
    const added = await lifeboat.cli(['host', 'add', '--kind', 'hyperv', '--name', 'hv1', '--address', `${sim.address}:${sim.port}`, '--user', sim.user, '--key', key, '--accept-fingerprint', sim.fingerprint])
    expect(added.code, added.stderr).toBe(0)
    const backup = await lifeboat.cli(['backup', '--host', 'hv1', '--vm', 'web01', '--mode', 'hot', '--no-quiesce', '--json'])
    expect(backup.code, backup.stderr).toBe(0)
    const point = JSON.parse(backup.stdout) as { id: string }
    const paths = statePaths(lifeboat.home)
    const repositoryId = (JSON.parse(await readFile(path.join(paths.repository, 'config.json'), 'utf8')) as { id: string }).id
    const checkedAt = new Date(Date.now() - 3 * 3600_000).toISOString()
    const check: PointCheckDto = {
      pointId: point.id,
      repositoryId,
      jobId: '3b9e2f4c-7a1d-4e8b-9c2f-5d6a7b8c9d0e',
      host: { id: 'hv1', name: 'hv1' },
      checkedAt,
      verdict: 'booted',
      summary: 'Booted — the Heartbeat integration service reported OK after 41 s',
      reason: 'the Heartbeat integration service reported OK after 41 s',
      timings: { restoreMs: 2100, bootMs: 41_000, proofMs: 300, totalMs: 43_400 },
    }
    await new PointChecks(paths.pointChecks, paths.checkScreenshots).record(check)
    await page.reload()

    const app = new AppPage(page)
    await expect(app.hostItem('hv1')).toHaveAccessibleName(/hv1, Online, 1 VM/)
    await page.getByRole('button', { name: 'Dashboard' }).click()
    const row = page.getByRole('row', { name: /web01/ })
    await expect(row.getByRole('cell').nth(3)).toHaveText(/\(3 hr\.? ago\)$/)
    await expect(page.getByRole('columnheader', { name: 'Last proven bootable' })).toBeVisible()
    await lifeboat.shot('25-dashboard-last-bootable')

    const wizard = await BackupWizard.openFor(app, 'web01')
    await wizard.next()
    await expect(wizard.mode('Hot')).toBeEnabled({ timeout: 30_000 })
    await wizard.mode('Hot').check()
    await wizard.next()
    await wizard.next()
    await wizard.next()
    const option = wizard.root.getByRole('checkbox', { name: /Check that the newest point boots/ })
    await option.check()
    await expect(wizard.root.getByRole('combobox', { name: 'Host that runs the temporary VM' })).toHaveValue(/.+/)
    await expect(wizard.root.getByRole('radio', { name: 'After each backup' })).toBeChecked()
    await expect(wizard.root.getByText(/Each successful run ends by booting the points it made/)).toBeVisible()
    await wizard.root.getByText(/Each successful run ends by booting/).scrollIntoViewIfNeeded()
    await lifeboat.shot('26-wizard-check-after-each-backup')

    await wizard.root.getByText('On its own schedule', { exact: true }).click()
    await expect(wizard.root.getByText('Next checks:')).toBeVisible()
    await expect(wizard.root.getByText(/Sun/).first()).toBeVisible()
    await wizard.root.getByText('Next checks:').scrollIntoViewIfNeeded()
    await lifeboat.shot('27-wizard-check-own-schedule')

    await wizard.next()
    await expect(wizard.root.getByText(/boot check on hv1 \(up to 10 min\), Sun at 03:00/)).toBeVisible()
    await wizard.root.getByRole('button', { name: 'Save plan' }).click()
    await expect(wizard.root).toBeHidden()

    await page.getByRole('button', { name: 'Backup plans' }).click()
    const card = page.getByRole('article', { name: 'Back up web01' })
    await expect(card.getByText('Boot check (Sun at 03:00): the newest restore point of each VM is booted on hv1 (up to 10 min each).')).toBeVisible()
    await expect(card.getByText('Next check')).toBeVisible()
    await lifeboat.shot('28-plan-card-check')
  })
})
