import type { Schedule } from '../../../engine/api/contract'
import type { useT } from '../../i18n/i18n'

type Translate = ReturnType<typeof useT>

/** A repeating schedule in words ("every day at 02:00", "Sun at 03:00"); undefined for a manual one. */
export function scheduleText(t: Translate, s: Schedule): string | undefined {
  if (s.kind === 'daily') return t('wizard.review.daily', { time: s.time })
  if (s.kind === 'weekly') {
    const names = t('wizard.when.weekdays').split(',')
    const order = [1, 2, 3, 4, 5, 6, 0]
    return t('wizard.review.weekly', { days: order.filter((x) => s.days.includes(x)).map((x) => names[order.indexOf(x)] ?? x).join(', '), time: s.time })
  }
  if (s.kind === 'cron') return t('wizard.review.cron', { expression: s.expression })
  return undefined
}
