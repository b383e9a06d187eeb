import { elementType, mapTypes, typeKind } from './datamodel-values'
import type { Model } from './model'

/**
 * What is wrong with a record of `cls` compared with the datamodel of XAPI `version` (undefined: the newest): missing
 * or extra fields (a field newer than the version is extra), wrong types or enum values.
 */
export function recordProblems(model: Model, cls: string, record: unknown, version?: string): string[] {
  const problems: string[] = []
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return [`${cls}: not a struct`]
  const fields = model.fieldsAt(cls, version)
  const names = new Set(fields.map((f) => f.name))
  for (const key of Object.keys(record)) if (!names.has(key)) problems.push(`${cls}.${key} is not in the datamodel`)
  for (const f of fields) {
    const value = (record as Record<string, unknown>)[f.name]
    if (value === undefined) {
      problems.push(`${cls}.${f.name} is missing`)
      continue
    }
    problems.push(...valueProblems(model, `${cls}.${f.name}`, f.type, value))
  }
  return problems
}

function valueProblems(model: Model, where: string, type: string, value: unknown): string[] {
  const kind = typeKind(type)
  const bad = (what: string) => [`${where}: ${what} (type ${type}, value ${JSON.stringify(value).slice(0, 80)})`]
  switch (kind) {
    case 'string':
      return typeof value === 'string' ? [] : bad('not a string')
    case 'datetime':
      return typeof value === 'string' && /^\d{8}T\d{2}:\d{2}:\d{2}Z$|^\d{4}-\d{2}-\d{2}T/.test(value) ? [] : bad('not a datetime')
    case 'int':
      return typeof value === 'number' && Number.isSafeInteger(value) ? [] : bad('not an int')
    case 'float':
      return typeof value === 'number' && Number.isFinite(value) ? [] : bad('not a float')
    case 'bool':
      return typeof value === 'boolean' ? [] : bad('not a bool')
    case 'ref':
      return typeof value === 'string' && /^OpaqueRef:[A-Za-z0-9-]+$/.test(value) ? [] : bad('not a reference')
    case 'enum': {
      const values = model.enumValues(type.replace(/^enum /, ''))
      return typeof value === 'string' && values.includes(value) ? [] : bad(`not one of ${values.join('|')}`)
    }
    case 'set':
      return Array.isArray(value) ? value.flatMap((v, i) => valueProblems(model, `${where}[${i}]`, elementType(type), v)) : bad('not a set')
    case 'map': {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return bad('not a map')
      const { key, value: vt } = mapTypes(type)
      return Object.entries(value).flatMap(([k, v]) => [
        ...(typeKind(key) === 'enum' ? valueProblems(model, `${where} key`, key, k) : []),
        ...valueProblems(model, `${where}[${k}]`, vt, v),
      ])
    }
    case 'option':
    case 'record':
      return value !== null && typeof value === 'object' ? [] : bad('not a struct')
    default:
      return []
  }
}
