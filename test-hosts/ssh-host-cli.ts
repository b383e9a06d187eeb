// Starts a Linux SSH test host (root required) and prints how to reach it; stops it on Ctrl+C.
//   node --import tsx test-hosts/ssh-host-cli.ts [--hostname NAME] [--json]
import { parseArgs } from 'node:util'
import { startSshHost } from './ssh-host'

const { values } = parseArgs({ options: { hostname: { type: 'string' }, json: { type: 'boolean' } } })
const host = await startSshHost(values.hostname !== undefined ? { hostname: values.hostname } : {})
const info = {
  address: host.address,
  port: host.port,
  hostname: host.hostname,
  user: host.user,
  password: host.password,
  keyPath: host.clientKeyPath,
  fingerprint: host.fingerprint,
  namespace: host.namespace,
  pid: host.pid(),
}
if (values.json === true) console.log(JSON.stringify(info))
else
  console.log(
    `SSH test host "${info.hostname}" is up.\n  address:     ${info.address}:${info.port}\n  user:        ${info.user} / password "${info.password}" (or root with the key)\n  key:         ${info.keyPath}\n  fingerprint: ${info.fingerprint}\nPress Ctrl+C to stop it.`,
  )
const stop = () => {
  void host.stop().then(() => process.exit(0))
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
setInterval(() => undefined, 1 << 30)
