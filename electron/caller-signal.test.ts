import { EventEmitter, getEventListeners } from 'node:events'
import { describe, expect, it } from 'vitest'
import { ApiError } from '../engine/api/contract-errors'
import { callerSignal, type NavigationStart } from './caller-signal'

const CALLER_EVENTS = ['destroyed', 'render-process-gone', 'did-start-navigation'] as const

/** Stands in for Electron's WebContents: an EventEmitter that can say it is destroyed. */
class FakeContents extends EventEmitter {
  destroyed = false
  isDestroyed(): boolean {
    return this.destroyed
  }
  listening(): number {
    return CALLER_EVENTS.reduce((n, event) => n + this.listenerCount(event), 0)
  }
}

const navigation = (over: Partial<NavigationStart> = {}): NavigationStart => ({ isMainFrame: true, isSameDocument: false, ...over })

describe('callerSignal', () => {
  it.each([
    ['the window is destroyed', (c: FakeContents) => c.emit('destroyed')],
    ['the renderer process is gone', (c: FakeContents) => c.emit('render-process-gone', {}, { reason: 'crashed', exitCode: 1 })],
    ['the page reloads or navigates away', (c: FakeContents) => c.emit('did-start-navigation', navigation(), 'app://lifeboat/index.html', false, true)],
  ])('aborts with CANCELLED when %s', (_what, leave) => {
    const contents = new FakeContents()
    using caller = callerSignal(contents, new AbortController().signal)
    expect(caller.signal.aborted).toBe(false)
    leave(contents)
    expect(caller.signal.aborted).toBe(true)
    expect(caller.signal.reason).toBeInstanceOf(ApiError)
    expect((caller.signal.reason as ApiError).code).toBe('CANCELLED')
  })

  it('aborts when the app quits', () => {
    const quit = new AbortController()
    using caller = callerSignal(new FakeContents(), quit.signal)
    quit.abort()
    expect(caller.signal.aborted).toBe(true)
    expect((caller.signal.reason as ApiError).message).toContain('quitting')
  })

  it('keeps the call when the page routes within itself or a subframe navigates', () => {
    const contents = new FakeContents()
    using caller = callerSignal(contents, new AbortController().signal)
    contents.emit('did-start-navigation', navigation({ isSameDocument: true }))
    contents.emit('did-start-navigation', navigation({ isMainFrame: false }))
    expect(caller.signal.aborted).toBe(false)
  })

  it('is aborted from the start when the window is already gone or the app already quitting', () => {
    const gone = new FakeContents()
    gone.destroyed = true
    using late = callerSignal(gone, new AbortController().signal)
    expect(late.signal.aborted).toBe(true)
    const quit = new AbortController()
    quit.abort()
    using quitting = callerSignal(new FakeContents(), quit.signal)
    expect(quitting.signal.aborted).toBe(true)
    expect(gone.listening()).toBe(0)
  })

  it('leaves no listener on the window or the quit signal once the call ends', () => {
    const contents = new FakeContents()
    const quit = new AbortController()
    for (let i = 0; i < 50; i++) {
      const caller = callerSignal(contents, quit.signal)
      expect(contents.listening()).toBe(CALLER_EVENTS.length)
      expect(getEventListeners(quit.signal, 'abort')).toHaveLength(1)
      if (i % 2 === 0) contents.emit('did-start-navigation', navigation())
      caller[Symbol.dispose]()
    }
    expect(contents.listening()).toBe(0)
    expect(getEventListeners(quit.signal, 'abort')).toHaveLength(0)
  })

  it('after the call ended, later window events and quitting no longer touch its signal', () => {
    const contents = new FakeContents()
    const quit = new AbortController()
    const caller = callerSignal(contents, quit.signal)
    caller[Symbol.dispose]()
    contents.emit('destroyed')
    quit.abort()
    expect(caller.signal.aborted).toBe(false)
  })
})
