import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { expect, type Locator, type Page } from '@playwright/test'
import { sha256 } from '../support/text'
import type { AppPage } from './app-page'

export type Mode = 'Cold' | 'Warm' | 'Hot'

/** The "New backup plan" wizard, opened from a VM's page. */
export class BackupWizard {
  readonly root: Locator

  private constructor(readonly page: Page) {
    this.root = page.getByRole('dialog', { name: 'New backup plan' })
  }

  /** Selects the VM in the tree, presses "Back up…" and checks the VM is the one chosen. */
  static async openFor(app: AppPage, vm: string): Promise<BackupWizard> {
    await app.vmItem(vm).click()
    await expect(app.mainHeading).toHaveText(vm)
    await app.page.getByRole('button', { name: 'Back up…' }).click()
    const wizard = new BackupWizard(app.page)
    await expect(wizard.root.getByRole('checkbox', { name: new RegExp(vm) })).toBeChecked()
    return wizard
  }

  mode(mode: Mode): Locator {
    return this.root.getByRole('radio', { name: new RegExp(mode) })
  }

  /** The card of a mode: its explanation for the chosen VMs, its downtime and consistency. */
  modeCard(mode: Mode): Locator {
    return this.root.locator('label', { has: this.page.getByRole('radio', { name: new RegExp(mode) }) })
  }

  async next(): Promise<void> {
    await this.root.getByRole('button', { name: 'Next' }).click()
  }

  /** From the mode step: the default repository, run once now, default options, review, "Back up now". */
  async backUpOnceNow(): Promise<void> {
    await this.next()
    await expect(this.root.getByRole('radio', { name: /the default repository/ })).toBeChecked()
    await this.next()
    await this.root.getByText('Once, now', { exact: true }).click()
    await expect(this.root.getByRole('radio', { name: 'Once, now' })).toBeChecked()
    await this.next()
    await this.next()
    await this.root.getByRole('button', { name: 'Back up now' }).click()
    await expect(this.root).toBeHidden()
  }
}

/** The jobs panel at the side: one list item a job, with progress, state, log and Cancel. */
export class JobsPanel {
  readonly root: Locator

  constructor(readonly page: Page) {
    this.root = page.getByRole('complementary', { name: 'Jobs' })
  }

  /** The newest job whose text matches. */
  job(text: string | RegExp): Locator {
    return this.root.getByRole('listitem').filter({ hasText: text }).first()
  }

  /** The run of a backup plan (its VM backups are listed beside it). */
  get backupPlan(): Locator {
    return this.job(/Backup plan/)
  }

  async waitDone(job: Locator, timeout = 60_000): Promise<void> {
    await expect(job.getByText('Done', { exact: true })).toBeVisible({ timeout })
  }

  /** Presses Cancel on a running job; it must end cancelled and say that nothing was left behind. */
  async cancel(job: Locator, timeout = 60_000): Promise<void> {
    await job.getByRole('button', { name: 'Cancel' }).click()
    await expect(job.getByText('Cancelled', { exact: true })).toBeVisible({ timeout })
    await expect(job).toContainText('nothing was left behind')
  }

  async close(): Promise<void> {
    await this.root.getByRole('button', { name: 'Close jobs' }).click()
  }
}

/**
 * Opens the VM's only restore point, picks `folder/file` in its file browser and restores it into `target`; the
 * restored file must have the bytes of `expected`. `shot` runs once the file is selected.
 */
export async function restoreOneFile(app: AppPage, o: { vm: string; folder: string; file: string; target: string; expected: Buffer; shot?: () => Promise<void> }): Promise<void> {
  const { page } = app
  await app.vmItem(o.vm).click()
  await page.getByRole('tab', { name: 'Restore points' }).click()
  await expect(page.getByRole('list', { name: `Restore points of ${o.vm}` }).getByRole('button')).toHaveCount(1)
  await page.getByRole('tree', { name: 'Folders' }).getByRole('button', { name: o.folder, exact: true }).click()
  await page.getByRole('checkbox', { name: `Select ${o.file}` }).check()
  await o.shot?.()
  await page.getByRole('button', { name: 'Restore to a folder…' }).click()
  const dialog = page.getByRole('dialog', { name: 'Restore 1 item' })
  await dialog.getByLabel('Restore into').fill(o.target)
  await dialog.getByRole('button', { name: 'Restore', exact: true }).click()
  const jobs = new JobsPanel(page)
  await jobs.waitDone(jobs.job(`Restore /${o.folder}/${o.file}`))
  expect(sha256(await readFile(path.join(o.target, o.file)))).toBe(sha256(o.expected))
  await jobs.close()
}

/**
 * From the restore points page: restores the whole VM as a new VM named `copy` on `host`, waits for the job.
 * `configure` runs in the dialog before the summary is checked (to pick storage, take a screenshot).
 */
export async function restoreWholeVmAsNew(app: AppPage, o: { vm: string; copy: string; host: string; configure?: (dialog: Locator) => Promise<void>; timeout?: number }): Promise<void> {
  const { page } = app
  await page.getByRole('tab', { name: 'Whole VM' }).click()
  await page.getByRole('button', { name: 'Restore whole VM…' }).click()
  const dialog = page.getByRole('dialog', { name: `Restore ${o.vm}` })
  await expect(dialog.getByRole('radio', { name: /A new VM/ })).toBeChecked()
  await dialog.getByLabel('Name of the new VM').fill(o.copy)
  await expect(dialog.getByRole('region', { name: 'Summary' })).toContainText(`A new VM ${o.copy} is created on ${o.host}`)
  await o.configure?.(dialog)
  await dialog.getByRole('button', { name: 'Restore VM' }).click()
  await expect(dialog).toBeHidden()
  const jobs = new JobsPanel(page)
  await jobs.waitDone(jobs.job(`Restore as ${o.copy} on ${o.host}`), o.timeout)
}
