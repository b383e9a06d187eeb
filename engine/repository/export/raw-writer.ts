import { data, zeros, type ExportInput, type Piece } from './pieces.js'

/** Raw: the disk's bytes, exactly `size` long; zero chunks become holes in a file output. */
export async function* rawImage(input: ExportInput, signal?: AbortSignal): AsyncGenerator<Piece> {
  let i = 0
  for await (const chunk of input.chunks(signal)) {
    yield input.zeroChunks[i++] === true ? zeros(chunk.length) : data(chunk)
  }
}
