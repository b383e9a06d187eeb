/**
 * Turns the published XAPI datamodel (xenapi.json: classes with fields, messages, errors, enums) into the compact
 * model the simulator serves from (datamodel.generated.json). Removed classes, fields and messages are left out: a
 * real pool of a current release does not have them. (The adapter's record schemas are generated on the product
 * side, by adapters/xenserver/generate-records.ts, which reads the same file on its own.)
 */

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
