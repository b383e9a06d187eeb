// A XAPI pool simulator anyone can point Lifeboat at. Prints how to reach it; stops on Ctrl+C.
//   node --import tsx test-hosts/xapi-sim/cli.ts --port N [--vm NAME]… [--data DIR] [--disk-size 64M] [--content random|mixed] [--slave]
//        [--shared-certificate] [--slow MS] [--rate BYTES_PER_S] [--no-nbd] [--checkpoint-fails]
//        [--ignore-shutdown NAME]… [--xapi-version 1.249.0] [--json]
// Fault switches can also be flipped while it runs, one command per line on stdin:
//   expire-sessions · lose-events · slow MS · rate BYTES_PER_S|off · drop-after BYTES · fail-task METHOD CODE [PARAM…]
//   nbd on|off · checkpoint-fails on|off · ignore-shutdown NAME · lifeboat-objects (JSON of what Lifeboat tagged) · help
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { startXapiSim } from './sim'

function bytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(text.trim())
  if (!m?.[1]) throw new Error(`not a size: ${text}`)
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[(m[2] ?? '').toLowerCase()] ?? 1
  return Math.round(Number(m[1]) * unit)
}

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write('A XAPI pool simulator anyone can point Lifeboat at. Prints how to reach it; stops on Ctrl+C.\n  node --import tsx test-hosts/xapi-sim/cli.ts --port N [--vm NAME]… [--data DIR] [--disk-size 64M] [--content random|mixed] [--slave]\n       [--shared-certificate] [--slow MS] [--rate BYTES_PER_S] [--no-nbd] [--checkpoint-fails]\n       [--ignore-shutdown NAME]… [--xapi-version 1.249.0] [--json]\nFault switches can also be flipped while it runs, one command per line on stdin:\n  expire-sessions · lose-events · slow MS · rate BYTES_PER_S|off · drop-after BYTES · fail-task METHOD CODE [PARAM…] · fail-call N [CODE [PARAM…]]\n  nbd on|off · checkpoint-fails on|off · ignore-shutdown NAME · lifeboat-objects (JSON of what Lifeboat tagged) · help\n')
  process.exit(0)
}

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    address: { type: 'string' },
    vm: { type: 'string', multiple: true, default: [] },
    data: { type: 'string' },
    'disk-size': { type: 'string', default: '64M' },
    content: { type: 'string', default: 'random' },
    password: { type: 'string' },
    slave: { type: 'boolean', default: false },
    'shared-certificate': { type: 'boolean', default: false },
    slow: { type: 'string' },
    rate: { type: 'string' },
    'no-nbd': { type: 'boolean', default: false },
    'checkpoint-fails': { type: 'boolean', default: false },
    'ignore-shutdown': { type: 'string', multiple: true, default: [] },
    json: { type: 'boolean', default: false },
    'xapi-version': { type: 'string' },
  },
})

const sim = await startXapiSim({
  port: Number(values.port),
  ...(values.address !== undefined ? { address: values.address } : {}),
  ...(values.data !== undefined ? { dataDir: values.data } : {}),
  ...(values.password !== undefined ? { password: values.password } : {}),
  diskSize: bytes(values['disk-size']),
  content: values.content === 'mixed' ? 'mixed' : 'random',
  vms: values.vm,
  pool: { slave: values.slave, sharedCertificate: values['shared-certificate'] },
  ...(values['xapi-version'] !== undefined ? { xapiVersion: values['xapi-version'] } : {}),
})
if (values.slow !== undefined) sim.faults.slowMs = Number(values.slow)
if (values.rate !== undefined) sim.faults.transferBytesPerSecond = bytes(values.rate)
if (values['no-nbd']) sim.setNbd(false)
if (values['checkpoint-fails']) sim.faults.checkpointFails = true
for (const name of values['ignore-shutdown']) sim.faults.ignoreShutdown.add(name)

