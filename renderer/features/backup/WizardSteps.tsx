import { useId } from 'react'
import type { backupModes, HostInventoryDto, OutputOf } from '../../../engine/api/contract'
import { Field } from '../../components/bits'
import { useT } from '../../i18n/i18n'
import type { MessageKey } from '../../i18n/en'
import { consistencyKey, modeKey } from '../restore/point-labels'
import { explainMode } from './mode-explain'
import { passphraseStrength, type Draft, type Target } from './wizard-model'
import { CheckOption } from './CheckOption'
import { ScheduleFields } from './ScheduleFields'

export type ModeSupportDto = OutputOf<typeof backupModes>[number]

type Update = (change: (d: Draft) => Draft) => void

/** Step 1: which VMs, grouped by host. */
export function StepVms({ draft, update, hosts }: { readonly draft: Draft; readonly update: Update; readonly hosts: readonly HostInventoryDto[] }) {
  const t = useT()
  const chosen = (host: string, vm: string) => draft.targets.some((x) => x.host === host && x.vm === vm)
  const toggle = (target: Target) =>
    update((d) => ({
      ...d,
      targets: chosen(target.host, target.vm) ? d.targets.filter((x) => !(x.host === target.host && x.vm === target.vm)) : [...d.targets, target],
    }))
  return (
    <div className="wizard-step">
      <p>{t('wizard.vms.intro')}</p>
      {hosts.map((h) => (
        <fieldset key={h.hostId} className="vm-group">
          <legend>
            {h.name} <span className="muted">· {t(`kind.${h.kind}`)}</span>
          </legend>
          {h.vms.length === 0 ? (
            <p className="muted">{t('host.vms.empty')}</p>
          ) : (
            [...h.vms]
              .sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }))
              .map((vm) => (
                <label key={vm.id} className="check-row">
                  <input type="checkbox" checked={chosen(h.hostId, vm.id)} onChange={() => toggle({ host: h.hostId, vm: vm.id, hostName: h.name, vmName: vm.name })} />
                  <span className="truncate" title={vm.name}>
                    {vm.name}
                  </span>
                  <span className={`badge power-${vm.powerState}`}>{t(`power.${vm.powerState}`)}</span>
                </label>
              ))
          )}
        </fieldset>
      ))}
    </div>
  )
}

const downtimeKey: Record<ModeSupportDto['downtime'], MessageKey> = { none: 'wizard.downtime.none', pause: 'wizard.downtime.pause', shutdown: 'wizard.downtime.shutdown' }

/** Step 2: cold, warm or hot, explained for these VMs on their hosts; impossible modes are disabled with the reason. */
export function StepMode({ draft, update, support, hosts }: { readonly draft: Draft; readonly update: Update; readonly support: ReadonlyMap<string, readonly ModeSupportDto[]> | undefined; readonly hosts: readonly HostInventoryDto[] }) {
  const t = useT()
  const id = useId()
  return (
    <div className="wizard-step">
      <p>{t('wizard.mode.intro')}</p>
      <div className="mode-cards" role="radiogroup" aria-label={t('wizard.step.mode')}>
        {(['hot', 'warm', 'cold'] as const).map((mode) => {
          const perVm = draft.targets.map((x) => ({ target: x, s: support?.get(`${x.host}/${x.vm}`)?.find((m) => m.mode === mode) }))
          const blocked = perVm.filter((p) => p.s !== undefined && !p.s.available)
          const known = perVm.find((p) => p.s !== undefined)?.s
          const available = support !== undefined && blocked.length === 0
          // A mode this VM cannot have is described in general, beside the reason why not.
          const explained = explainMode(mode, available ? draft.targets : [], hosts)
          return (
            <label key={mode} className={`mode-card${draft.mode === mode ? ' is-checked' : ''}${available ? '' : ' is-disabled'}`}>
              <input type="radio" name={`${id}-mode`} checked={draft.mode === mode} disabled={!available} onChange={() => update((d) => ({ ...d, mode }))} />
              <span className="mode-title">{t(modeKey[mode])}</span>
              <span className="mode-explain">{t(explained.key, explained.params)}</span>
              {known && (
                <span className="mode-facts">
                  {t(downtimeKey[known.downtime])} · {t(consistencyKey[known.consistency])}
                </span>
              )}
              {blocked.map((b) => (
                <span key={`${b.target.host}/${b.target.vm}`} className="mode-reason">
                  {draft.targets.length > 1 && `${b.target.vmName}: `}
                  {b.s?.reason ?? t('wizard.mode.unavailable')}
                </span>
              ))}
            </label>
          )
        })}
      </div>
      {support === undefined && <p className="muted">{t('wizard.mode.checking')}</p>}
    </div>
  )
}

