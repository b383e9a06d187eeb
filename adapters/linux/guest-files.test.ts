import { describe, expect, it } from 'vitest'
import { parseAgentReply } from './guest-files'

describe("the guest agent's answers", () => {
  it('are one JSON object with a return value or an error', () => {
    expect(parseAgentReply('{"return":1000}\n')).toEqual({ return: 1000 })
    expect(parseAgentReply('{"error":{"class":"GenericError","desc":"No such file"}}')).toEqual({ error: { class: 'GenericError', desc: 'No such file' } })
  })

  it('refuse anything else with a clear BAD_RESPONSE', () => {
    expect(() => parseAgentReply('<html>')).toThrow(/not JSON/)
    expect(() => parseAgentReply('[1,2]')).toThrow(/unexpected answer/)
    expect(() => parseAgentReply('null')).toThrow(/unexpected answer/)
    expect(() => parseAgentReply(`{"return":"${'x'.repeat(1024 * 1024 + 10)}"}`)).toThrow(/oversized/)
  })
})
