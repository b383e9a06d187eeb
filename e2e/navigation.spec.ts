import { canRunSshHosts } from '../test-hosts/ssh-host'
import { AppPage } from './pages/app-page'
import { expect, test } from './support/fixtures'

test.skip(!canRunSshHosts().ok, canRunSshHosts().reason ?? '')

test('dashboard, plans and settings read well, in English and German', async ({ lifeboat, sshHost }) => {
  const { page } = lifeboat
  const app = new AppPage(page)
  const add = await lifeboat.cli(
    ['host', 'add', '--kind', 'linux', '--name', 'kvm01', '--address', sshHost.address, '--user', sshHost.user, '--password-stdin', '--accept-fingerprint', sshHost.fingerprint],
    sshHost.password,
  )
  expect(add.code, add.stderr).toBe(0)
  await page.reload()
  await expect(app.hostItem('kvm01')).toHaveAccessibleName(/kvm01, Online/)
  await expect(app.mainHeading).toHaveText('Dashboard')
  await lifeboat.shot('20-dashboard')

  await page.getByRole('button', { name: 'Backup plans' }).click()
  await expect(app.mainHeading).toHaveText('Backup plans')
  await expect(page.getByText('No backup plans yet.')).toBeVisible()
  await lifeboat.shot('21-plans-empty')

  await page.getByRole('button', { name: 'Settings' }).click()
  await expect(app.mainHeading).toHaveText('Settings')
  await expect(page.getByText('Restore points', { exact: true })).toBeVisible()
  await page.getByRole('button', { name: 'Preview' }).click()
  await expect(page.getByRole('status').filter({ hasText: 'would be removed' })).toBeVisible()
  await lifeboat.shot('22-settings')

  await page.getByRole('button', { name: 'Change…' }).click()
  const creds = page.getByRole('dialog', { name: 'Credentials for kvm01' })
  await creds.getByRole('textbox', { name: 'Password' }).fill('not the password')
  await creds.getByRole('button', { name: 'Check and save' }).click()
  await expect(creds.getByRole('alert')).toContainText('refused')
  await lifeboat.shot('23-credentials-refused')
  await creds.getByRole('button', { name: 'Cancel' }).click()

  await page.getByLabel('Language', { exact: true }).selectOption('de')
  await page.getByRole('button', { name: 'Übersicht' }).click()
  await expect(app.mainHeading).toHaveText('Übersicht')
  await lifeboat.shot('24-dashboard-german')
})
