/**
 * Runs the web bridge in a process of its own, so a test can tell whether a client is able to kill it.
 * Usage: node --import tsx bridge-child.ts HOME STATIC_DIR — prints {"port","token"} once listening and runs
 * until stdin closes.
 */
import { createEngine } from '../../engine'
import { startBridgeServer } from '../bridge-server'

const [home, staticDir] = process.argv.slice(2)
if (home === undefined || staticDir === undefined) {
  console.error('usage: bridge-child.ts HOME STATIC_DIR')
  process.exit(2)
}
const engine = await createEngine({ home, door: 'bridge' })
const server = await startBridgeServer({ engine, staticDir })
process.stdout.write(`${JSON.stringify({ port: server.port, token: server.token })}\n`)
process.stdin.resume()
process.stdin.on('end', () => {
  void server
    .close()
    .then(() => engine.dispose())
    .then(() => process.exit(0))
})
