/**
 * Turns the published XAPI datamodel (xenapi.json: classes with fields, messages, errors, enums) into
 * (1) the compact model the simulator serves from and (2) the zod schemas the adapter parses records with.
 * Removed classes, fields and messages are left out: a real pool of a current release does not have them.
 */
import { parseDefault, typeKind, type XapiValue } from './datamodel-values'

export interface PublishedClass {
  readonly name: string
  readonly lifecycle: { readonly state: string }
  readonly fields: readonly {
    readonly name: string
    readonly type: string
    readonly qualifier: string
    readonly default?: string
    readonly lifecycle: { readonly state: string }
  }[]
  readonly messages: readonly {
    readonly name: string
    readonly result: readonly string[]
    readonly params: readonly { readonly type: string; readonly name: string; readonly required: boolean }[]
    readonly errors: readonly { readonly name: string }[]
    readonly implicit: boolean
    readonly lifecycle: { readonly state: string }
  }[]
  readonly enums: readonly { readonly name: string; readonly values: readonly { readonly name: string }[] }[]
}

export interface CompactField {
  readonly name: string
  readonly type: string
  readonly qualifier: string
  readonly default?: string
}

export interface CompactMessage {
  readonly params: readonly { readonly type: string; readonly name: string; readonly required: boolean }[]
  readonly result: string
  readonly errors: readonly string[]
  readonly implicit: boolean
}

export interface CompactClass {
  readonly fields: readonly CompactField[]
  readonly messages: Readonly<Record<string, CompactMessage>>
}

export interface CompactModel {
  readonly source: string
  readonly classes: Readonly<Record<string, CompactClass>>
  readonly enums: Readonly<Record<string, readonly string[]>>
}

const removed = (x: { lifecycle: { state: string } }) => x.lifecycle.state === 'Removed_s'

export function compactDatamodel(published: readonly PublishedClass[]): CompactModel {
  const classes: Record<string, CompactClass> = {}
  const enums: Record<string, string[]> = {}
  for (const c of published) {
    for (const e of c.enums) enums[e.name] = e.values.map((v) => v.name)
    if (removed(c)) continue
    const messages: Record<string, CompactMessage> = {}
    for (const m of c.messages) {
      if (removed(m)) continue
      messages[m.name] = {
        params: m.params.map((p) => ({ type: p.type, name: p.name, required: p.required })),
        result: m.result[0] ?? 'void',
        errors: m.errors.map((e) => e.name),
        implicit: m.implicit,
      }
    }
    classes[c.name] = {
      fields: c.fields.filter((f) => !removed(f)).map((f) => ({ name: f.name, type: f.type, qualifier: f.qualifier, ...(f.default !== undefined ? { default: f.default } : {}) })),
      messages,
    }
  }
  return { source: 'xapi-project.github.io _data/xenapi.json (the published XAPI datamodel)', classes, enums }
}

/** The fields of each class the adapter reads. Their types and defaults come from the datamodel. */
export const adapterFields: Readonly<Record<string, readonly string[]>> = {
  pool: ['uuid', 'name_label', 'master', 'default_SR', 'other_config'],
  host: ['uuid', 'name_label', 'hostname', 'address', 'software_version', 'enabled'],
  VM: [
    'uuid', 'name_label', 'name_description', 'power_state', 'is_a_template', 'is_a_snapshot', 'is_control_domain', 'resident_on', 'affinity',
    'VCPUs_at_startup', 'VCPUs_max', 'VCPUs_params', 'memory_static_max', 'memory_static_min', 'memory_dynamic_max', 'memory_dynamic_min',
    'VBDs', 'VIFs', 'snapshots', 'snapshot_of', 'snapshot_time', 'other_config', 'guest_metrics', 'allowed_operations', 'current_operations',
    'blocked_operations', 'tags', 'HVM_boot_policy', 'HVM_boot_params', 'HVM_shadow_multiplier', 'platform', 'PV_bootloader', 'PV_kernel',
    'PV_ramdisk', 'PV_args', 'PV_bootloader_args', 'PV_legacy_args', 'domain_type', 'actions_after_shutdown', 'actions_after_reboot',
    'actions_after_crash', 'suspend_VDI', 'user_version', 'xenstore_data', 'recommendations', 'ha_restart_priority', 'has_vendor_device',
    'NVRAM', 'bios_strings', 'hardware_platform_version', 'order', 'start_delay', 'shutdown_delay', 'PCI_bus', 'snapshot_info',
  ],
  VBD: ['uuid', 'VM', 'VDI', 'device', 'userdevice', 'bootable', 'mode', 'type', 'empty', 'unpluggable', 'currently_attached', 'other_config'],
  VDI: [
    'uuid', 'name_label', 'name_description', 'SR', 'VBDs', 'virtual_size', 'physical_utilisation', 'type', 'sharable', 'read_only', 'other_config',
    'managed', 'missing', 'sm_config', 'is_a_snapshot', 'snapshot_of', 'snapshots', 'snapshot_time', 'cbt_enabled', 'allowed_operations', 'on_boot',
  ],
  SR: ['uuid', 'name_label', 'name_description', 'type', 'content_type', 'shared', 'physical_size', 'physical_utilisation', 'virtual_allocation', 'allowed_operations', 'PBDs', 'other_config'],
  PBD: ['uuid', 'host', 'SR', 'currently_attached'],
  SM: ['uuid', 'type', 'capabilities', 'features'],
  VIF: ['uuid', 'device', 'network', 'VM', 'MAC', 'MTU', 'MAC_autogenerated', 'other_config', 'locking_mode', 'qos_algorithm_type', 'qos_algorithm_params'],
  network: ['uuid', 'name_label', 'name_description', 'bridge', 'MTU', 'other_config', 'purpose', 'managed'],
  task: ['uuid', 'name_label', 'status', 'progress', 'result', 'error_info', 'created', 'finished', 'other_config', 'allowed_operations'],
  VM_guest_metrics: ['uuid', 'os_version', 'PV_drivers_version', 'PV_drivers_detected', 'PV_drivers_up_to_date', 'live'],
  Certificate: ['uuid', 'type', 'host', 'fingerprint_sha256', 'not_after'],
  vdi_nbd_server_info: ['exportname', 'address', 'port', 'cert', 'subject'],
}

