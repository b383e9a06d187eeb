/**
 * Turns the published XAPI datamodel (xenapi.json: classes with fields, messages, errors, enums) into the compact
 * model the simulator serves from (datamodel.generated.json). Removed classes, fields and messages are left out: a
 * real pool of a current release does not have them. (The adapter's record schemas are generated on the product
 * side, by adapters/xenserver/generate-records.ts, which reads the same file on its own.)
 */

/** A lifecycle as xenapi.json has it: the state now and each transition with the release (code name or number). */
export interface PublishedLifecycle {
  readonly state: string
  readonly transitions?: readonly { readonly transition: string; readonly release: string }[]
}

export interface PublishedClass {
  readonly name: string
  readonly lifecycle: PublishedLifecycle
  readonly fields: readonly {
    readonly name: string
    readonly type: string
    readonly qualifier: string
    readonly default?: string
    readonly lifecycle: PublishedLifecycle
  }[]
  readonly messages: readonly {
    readonly name: string
    readonly result: readonly string[]
    readonly params: readonly { readonly type: string; readonly name: string; readonly required: boolean }[]
    readonly errors: readonly { readonly name: string }[]
    readonly implicit: boolean
    readonly roles?: readonly string[]
    readonly lifecycle: PublishedLifecycle
  }[]
  readonly enums: readonly { readonly name: string; readonly values: readonly { readonly name: string }[] }[]
}

export interface CompactField {
  readonly name: string
  readonly type: string
  readonly qualifier: string
  readonly default?: string
  /** The numbered XAPI release it appeared in (see `since`); absent: before any numbered release. */
  readonly since?: string
}

export interface CompactMessage {
  readonly params: readonly { readonly type: string; readonly name: string; readonly required: boolean }[]
  readonly result: string
  readonly errors: readonly string[]
  readonly implicit: boolean
  readonly since?: string
  /**
   * The least privileged role that may call it (absent: no role check, e.g. session.login_with_password). XAPI's
   * roles are nested (pool-admin ⊃ pool-operator ⊃ vm-power-admin ⊃ vm-admin ⊃ vm-operator ⊃ read-only) and every
   * message's role list in the datamodel is such a prefix, so the last one says it all.
   */
  readonly role?: string
}

export interface CompactClass {
  readonly since?: string
  readonly fields: readonly CompactField[]
  readonly messages: Readonly<Record<string, CompactMessage>>
}

export interface CompactModel {
  readonly source: string
  readonly classes: Readonly<Record<string, CompactClass>>
  readonly enums: Readonly<Record<string, readonly string[]>>
}

const removed = (x: { lifecycle: { state: string } }) => x.lifecycle.state === 'Removed_s'

/**
 * The release that brought something in (its first transition, prototyped or published), when that is a numbered
 * release (1.250.0, 21.4.0, 24.20.0, …). Code-named releases (rio … stockholm_psr) all come before every numbered
 * one — xen-api ocaml/idl/datamodel_types.ml, release_leq: "x is a named release, y is numbered and thus newer" —
 * and the simulator plays numbered versions only, so a code name needs no tag.
 */
function since(x: { lifecycle: PublishedLifecycle }): { since?: string } {
  const release = x.lifecycle.transitions?.[0]?.release
  return release !== undefined && /^\d+\.\d+\.\d+$/.test(release) ? { since: release } : {}
}

/** XAPI's roles from most to least privileged (xen-api ocaml/idl/datamodel_roles.ml). */
export const ROLES = ['pool-admin', 'pool-operator', 'vm-power-admin', 'vm-admin', 'vm-operator', 'read-only'] as const

function leastRole(roles: readonly string[]): { role?: string } {
  const nested = roles.filter((r) => (ROLES as readonly string[]).includes(r))
  for (const [i, r] of nested.entries()) if (ROLES[i] !== r) throw new Error(`Roles ${roles.join(', ')} are not a prefix of ${ROLES.join(', ')}`)
  const last = nested[nested.length - 1]
  return last === undefined ? {} : { role: last }
}

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
        ...since(m),
        ...leastRole(m.roles ?? []),
      }
    }
    classes[c.name] = {
      ...since(c),
      fields: c.fields.filter((f) => !removed(f)).map((f) => ({ name: f.name, type: f.type, qualifier: f.qualifier, ...(f.default !== undefined ? { default: f.default } : {}), ...since(f) })),
      messages,
    }
  }
  return { source: 'xapi-project.github.io _data/xenapi.json (the published XAPI datamodel)', classes, enums }
}
