import { Model } from './model'

/**
 * An XAPI error as a pool sends it: a code and string parameters. Constructing one with a code that a real
 * pool cannot send (not in the datamodel, not generic) is a bug in the simulator and throws at once.
 */
export class XapiFault extends Error {
  constructor(
    readonly code: string,
    readonly params: readonly string[] = [],
  ) {
    super(`${code}(${params.join(', ')})`)
    if (!Model.load().isKnownError(code)) throw new Error(`The simulator used the error ${code}, which the datamodel does not have`)
  }
}

export const fault = (code: string, ...params: string[]): XapiFault => new XapiFault(code, params)
