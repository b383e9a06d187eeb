import { ApiError } from '../api/contract-errors'
import type { Schedule } from '../api/contract-plans'
import { CronError, parseCron, type CronSchedule } from './cron'

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

/** The plan's schedule, compiled; a bad expression is the caller's input error (INVALID_INPUT, field `schedule`). */
export function compileSchedule(schedule: Schedule): CronSchedule | undefined {
  const expression = scheduleToCron(schedule)
  if (expression === undefined) return undefined
  try {
    return parseCron(expression)
  } catch (err) {
    if (err instanceof CronError) throw new ApiError('INVALID_INPUT', `The schedule is not valid: ${err.message}`, { field: 'schedule' })
    throw err
  }
}
