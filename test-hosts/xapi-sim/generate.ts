// Generates the XAPI simulator's datamodel and the XenServer adapter's record schemas from the published XAPI
// datamodel (xapi-project.github.io, _data/xenapi.json). Run after the reference changes:
//   node --import tsx test-hosts/xapi-sim/generate.ts [--reference ../shared/reference/xenapi.json]
// A test checks that the committed outputs are what this script produces from the reference.
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { compactDatamodel, recordSchemasSource, type PublishedClass } from './datamodel-source'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const { values } = parseArgs({ options: { reference: { type: 'string' } } })
const reference = path.resolve(root, values.reference ?? '../shared/reference/xenapi.json')
const published = JSON.parse(readFileSync(reference, 'utf8')) as PublishedClass[]

const modelPath = path.join(root, 'test-hosts/xapi-sim/datamodel.generated.json')
const schemasPath = path.join(root, 'adapters/xenserver/xapi-records.generated.ts')
writeFileSync(modelPath, `${JSON.stringify(compactDatamodel(published))}\n`)
writeFileSync(schemasPath, recordSchemasSource(published))
console.log(`Wrote ${path.relative(root, modelPath)} and ${path.relative(root, schemasPath)} from ${reference}`)
