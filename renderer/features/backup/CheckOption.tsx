import { useId } from 'react'
import { hostKindsThatCheck } from '../../../engine/api/contract'
import { useHosts } from '../../api/queries'
import { Alert, Field } from '../../components/bits'
import { useT } from '../../i18n/i18n'
import { ScheduleFields } from './ScheduleFields'
import { usePreviewOf } from './use-schedule-preview'
import type { Draft } from './wizard-model'

type Update = (change: (d: Draft) => Draft) => void

/** The plan's "check that the newest point boots" option: what it costs and proves, where and when it runs, how long it waits. */
export function CheckOption({ draft, update }: { readonly draft: Draft; readonly update: Update }) {
  const t = useT()
  const id = useId()
  const hosts = useHosts()
  const preview = usePreviewOf(draft.check && draft.checkWhen === 'schedule' ? draft.checkSchedule : undefined)
  const all = hosts.data ?? []
  // A point boots only on a host of its own kind, as a restore does: offer hosts of the kinds the plan's VMs run on.
  const kinds = new Set(draft.targets.flatMap((x) => all.filter((h) => h.id === x.host).map((h) => h.kind)))
  const capable = all.filter((h) => hostKindsThatCheck.includes(h.kind) && (kinds.size === 0 || kinds.has(h.kind)))
  // The plan's own hosts first: the check usually runs where the VMs run.
  const preferred = capable.find((h) => draft.targets.some((x) => x.host === h.id)) ?? capable[0]
  const toggle = (on: boolean) =>
    update((d) => ({ ...d, check: on, ...(on && d.checkHost === '' && preferred !== undefined ? { checkHost: preferred.id, checkHostName: preferred.name } : {}) }))
  return (
    <fieldset className="check-option">
      <label className="check-row">
        <input type="checkbox" checked={draft.check} onChange={(e) => toggle(e.target.checked)} />
        <span>
          {t('wizard.opt.check')}
          <span className="field-hint block">{t('wizard.opt.checkHint')}</span>
        </span>
      </label>
      {draft.check && (
        <div className="check-row-nested check-nested">
          {hosts.isSuccess && capable.length === 0 && <Alert tone="warning">{t('check.noHost', { kind: [...kinds].map((k) => t(`kind.${k}`)).join(', ') || '?' })}</Alert>}
          <div className="form-grid">
            <Field label={t('check.host')} htmlFor={`${id}-check-host`} {...(draft.checkHost === '' ? { error: t('wizard.err.checkHost') } : { hint: t('wizard.opt.checkHostHint') })}>
              <select
                id={`${id}-check-host`}
                value={draft.checkHost}
                onChange={(e) => {
                  const h = capable.find((x) => x.id === e.target.value)
                  update((d) => ({ ...d, checkHost: h?.id ?? '', checkHostName: h?.name ?? '' }))
                }}
              >
                {draft.checkHost === '' && <option value="">—</option>}
                {draft.checkHost !== '' && !capable.some((h) => h.id === draft.checkHost) && <option value={draft.checkHost}>{draft.checkHostName || draft.checkHost}</option>}
                {capable.map((h) => (
                  <option key={h.id} value={h.id}>
                    {h.name} ({h.address})
                  </option>
                ))}
              </select>
            </Field>
            <Field label={t('check.timeout')} htmlFor={`${id}-check-timeout`} hint={t('check.timeoutHint')}>
              <input id={`${id}-check-timeout`} inputMode="numeric" value={draft.checkTimeoutMin} onChange={(e) => update((d) => ({ ...d, checkTimeoutMin: e.target.value }))} />
            </Field>
          </div>
          <fieldset className="segmented">
            <legend>{t('wizard.opt.checkWhen')}</legend>
            {(['after-run', 'schedule'] as const).map((w) => (
              <label key={w} className={draft.checkWhen === w ? 'is-checked' : ''}>
                <input type="radio" name={`${id}-check-when`} checked={draft.checkWhen === w} onChange={() => update((d) => ({ ...d, checkWhen: w }))} />
                {t(w === 'after-run' ? 'wizard.opt.checkAfterRun' : 'wizard.opt.checkOwnSchedule')}
              </label>
            ))}
          </fieldset>
          <p className="field-hint">{t(draft.checkWhen === 'after-run' ? 'wizard.opt.checkAfterRunHint' : 'wizard.opt.checkScheduleHint')}</p>
          {draft.checkWhen === 'schedule' && (
            <ScheduleFields id={`${id}-check`} schedule={draft.checkSchedule} onChange={(checkSchedule) => update((d) => ({ ...d, checkSchedule }))} preview={preview} previewLabel={t('wizard.opt.nextChecks')} indent={false} />
          )}
        </div>
      )}
    </fieldset>
  )
}
