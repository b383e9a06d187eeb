import { expect, type Locator, type Page } from '@playwright/test'
import { escapeRe } from '../support/text'

/** The main window: tree on the left, panel in the middle, dialogs on top. Role-based, as a screen reader sees it. */
export class AppPage {
  constructor(readonly page: Page) {}

  get tree(): Locator {
    return this.page.getByRole('tree', { name: /Hosts and virtual machines|Hosts und virtuelle Maschinen/ })
  }

  /** A host in the tree ("kvm1, Online, 2 VMs"). */
  hostItem(name: string): Locator {
    return this.treeItem(name)
  }

  /** A VM in the tree ("web01, Running"). */
  vmItem(name: string): Locator {
    return this.treeItem(name)
  }

  /** Hosts and VMs are named first in their accessible names, then their state. */
  private treeItem(name: string): Locator {
    return this.tree.getByRole('treeitem', { name: new RegExp(`^${escapeRe(name)},`) })
  }

  get addHostButton(): Locator {
    return this.page.getByRole('banner').getByRole('button', { name: /Add host|Host hinzufügen/ })
  }

  get mainHeading(): Locator {
    return this.page.getByRole('main').getByRole('heading', { level: 1 })
  }

  async openAddHost(): Promise<AddHostDialog> {
    await this.addHostButton.click()
    const dialog = new AddHostDialog(this.page)
    await expect(dialog.root).toBeVisible()
    return dialog
  }
}

export class AddHostDialog {
  constructor(readonly page: Page) {}

  get root(): Locator {
    return this.page.getByRole('dialog')
  }

  async fill(values: { kind?: 'Linux' | 'Hyper-V' | 'XenServer / XCP-ng'; name: string; address: string; user: string; password?: string }): Promise<void> {
    if (values.kind) {
      // The admin clicks the card; its radio button sits under the card's icon.
      const radio = this.page.getByRole('radio', { name: new RegExp(`^${escapeRe(values.kind)}`) })
      await this.root.locator('label', { has: radio }).click()
      await expect(this.root.getByRole('radio', { name: new RegExp(`^${escapeRe(values.kind)}`) })).toBeChecked()
    }
    await this.root.getByLabel('Name in Lifeboat').fill(values.name)
    await this.root.getByLabel('Address').fill(values.address)
    await this.root.getByLabel('User').fill(values.user)
    if (values.password !== undefined) await this.passwordField.fill(values.password)
  }

  get passwordField(): Locator {
    return this.root.getByRole('textbox', { name: 'Password', exact: true })
  }

  async connect(): Promise<void> {
    await this.root.getByRole('button', { name: 'Connect' }).click()
  }

  get fingerprint(): Locator {
    return this.root.locator('.fingerprint-value')
  }

  async trust(): Promise<void> {
    await this.root.getByRole('button', { name: 'They match: trust and add' }).click()
  }

  get alert(): Locator {
    return this.root.getByRole('alert')
  }
}
