import type { PayloadOf, TopicName, Topics } from '../api/contract'

export type TopicListener<T extends TopicName> = (payload: PayloadOf<Topics[T]>) => void
export type AnyListener = (topic: TopicName, payload: unknown) => void

/** In-process publish/subscribe for the contract's topics. The doors forward what they are subscribed to. */
export class EventBus {
  private readonly listeners = new Map<TopicName, Set<(payload: unknown) => void>>()
  private readonly anyListeners = new Set<AnyListener>()

  emit<T extends TopicName>(topic: T, payload: PayloadOf<Topics[T]>): void {
    for (const listener of this.listeners.get(topic) ?? []) safeCall(() => listener(payload))
    for (const listener of this.anyListeners) safeCall(() => listener(topic, payload))
  }

  on<T extends TopicName>(topic: T, listener: TopicListener<T>): () => void {
    let set = this.listeners.get(topic)
    if (!set) {
      set = new Set()
      this.listeners.set(topic, set)
    }
    const wrapped = listener as (payload: unknown) => void
    set.add(wrapped)
    return () => set.delete(wrapped)
  }

  onAny(listener: AnyListener): () => void {
    this.anyListeners.add(listener)
    return () => this.anyListeners.delete(listener)
  }
}

function safeCall(fn: () => void): void {
  try {
    fn()
  } catch (err) {
    // A broken subscriber (a closed socket, a destroyed window) must not break the publisher.
    console.error('Lifeboat: an event listener failed:', err instanceof Error ? err.message : err)
  }
}
