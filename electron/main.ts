import { app, BrowserWindow, dialog, ipcMain, Menu, nativeImage, Notification, session, Tray, type IpcMainInvokeEvent } from 'electron'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { isTopicName } from '../engine/api/contract'
import { ApiError } from '../engine/api/contract-errors'
import { dispatch } from '../engine/api/dispatch'
import { createEngine, type Engine } from '../engine/engine'
import { defaultHome } from '../engine/state/paths'
import { fileCodec, SecretStore } from '../engine/state/secret-store'
import { statePaths } from '../engine/state/paths'
import { hardenContents, hardenSession } from './hardening'
import { callerSignal } from './caller-signal'
import { APP_ORIGIN, registerAppScheme, serveRenderer } from './renderer-protocol'
import { desktopSecretCodec } from './safe-storage-codec'
import { closeAction, hiddenNotice, quitAction, ServedRuns, servingPrompt, trayText } from './serving-guard'

export const IPC_INVOKE = 'lifeboat:invoke'
export const IPC_EVENT = 'lifeboat:event'

const here = path.dirname(fileURLToPath(import.meta.url))
const distDir = path.resolve(here, '..')
let engine: Engine | undefined
let mainWindow: BrowserWindow | undefined
/** Aborted when quitting starts: every IPC call still running is cancelled (callerSignal). */
const appQuit = new AbortController()

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
  // With a tray icon, closing the window hides it: schedules and VMs served from a backup keep running until Quit.
  // Without one, closing would quit, and quitting discards those VMs: ask first.
  win.on('close', (event) => {
    const action = closeAction({ quitting, hasTray: tray !== undefined, served: served.names() })
    if (action === 'close') return
    event.preventDefault()
    if (action === 'hide-to-tray') {
      win.hide()
      const notice = hiddenNotice(served.names())
      if (notice !== undefined && !hiddenNoticeShown && Notification.isSupported()) {
        hiddenNoticeShown = true
        new Notification(notice).show()
      }
      return
    }
    void askBeforeServingEnds(win, () => win.minimize())
  })
  win.on('closed', () => {
    if (mainWindow === win) mainWindow = undefined
  })
  void win.loadURL(`${APP_ORIGIN}/index.html`)
}

app.on('web-contents-created', (_event, contents) => hardenContents(contents, APP_ORIGIN))

app.on('second-instance', () => {
  if (mainWindow) {
    if (mainWindow.isMinimized()) mainWindow.restore()
    mainWindow.focus()
  }
})

app
  .whenReady()
  .then(async () => {
    hardenSession(session.defaultSession)
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
      using caller = callerSignal(event.sender, appQuit.signal)
      return await dispatch(handlers, channel, input, { signal: caller.signal })
    })
    engine.events.on('job.updated', (job) => {
      if (served.update(job)) updateTray()
    })
    engine.events.onAny((topic, payload) => {
      if (isTopicName(topic)) mainWindow?.webContents.send(IPC_EVENT, topic, payload)
    })
    createWindow()
    createTray()
    notifyFailures()
    app.on('activate', () => {
      if (BrowserWindow.getAllWindows().length === 0) createWindow()
    })
  })
  .catch((err: unknown) => {
    console.error('Lifeboat could not start:', err)
    app.exit(1)
  })

let tray: Tray | undefined
let quitting = false
/** The admin said yes to quitting although VMs run from a backup (asked once per quit). */
let quitConfirmed = false
let hiddenNoticeShown = false
const served = new ServedRuns()

/** Asks whether to end serving; "keep" runs `keep`, "quit" quits (which discards the served VMs, as the prompt says). */
async function askBeforeServingEnds(win: BrowserWindow | undefined, keep: () => void): Promise<void> {
  const prompt = servingPrompt(served.names(), { hasTray: tray !== undefined })
  const options = { type: 'warning' as const, title: prompt.title, message: prompt.message, detail: prompt.detail, buttons: [...prompt.buttons], defaultId: 0, cancelId: 0, noLink: true }
  const { response } = win !== undefined && !win.isDestroyed() ? await dialog.showMessageBox(win, options) : await dialog.showMessageBox(options)
  if (response !== 1) {
    keep()
    return
  }
  quitConfirmed = true
  app.quit()
}

/**
 * The tray icon keeps Lifeboat (and its backup schedules) running when the window is closed; Quit from the tray
 * menu ends it. Where the desktop has no tray, closing the window quits as usual.
 */
function createTray(): void {
  try {
    const icon = nativeImage.createFromPath(path.join(distDir, 'renderer', 'favicon.svg'))
    tray = new Tray(icon.isEmpty() ? nativeImage.createEmpty() : icon.resize({ width: 18, height: 18 }))
  } catch {
    tray = undefined
    return
  }
  updateTray()
  tray.on('click', () => showWindow())
}

/** The tray says what keeps running, and its Quit says that it will ask when VMs run from a backup. */
function updateTray(): void {
  if (tray === undefined) return
  const text = trayText(served.names())
  tray.setToolTip(text.tooltip)
  tray.setContextMenu(
    Menu.buildFromTemplate([
      { label: 'Open Lifeboat', click: () => showWindow() },
      { type: 'separator' },
      { label: text.quitLabel, click: () => app.quit() },
    ]),
  )
}

function showWindow(): void {
  if (!mainWindow) createWindow()
  else {
    if (mainWindow.isMinimized()) mainWindow.restore()
    mainWindow.show()
    mainWindow.focus()
  }
}

/** A failed scheduled run must not go unnoticed just because the window is closed. */
function notifyFailures(): void {
  engine?.events.on('job.updated', (job) => {
    if (job.kind !== 'plan.run' || (job.state !== 'failed' && job.state !== 'cancelled')) return
    if (!Notification.isSupported()) return
    new Notification({ title: `Lifeboat: ${job.title} ${job.state === 'failed' ? 'failed' : 'was cancelled'}`, body: job.error?.message ?? '' }).show()
  })
}

app.on('window-all-closed', () => {
  if (tray !== undefined && !quitting) return
  if (process.platform !== 'darwin') app.quit()
})

app.on('before-quit', (event) => {
  if (!quitting && quitAction({ served: served.names(), confirmed: quitConfirmed }) === 'ask') {
    event.preventDefault()
    void askBeforeServingEnds(mainWindow, () => undefined)
    return
  }
  appQuit.abort()
  if (quitting || !engine) return
  // Running jobs get to clean up (snapshots, locks) before the process ends.
  event.preventDefault()
  quitting = true
  void engine.dispose().finally(() => app.quit())
})