const vms = values.vm.map((name) => ({ name, uuid: String(sim.vmByName(name).record.uuid), disks: sim.disksOf(name).map((d) => ({ vdi: d.uuid, file: d.path, size: d.size, seed: d.seed })) }))
const info = { url: sim.url, user: sim.user, password: sim.password, fingerprint: sim.fingerprint, data: sim.dataDir, hosts: sim.core.hosts.map((h) => ({ name: h.name, address: h.address, fingerprint: h.fingerprint, nbdPort: h.nbdPort })), vms }
if (values.json) console.log(JSON.stringify(info))
else {
  console.log(`XAPI simulator is up.
  URL:          ${info.url}
  user:         ${info.user}
  password:     ${info.password}
  fingerprint:  ${info.fingerprint}
  data folder:  ${info.data}   (each VDI's current bytes: a raw file named by the VDI's uuid)`)
  for (const h of info.hosts.slice(1)) console.log(`  pool member:  ${h.name} at ${h.address} (answers logins with HOST_IS_SLAVE), certificate ${h.fingerprint}`)
  for (const vm of vms) for (const d of vm.disks) console.log(`  VM "${vm.name}" (${vm.uuid}): disk ${d.file} (${d.size} bytes, known random content "${d.seed}")`)
  console.log('Type "help" for fault switches. Press Ctrl+C to stop.')
}

const commands: Record<string, (args: string[]) => string> = {
  'expire-sessions': () => (sim.expireSessions(), 'every session is now invalid'),
  'lose-events': () => (sim.loseEvents(), 'event tokens issued so far now get EVENTS_LOST'),
  slow: ([ms]) => ((sim.faults.slowMs = Number(ms ?? 0)), `RPC answers delayed by ${sim.faults.slowMs} ms`),
  rate: ([r]) => {
    sim.faults.transferBytesPerSecond = r === undefined || r === 'off' ? undefined : bytes(r)
    return `transfers limited to ${sim.faults.transferBytesPerSecond ?? 'no limit'} bytes/s`
  },
  'drop-after': ([n]) => ((sim.faults.dropTransferAfterBytes = bytes(n ?? '0')), `the next transfer is cut after ${sim.faults.dropTransferAfterBytes} bytes`),
  'fail-task': ([method, code, ...params]) => {
    if (method === undefined || code === undefined) return 'usage: fail-task METHOD CODE [PARAM…]'
    sim.faults.failTask.set(method, { code, params })
    return `the next Async.${method} fails with ${code}`
  },
  'fail-call': ([n, code = 'INTERNAL_ERROR', ...params]) => {
    if (n === undefined || !/^[1-9]\d*$/.test(n)) return 'usage: fail-call N [CODE [PARAM…]] (the N-th host call from now)'
    sim.faults.failCall = { at: sim.faults.calls + Number(n), code, params }
    return `host call ${sim.faults.failCall.at} (the ${n}. from now) fails with ${code}`
  },
  nbd: ([v]) => (sim.setNbd(v !== 'off'), `NBD ${v === 'off' ? 'disabled' : 'enabled'} on the pool network`),
  'checkpoint-fails': ([v]) => ((sim.faults.checkpointFails = v !== 'off'), `VM.checkpoint ${sim.faults.checkpointFails ? 'fails' : 'works'}`),
  vncsnapshot: ([v]) => ((sim.faults.vncsnapshotMissing = v === 'missing'), `GET /vncsnapshot ${sim.faults.vncsnapshotMissing ? 'fails as on a dom0 without /usr/bin/vncsnapshot' : 'answers a JPEG of the console'}`),
  'ignore-shutdown': ([name]) => (name === undefined ? 'usage: ignore-shutdown NAME' : (sim.faults.ignoreShutdown.add(name), `${name} now ignores clean shutdowns`)),
  'lifeboat-objects': () => JSON.stringify(sim.lifeboatObjects()),
  help: () => Object.keys(commands).join(' · '),
}
if (process.stdin.isTTY || !values.json) {
  createInterface({ input: process.stdin }).on('line', (line) => {
    const [cmd, ...args] = line.trim().split(/\s+/)
    if (cmd === undefined || cmd === '') return
    const run = commands[cmd]
    try {
      console.log(run ? run(args) : `unknown command "${cmd}" (try help)`)
    } catch (err) {
      console.log(err instanceof Error ? err.message : String(err))
    }
  })
}

const stop = () => {
  void sim.stop().then(() => process.exit(0))
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
