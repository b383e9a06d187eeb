/**
 * Hyper-V's integration services, found by the language-neutral part of their Id instead of their Name: the names are
 * localized (a German host says "Takt" for Heartbeat and "Gastdienstschnittstelle" for Guest Service Interface), the
 * Id is `Microsoft:<VM id>\<service GUID>` on every host. The GUIDs are those Packer's Hyper-V driver
 * (hashicorp/packer `common/powershell/hyperv/hyperv.go`, EnableVirtualMachineIntegrationService) and admin scripts use.
 */
export const INTEGRATION_SERVICE_GUIDS = {
  heartbeat: '84EAAE65-2F2E-45F5-9BB5-0E857DC8EB47',
  guestServiceInterface: '6C09BB55-D683-4DA0-8931-C9BF705F6480',
  vss: '5CED1297-4598-4915-A5FC-AD21BB4D02A4',
  shutdown: '9F8233AC-BE49-4C79-8EE3-E7E1985B2077',
  timeSynchronization: '2497F4DE-E9FA-4204-80E4-4B75C46419C0',
  keyValuePairExchange: '2A34B1C2-FD73-4043-8A5B-DD2159BC743F',
} as const
export type IntegrationServiceKind = keyof typeof INTEGRATION_SERVICE_GUIDS

interface WithId {
  readonly Id?: string | null | undefined
}

/** True when the record's Id ends in the service's GUID (`…\<GUID>`, any case). */
export function isService(record: WithId, kind: IntegrationServiceKind): boolean {
  const id = record.Id ?? ''
  const slash = id.lastIndexOf('\\')
  return slash >= 0 && id.slice(slash + 1).toUpperCase() === INTEGRATION_SERVICE_GUIDS[kind]
}

export function findService<T extends WithId>(records: readonly T[], kind: IntegrationServiceKind): T | undefined {
  return records.find((r) => isService(r, kind))
}

/**
 * On and answering: PrimaryOperationalStatus Ok (2), which is a number on every host; PrimaryStatusDescription is the
 * same fact in the host's language ("OK" here, something else elsewhere) and is only shown, never compared.
 */
export function serviceOk(record: { readonly Enabled: boolean; readonly PrimaryOperationalStatus?: string | null | undefined } | undefined): boolean {
  return record?.Enabled === true && record.PrimaryOperationalStatus === 'Ok'
}
