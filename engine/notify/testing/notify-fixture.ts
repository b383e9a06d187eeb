import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { SecretStore, fileCodec } from '../../state/secret-store'
import type { RetryPolicy } from '../delivery'
import { createNotifyService, type NotifyService } from '../notify-service'

export interface NotifyFixture extends AsyncDisposable {
  readonly home: string
  readonly service: NotifyService
}

/** A notify service on a fresh data folder, with quick retries so failure paths take milliseconds. */
export async function notifyFixture(policy: RetryPolicy = { attempts: 3, backoffMs: 20, timeoutMs: 2000 }, now?: () => Date): Promise<NotifyFixture> {
  const home = await mkdtemp(path.join(tmpdir(), 'lifeboat-notify-'))
  const secrets = new SecretStore(path.join(home, 'secrets.json'), fileCodec)
  return {
    home,
    service: createNotifyService({ home, secrets, policy, ...(now ? { now } : {}) }),
    [Symbol.asyncDispose]: () => rm(home, { recursive: true, force: true }),
  }
}
