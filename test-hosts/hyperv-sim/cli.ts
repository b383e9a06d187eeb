// Runs the Hyper-V simulator as a standalone SSH host until Ctrl+C.
//   node --import tsx test-hosts/hyperv-sim/cli.ts --port N [--vm NAME]… [--data DIR] [--shell cmd|powershell|pwsh]
//        [--no-pwsh] [--os 2019|2022] [--disk-mib N] [--json]
import { createHash } from 'node:crypto'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { knownContent, startHyperVSim } from './server'
import type { DefaultShell } from './shell'

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write('Runs the Hyper-V simulator as a standalone SSH host until Ctrl+C.\n  node --import tsx test-hosts/hyperv-sim/cli.ts --port N [--vm NAME]… [--data DIR] [--shell cmd|powershell|pwsh]\n       [--no-pwsh] [--os 2019|2022] [--disk-mib N] [--json]\n')
  process.exit(0)
}

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    address: { type: 'string' },
    vm: { type: 'string', multiple: true },
    data: { type: 'string' },
    shell: { type: 'string' },
    'no-pwsh': { type: 'boolean' },
    os: { type: 'string' },
    'disk-mib': { type: 'string' },
    json: { type: 'boolean' },
  },
})

const shells: readonly DefaultShell[] = ['cmd', 'powershell', 'pwsh']
const shell = shells.find((s) => s === (values.shell ?? 'cmd'))
if (shell === undefined) throw new Error('--shell must be cmd, powershell or pwsh')
if (values.os !== undefined && values.os !== '2019' && values.os !== '2022') throw new Error('--os must be 2019 or 2022')
const diskMiB = values['disk-mib'] !== undefined ? Number(values['disk-mib']) : 64
const sim = await startHyperVSim({
  port: values.port !== undefined ? Number(values.port) : 0,
  ...(values.address !== undefined ? { address: values.address } : {}),
  ...(values.data !== undefined ? { dataDir: path.resolve(values.data) } : {}),
  vms: values.vm ?? [],
  diskSizeMiB: diskMiB,
  defaultShell: shell,
  pwsh: values['no-pwsh'] !== true,
  ...(values.os === '2019' || values.os === '2022' ? { os: values.os } : {}),
})
const vms = [...sim.host.vms.values()].map((vm) => ({
  name: vm.name,
  id: vm.id,
  disk: vm.drives[0]?.path ?? '',
  guestSha256: createHash('sha256').update(knownContent(vm.name, diskMiB * 1024 * 1024)).digest('hex'),
}))
const info = { address: sim.address, port: sim.port, user: sim.user, password: sim.password, privateKeyPath: sim.privateKeyPath, fingerprint: sim.fingerprint, dataDir: sim.dataDir, defaultShell: shell, vms }
if (values.json === true) console.log(JSON.stringify(info))
else {
  console.log(`Hyper-V simulator (${sim.host.computerName}, Windows Server ${sim.host.os}) is up.`)
  console.log(`  address:     ${info.address}:${info.port}`)
  console.log(`  user:        ${info.user} (key below, or password "${info.password}")`)
  console.log(`  private key: ${info.privateKeyPath}`)
  console.log(`  fingerprint: ${info.fingerprint}`)
  console.log(`  data folder: ${info.dataDir} (drive C: is ${path.join(info.dataDir, 'C')})`)
  console.log(`  shell:       ${shell}${values['no-pwsh'] === true ? '' : ' (pwsh installed)'}`)
  for (const vm of vms) console.log(`  VM "${vm.name}" ${vm.id}: ${vm.disk} (guest bytes sha256 ${vm.guestSha256})`)
  console.log('Press Ctrl+C to stop it.')
}
const stop = () => {
  void sim.close().then(() => process.exit(0))
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
