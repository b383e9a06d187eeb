import { app, BrowserWindow, ipcMain, session, type IpcMainInvokeEvent, type WebContents } from 'electron'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { isTopicName } from '../engine/api/contract'
import { ApiError } from '../engine/api/contract-errors'
import { dispatch } from '../engine/api/dispatch'
import { createEngine, type Engine } from '../engine/engine'
import { defaultHome } from '../engine/state/paths'
import { fileCodec, SecretStore } from '../engine/state/secret-store'
import { statePaths } from '../engine/state/paths'
import { APP_ORIGIN, registerAppScheme, serveRenderer } from './renderer-protocol'
import { desktopSecretCodec } from './safe-storage-codec'

export const IPC_INVOKE = 'lifeboat:invoke'
export const IPC_EVENT = 'lifeboat:event'

const here = path.dirname(fileURLToPath(import.meta.url))
const distDir = path.resolve(here, '..')
let engine: Engine | undefined
let mainWindow: BrowserWindow | undefined

registerAppScheme()
if (!app.requestSingleInstanceLock()) app.quit()

// One data folder for the desktop app, the CLI and the bridge.
const home = defaultHome()
app.setPath('userData', home)

/** Only our own window, showing our own renderer, may call the engine. */
function trustedSender(event: IpcMainInvokeEvent): boolean {
  const frameUrl = event.senderFrame?.url ?? ''
  return mainWindow !== undefined && event.sender === mainWindow.webContents && frameUrl.startsWith(`${APP_ORIGIN}/`)
}

function hardenContents(contents: WebContents): void {
  contents.on('will-navigate', (event, url) => {
    if (!url.startsWith(`${APP_ORIGIN}/`)) event.preventDefault()
  })
  contents.on('will-attach-webview', (event) => event.preventDefault())
  contents.setWindowOpenHandler(() => ({ action: 'deny' }))
}

function createWindow(): void {
  const win = new BrowserWindow({
    width: 1280,
    height: 800,
    minWidth: 960,
    minHeight: 600,
    show: false,
    title: 'Lifeboat',
    backgroundColor: '#f4f6f9',
    webPreferences: {
      preload: path.join(distDir, 'electron', 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    },
  })
  mainWindow = win
  win.once('ready-to-show', () => win.show())
  win.on('closed', () => {
    if (mainWindow === win) mainWindow = undefined
  })
  void win.loadURL(`${APP_ORIGIN}/index.html`)
}

app.on('web-contents-created', (_event, contents) => hardenContents(contents))

app.on('second-instance', () => {
  if (mainWindow) {
    if (mainWindow.isMinimized()) mainWindow.restore()
    mainWindow.focus()
  }
})

app
  .whenReady()
  .then(async () => {
    session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false))
    serveRenderer(path.join(distDir, 'renderer'))
    const codec = await desktopSecretCodec()
    engine = await createEngine({
      home,
      door: 'electron',
      secrets: new SecretStore(statePaths(home).secrets, codec, codec === fileCodec ? [] : [fileCodec]),
    })
    engine.startBackground()
    const handlers = engine.handlers
    ipcMain.handle(IPC_INVOKE, async (event, channel: unknown, input: unknown) => {
      if (!trustedSender(event)) return { ok: false, error: new ApiError('UNAUTHORIZED', 'This window may not call Lifeboat.').toJSON() }
      if (typeof channel !== 'string') return { ok: false, error: new ApiError('UNKNOWN_CHANNEL', 'No channel given.').toJSON() }
      return await dispatch(handlers, channel, input, { signal: new AbortController().signal })
    })
    engine.events.onAny((topic, payload) => {
      if (isTopicName(topic)) mainWindow?.webContents.send(IPC_EVENT, topic, payload)
    })
    createWindow()
    app.on('activate', () => {
      if (BrowserWindow.getAllWindows().length === 0) createWindow()
    })
  })
  .catch((err: unknown) => {
    console.error('Lifeboat could not start:', err)
    app.exit(1)
  })

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit()
})

let quitting = false
app.on('before-quit', (event) => {
  if (quitting || !engine) return
  // Running jobs get to clean up (snapshots, locks) before the process ends.
  event.preventDefault()
  quitting = true
  void engine.dispose().finally(() => app.quit())
})
