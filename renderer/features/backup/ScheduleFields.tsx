import type { Schedule } from '../../../engine/api/contract'
import { Field } from '../../components/bits'
import { useT } from '../../i18n/i18n'

type Repeating = Exclude<Schedule, { kind: 'manual' }>

interface Props {
  /** Prefixes the fields' ids: the backup schedule and the boot check's schedule can be on one page. */
  readonly id: string
  readonly schedule: Schedule
  readonly onChange: (schedule: Repeating) => void
  /** The next run times as the engine computes them (undefined while asked). */
  readonly preview: readonly string[] | undefined
  /** What the preview's label says ("Next runs" for backups, "Next checks" for the boot check). */
  readonly previewLabel?: string
  /** Indented under a choice (the backup's "On a schedule"); false where the caller's block is indented already. */
  readonly indent?: boolean
}

/** Daily, weekly (on chosen days) or cron, at what time, and when that makes the next runs. */
export function ScheduleFields({ id, schedule, onChange, preview, previewLabel, indent = true }: Props) {
  const t = useT()
  const days = [1, 2, 3, 4, 5, 6, 0]
  const weekdayNames = t('wizard.when.weekdays').split(',')
  const time = schedule.kind === 'daily' || schedule.kind === 'weekly' ? schedule.time : '02:00'
  const fmt = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' })
  return (
    <div className={indent ? 'wizard-indent' : 'schedule-fields'}>
      <div className="form-grid">
        <Field label={t('wizard.when.repeat')} htmlFor={`${id}-repeat`}>
          <select
            id={`${id}-repeat`}
            value={schedule.kind}
            onChange={(e) => {
              const kind = e.target.value
              onChange(kind === 'weekly' ? { kind: 'weekly', days: [1, 2, 3, 4, 5], time } : kind === 'cron' ? { kind: 'cron', expression: '0 2 * * *' } : { kind: 'daily', time })
            }}
          >
            <option value="daily">{t('wizard.when.daily')}</option>
            <option value="weekly">{t('wizard.when.weekly')}</option>
            <option value="cron">{t('wizard.when.cron')}</option>
          </select>
        </Field>
        {schedule.kind !== 'cron' ? (
          <label className="field">
            <span className="label">{t('wizard.when.time')}</span>
            <input type="time" value={time} onChange={(e) => onChange(schedule.kind === 'weekly' ? { ...schedule, time: e.target.value } : { kind: 'daily', time: e.target.value })} />
          </label>
        ) : (
          <label className="field">
            <span className="label">{t('wizard.when.cronLabel')}</span>
            <input className="mono" value={schedule.expression} onChange={(e) => onChange({ kind: 'cron', expression: e.target.value })} spellCheck={false} />
          </label>
        )}
      </div>
      {schedule.kind === 'weekly' && (
        <fieldset className="day-picker">
          <legend>{t('wizard.when.days')}</legend>
          {days.map((d, i) => {
            const on = schedule.days.includes(d)
            return (
              <label key={d} className={on ? 'is-checked' : ''}>
                <input type="checkbox" checked={on} onChange={() => onChange({ ...schedule, days: on ? schedule.days.filter((x) => x !== d) : [...schedule.days, d] })} />
                {weekdayNames[i] ?? d}
              </label>
            )
          })}
        </fieldset>
      )}
      <div className="next-runs" aria-live="polite">
        <span className="label">{previewLabel ?? t('wizard.when.nextRuns')}</span>
        {preview === undefined ? <span className="muted">…</span> : preview.length === 0 ? <span className="field-error">{t('wizard.when.noRuns')}</span> : <span>{preview.map((r) => fmt.format(new Date(r))).join(' · ')}</span>}
      </div>
    </div>
  )
}
