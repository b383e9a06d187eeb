// Generates xapi-records.generated.ts (the zod schemas XAPI records are parsed with) from the published XAPI
// datamodel (xapi-project.github.io, _data/xenapi.json). Run after the reference changes or the fields the adapter
// reads change (record-schemas-source.ts):
//   node --import tsx adapters/xenserver/generate-records.ts [--reference ../shared/reference/xenapi.json]
// generate-records.test.ts checks that the committed file is what this script produces from the reference.
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { PublishedClass } from './published-datamodel'
import { recordSchemasSource } from './record-schemas-source'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const { values } = parseArgs({ options: { reference: { type: 'string' } } })
const reference = path.resolve(root, values.reference ?? '../shared/reference/xenapi.json')
const published = JSON.parse(readFileSync(reference, 'utf8')) as PublishedClass[]

const schemasPath = path.join(root, 'adapters/xenserver/xapi-records.generated.ts')
writeFileSync(schemasPath, recordSchemasSource(published))
console.log(`Wrote ${path.relative(root, schemasPath)} from ${reference}`)
