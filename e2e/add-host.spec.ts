import { canRunSshHosts } from '../test-hosts/ssh-host'
import { AppPage } from './pages/app-page'
import { expect, test } from './support/fixtures'

test.skip(!canRunSshHosts().ok, canRunSshHosts().reason ?? '')

test.describe('Add a Linux host', () => {
  test('confirm the fingerprint, survive a wrong password, see the host in the tree', async ({ lifeboat, sshHost }) => {
    const { page } = lifeboat
    const app = new AppPage(page)

    await expect(page.getByRole('heading', { name: 'Welcome to Lifeboat' })).toBeVisible()
    await lifeboat.shot('01-first-start')

    const dialog = await app.openAddHost()
    await dialog.connect()
    await expect(dialog.root.getByText('Give the host a name.')).toBeVisible()
    await expect(dialog.root.getByText('Enter a host name or IP address.')).toBeVisible()
    await expect(dialog.root.getByLabel('Name in Lifeboat')).toBeFocused()
    await lifeboat.shot('02-add-host-validation')

    await dialog.fill({ kind: 'Linux', name: 'web01', address: sshHost.address, user: sshHost.user, password: 'not the password' })
    await dialog.connect()

    // The host's key is shown before any credential is sent, and it is the key sshd really has.
    await expect(dialog.root.getByRole('heading', { name: `Is this really ${sshHost.address}?` })).toBeVisible()
    await expect(dialog.fingerprint).toHaveText(sshHost.fingerprint)
    await expect(dialog.root.getByText('ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub')).toBeVisible()
    await lifeboat.shot('03-verify-fingerprint')

    await dialog.trust()
    await expect(dialog.alert).toContainText('refused the sign-in')
    await lifeboat.shot('04-wrong-password')
    // Nothing was saved half-way.
    const afterFailure = await lifeboat.cli(['host', 'list', '--json'])
    expect(JSON.parse(afterFailure.stdout)).toEqual([])

    await dialog.passwordField.fill(sshHost.password)
    await dialog.connect()
    await expect(dialog.fingerprint).toHaveText(sshHost.fingerprint)
    await dialog.trust()
    await expect(dialog.root).toBeHidden()

    const host = app.hostItem('web01')
    await expect(host).toBeVisible()
    await expect(host).toHaveAccessibleName(/web01, Online/)
    await expect(app.mainHeading).toHaveText('web01')
    await expect(page.getByRole('main').getByText('lb-e2e-host')).toBeVisible()
    await expect(page.getByRole('main').getByText(sshHost.fingerprint)).toBeVisible()
    await lifeboat.shot('05-host-in-tree')

    // The CLI sees the same host, with no secret in its output.
    const list = await lifeboat.cli(['host', 'list', '--json'])
    expect(list.code).toBe(0)
    const hosts = JSON.parse(list.stdout) as { name: string; fingerprint: string }[]
    expect(hosts.map((h) => h.name)).toEqual(['web01'])
    expect(hosts[0]?.fingerprint).toBe(sshHost.fingerprint)
    expect(list.stdout).not.toContain(sshHost.password)

    // Keyboard: the tree takes the focus and points at the active row; Enter selects it.
    await page.getByRole('button', { name: 'Settings' }).click()
    await expect(app.mainHeading).toHaveText('Settings')
    await app.tree.focus()
    await expect(app.tree).toHaveAttribute('aria-activedescendant', /row-0$/)
    await page.keyboard.press('Enter')
    await expect(app.mainHeading).toHaveText('web01')

    // Dark theme and German, as an admin might use them.
    await page.getByRole('button', { name: /^Theme:/ }).click()
    await page.getByRole('button', { name: /^Theme:/ }).click()
    await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark')
    await lifeboat.shot('06-host-dark')
    await page.getByLabel('Language').selectOption('de')
    await expect(page.getByRole('button', { name: 'Verbindung testen' })).toBeVisible()
    await lifeboat.shot('07-host-german')
  })

  test('a changed host key is refused and can be trusted again after review', async ({ lifeboat, sshHost }) => {
    const { page } = lifeboat
    const app = new AppPage(page)
    const add = await lifeboat.cli(
      ['host', 'add', '--kind', 'linux', '--name', 'db02', '--address', sshHost.address, '--user', sshHost.user, '--password-stdin', '--accept-fingerprint', sshHost.fingerprint],
      sshHost.password,
    )
    expect(add.code, add.stderr).toBe(0)
    await page.reload()
    await app.hostItem('db02').click()
    await expect(app.mainHeading).toHaveText('db02')

    const oldFingerprint = sshHost.fingerprint
    await sshHost.changeHostKey()
    await page.getByRole('button', { name: 'Test connection' }).click()
    await expect(page.getByRole('alert').filter({ hasText: 'different identity' })).toBeVisible()
    await page.getByRole('button', { name: 'Refresh' }).click()
    const banner = page.getByRole('alert').filter({ hasText: 'identity has changed' })
    await expect(banner).toBeVisible()
    await expect(banner).toContainText(sshHost.fingerprint)
    await expect(app.hostItem('db02')).toHaveAccessibleName(/db02, Unreachable/)
    await lifeboat.shot('08-key-changed')

    await banner.getByRole('button', { name: 'Review new identity…' }).click()
    const dialog = page.getByRole('dialog')
    await expect(dialog.getByText(oldFingerprint)).toBeVisible()
    await expect(dialog.getByText(sshHost.fingerprint)).toBeVisible()
    await lifeboat.shot('09-trust-new-key')
    await dialog.getByRole('button', { name: 'Trust the new identity' }).click()
    await expect(dialog).toBeHidden()
    await page.getByRole('button', { name: 'Refresh' }).click()
    await expect(banner).toBeHidden()
    await expect(app.hostItem('db02')).toHaveAccessibleName(/db02, Online/)
    const list = JSON.parse((await lifeboat.cli(['host', 'list', '--json'])).stdout) as { fingerprint: string }[]
    expect(list[0]?.fingerprint).toBe(sshHost.fingerprint)
  })

  test('an unreachable address gets a clear error and nothing is saved', async ({ lifeboat, sshHost }) => {
    const app = new AppPage(lifeboat.page)
    const dialog = await app.openAddHost()
    await dialog.fill({ name: 'nobody', address: `${sshHost.address}:2299`, user: 'root', password: 'x' })
    await dialog.connect()
    await expect(dialog.alert).toContainText('refused the connection')
    await lifeboat.shot('10-unreachable')
    expect(JSON.parse((await lifeboat.cli(['host', 'list', '--json'])).stdout)).toEqual([])
  })
})
