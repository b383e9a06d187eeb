import type { HostKindDto, PowerStateDto } from '../../engine/api/contract'
import type { MessageKey } from '../i18n/en'

/**
 * The word for a VM's power state as its own host's admin knows it: Hyper-V calls a VM whose memory went to disk
 * "Saved", XenServer and libvirt "Suspended".
 */
export function powerKey(state: PowerStateDto, kind?: HostKindDto): MessageKey {
  if (state === 'suspended' && kind === 'hyperv') return 'power.saved'
  return `power.${state}`
}
