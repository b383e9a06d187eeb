import type { Scheduler } from '../scheduler/scheduler'
import type { Handler } from './handler-types'

export function planHandlers(scheduler: Scheduler) {
  const list: Handler<'plans.list'> = () => scheduler.list()
  const save: Handler<'plans.save'> = (input) => scheduler.save(input)
  const remove: Handler<'plans.delete'> = async (input) => {
    await scheduler.remove(input.id)
    return { id: input.id }
  }
  const run: Handler<'plans.run'> = (input) => scheduler.runNow(input.id)
  const preview: Handler<'plans.preview'> = (input) => {
    const nextRuns = scheduler.preview({ schedule: input.schedule }, input.count)
    return Promise.resolve({ nextRuns })
  }
  const runDue: Handler<'plans.runDue'> = () => scheduler.runDue()
  return { 'plans.list': list, 'plans.save': save, 'plans.delete': remove, 'plans.run': run, 'plans.preview': preview, 'plans.runDue': runDue } as const
}
