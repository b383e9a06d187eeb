import { useQueries, useQuery, useQueryClient } from '@tanstack/react-query'
import { useMemo, useState } from 'react'
import { backupModes, plansList, plansPreview, plansRun, plansSave, repoInit } from '../../../engine/api/contract'
import { useApi } from '../../api/api-client'
import { useAppInfo, useInventory } from '../../api/queries'
import { Alert } from '../../components/bits'
import { Button } from '../../components/Button'
import { Dialog } from '../../components/Dialog'
import type { MessageKey } from '../../i18n/en'
import { errorText, useFormat, useT } from '../../i18n/i18n'
import { useUi, type WizardStart } from '../../stores/ui-store'
import { modeKey } from '../restore/point-labels'
import { explainMode } from './mode-explain'
import { draftFromPlan, newDraft, problems, toPlanInput, wizardSteps, type Draft, type WizardStep } from './wizard-model'
import { StepDestination, StepMode, StepOptions, StepVms, StepWhen, type ModeSupportDto } from './WizardSteps'

const stepTitle: Record<WizardStep, MessageKey> = {
  vms: 'wizard.step.vms',
  mode: 'wizard.step.mode',
  destination: 'wizard.step.destination',
  when: 'wizard.step.when',
  options: 'wizard.step.options',
  review: 'wizard.step.review',
}

/**
 * The backup wizard: VMs → mode (explained per VM and host) → destination → when and how long to keep →
 * options → a review a colleague could check. The result is always a saved, editable plan; "now" runs it at once.
 */
