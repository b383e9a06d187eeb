import { z } from 'zod'
import type { JsonValue } from '../host-adapter'
import type { VmDetails } from './vm-details'

/**
 * The VM configuration a restore point keeps for a Hyper-V VM (as plain data, not .vmcx files): enough for New-VM to
 * recreate it — generation, memory, processors, firmware, where each disk was attached, which switch each adapter used.
 */
export const HyperVConfig = z.object({
  family: z.literal('hyperv'),
  id: z.string().max(100),
  name: z.string().max(1000),
  generation: z.number().int().min(1).max(2),
  version: z.string().max(50).nullish(),
  processorCount: z.number().int().min(1).max(4096),
  memoryStartup: z.number().int().min(0),
  dynamicMemory: z.boolean(),
  memoryMinimum: z.number().int().min(0).nullish(),
  memoryMaximum: z.number().int().min(0).nullish(),
  checkpointType: z.string().max(50),
  notes: z.string().max(32_768).nullish(),
  secureBoot: z.boolean().nullish(),
  secureBootTemplate: z.string().max(200).nullish(),
  drives: z
    .array(z.object({ controllerType: z.string().max(10), controllerNumber: z.number().int().min(0).max(64), controllerLocation: z.number().int().min(0).max(64), path: z.string().max(32_767), size: z.number().int().min(0) }))
    .max(256),
  nics: z.array(z.object({ name: z.string().max(1000), switchName: z.string().max(1000).nullish(), macAddress: z.string().max(100).nullish(), dynamicMac: z.boolean().nullish() })).max(64),
})
export type HyperVConfig = z.infer<typeof HyperVConfig>

export function configOf(d: VmDetails): JsonValue {
  const config: HyperVConfig = {
    family: 'hyperv',
    id: d.vm.Id,
    name: d.vm.Name,
    generation: d.vm.Generation,
    version: d.vm.Version ?? null,
    processorCount: Math.max(1, d.vm.ProcessorCount),
    memoryStartup: d.vm.MemoryStartup,
    dynamicMemory: d.vm.DynamicMemoryEnabled === true,
    memoryMinimum: d.vm.MemoryMinimum ?? null,
    memoryMaximum: d.vm.MemoryMaximum ?? null,
    checkpointType: d.vm.CheckpointType,
    notes: d.vm.Notes ?? null,
    secureBoot: d.firmware ? d.firmware.SecureBoot === 'On' : null,
    secureBootTemplate: d.firmware?.SecureBootTemplate ?? null,
    drives: d.drives.map((dr) => ({
      controllerType: dr.ControllerType,
      controllerNumber: dr.ControllerNumber,
      controllerLocation: dr.ControllerLocation,
      path: dr.Path ?? '',
      size: d.vhds.get((dr.Path ?? '').toLowerCase())?.Size ?? 0,
    })),
    nics: d.nics.map((n) => ({ name: n.Name, switchName: n.SwitchName ?? null, macAddress: n.MacAddress ?? null, dynamicMac: n.DynamicMacAddressEnabled ?? null })),
  }
  return config
}
