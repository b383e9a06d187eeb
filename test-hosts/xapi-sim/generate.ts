// Generates the XAPI simulator's datamodel (datamodel.generated.json) from the published XAPI datamodel
// (xapi-project.github.io, _data/xenapi.json). Run after the reference changes:
//   node --import tsx test-hosts/xapi-sim/generate.ts [--reference ../shared/reference/xenapi.json]
// A test (sim.test.ts) checks that the committed output is what this script produces from the reference. The
// XenServer adapter's record schemas have their own generator, adapters/xenserver/generate-records.ts.
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { compactDatamodel, type PublishedClass } from './datamodel-source'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const { values } = parseArgs({ options: { reference: { type: 'string' } } })
const reference = path.resolve(root, values.reference ?? '../shared/reference/xenapi.json')
const published = JSON.parse(readFileSync(reference, 'utf8')) as PublishedClass[]

const modelPath = path.join(root, 'test-hosts/xapi-sim/datamodel.generated.json')
writeFileSync(modelPath, `${JSON.stringify(compactDatamodel(published))}\n`)
console.log(`Wrote ${path.relative(root, modelPath)} from ${reference}`)
