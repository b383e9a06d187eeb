import type { JobRetry } from '../api/contract-jobs'
import type { ChannelName } from '../api/contract'

/**
 * The request that started a job, stored with it so the admin can run it again. Only channels whose input holds
 * no secrets may be recorded (a passphrase never goes into a job record on disk).
 */
export function retryOf(channel: ChannelName, input: unknown): JobRetry {
  return { channel, input: JSON.parse(JSON.stringify(input ?? {})) as JobRetry['input'] }
}
