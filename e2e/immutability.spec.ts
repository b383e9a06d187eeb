import { CreateBucketCommand } from '@aws-sdk/client-s3'
import type { Locator, Page } from '@playwright/test'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { cephMissing, startCephRgw, type CephRgw } from '../engine/repository/testing/ceph-rgw'
import { AppPage } from './pages/app-page'
import { expect, test, type LifeboatApp } from './support/fixtures'

/** The Immutability section of Settings → Repositories (a region named by its heading). */
function immutability(page: Page): Locator {
  return page.getByRole('region', { name: 'Immutability' })
}

async function openSettings(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Settings' }).click()
  await expect(new AppPage(page).mainHeading).toHaveText('Settings')
}

/** Chooses "Another repository…" and opens a location, as an admin who made it with `lifeboat repo init` would. */
async function openRepository(page: Page, location: string): Promise<void> {
  await page.getByLabel('Repository', { exact: true }).selectOption({ label: 'Another repository…' })
  await page.getByRole('textbox', { name: 'Location' }).fill(location)
  await page.getByRole('button', { name: 'Open', exact: true }).click()
  await expect(page.getByRole('definition').filter({ hasText: location.slice(0, location.indexOf('?')) })).toBeVisible()
}

async function scrollTo(locator: Locator): Promise<void> {
  await locator.evaluate((el: { scrollIntoView(options: { block: 'start' }): void }) => el.scrollIntoView({ block: 'start' }))
}

test('Settings → Repositories: a folder repository says plainly it cannot be immutable, and offers no form', async ({ lifeboat }) => {
  const { page } = lifeboat
  await openSettings(page)
  const section = immutability(page)
  await expect(section).toContainText('This repository is a folder. Folders cannot be made immutable')
  await expect(section).toContainText('use an S3 bucket created with Object Lock: make it a plan’s destination')
  await expect(section.getByRole('radio')).toHaveCount(0)
  await expect(section.getByRole('textbox')).toHaveCount(0)
  await expect(section.getByRole('button')).toHaveCount(0)
  await scrollTo(page.getByRole('heading', { name: 'Repositories' }))
  await lifeboat.shot('95-immutability-folder')

  await page.getByLabel('Language', { exact: true }).selectOption('de')
  const german = page.getByRole('region', { name: 'Unveränderbarkeit' })
  await expect(german).toContainText('Ordner lassen sich nicht unveränderbar machen')
  await expect(german).toContainText('S3-Bucket, der mit Object Lock angelegt wurde')
  await scrollTo(page.getByRole('heading', { name: 'Repositorys' }))
  await lifeboat.shot('95b-immutability-folder-german')
})

