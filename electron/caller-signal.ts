import { ApiError } from '../engine/api/contract-errors'

/** What 'did-start-navigation' reports about a navigation (Electron passes more; only these matter here). */
export interface NavigationStart {
  readonly isSameDocument: boolean
  readonly isMainFrame: boolean
}

/** The part of Electron's WebContents this needs, so it runs (and is tested) without Electron. */
export interface CallerContents {
  isDestroyed(): boolean
  on(event: 'destroyed' | 'render-process-gone', listener: () => void): unknown
  on(event: 'did-start-navigation', listener: (details: NavigationStart) => void): unknown
  removeListener(event: 'destroyed' | 'render-process-gone', listener: () => void): unknown
  removeListener(event: 'did-start-navigation', listener: (details: NavigationStart) => void): unknown
}

export interface CallerSignal extends Disposable {
  readonly signal: AbortSignal
}

/**
 * The AbortSignal for one IPC call: it aborts when the window that made the call can no longer receive the
 * answer — its page is closed, reloaded or navigated away, or its renderer crashed — and when the app quits, so
 * the work it started stops and cleans up instead of running for nobody. Dispose it when the call ends: it
 * listens on the window and on `quit`, which both outlive the call.
 */
export function callerSignal(contents: CallerContents, quit: AbortSignal): CallerSignal {
  const controller = new AbortController()
  const gone = () => controller.abort(new ApiError('CANCELLED', 'The Lifeboat window that asked for this went away.'))
  const quitting = () => controller.abort(new ApiError('CANCELLED', 'Lifeboat is quitting.'))
  // Same-document navigations (the app's own routing) and subframes keep the page, and so its pending calls.
  const navigated = (details: NavigationStart) => {
    if (details.isMainFrame && !details.isSameDocument) gone()
  }
  const dispose = () => {
    contents.removeListener('destroyed', gone)
    contents.removeListener('render-process-gone', gone)
    contents.removeListener('did-start-navigation', navigated)
    quit.removeEventListener('abort', quitting)
  }
  if (quit.aborted) quitting()
  else if (contents.isDestroyed()) gone()
  else {
    contents.on('destroyed', gone)
    contents.on('render-process-gone', gone)
    contents.on('did-start-navigation', navigated)
    quit.addEventListener('abort', quitting, { once: true })
  }
  return { signal: controller.signal, [Symbol.dispose]: dispose }
}