export function BackupWizard({ start }: { readonly start: WizardStart }) {
  const t = useT()
  const fmt = useFormat()
  const api = useApi()
  const client = useQueryClient()
  const close = useUi((s) => s.openWizard)
  const toast = useUi((s) => s.toast)
  const setJobsOpen = useUi((s) => s.setJobsOpen)
  const select = useUi((s) => s.select)
  const inventory = useInventory()
  const info = useAppInfo()
  const hosts = inventory.data?.hosts ?? []
  const plans = useQuery({ queryKey: ['plans'], queryFn: () => api.invoke(plansList, {}), enabled: 'planId' in start })

  const names = (host: string, vm: string) => {
    const h = hosts.find((x) => x.hostId === host)
    return { hostName: h?.name ?? host, vmName: h?.vms.find((v) => v.id === vm)?.name ?? vm }
  }
  const initial = useMemo((): Draft | undefined => {
    if ('targets' in start) return newDraft(start.targets.map((x) => ({ ...x, ...names(x.host, x.vm) })))
    const view = plans.data?.find((p) => p.plan.id === start.planId)
    return view ? draftFromPlan(view, names) : undefined
    // names() reads the inventory; the draft is made once, when its source is there.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [start, plans.data])
  const [edited, setDraft] = useState<Draft | undefined>(undefined)
  const draft = edited ?? initial
  const [step, setStep] = useState<WizardStep>('vms')
  const [error, setError] = useState<string | undefined>(undefined)
  const [busy, setBusy] = useState(false)
  const [shown, setShown] = useState<ReadonlySet<string>>(new Set())

  const modeQueries = useQueries({
    queries: (draft?.targets ?? []).map((x) => ({
      queryKey: ['modes', x.host, x.vm],
      queryFn: () => api.invoke(backupModes, { host: x.host, vm: x.vm }),
      staleTime: 60_000,
      retry: false,
    })),
  })
  const support = useMemo(() => {
    if (!draft || modeQueries.some((q) => q.isLoading)) return undefined
    const map = new Map<string, readonly ModeSupportDto[]>()
    draft.targets.forEach((x, i) => {
      const q = modeQueries[i]
      if (q?.data) map.set(`${x.host}/${x.vm}`, q.data)
      else if (q?.error) map.set(`${x.host}/${x.vm}`, (['cold', 'warm', 'hot'] as const).map((mode) => ({ mode, available: false, reason: errorText(t, q.error), downtime: 'none', consistency: 'crash' })))
    })
    return map
  }, [draft, modeQueries, t])
  const modeAvailable = support !== undefined && (draft?.targets ?? []).every((x) => support.get(`${x.host}/${x.vm}`)?.find((m) => m.mode === draft?.mode)?.available === true)

  const schedule = draft?.when === 'schedule' ? draft.schedule : undefined
  const preview = useQuery({
    queryKey: ['preview', schedule],
    queryFn: () => api.invoke(plansPreview, { schedule: schedule ?? { kind: 'manual' }, count: 3 }),
    enabled: schedule !== undefined,
    retry: false,
  })

  if (!draft) {
    return (
      <Dialog title={t('wizard.title')} closeLabel={t('common.close')} onClose={() => close(null)}>
        <p className="muted">{t('common.loading')}</p>
      </Dialog>
    )
  }
  const update = (change: (d: Draft) => Draft) => setDraft(change(draft))
  const index = wizardSteps.indexOf(step)
  const issues = problems(draft, step, modeAvailable)
  const next = () => {
    setShown(new Set([...shown, step]))
    if (issues.length === 0) setStep(wizardSteps[index + 1] ?? step)
  }

  const finish = async (runNow: boolean) => {
    setShown(new Set([...shown, step]))
    if (issues.length > 0) return
    setBusy(true)
    setError(undefined)
    try {
      if (draft.repo.kind === 'other' && draft.repo.create) {
        const passphrase = draft.repo.passphrase
        await api.invoke(repoInit, { repo: draft.repo.location.trim(), ...(passphrase !== '' ? { passphrase } : {}) })
      }
      const saved = await api.invoke(plansSave, toPlanInput(draft))
      void client.invalidateQueries({ queryKey: ['plans'] })
      if (runNow || draft.when === 'now') {
        await api.invoke(plansRun, { id: saved.plan.id })
        setJobsOpen(true)
        toast('info', t('wizard.started', { name: saved.plan.name }))
      } else toast('success', t('wizard.saved', { name: saved.plan.name }))
      select({ kind: 'view', view: 'plans' })
      close(null)
    } catch (err) {
      setError(errorText(t, err))
    } finally {
      setBusy(false)
    }
  }

  const stepIssues = shown.has(step) ? issues : []
  const explained = explainMode(draft.mode, draft.targets, hosts)
  return (
    <Dialog
      title={draft.id !== undefined ? t('wizard.editTitle', { name: draft.name }) : t('wizard.title')}
      closeLabel={t('common.close')}
      locked={busy}
      size="lg"
      onClose={() => close(null)}
      footer={
        <>
          <Button onClick={() => setStep(wizardSteps[index - 1] ?? step)} disabled={index === 0 || busy}>
            {t('add.back')}
          </Button>
          {step !== 'review' ? (
            <Button variant="primary" onClick={next}>
              {t('wizard.next')}
            </Button>
          ) : (
            <>
              {draft.when === 'schedule' && (
                <Button busy={busy} onClick={() => void finish(false)}>
                  {t('wizard.save')}
                </Button>
              )}
              <Button variant="primary" busy={busy} onClick={() => void finish(true)}>
                {draft.when === 'schedule' ? t('wizard.saveRun') : t('wizard.run')}
              </Button>
            </>
          )}
        </>
      }
    >
      <ol className="wizard-steps" aria-label={t('wizard.progress')}>
        {wizardSteps.map((s, i) => (
          <li key={s} className={s === step ? 'is-current' : i < index ? 'is-done' : ''} aria-current={s === step ? 'step' : undefined}>
            <button type="button" onClick={() => i < index && setStep(s)} disabled={i >= index} tabIndex={i < index ? 0 : -1}>
              <span className="step-no">{i + 1}</span> {t(stepTitle[s])}
            </button>
          </li>
        ))}
      </ol>
      {error && <Alert>{error}</Alert>}
      {stepIssues.length > 0 && (
        <Alert tone="warning">
          {stepIssues.map((p) => (
            <div key={p.key}>{t(p.key)}</div>
          ))}
        </Alert>
      )}
      {step === 'vms' && <StepVms draft={draft} update={update} hosts={hosts} />}
      {step === 'mode' && <StepMode draft={draft} update={update} support={support} hosts={hosts} />}
      {step === 'destination' && <StepDestination draft={draft} update={update} defaultLocation={info.data ? `${info.data.home}/repository` : ''} />}
      {step === 'when' && <StepWhen draft={draft} update={update} preview={preview.data?.nextRuns} />}
      {step === 'options' && <StepOptions draft={draft} update={update} />}
      {step === 'review' && (
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
            <dd>
              {draft.when === 'now'
                ? t('wizard.review.now')
                : `${describeSchedule(t, draft)}${preview.data?.nextRuns[0] ? ` · ${t('wizard.review.next', { when: fmt.date(preview.data.nextRuns[0]) })}` : ''}`}
            </dd>
            <dt>{t('wizard.keep.legend')}</dt>
            <dd>{describeRetention(t, draft)}</dd>
            <dt>{t('wizard.step.options')}</dt>
            <dd>
              {[
                draft.quiesce ? (draft.requireQuiesce ? t('wizard.review.requireQuiesce') : t('wizard.review.quiesce')) : t('wizard.review.noQuiesce'),
                draft.mode === 'cold' ? (draft.forceOff ? t('wizard.review.forceOff', { min: draft.shutdownTimeoutMin }) : t('wizard.review.noForceOff', { min: draft.shutdownTimeoutMin })) : undefined,
                draft.preHook ? t('wizard.review.pre') : undefined,
                draft.postHook ? t('wizard.review.post') : undefined,
                t('wizard.review.concurrency', { count: draft.concurrency }),
              ]
                .filter((x) => x !== undefined)
                .join(' · ')}
            </dd>
          </dl>
        </div>
      )}
    </Dialog>
  )
}

function describeSchedule(t: ReturnType<typeof useT>, d: Draft): string {
  const s = d.schedule
  if (s.kind === 'daily') return t('wizard.review.daily', { time: s.time })
  if (s.kind === 'weekly') {
    const names = t('wizard.when.weekdays').split(',')
    const order = [1, 2, 3, 4, 5, 6, 0]
    return t('wizard.review.weekly', { days: order.filter((x) => s.days.includes(x)).map((x) => names[order.indexOf(x)] ?? x).join(', '), time: s.time })
  }
  if (s.kind === 'cron') return t('wizard.review.cron', { expression: s.expression })
  return t('wizard.review.now')
}

function describeRetention(t: ReturnType<typeof useT>, d: Draft): string {
  const parts = [
    d.retention.keepLast.trim() ? t('wizard.review.keepLast', { count: d.retention.keepLast.trim() }) : undefined,
    d.retention.keepDaily.trim() ? t('wizard.review.keepDaily', { count: d.retention.keepDaily.trim() }) : undefined,
    d.retention.keepWeekly.trim() ? t('wizard.review.keepWeekly', { count: d.retention.keepWeekly.trim() }) : undefined,
    d.retention.keepMonthly.trim() ? t('wizard.review.keepMonthly', { count: d.retention.keepMonthly.trim() }) : undefined,
  ].filter((x) => x !== undefined)
  return parts.length > 0 ? parts.join(', ') : t('wizard.review.keepAll')
}