test.describe('S3 with Object Lock (Ceph RADOS Gateway)', () => {
  let ceph: CephRgw | undefined
  let skipReason: string | undefined

  test.beforeAll(async () => {
    test.setTimeout(420_000)
    skipReason = await cephMissing()
    if (skipReason === undefined) ceph = await startCephRgw()
  })

  test.afterAll(async () => {
    test.setTimeout(120_000)
    await ceph?.[Symbol.asyncDispose]()
  })

  const s3Location = (bucket: string) => `s3://${bucket}/lifeboat?endpoint=${ceph?.endpoint ?? ''}&region=us-east-1`

  async function initRepo(app: LifeboatApp, bucket: string, objectLock: boolean): Promise<string> {
    if (ceph === undefined) throw new Error('no Ceph')
    await ceph.client().send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: objectLock }))
    const location = s3Location(bucket)
    const init = await app.cli(['repo', 'init', '--repo', location, '--s3-access-key', ceph.accessKeyId, '--s3-secret-stdin'], ceph.secretAccessKey)
    expect(init.code, init.stderr).toBe(0)
    return location
  }

  test('governance for 7 days, two backups, the state, prune keeps the locked point, compliance asks first', async ({ lifeboat }) => {
    test.skip(skipReason !== undefined, skipReason ?? '')
    test.setTimeout(300_000)
    const { page } = lifeboat
    const location = await initRepo(lifeboat, `lb-e2e-lock-${Date.now()}`, true)
    await openSettings(page)
    await openRepository(page, location)
    const section = immutability(page)
    await expect(section.getByTestId('lock-state')).toHaveText('Off: restore points in this repository can be deleted by whoever has its S3 credentials.')

    // Plain words for a number that cannot be a lock, before anything is sent.
    const days = section.getByRole('textbox', { name: 'Days each new restore point stays locked' })
    await days.fill('0')
    await section.getByRole('button', { name: 'Lock new restore points' }).click()
    await expect(section.getByText('Lock for 1 to 3650 days (3650 days is about 10 years).')).toBeVisible()
    await expect(days).toBeFocused()
    await days.fill('7')
    await expect(section.getByRole('radio', { name: /^Governance/ })).toBeChecked()
    await section.getByRole('button', { name: 'Lock new restore points' }).click()
    await expect(page.getByRole('status').filter({ hasText: 'Each new restore point is now locked for 7 days (governance).' })).toBeVisible()
    await expect(section.getByTestId('lock-state')).toHaveText(
      'Governance, 7 days: nobody can delete or overwrite a restore point for 7 days after it was made, except an account allowed to bypass governance.',
    )

    // Two backups into the locked repository (the CLI's backup of a disk image, on the same data folder).
    const work = await mkdtemp(path.join(tmpdir(), 'lb-e2e-lock-'))
    try {
      const image = path.join(work, 'files01.img')
      await writeFile(image, Buffer.concat([randomBytes(2 << 20), Buffer.alloc(2 << 20)]))
      for (let i = 0; i < 2; i++) {
        const backup = await lifeboat.cli(['backup-file', image, '--name', 'files01', '--repo', location])
        expect(backup.code, backup.stderr).toBe(0)
      }
    } finally {
      await rm(work, { recursive: true, force: true })
    }
    await page.reload()
    await openSettings(page)
    await openRepository(page, location)
    await expect(page.getByRole('definition').filter({ hasText: /^2$/ })).toBeVisible()
    await expect(section.getByTestId('lock-state')).toContainText('Governance, 7 days')
    await scrollTo(page.getByRole('term').filter({ hasText: 'Location' }))
    await lifeboat.shot('96-immutability-governance')

    // Keep the last point only: the older one would go, but its lock keeps it, with its date.
    const keep = page.getByRole('group', { name: 'Remove old restore points' })
    for (const label of ['Daily', 'Weekly', 'Monthly']) await keep.getByRole('textbox', { name: label, exact: true }).fill('')
    await keep.getByRole('textbox', { name: 'Last', exact: true }).fill('1')
    await keep.getByRole('button', { name: 'Preview', exact: true }).click()
    const preview = page.getByRole('status').filter({ hasText: 'would be removed' })
    await expect(preview).toContainText('0 restore points would be removed, 1 kept.')
    await expect(preview).toContainText('1 more restore point is kept although the rules would remove it: S3 Object Lock protects it until its date.')
    const lockedUntil = preview.getByRole('list', { name: 'Kept because locked' }).getByRole('listitem')
    await expect(lockedUntil).toHaveCount(1)
    const inAWeek = new Date(Date.now() + 7 * 86_400_000).toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric' })
    await expect(lockedUntil).toContainText(`kept: locked until ${inAWeek}`)
    await expect(page.getByRole('button', { name: 'Remove 0 now' })).toBeDisabled()
    await scrollTo(keep)
    await lifeboat.shot('97-prune-locked')

    // Shorter, but compliance, by keyboard: arrow to the mode, type the days, Enter. It asks first.
    await section.getByRole('radio', { name: /^Governance/ }).focus()
    await page.keyboard.press('ArrowDown')
    await expect(section.getByRole('radio', { name: /^Compliance/ })).toBeChecked()
    await days.focus()
    await page.keyboard.press('ControlOrMeta+a')
    await page.keyboard.type('3')
    await page.keyboard.press('Enter')
    const confirm = page.getByRole('dialog', { name: 'Lock in compliance mode for 3 days?' })
    await expect(confirm).toContainText('nobody at all can delete it or shorten its lock')
    await expect(confirm).toContainText('This cannot be undone for those points.')
    await expect(confirm).toContainText('Points already locked keep the lock they have.')
    await expect(confirm.getByRole('button', { name: 'Cancel' })).toBeFocused()
    await lifeboat.shot('98-compliance-confirm')
    await page.keyboard.press('Escape')
    await expect(confirm).toBeHidden()
    await expect(section.getByTestId('lock-state')).toContainText('Governance, 7 days')
    const info = await lifeboat.cli(['repo', 'info', '--repo', location, '--json'])
    expect(info.code, info.stderr).toBe(0)
    expect((JSON.parse(info.stdout) as { objectLock?: unknown }).objectLock).toEqual({ mode: 'GOVERNANCE', days: 7 })

    // Stop locking new points: the app says the locked ones stay locked, and prune still keeps them.
    await expect(section.getByText('points already locked stay locked until their date')).toBeVisible()
    await section.getByRole('button', { name: 'Stop locking new points' }).click()
    await expect(page.getByRole('status').filter({ hasText: 'New restore points are no longer locked. Points already locked stay locked until their date.' })).toBeVisible()
    await expect(section.getByTestId('lock-state')).toHaveText('Off: restore points in this repository can be deleted by whoever has its S3 credentials.')
    await expect(section.getByRole('button', { name: 'Stop locking new points' })).toHaveCount(0)
    await keep.getByRole('button', { name: 'Preview', exact: true }).click()
    await expect(lockedUntil).toContainText(`kept: locked until ${inAWeek}`)
  })

  test('a bucket made without Object Lock: the engine says so and how to make one, nothing changes', async ({ lifeboat }) => {
    test.skip(skipReason !== undefined, skipReason ?? '')
    const { page } = lifeboat
    const bucket = `lb-e2e-plain-${Date.now()}`
    const location = await initRepo(lifeboat, bucket, false)
    await openSettings(page)
    await openRepository(page, location)
    const section = immutability(page)
    await section.getByRole('button', { name: 'Lock new restore points' }).click()
    await expect(section.getByRole('alert')).toHaveText(
      `The bucket ${bucket} was not created with S3 Object Lock, so its objects cannot be made immutable. Create a bucket with Object Lock enabled (it also turns on versioning) and put the repository there. Nothing was changed.`,
    )
    await expect(section.getByTestId('lock-state')).toContainText('Off')
    await scrollTo(section)
    await lifeboat.shot('99-immutability-no-object-lock')
  })
})
