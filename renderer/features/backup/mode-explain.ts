import type { HostInventoryDto } from '../../../engine/api/contract'
import type { MessageKey } from '../../i18n/en'
import type { Draft, Target } from './wizard-model'

type Mode = Draft['mode']

export interface ModeExplanation {
  readonly key: MessageKey
  readonly params: { readonly vm?: string }
}

const general: Record<Mode, MessageKey> = { hot: 'wizard.mode.hot', warm: 'wizard.mode.warm', cold: 'wizard.mode.cold' }
const byKind: Partial<Record<HostInventoryDto['kind'], Record<Mode, MessageKey>>> = {
  xenserver: { hot: 'wizard.explain.xenserver.hot', warm: 'wizard.explain.xenserver.warm', cold: 'wizard.explain.xenserver.cold' },
  hyperv: { hot: 'wizard.explain.hyperv.hot', warm: 'wizard.explain.hyperv.warm', cold: 'wizard.explain.hyperv.cold' },
}

/**
 * What a mode does, in plain words. For one VM it is said for that VM as it is now and as its host does it (a VM that
 * is off or suspended is simply copied; XenServer and Hyper-V each have their own way); for several VMs, in general.
 */
export function explainMode(mode: Mode, targets: readonly Target[], hosts: readonly HostInventoryDto[]): ModeExplanation {
  const only = targets.length === 1 ? targets[0] : undefined
  const host = only && hosts.find((h) => h.hostId === only.host)
  const vm = only && host?.vms.find((v) => v.id === only.vm)
  if (!host || !vm) return { key: general[mode], params: {} }
  if (vm.powerState === 'halted') return { key: 'wizard.explain.off', params: { vm: vm.name } }
  if (vm.powerState === 'suspended') return { key: 'wizard.explain.suspended', params: { vm: vm.name } }
  const keys = byKind[host.kind]
  if (vm.powerState === 'running' && keys) return { key: keys[mode], params: { vm: vm.name } }
  return { key: general[mode], params: {} }
}
