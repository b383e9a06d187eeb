import { AttemptError } from './delivery'
import type { WebhookRequest } from './webhook-payload'

const MAX_ANSWER = 300

function reason(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err
  const code = typeof cause === 'object' && cause !== null && 'code' in cause && typeof cause.code === 'string' ? cause.code : undefined
  const text = cause instanceof Error ? cause.message : String(cause)
  return code !== undefined && !text.includes(code) ? `${text} (${code})` : text
}

/**
 * One POST of a webhook. Redirects are not followed (the body may carry a token to wherever they point); 5xx,
 * 408 and 429 are worth another try, other answers are not. The server's answer is shown only in short.
 */
export async function postWebhook(request: WebhookRequest, signal: AbortSignal): Promise<string> {
  let response: Response
  try {
    response = await fetch(request.url, { method: 'POST', headers: request.headers, body: request.body, redirect: 'manual', signal })
  } catch (err) {
    if (signal.aborted) throw err
    throw new AttemptError(`Could not reach the webhook: ${reason(err)}.`, true)
  }
  let answer = ''
  try {
    answer = (await response.text()).slice(0, MAX_ANSWER).replace(/\s+/g, ' ').trim()
  } catch {
    // The status says enough; a body cut off mid-way changes nothing.
  }
  if (response.status >= 200 && response.status < 300) return `Sent (HTTP ${response.status}).`
  const retry = response.status >= 500 || response.status === 408 || response.status === 429
  const redirect = response.status >= 300 && response.status < 400 ? ' Lifeboat does not follow redirects: enter the final address.' : ''
  throw new AttemptError(`The webhook answered HTTP ${response.status}${answer !== '' ? `: ${answer}` : ''}.${redirect}`, retry)
}
