import { VBDRecord, VDIRecord, VMRecord } from './xapi-records.generated'
import type { XapiClient } from './xapi-client'
import { destroyQuietly, setOtherConfig } from './xapi-objects'
import { isNullRef } from './xapi-schema-kit'
import { isCode, runTask } from './xapi-tasks'
import { isHealthCheck, TAG } from './tags'

/** The name a health check's temporary VM gets on the pool: the job id makes it findable and unique. */
export function checkVmName(jobId: string): string {
  return `lifeboat-check-${jobId}`
}

/**
 * Removes a health check's temporary VM: powered off hard (it is a throwaway copy), then the VM record and the VDIs
 * its VBDs hold that carry the health-check mark — VM.destroy alone would leave the disks on the SR. A VDI without the
 * mark is not the check's (nothing else should be attached, but if someone attached one it is left alone). Returns a
 * sentence saying what is left, or undefined when all of it is gone.
 */
export async function removeCheckVm(client: XapiClient, vmRef: string, signal: AbortSignal): Promise<string | undefined> {
  let name = vmRef
  let uuid = ''
  try {
    const vm = await client.record('VM', vmRef, VMRecord, signal).catch((err: unknown) => {
      if (isCode(err, 'HANDLE_INVALID')) return undefined
      throw err
    })
    if (vm === undefined) return undefined
    name = vm.name_label
    uuid = vm.uuid
    if (!isHealthCheck(vm.other_config)) return `${name} is not a health check's VM any more (its mark was removed); it was left alone.`
    if (vm.power_state !== 'Halted') {
      await runTask(client, 'VM.hard_shutdown', [vmRef], { signal }).catch(async (err: unknown) => {
        // A VM that halted meanwhile (or was never started) refuses with VM_BAD_POWER_STATE: that is what we wanted.
        if (String(await client.call('VM.get_power_state', [vmRef], signal)) !== 'Halted') throw err
      })
    }
    const vdis: string[] = []
    for (const vbdRef of vm.VBDs) {
      const vbd = await client.record('VBD', vbdRef, VBDRecord, signal).catch(() => undefined)
      if (vbd === undefined || vbd.empty || isNullRef(vbd.VDI)) continue
      const vdi = await client.record('VDI', vbd.VDI, VDIRecord, signal).catch(() => undefined)
      if (vdi !== undefined && isHealthCheck(vdi.other_config)) vdis.push(vbd.VDI)
    }
    await destroyQuietly(client, 'VM', vmRef, signal)
    for (const vdi of vdis) await destroyQuietly(client, 'VDI', vdi, signal)
    return undefined
  } catch (err) {
    const how = uuid === '' ? '`lifeboat leftovers`' : `\`xe vm-uninstall uuid=${uuid} force=true\` or \`lifeboat leftovers\``
    return `The temporary VM ${name} could not be removed with its disks (${err instanceof Error ? err.message : String(err)}); remove it with ${how}.`
  }
}

/** Refreshes the heartbeat of the check's VM (found by name: it may not have a reference yet while its disks upload). */
export async function beatCheckVm(client: XapiClient, jobId: string, signal: AbortSignal): Promise<void> {
  const refs = await client.call('VM.get_by_name_label', [checkVmName(jobId)], signal)
  if (!Array.isArray(refs)) return
  for (const ref of refs) {
    if (typeof ref !== 'string') continue
    const other = await client.call('VM.get_other_config', [ref], signal)
    if (other === null || typeof other !== 'object' || (other as Record<string, unknown>)[TAG.job] !== jobId) continue
    await setOtherConfig(client, 'VM', ref, { [TAG.heartbeat]: new Date().toISOString() }, signal)
  }
}
