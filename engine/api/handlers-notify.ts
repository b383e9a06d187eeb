import { createNotifyService, type NotifyService } from '../notify/notify-service'
import type { HandlerDeps } from './handler-deps'
import type { Handler } from './handler-types'

/** Alert channels and "Send test". The service is built from the data folder and the credential store. */
export function notifyHandlers(deps: Pick<HandlerDeps, 'info' | 'secrets'>, service: NotifyService = createNotifyService({ home: deps.info.home, secrets: deps.secrets })) {
  const { config, notifier } = service
  const settings: Handler<'notify.settings'> = () => config.dto()
  const update: Handler<'notify.update'> = (input) => config.update(input)
  const addEmail: Handler<'notify.addEmail'> = (input, ctx) => config.addEmail(input, ctx.signal)
  const addWebhook: Handler<'notify.addWebhook'> = (input) => config.addWebhook(input)
  const remove: Handler<'notify.remove'> = async (input) => ({ removed: await config.remove(input.channel) })
  const trust: Handler<'notify.trustCertificate'> = (input, ctx) => config.trust(input.channel, input.fingerprint, ctx.signal)
  const test: Handler<'notify.test'> = async (input, ctx) => ({ results: await notifier.test(input.channel, ctx.signal) })
  return {
    'notify.settings': settings,
    'notify.update': update,
    'notify.addEmail': addEmail,
    'notify.addWebhook': addWebhook,
    'notify.remove': remove,
    'notify.trustCertificate': trust,
    'notify.test': test,
  } as const
}
