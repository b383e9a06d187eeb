import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { PublishedClass } from './published-datamodel'
import { recordSchemasSource } from './record-schemas-source'

const reference = path.resolve(import.meta.dirname, '../../../shared/reference/xenapi.json')

describe('XAPI record schemas', () => {
  it.skipIf(!existsSync(reference))('are what generate-records.ts makes from the published xenapi.json (output up to date)', () => {
    const published = JSON.parse(readFileSync(reference, 'utf8')) as PublishedClass[]
    const committed = readFileSync(path.join(import.meta.dirname, 'xapi-records.generated.ts'), 'utf8')
    expect(committed).toBe(recordSchemasSource(published))
  })
})
