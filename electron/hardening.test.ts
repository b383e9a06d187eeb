import type { Session, WebContents } from 'electron'
import { describe, expect, it } from 'vitest'
import { checkPermission, denyWindowOpen, hardenContents, hardenSession, isAppPage, navigationGuard, requestPermission } from './hardening'

const APP = 'lifeboat://app'

function navigation(url: string): { url: string; prevented: boolean; preventDefault(): void } {
  return {
    url,
    prevented: false,
    preventDefault() {
      this.prevented = true
    },
  }
}

describe('desktop window policy', () => {
  it('recognises only the app’s own pages', () => {
    for (const url of ['lifeboat://app/index.html', 'lifeboat://app/', 'lifeboat://app/assets/x.js?y#z']) expect(isAppPage(url, APP), url).toBe(true)
    for (const url of [
      'https://evil.example/',
      'lifeboat://app.evil.example/',
      'lifeboat://evil@app/',
      'lifeboat://user:pw@app/index.html',
      'lifeboat://app:8080/',
      'lifeboat://other/',
      'file:///etc/passwd',
      'http://app/',
      'javascript:alert(1)',
      'data:text/html,<script>1</script>',
      'not a url',
      '',
    ])
      expect(isAppPage(url, APP), url).toBe(false)
  })

  it('cancels navigations and redirects away from the app and lets its own pages through', () => {
    const guard = navigationGuard(APP)
    const away = navigation('https://evil.example/phish')
    guard(away)
    expect(away.prevented).toBe(true)
    const home = navigation('lifeboat://app/index.html')
    guard(home)
    expect(home.prevented).toBe(false)
  })

  it('answers every permission check and request with no, and opens no windows', () => {
    expect(checkPermission()).toBe(false)
    const answers: boolean[] = []
    requestPermission(undefined, 'media', (granted) => answers.push(granted))
    requestPermission(undefined, 'notifications', (granted) => answers.push(granted))
    expect(answers).toEqual([false, false])
    expect(denyWindowOpen()).toEqual({ action: 'deny' })
  })

  it('wires the guards to every contents and the session', () => {
    const listeners = new Map<string, (event: { url: string; preventDefault(): void }) => void>()
    let openHandler: (() => unknown) | undefined
    const contents = {
      on(event: string, listener: (event: { url: string; preventDefault(): void }) => void) {
        listeners.set(event, listener)
        return this
      },
      setWindowOpenHandler(handler: () => unknown) {
        openHandler = handler
      },
    }
    hardenContents(contents as unknown as WebContents, APP)
    expect([...listeners.keys()].sort()).toEqual(['will-attach-webview', 'will-navigate', 'will-redirect'])
    for (const event of ['will-navigate', 'will-redirect']) {
      const away = navigation('https://evil.example/')
      listeners.get(event)?.(away)
      expect(away.prevented, event).toBe(true)
    }
    const webview = navigation('lifeboat://app/index.html')
    listeners.get('will-attach-webview')?.(webview)
    expect(webview.prevented).toBe(true)
    expect(openHandler?.()).toEqual({ action: 'deny' })

    const handlers = new Map<string, unknown>()
    const session = {
      setPermissionRequestHandler: (h: unknown) => handlers.set('request', h),
      setPermissionCheckHandler: (h: unknown) => handlers.set('check', h),
      setDevicePermissionHandler: (h: unknown) => handlers.set('device', h),
    }
    hardenSession(session as unknown as Session)
    expect(handlers.get('request')).toBe(requestPermission)
    expect(handlers.get('check')).toBe(checkPermission)
    expect(handlers.get('device')).toBe(checkPermission)
  })
})
