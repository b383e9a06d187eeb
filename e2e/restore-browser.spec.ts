import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { expect, test } from './support/fixtures'
import { sha256 } from './support/text'

/** A qcow2 VM disk with a GPT and an ext4 "data" partition holding a small document tree. */
async function makeVmDisk(): Promise<{ disk: string; report: Buffer }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lb-e2e-disk-'))
  const src = path.join(dir, 'src')
  await mkdir(path.join(src, 'Documents/Finance 2026'), { recursive: true })
  await mkdir(path.join(src, 'etc'), { recursive: true })
  const report = randomBytes(2_500_000)
  await writeFile(path.join(src, 'Documents/Finance 2026/Quarterly report.xlsx'), report)
  await writeFile(path.join(src, 'Documents/notes.txt'), 'Remember to test restores.\n')
  for (let i = 0; i < 40; i++) await writeFile(path.join(src, 'etc', `service-${i}.conf`), `enabled=${i % 2 === 0}\n`)
  const fs = path.join(dir, 'fs.img')
  execFileSync('mkfs.ext4', ['-q', '-d', src, '-L', 'data', fs, '48M'])
  const raw = path.join(dir, 'disk.raw')
  execFileSync('truncate', ['-s', '64M', raw])
  execFileSync('sfdisk', ['-q', raw], { input: 'label: gpt\nstart=2048, size=98304, type=linux, name=data\n' })
  execFileSync('dd', [`if=${fs}`, `of=${raw}`, 'bs=512', 'seek=2048', 'conv=notrunc', 'status=none'])
  const disk = path.join(dir, 'accounting.qcow2')
  execFileSync('qemu-img', ['convert', '-O', 'qcow2', raw, disk])
  return { disk, report }
}

test('browse a restore point, restore one file, see the job, export a disk', async ({ lifeboat }) => {
  const { page } = lifeboat
  const { disk, report } = await makeVmDisk()
  const backup = await lifeboat.cli(['backup-file', disk, '--name', 'accounting'])
  expect(backup.code, backup.stderr).toBe(0)
  await page.reload()

  const backups = page.getByRole('list', { name: 'Backups' })
  await backups.getByRole('button', { name: /accounting/ }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'accounting' })).toBeVisible()
  const timeline = page.getByRole('list', { name: 'Restore points of accounting' })
  await expect(timeline.getByRole('button')).toHaveCount(1)
  await expect(page.getByText('Offline — the VM was shut down')).toBeVisible()

  const folders = page.getByRole('tree', { name: 'Folders' })
  await expect(folders.getByRole('button', { name: 'Documents', exact: true })).toBeVisible()
  await lifeboat.shot('11-restore-point')

  await folders.getByRole('button', { name: 'Documents', exact: true }).click()
  await page.getByRole('button', { name: 'Finance 2026', exact: true }).click()
  await expect(page.getByRole('navigation', { name: 'Location' })).toContainText('Finance 2026')
  await page.getByRole('checkbox', { name: 'Select Quarterly report.xlsx' }).check()
  await expect(page.getByText(/1 selected/)).toBeVisible()
  await lifeboat.shot('12-file-selected')

  await page.getByRole('button', { name: 'Restore to a folder…' }).click()
  const dialog = page.getByRole('dialog', { name: 'Restore 1 item' })
  const target = path.join(await mkdtemp(path.join(tmpdir(), 'lb-e2e-restore-')), 'out')
  await dialog.getByLabel('Restore into').fill(target)
  await lifeboat.shot('13-restore-dialog')
  await dialog.getByRole('button', { name: 'Restore', exact: true }).click()
  await expect(dialog).toBeHidden()

  const jobs = page.getByRole('complementary', { name: 'Jobs' })
  await expect(jobs).toBeVisible()
  const restoreJob = jobs.getByRole('listitem').filter({ hasText: /Restore \/Documents\/Finance 2026\/Quarterly report.xlsx/ })
  await expect(restoreJob.getByText('Done', { exact: true })).toBeVisible()
  await restoreJob.getByRole('button', { name: 'Show log' }).click()
  await expect(restoreJob.getByRole('log')).toContainText('Finished.')
  await lifeboat.shot('14-restore-job-done')
  await restoreJob.getByRole('button', { name: 'Hide log' }).click()
  const restored = await readFile(path.join(target, 'Quarterly report.xlsx'))
  expect(sha256(restored)).toBe(sha256(report))

  await jobs.getByRole('button', { name: 'Close jobs' }).click()

  // Search by name across the volume.
  await page.getByRole('button', { name: 'data', exact: true }).first().click()
  await page.getByRole('searchbox', { name: 'Search' }).fill('service-1')
  await page.getByRole('button', { name: 'Search', exact: true }).click()
  await expect(page.getByRole('status').filter({ hasText: 'found for “service-1”' })).toBeVisible()
  await expect(page.getByRole('checkbox', { name: 'Select service-1.conf' })).toBeVisible()
  await expect(page.getByTitle('/etc/service-1.conf')).toBeVisible()
  await lifeboat.shot('15-search')

  // Export the disk as VHDX; qemu-img reads it as the same disk.
  await page.getByRole('tab', { name: 'Disks' }).click()
  await page.getByRole('button', { name: 'Export…' }).click()
  const exportDialog = page.getByRole('dialog', { name: 'Export disk disk0' })
  const out = path.join(await mkdtemp(path.join(tmpdir(), 'lb-e2e-export-')), 'accounting.vhdx')
  await exportDialog.getByLabel('Save as').fill(out)
  await lifeboat.shot('16-export-dialog')
  await exportDialog.getByRole('button', { name: 'Export', exact: true }).click()
  await expect(jobs).toBeVisible()
  await expect(jobs.getByRole('listitem').filter({ hasText: /Export disk0 of .* as VHDX/ }).getByText('Done', { exact: true })).toBeVisible({ timeout: 60_000 })
  expect(execFileSync('qemu-img', ['compare', '-f', 'qcow2', '-F', 'vhdx', disk, out]).toString()).toContain('identical')
})
