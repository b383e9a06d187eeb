import { existsSync } from 'node:fs'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { startBridgeServer } from '../server/bridge-server'
import { openLinkPrivately, type OpenedLink } from '../server/open-link'
import { EXIT_OK, UsageError } from './cli-io'
import { flag, str, type Command } from './command'

/** The built renderer sits beside the bundled Node code: dist/node/… → dist/renderer. */
export function defaultStaticDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url))
  const candidates = [path.resolve(here, '../renderer'), path.resolve(here, '../../dist/renderer')]
  return candidates.find((c) => existsSync(path.join(c, 'index.html'))) ?? candidates[0] ?? ''
}

export const serveCommand: Command = {
  path: ['serve'],
  usage: 'lifeboat serve [--port N] [--open]',
  summary: 'Run Lifeboat in your browser: starts the local web bridge on 127.0.0.1 and prints the address to open.',
  options: { port: { type: 'string' }, open: { type: 'boolean' }, 'static-dir': { type: 'string' } },
  async run(ctx) {
    const portText = str(ctx, 'port') ?? '0'
    const port = Number(portText)
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port must be a number from 0 to 65535 (0 picks a free one).')
    const staticDir = str(ctx, 'static-dir') ?? defaultStaticDir()
    if (!existsSync(path.join(staticDir, 'index.html'))) {
      throw new UsageError(`The user interface is not built (${staticDir} has no index.html). Run \`npm run build\` first, or use \`npm run serve\`.`)
    }
    const engine = await ctx.engine()
    engine.startBackground()
    const server = await startBridgeServer({ engine, staticDir, port })
    let opened: OpenedLink | undefined
    // Asking for a fresh link needs a terminal to ask from; under a service manager or a pipe there is none.
    const freshLinks = process.stdin.isTTY && !ctx.io.json ? createInterface({ input: process.stdin, terminal: false }) : undefined
    try {
      if (ctx.io.json) ctx.io.out(JSON.stringify({ url: server.url, port: server.port, home: engine.paths.home }))
      else {
        ctx.io.out(
          `Lifeboat is running in browser mode.\n\n  Open: ${server.url}\n\n` +
            `The link opens Lifeboat in one browser tab, once; keep it private until then. ` +
            (freshLinks ? 'Press Enter here for a fresh link (another tab, or after closing the first).\n' : '\n') +
            `Data folder: ${engine.paths.home}\nPress Ctrl+C to stop.`,
        )
      }
      freshLinks?.on('line', () => ctx.io.out(`\n  Open: ${server.newLink()}\n`))
      if (flag(ctx, 'open')) {
        const link = await openLinkPrivately({ url: server.url })
        opened = link
        const stop = server.onLinkUsed((used) => {
          if (used !== server.token) return
          stop()
          void link.remove()
        })
      }
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) resolve()
        ctx.signal.addEventListener('abort', () => resolve(), { once: true })
      })
    } finally {
      freshLinks?.close()
      await opened?.remove()
      await server.close()
    }
    return EXIT_OK
  },
}
