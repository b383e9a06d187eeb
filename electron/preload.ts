import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron'
import { channelNames, topicNames } from '../engine/api/contract'

// Kept in step with electron/main.ts (the preload is bundled separately and cannot import it).
const IPC_INVOKE = 'lifeboat:invoke'
const IPC_EVENT = 'lifeboat:event'

const allowedChannels = new Set<string>(channelNames)
const allowedTopics = new Set<string>(topicNames)
const listeners = new Map<string, Set<(payload: unknown) => void>>()

ipcRenderer.on(IPC_EVENT, (_event: IpcRendererEvent, topic: unknown, payload: unknown) => {
  if (typeof topic !== 'string') return
  for (const listener of listeners.get(topic) ?? []) listener(payload)
})

/**
 * The whole surface the renderer gets: invoke an allowlisted channel, subscribe to an allowlisted topic.
 * No ipcRenderer, no Node, nothing else.
 */
contextBridge.exposeInMainWorld('lifeboat', {
  invoke(channel: string, input: unknown): Promise<unknown> {
    if (!allowedChannels.has(channel)) {
      return Promise.resolve({ ok: false, error: { code: 'UNKNOWN_CHANNEL', message: `Lifeboat has no API channel "${channel.slice(0, 100)}".`, params: {} } })
    }
    return ipcRenderer.invoke(IPC_INVOKE, channel, input)
  },
  subscribe(topic: string, listener: (payload: unknown) => void): () => void {
    if (!allowedTopics.has(topic) || typeof listener !== 'function') return () => undefined
    let set = listeners.get(topic)
    if (!set) {
      set = new Set()
      listeners.set(topic, set)
    }
    set.add(listener)
    return () => set.delete(listener)
  },
})
