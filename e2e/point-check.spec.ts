import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { PointCheckDto } from '../engine/api/contract-checks'
import { PointChecks } from '../engine/state/point-checks'
import { statePaths } from '../engine/state/paths'
import { expect, test } from './support/fixtures'

// A restore point whose health check ran earlier (booting it needs a libvirt host: engine/jobs/point-check.test.ts):
// the verdict is on the point, the console screenshot opens through the contract, and with no host that can boot it
// the check dialog says so instead of hiding the action.
test('a restore point shows its boot check, and the console screenshot opens', async ({ lifeboat, browser }) => {
  const { page } = lifeboat
  const dir = await mkdtemp(path.join(tmpdir(), 'lb-e2e-check-'))
  const disk = path.join(dir, 'webshop.raw')
  execFileSync('qemu-img', ['create', '-q', '-f', 'raw', disk, '8M'])
  const backup = await lifeboat.cli(['backup-file', disk, '--name', 'webshop'])
  expect(backup.code, backup.stderr).toBe(0)
  const pointId = /^Restore point (\S+):/m.exec(backup.stdout)?.[1] ?? ''
  const paths = statePaths(lifeboat.home)
  // The repository's id as its documented config.json holds it (one CLI call less: each costs this journey ~4 s).
  const repositoryId = (JSON.parse(await readFile(path.join(paths.repository, 'config.json'), 'utf8')) as { id: string }).id

  // The screenshot a check keeps is a picture of the VM's text console: Chromium draws one.
  const consoleShot = async (width: number, text: string, type: 'png' | 'jpeg'): Promise<Buffer> => {
    const consolePage = await browser.newPage({ viewport: { width, height: 400 } })
    await consolePage.setContent(`<body style="margin:0;background:#000;color:#ccc;font:16px monospace;padding:8px;white-space:pre">${text}</body>`)
    const shot = await consolePage.screenshot(type === 'jpeg' ? { type, quality: 80 } : { type })
    await consolePage.close()
    return shot
  }
  const png = await consoleShot(720, 'Debian GNU/Linux 12 webshop ttyS0\n\nwebshop login: _', 'png')
  const checks = new PointChecks(paths.pointChecks, paths.checkScreenshots)
  const jobId = '7d4c2a10-51f3-4f7e-9a55-0c3b8e1d2f60'
  const check: PointCheckDto = {
    pointId,
    repositoryId,
    jobId,
    host: { id: 'kvm1', name: 'kvm1' },
    checkedAt: new Date().toISOString(),
    verdict: 'booted',
    summary: 'Booted — the guest agent answered after 14 s',
    reason: 'the guest agent answered after 14 s',
    timings: { restoreMs: 900, bootMs: 14_200, proofMs: 400, totalMs: 16_100 },
    screenshot: { path: await checks.saveScreenshot(jobId, 'png', png), format: 'png' },
  }
  await checks.record(check)
  await page.reload()

  await page.getByRole('list', { name: 'Backups' }).getByRole('button', { name: /webshop/ }).click()
  const timeline = page.getByRole('list', { name: 'Restore points of webshop' })
  await expect(timeline.getByText('Booted', { exact: true })).toBeVisible()
  const verdict = page.getByRole('region', { name: 'Boot check' })
  await expect(verdict.getByText('Booted — the guest agent answered after 14 s')).toBeVisible()
  await expect(verdict.getByText(/Checked .* on kvm1/)).toBeVisible()
  await lifeboat.shot('47-point-check')

  await verdict.getByRole('button', { name: 'View screenshot' }).click()
  const shotDialog = page.getByRole('dialog', { name: 'Console of webshop at the end of the check' })
  const img = shotDialog.getByRole('img', { name: /Console of webshop, check of/ })
  await expect(img).toBeVisible()
  await expect(img).toHaveJSProperty('naturalWidth', 720)
  await lifeboat.shot('48-check-screenshot')
  await shotDialog.getByRole('button', { name: 'Close' }).first().click()
  await expect(shotDialog).toBeHidden()

  // A XenServer/XCP-ng pool's screenshot is the JPEG its /vncsnapshot answers: a newer check replaces the PNG one.
  const jpeg = await consoleShot(640, 'No bootable device.', 'jpeg')
  const xenJob = '2b9e6f31-0c4d-4e8a-8f1b-5d7a9c3e4b21'
  await checks.record({
    ...check,
    jobId: xenJob,
    host: { id: 'pool1', name: 'pool1' },
    checkedAt: new Date().toISOString(),
    verdict: 'failed',
    summary: 'Failed — no guest metrics (PV drivers / guest agent) within 10 min; the disk has no bootable system',
    reason: 'no guest metrics (PV drivers / guest agent) within 10 min; the disk has no bootable system',
    timings: { restoreMs: 1_100, bootMs: 600_000, proofMs: 0, totalMs: 601_100 },
    screenshot: { path: await checks.saveScreenshot(xenJob, 'jpeg', jpeg), format: 'jpeg' },
  })
  await page.reload()
  await page.getByRole('list', { name: 'Backups' }).getByRole('button', { name: /webshop/ }).click()
  await expect(verdict.getByText(/^Failed — no guest metrics .*; the disk has no bootable system$/)).toBeVisible()
  await verdict.getByRole('button', { name: 'View screenshot' }).click()
  await expect(img).toBeVisible()
  await expect(img).toHaveJSProperty('naturalWidth', 640)
  expect(await img.getAttribute('src')).toMatch(/^data:image\/jpeg;base64,/)
  await lifeboat.shot('48b-check-screenshot-jpeg')
  await shotDialog.getByRole('button', { name: 'Close' }).first().click()
  await expect(shotDialog).toBeHidden()

  await verdict.getByRole('button', { name: 'Check that it boots…' }).click()
  const checkDialog = page.getByRole('dialog', { name: 'Check that webshop boots' })
  await expect(checkDialog.getByText(/made from a disk image, not from a VM/)).toBeVisible()
  await expect(checkDialog.getByRole('button', { name: 'Start check' })).toBeDisabled()
  await lifeboat.shot('49-check-dialog-no-host')
  await checkDialog.getByRole('button', { name: 'Cancel' }).click()
})
