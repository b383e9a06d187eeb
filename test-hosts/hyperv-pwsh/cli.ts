// Runs the Hyper-V test host (real sshd in a network namespace, real pwsh, the simulator's VMs and disks) until Ctrl+C.
//   node --import tsx test-hosts/hyperv-pwsh/cli.ts [--port N] [--address A] [--vm NAME]… [--data DIR]
//        [--shell cmd|powershell|pwsh] [--no-pwsh] [--os 2019|2022] [--disk-mib N] [--json]
// sshd listens on port 22 of its namespace's address; --port N also forwards A:N (default 127.0.0.1) to it, and that
// is the address printed. Needs root (namespaces) and pwsh (test-hosts/hyperv-pwsh/install-pwsh.sh).
import { createHash } from 'node:crypto'
import { createServer, connect, type Server } from 'node:net'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { canRunHyperVSim, knownContent, startHyperVSim } from './sim'

const USAGE = 'Runs the Hyper-V test host (real sshd and pwsh; needs root) until Ctrl+C.\n  npm run sim:hyperv -- [--port N] [--address A] [--vm NAME]… [--data DIR] [--shell cmd|powershell|pwsh]\n       [--no-pwsh] [--os 2019|2022] [--disk-mib N] [--json]\n'
if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(USAGE)
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

const can = canRunHyperVSim()
if (!can.ok) {
  process.stderr.write(`${can.reason ?? 'The Hyper-V test host cannot run here.'}\n`)
  process.exit(2)
}
const shells = ['cmd', 'powershell', 'pwsh'] as const
const shell = shells.find((s) => s === (values.shell ?? 'cmd'))
if (shell === undefined) throw new Error('--shell must be cmd, powershell or pwsh')
if (values.os !== undefined && values.os !== '2019' && values.os !== '2022') throw new Error('--os must be 2019 or 2022')
const port = values.port !== undefined ? Number(values.port) : undefined
if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new Error('--port must be a TCP port number')
const diskMiB = values['disk-mib'] !== undefined ? Number(values['disk-mib']) : 64
const sim = await startHyperVSim({
  ...(values.data !== undefined ? { dataDir: path.resolve(values.data) } : {}),
  vms: values.vm ?? [],
  diskSizeMiB: diskMiB,
  defaultShell: shell,
  pwsh: values['no-pwsh'] !== true,
  ...(values.os === '2019' || values.os === '2022' ? { os: values.os } : {}),
})

// A plain TCP relay to sshd in its namespace, so the host is reachable where the caller asked.
let forward: Server | undefined
let address = sim.address
let listenPort = sim.port
if (port !== undefined) {
  const server = createServer((client) => {
    const upstream = connect(sim.port, sim.address)
    client.pipe(upstream).pipe(client)
    const end = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('error', end)
    upstream.on('error', end)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, values.address ?? '127.0.0.1', () => resolve())
  })
  const bound = server.address()
  if (bound !== null && typeof bound === 'object') {
    address = bound.address
    listenPort = bound.port
  }
  forward = server
}

const vms = [...sim.host.vms.values()].map((vm) => ({
  name: vm.name,
  id: vm.id,
  disk: vm.drives[0]?.path ?? '',
  guestSha256: createHash('sha256').update(knownContent(vm.name, diskMiB * 1024 * 1024)).digest('hex'),
}))
const info = { address, port: listenPort, user: sim.user, password: sim.password, privateKeyPath: sim.privateKeyPath, fingerprint: sim.fingerprint, dataDir: sim.dataDir, defaultShell: shell, vms }
if (values.json === true) console.log(JSON.stringify(info))
else {
  console.log(`Hyper-V test host (${sim.host.computerName}, Windows Server ${sim.host.os}; real sshd and pwsh 7.6) is up.`)
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
  forward?.close()
  void sim.close().then(() => process.exit(0))
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