/** Step 3: where restore points go: the default repository, or another location (created here if asked). */
export function StepDestination({ draft, update, defaultLocation }: { readonly draft: Draft; readonly update: Update; readonly defaultLocation: string }) {
  const t = useT()
  const id = useId()
  const other = draft.repo.kind === 'other' ? draft.repo : undefined
  const strength = other ? passphraseStrength(other.passphrase) : 0
  const setOther = (change: Partial<Extract<Draft['repo'], { kind: 'other' }>>) =>
    update((d) => ({ ...d, repo: { kind: 'other', location: '', create: true, passphrase: '', passphrase2: '', ...(d.repo.kind === 'other' ? d.repo : {}), ...change } }))
  return (
    <div className="wizard-step">
      <fieldset className="choice-list">
        <legend>{t('wizard.dest.legend')}</legend>
        <label className="check-row">
          <input type="radio" name={`${id}-repo`} checked={draft.repo.kind === 'default'} onChange={() => update((d) => ({ ...d, repo: { kind: 'default' } }))} />
          <span>
            {t('wizard.dest.default')} <code className="muted">{defaultLocation}</code>
          </span>
        </label>
        <label className="check-row">
          <input type="radio" name={`${id}-repo`} checked={other !== undefined} onChange={() => setOther({})} />
          <span>{t('wizard.dest.other')}</span>
        </label>
      </fieldset>
      {other && (
        <div className="wizard-indent">
          <Field label={t('wizard.dest.location')} htmlFor={`${id}-loc`} hint={t('wizard.dest.locationHint')}>
            <input id={`${id}-loc`} className="mono" value={other.location} onChange={(e) => setOther({ location: e.target.value })} spellCheck={false} placeholder="/srv/backups/lifeboat" />
          </Field>
          <label className="check-row">
            <input type="checkbox" checked={other.create} onChange={(e) => setOther({ create: e.target.checked })} />
            <span>{t('wizard.dest.create')}</span>
          </label>
          {other.create && (
            <>
              <div className="form-grid">
                <Field label={t('wizard.dest.passphrase')} htmlFor={`${id}-p1`} hint={t('wizard.dest.passphraseHint')}>
                  <input id={`${id}-p1`} type="password" value={other.passphrase} onChange={(e) => setOther({ passphrase: e.target.value })} autoComplete="new-password" />
                </Field>
                <Field label={t('wizard.dest.passphrase2')} htmlFor={`${id}-p2`}>
                  <input id={`${id}-p2`} type="password" value={other.passphrase2} onChange={(e) => setOther({ passphrase2: e.target.value })} autoComplete="new-password" />
                </Field>
              </div>
              {other.passphrase !== '' && (
                <div className="strength" aria-live="polite">
                  <div className={`strength-bar s${strength}`} aria-hidden="true" />
                  <span>{t(`wizard.strength.${strength}` as MessageKey)}</span>
                </div>
              )}
              <p className="field-hint">{t('wizard.dest.keychain')}</p>
            </>
          )}
        </div>
      )}
    </div>
  )
}

/** Step 4: now or on a schedule (with the next run times), and how long restore points are kept. */
export function StepWhen({ draft, update, preview }: { readonly draft: Draft; readonly update: Update; readonly preview: readonly string[] | undefined }) {
  const t = useT()
  const id = useId()
  return (
    <div className="wizard-step">
      <fieldset className="segmented">
        <legend>{t('wizard.when.legend')}</legend>
        {(['now', 'schedule'] as const).map((w) => (
          <label key={w} className={draft.when === w ? 'is-checked' : ''}>
            <input type="radio" name={`${id}-when`} checked={draft.when === w} onChange={() => update((d) => ({ ...d, when: w }))} />
            {t(w === 'now' ? 'wizard.when.now' : 'wizard.when.schedule')}
          </label>
        ))}
      </fieldset>
      {draft.when === 'now' && <p className="field-hint">{t('wizard.when.nowHint')}</p>}
      {draft.when === 'schedule' && <ScheduleFields id={id} schedule={draft.schedule} onChange={(schedule) => update((d) => ({ ...d, schedule }))} preview={preview} />}
      <RetentionFields draft={draft} update={update} />
    </div>
  )
}

