import type { Session, WebContents } from 'electron'

/**
 * The window and session policy of the desktop app, as plain functions of the app's origin so that it can be
 * tested without an Electron binary. main.ts wires them to every WebContents and to the default session.
 */

/** Whether `url` is a page of the app's own renderer: same scheme and host, no credentials, no port. */
export function isAppPage(url: string, appOrigin: string): boolean {
  let target: URL
  let app: URL
  try {
    target = new URL(url)
    app = new URL(appOrigin)
  } catch {
    return false
  }
  return target.protocol === app.protocol && target.host === app.host && target.username === '' && target.password === ''
}

export interface Preventable {
  preventDefault(): void
}

/**
 * For will-navigate and will-redirect: the window shows only the app's own pages. A link, a script or a server
 * redirect that leads anywhere else is cancelled (links to the outside world have no business in this window).
 */
export function navigationGuard(appOrigin: string): (event: Preventable & { readonly url: string }) => void {
  return (event) => {
    if (!isAppPage(event.url, appOrigin)) event.preventDefault()
  }
}

/** <webview> would embed a page with its own, weaker preferences: never. */
export function refuseWebview(event: Preventable): void {
  event.preventDefault()
}

/** window.open and target=_blank open nothing. */
export function denyWindowOpen(): { action: 'deny' } {
  return { action: 'deny' }
}

/**
 * The renderer needs no camera, microphone, notifications-from-page, clipboard reads, USB, HID or serial: every
 * permission check and every request is answered no. (The request handler alone is not enough: Chromium asks
 * the check handler for permissions that are queried without a prompt.)
 */
export function checkPermission(): boolean {
  return false
}

export function requestPermission(_contents: unknown, _permission: string, callback: (granted: boolean) => void): void {
  callback(false)
}

export function hardenContents(contents: WebContents, appOrigin: string): void {
  const guard = navigationGuard(appOrigin)
  contents.on('will-navigate', guard)
  contents.on('will-redirect', guard)
  contents.on('will-attach-webview', refuseWebview)
  contents.setWindowOpenHandler(denyWindowOpen)
}

export function hardenSession(session: Session): void {
  session.setPermissionRequestHandler(requestPermission)
  session.setPermissionCheckHandler(checkPermission)
  session.setDevicePermissionHandler(checkPermission)
}
