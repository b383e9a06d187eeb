/** Yields a synchronous sequence as an AsyncIterable (the BlockSource.extents shape), checking the signal. */
export async function* fromSync<T>(items: Iterable<T>, signal?: AbortSignal): AsyncIterable<T> {
  for (const item of items) {
    signal?.throwIfAborted()
    yield await Promise.resolve(item)
  }
}

/** Reads an async sequence to its end, discarding the values (used where only the side effects matter). */
export async function drain(items: AsyncIterable<unknown>): Promise<number> {
  let n = 0
  for await (const _ of items) n++
  return n
}
