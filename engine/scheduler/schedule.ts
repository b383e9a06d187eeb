import type { Schedule } from '../api/contract-plans'
import { parseCron, type CronSchedule } from './cron'

/** A plan's schedule as a cron expression (undefined for manual plans). */
export function scheduleToCron(schedule: Schedule): string | undefined {
  switch (schedule.kind) {
    case 'manual':
      return undefined
    case 'daily': {
      const [h = '0', m = '0'] = schedule.time.split(':')
      return `${Number(m)} ${Number(h)} * * *`
    }
    case 'weekly': {
      const [h = '0', m = '0'] = schedule.time.split(':')
      const days = [...new Set(schedule.days)].sort((a, b) => a - b)
      return `${Number(m)} ${Number(h)} * * ${days.join(',')}`
    }
    case 'cron':
      return schedule.expression.trim()
  }
}

export function compileSchedule(schedule: Schedule): CronSchedule | undefined {
  const expression = scheduleToCron(schedule)
  return expression === undefined ? undefined : parseCron(expression)
}
