import { startReceiver } from '../engine/notify/testing/http-receiver'
import { AppPage } from './pages/app-page'
import { expect, test } from './support/fixtures'

test('Settings → Alerts: add webhooks, Send test shows what happened per channel', async ({ lifeboat }) => {
  const { page } = lifeboat
  await using phone = await startReceiver()
  await using chat = await startReceiver(() => 404)
  await page.getByRole('button', { name: 'Settings' }).click()
  await expect(new AppPage(page).mainHeading).toHaveText('Settings')
  const alerts = page.getByRole('heading', { name: 'Alerts' })
  for (const [kind, url, name] of [
    ['ntfy', `${phone.base}/lifeboat-alerts`, 'Phone (ntfy)'],
    ['slack', `${chat.base}/services/T0/B0/secret`, 'Team chat'],
  ] as const) {
    await page.getByRole('button', { name: 'Add webhook…' }).click()
    await page.getByLabel('Service').selectOption(kind)
    await page.getByLabel('Name (optional)').fill(name)
    await page.getByLabel('Webhook address').fill(url)
    await page.getByRole('button', { name: 'Add', exact: true }).click()
    await expect(page.getByRole('cell', { name })).toBeVisible()
  }
  await page.getByRole('button', { name: 'Send test' }).click()
  await expect(page.getByRole('status').filter({ hasText: 'Sent (HTTP 200).' })).toBeVisible()
  await expect(page.getByRole('status').filter({ hasText: 'HTTP 404' })).toBeVisible()
  await expect(page.getByText('T0/B0/secret')).toHaveCount(0)
  expect(phone.received).toHaveLength(1)
  await page.getByRole('button', { name: 'Add e-mail…' }).click()
  await page.getByRole('button', { name: 'Add', exact: true }).click()
  await expect(page.getByText("Enter the mail server's name or address.")).toBeVisible()
  // The heading at the top of the view: the channels, their results and the e-mail form in one picture.
  await alerts.evaluate((el: { scrollIntoView(options: { block: 'start' }): void }) => el.scrollIntoView({ block: 'start' }))
  await lifeboat.shot('60-settings-alerts')
})