function zodFor(type: string): string {
  switch (typeKind(type)) {
    case 'int':
      return 'xs.int'
    case 'float':
      return 'xs.float'
    case 'bool':
      return 'xs.bool'
    case 'datetime':
      return 'xs.datetime'
    case 'ref':
      return 'xs.ref'
    case 'enum':
      return 'xs.enumValue'
    case 'set':
      return typeKind(type.replace(/ set$/, '')) === 'ref' ? 'xs.refSet' : type === 'int set' ? 'xs.intSet' : 'xs.stringSet'
    case 'map':
      return /^\(string -> (string|enum [a-z_]+)\) map$/.test(type) ? 'xs.stringMap' : 'xs.anyMap'
    default:
      return 'xs.string'
  }
}

function literal(value: XapiValue): string {
  return JSON.stringify(value)
}

function pascal(name: string): string {
  const parts = name.split('_').filter((p) => p !== '')
  return parts.map((p) => (/^[A-Z]+$/.test(p) ? p : `${p[0]?.toUpperCase() ?? ''}${p.slice(1)}`)).join('')
}

export function recordSchemasSource(published: readonly PublishedClass[]): string {
  const byName = new Map(published.map((c) => [c.name, c]))
  const lines = [
    '// Generated by test-hosts/xapi-sim/generate.ts from the published XAPI datamodel (xenapi.json). Do not edit.',
    '// Fields the datamodel gives a default are optional and take that default; the others are required.',
    "import { z } from 'zod'",
    "import { xs } from './xapi-schema-kit'",
    '',
  ]
  for (const [cls, wanted] of Object.entries(adapterFields)) {
    const c = byName.get(cls)
    if (c === undefined) throw new Error(`The datamodel has no class ${cls}`)
    const name = `${pascal(cls)}Record`
    lines.push(`export const ${name} = z.object({`)
    for (const fieldName of wanted) {
      const f = c.fields.find((x) => x.name === fieldName && !removed(x))
      if (f === undefined) throw new Error(`The datamodel has no field ${cls}.${fieldName}`)
      const d = parseDefault(f.type, f.default)
      lines.push(`  ${/^[A-Za-z_][A-Za-z0-9_]*$/.test(f.name) ? f.name : JSON.stringify(f.name)}: ${zodFor(f.type)}${d === undefined ? '' : `.default(${literal(d)})`},`)
    }
    lines.push('})')
    lines.push(`export type ${name} = z.output<typeof ${name}>`)
    lines.push('')
  }
  const vm = byName.get('VM')
  const ctor = (vm?.fields ?? []).filter((f) => !removed(f) && (f.qualifier === 'RW' || f.qualifier === 'RO/constructor')).map((f) => f.name)
  lines.push('/** The fields VM.create takes (the datamodel marks them RW or RO/constructor). */')
  lines.push(`export const vmConstructorFields: readonly string[] = ${JSON.stringify(ctor)}`)
  lines.push('')
  const vmPower = published.flatMap((c) => c.enums).find((e) => e.name === 'vm_power_state')
  lines.push(`export const vmPowerStates = ${JSON.stringify((vmPower?.values ?? []).map((v) => v.name))} as const`)
  lines.push('')
  return lines.join('\n')
}
