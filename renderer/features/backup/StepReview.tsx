import { useFormat, useT } from '../../i18n/i18n'
import { modeKey } from '../restore/point-labels'
import { explainMode } from './mode-explain'
import { scheduleText } from './schedule-text'
import type { Draft } from './wizard-model'
import type { HostInventoryDto } from '../../../engine/api/contract'

interface ReviewProps {
  readonly draft: Draft
  readonly update: (change: (d: Draft) => Draft) => void
  readonly hosts: readonly HostInventoryDto[]
  readonly preview: readonly string[] | undefined
}

/** Step 6: the plan's name and a summary a colleague could check. */
export function StepReview({ draft, update, hosts, preview }: ReviewProps) {
  const t = useT()
  const fmt = useFormat()
  const explained = explainMode(draft.mode, draft.targets, hosts)
  const nextRun = preview?.[0]
  return (
    <div className="wizard-step">
      <label className="field">
        <span className="label">{t('wizard.review.name')}</span>
        <input value={draft.name} onChange={(e) => update((d) => ({ ...d, name: e.target.value }))} maxLength={100} />
      </label>
      <dl className="review">
        <dt>{t('wizard.step.vms')}</dt>
        <dd>{draft.targets.map((x) => `${x.vmName} (${x.hostName})`).join(', ')}</dd>
        <dt>{t('wizard.step.mode')}</dt>
        <dd>
          {t(modeKey[draft.mode])} — {t(explained.key, explained.params)}
        </dd>
        <dt>{t('wizard.step.destination')}</dt>
        <dd>
          {draft.repo.kind === 'default' ? t('wizard.dest.default') : draft.repo.location}
          {draft.repo.kind === 'other' && draft.repo.create && (draft.repo.passphrase ? ` · ${t('wizard.review.encrypted')}` : ` · ${t('wizard.review.notEncrypted')}`)}
        </dd>
        <dt>{t('wizard.step.when')}</dt>
        <dd>{draft.when === 'now' ? t('wizard.review.now') : `${describeSchedule(t, draft)}${nextRun ? ` · ${t('wizard.review.next', { when: fmt.date(nextRun) })}` : ''}`}</dd>
        <dt>{t('wizard.keep.legend')}</dt>
        <dd>{describeRetention(t, draft)}</dd>
        <dt>{t('wizard.step.options')}</dt>
        <dd>{describeOptions(t, draft)}</dd>
      </dl>
    </div>
  )
}

type Translate = ReturnType<typeof useT>

function describeSchedule(t: Translate, d: Draft): string {
  return scheduleText(t, d.schedule) ?? t('wizard.review.now')
}

function describeRetention(t: Translate, d: Draft): string {
  const parts = [
    d.retention.keepLast.trim() ? t('wizard.review.keepLast', { count: d.retention.keepLast.trim() }) : undefined,
    d.retention.keepDaily.trim() ? t('wizard.review.keepDaily', { count: d.retention.keepDaily.trim() }) : undefined,
    d.retention.keepWeekly.trim() ? t('wizard.review.keepWeekly', { count: d.retention.keepWeekly.trim() }) : undefined,
    d.retention.keepMonthly.trim() ? t('wizard.review.keepMonthly', { count: d.retention.keepMonthly.trim() }) : undefined,
  ].filter((x) => x !== undefined)
  return parts.length > 0 ? parts.join(', ') : t('wizard.review.keepAll')
}

function describeOptions(t: Translate, d: Draft): string {
  return [
    d.quiesce ? (d.requireQuiesce ? t('wizard.review.requireQuiesce') : t('wizard.review.quiesce')) : t('wizard.review.noQuiesce'),
    d.mode === 'cold' ? (d.forceOff ? t('wizard.review.forceOff', { min: d.shutdownTimeoutMin }) : t('wizard.review.noForceOff', { min: d.shutdownTimeoutMin })) : undefined,
    d.preHook ? t('wizard.review.pre') : undefined,
    d.postHook ? t('wizard.review.post') : undefined,
    t('wizard.review.concurrency', { count: d.concurrency }),
    d.check
      ? d.checkWhen === 'schedule'
        ? t('wizard.review.checkScheduled', { host: d.checkHostName || d.checkHost, min: d.checkTimeoutMin, when: scheduleText(t, d.checkSchedule) ?? '' })
        : t('wizard.review.check', { host: d.checkHostName || d.checkHost, min: d.checkTimeoutMin })
      : undefined,
  ]
    .filter((x) => x !== undefined)
    .join(' · ')
}
