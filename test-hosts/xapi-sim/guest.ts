import type { SimCore } from './core'
import { NULL_REF, text } from './datamodel-values'
import { xapiTime } from './db'

export type ConsoleScreen = 'booted' | 'booting' | 'no-bootable-device'

/**
 * The guest inside a VM created through the API (a restore, an import), as XAPI sees it from outside. A pool learns
 * about a guest only from its PV drivers / guest agent writing to xenstore: then xapi creates a VM_guest_metrics
 * record (os_version, PV_drivers_version, PV_drivers_detected, live) and sets VM.guest_metrics; until then the field
 * is a null reference. Here the guest "boots" when the disk the BIOS starts from (the bootable VBD, else the lowest
 * userdevice) has a boot sector — 0x55AA at byte 510 — and its drivers report `faults.guestBootMs` after VM.start.
 * Without a boot sector the VM runs but nothing ever reports, as a real VM sitting at "No bootable device".
 * A shutdown, suspend or destroy before the report stops the boot.
 */
export class SimGuests {
  private readonly booting = new Map<string, NodeJS.Timeout>()

  constructor(private readonly core: SimCore) {}

  async poweredOn(vm: string): Promise<void> {
    this.stop(vm)
    if (!(await this.hasBootSector(vm))) return
    const timer = setTimeout(() => {
      this.booting.delete(vm)
      if (!this.core.db.has('VM', vm) || this.core.db.get('VM', vm).power_state !== 'Running') return
      this.report(vm)
    }, this.core.faults.guestBootMs)
    timer.unref()
    this.booting.set(vm, timer)
  }

  /** The VM halted, suspended or was destroyed: a guest still booting never reports. */
  stop(vm: string): void {
    const timer = this.booting.get(vm)
    if (timer !== undefined) clearTimeout(timer)
    this.booting.delete(vm)
  }

  /**
   * What the VM's VNC console shows now: the guest's login prompt once its drivers reported (or for a seeded VM, an
   * installed guest), the BIOS booting from the disk while it boots, or the BIOS's "No bootable device" when the disk
   * it starts from has no boot sector.
   */
  async screen(vm: string): Promise<ConsoleScreen> {
    if (this.core.db.get('VM', vm).guest_metrics !== NULL_REF) return 'booted'
    return (await this.hasBootSector(vm)) ? 'booting' : 'no-bootable-device'
  }

  private async hasBootSector(vm: string): Promise<boolean> {
    const db = this.core.db
    const disks = (db.get('VM', vm).VBDs as string[])
      .map((b) => db.get('VBD', b))
      .filter((b) => b.type === 'Disk' && b.empty !== true && b.VDI !== NULL_REF)
      .sort((a, b) => Number(b.bootable === true) - Number(a.bootable === true) || Number(a.userdevice) - Number(b.userdevice))
    const first = disks[0]
    if (first === undefined) return false
    const uuid = text(db.get('VDI', first.VDI as string).uuid)
    const sector = await this.core.storage.read(uuid, 0, 512).catch(() => Buffer.alloc(0))
    return sector.length === 512 && sector[510] === 0x55 && sector[511] === 0xaa
  }

  private report(vm: string): void {
    const db = this.core.db
    const gm = db.add('VM_guest_metrics', {
      os_version: { name: 'Simulated guest (booted from its first disk)', distro: 'sim', major: '1', minor: '0' },
      PV_drivers_version: { major: '9', minor: '4', micro: '0', build: 'sim' },
      PV_drivers_up_to_date: true,
      PV_drivers_detected: true,
      networks: {},
      other: { 'feature-shutdown': '1', 'has-vendor-device': '0' },
      last_updated: xapiTime(),
      live: true,
      can_use_hotplug_vbd: 'yes',
      can_use_hotplug_vif: 'yes',
    })
    db.set('VM', vm, { guest_metrics: gm })
  }
}