function RetentionFields({ draft, update }: { readonly draft: Draft; readonly update: Update }) {
  const t = useT()
  return (
    <fieldset className="retention">
      <legend>{t('wizard.keep.legend')}</legend>
      <div className="retention-grid">
        {(['keepLast', 'keepDaily', 'keepWeekly', 'keepMonthly'] as const).map((k) => (
          <label key={k} className="field">
            <span className="label">{t(`wizard.keep.${k}`)}</span>
            <input inputMode="numeric" value={draft.retention[k]} onChange={(e) => update((d) => ({ ...d, retention: { ...d.retention, [k]: e.target.value } }))} />
          </label>
        ))}
      </div>
      <p className="field-hint">{t('wizard.keep.hint')}</p>
    </fieldset>
  )
}

/** Step 5: scripts, quiesce, shutdown timeout with an explicit force-off choice, concurrency. */
export function StepOptions({ draft, update }: { readonly draft: Draft; readonly update: Update }) {
  const t = useT()
  const id = useId()
  return (
    <div className="wizard-step">
      <label className="check-row">
        <input type="checkbox" checked={draft.quiesce} onChange={(e) => update((d) => ({ ...d, quiesce: e.target.checked }))} />
        <span>{t('wizard.opt.quiesce')}</span>
      </label>
      <label className="check-row check-row-nested">
        <input
          type="checkbox"
          checked={draft.quiesce && draft.requireQuiesce}
          disabled={!draft.quiesce}
          onChange={(e) => update((d) => ({ ...d, requireQuiesce: e.target.checked }))}
        />
        <span>{t('wizard.opt.requireQuiesce')}</span>
      </label>
      <label className="check-row">
        <input type="checkbox" checked={draft.incremental} onChange={(e) => update((d) => ({ ...d, incremental: e.target.checked }))} />
        <span>{t('wizard.opt.incremental')}</span>
      </label>
      <div className="form-grid">
        <Field label={t('wizard.opt.timeout')} htmlFor={`${id}-timeout`} hint={t('wizard.opt.timeoutHint')}>
          <input id={`${id}-timeout`} inputMode="numeric" value={draft.shutdownTimeoutMin} onChange={(e) => update((d) => ({ ...d, shutdownTimeoutMin: e.target.value }))} />
        </Field>
        <Field label={t('wizard.opt.concurrency')} htmlFor={`${id}-conc`} hint={t('wizard.opt.concurrencyHint')}>
          <input id={`${id}-conc`} inputMode="numeric" value={draft.concurrency} onChange={(e) => update((d) => ({ ...d, concurrency: e.target.value }))} />
        </Field>
      </div>
      <label className="check-row">
        <input type="checkbox" checked={draft.forceOff} onChange={(e) => update((d) => ({ ...d, forceOff: e.target.checked }))} />
        <span>{t('wizard.opt.forceOff', { min: draft.shutdownTimeoutMin })}</span>
      </label>
      <Field label={t('wizard.opt.pre')} htmlFor={`${id}-pre`} hint={t('wizard.opt.preHint')}>
        <textarea id={`${id}-pre`} className="mono" rows={2} value={draft.preHook} onChange={(e) => update((d) => ({ ...d, preHook: e.target.value }))} spellCheck={false} />
      </Field>
      <Field label={t('wizard.opt.post')} htmlFor={`${id}-post`} hint={t('wizard.opt.postHint')}>
        <textarea id={`${id}-post`} className="mono" rows={2} value={draft.postHook} onChange={(e) => update((d) => ({ ...d, postHook: e.target.value }))} spellCheck={false} />
      </Field>
      <CheckOption draft={draft} update={update} />
    </div>
  )
}
