import { useState } from 'react'
import type { HostInventoryDto } from '../../../engine/api/contract'
import { useAppInfo, useInventory } from '../../api/queries'
import { Alert } from '../../components/bits'
import { Button } from '../../components/Button'
import { Dialog } from '../../components/Dialog'
import type { MessageKey } from '../../i18n/en'
import { useT } from '../../i18n/i18n'
import { useUi, type WizardStart } from '../../stores/ui-store'
import { StepReview } from './StepReview'
import { useModeSupport } from './use-mode-support'
import { useSchedulePreview } from './use-schedule-preview'
import { useWizardDraft } from './use-wizard-draft'
import { useWizardFinish } from './use-wizard-finish'
import { problems, wizardSteps, type Draft, type StepProblem, type WizardStep } from './wizard-model'
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
  const close = useUi((s) => s.openWizard)
  const inventory = useInventory()
  const hosts = inventory.data?.hosts ?? []
  const { draft, update } = useWizardDraft(start, hosts)
  const { support, modeAvailable } = useModeSupport(draft)
  const preview = useSchedulePreview(draft)
  const { finish, error, busy } = useWizardFinish()
  const [step, setStep] = useState<WizardStep>('vms')
  // Steps the admin tried to leave: only their problems are shown, so a fresh step does not open with warnings.
  const [shown, setShown] = useState<ReadonlySet<string>>(new Set())

  if (!draft) {
    return (
      <Dialog title={t('wizard.title')} closeLabel={t('common.close')} onClose={() => close(null)}>
        <p className="muted">{t('common.loading')}</p>
      </Dialog>
    )
  }
  const index = wizardSteps.indexOf(step)
  const issues = problems(draft, step, modeAvailable)
  const leave = (to: (() => void) | undefined) => {
    setShown(new Set([...shown, step]))
    if (issues.length === 0) to?.()
  }

  return (
    <Dialog
      title={draft.id !== undefined ? t('wizard.editTitle', { name: draft.name }) : t('wizard.title')}
      closeLabel={t('common.close')}
      locked={busy}
      size="lg"
      onClose={() => close(null)}
      footer={
        <WizardFooter
          step={step}
          index={index}
          busy={busy}
          scheduled={draft.when === 'schedule'}
          onBack={() => setStep(wizardSteps[index - 1] ?? step)}
          onNext={() => leave(() => setStep(wizardSteps[index + 1] ?? step))}
          onFinish={(runNow) => leave(() => void finish(draft, runNow))}
        />
      }
    >
      <WizardProgress step={step} index={index} onGoTo={setStep} />
      {error && <Alert>{error}</Alert>}
      <StepIssues issues={shown.has(step) ? issues : []} />
      <WizardStepBody step={step} draft={draft} update={update} hosts={hosts} support={support} preview={preview} />
    </Dialog>
  )
}

/** The steps as numbered buttons: the ones already done can be gone back to. */
function WizardProgress({ step, index, onGoTo }: { readonly step: WizardStep; readonly index: number; readonly onGoTo: (s: WizardStep) => void }) {
  const t = useT()
  return (
    <ol className="wizard-steps" aria-label={t('wizard.progress')}>
      {wizardSteps.map((s, i) => (
        <li key={s} className={s === step ? 'is-current' : i < index ? 'is-done' : ''} aria-current={s === step ? 'step' : undefined}>
          <button type="button" onClick={() => i < index && onGoTo(s)} disabled={i >= index} tabIndex={i < index ? 0 : -1} title={t(stepTitle[s])}>
            <span className="step-no">{i + 1}</span>
            <span className="step-label">{t(stepTitle[s])}</span>
          </button>
        </li>
      ))}
    </ol>
  )
}

function StepIssues({ issues }: { readonly issues: readonly StepProblem[] }) {
  const t = useT()
  if (issues.length === 0) return null
  return (
    <Alert tone="warning">
      {issues.map((p) => (
        <div key={p.key}>{t(p.key)}</div>
      ))}
    </Alert>
  )
}

interface StepBodyProps {
  readonly step: WizardStep
  readonly draft: Draft
  readonly update: (change: (d: Draft) => Draft) => void
  readonly hosts: readonly HostInventoryDto[]
  readonly support: ReadonlyMap<string, readonly ModeSupportDto[]> | undefined
  readonly preview: readonly string[] | undefined
}

function WizardStepBody({ step, draft, update, hosts, support, preview }: StepBodyProps) {
  const info = useAppInfo()
  switch (step) {
    case 'vms':
      return <StepVms draft={draft} update={update} hosts={hosts} />
    case 'mode':
      return <StepMode draft={draft} update={update} support={support} hosts={hosts} />
    case 'destination':
      return <StepDestination draft={draft} update={update} defaultLocation={info.data ? `${info.data.home}/repository` : ''} />
    case 'when':
      return <StepWhen draft={draft} update={update} preview={preview} />
    case 'options':
      return <StepOptions draft={draft} update={update} />
    case 'review':
      return <StepReview draft={draft} update={update} hosts={hosts} preview={preview} />
  }
}

interface FooterProps {
  readonly step: WizardStep
  readonly index: number
  readonly busy: boolean
  readonly scheduled: boolean
  readonly onBack: () => void
  readonly onNext: () => void
  readonly onFinish: (runNow: boolean) => void
}

/** Back and next; on the review, save (scheduled plans only) and save-and-run. */
function WizardFooter({ step, index, busy, scheduled, onBack, onNext, onFinish }: FooterProps) {
  const t = useT()
  return (
    <>
      <Button onClick={onBack} disabled={index === 0 || busy}>
        {t('add.back')}
      </Button>
      {step !== 'review' ? (
        <Button variant="primary" onClick={onNext}>
          {t('wizard.next')}
        </Button>
      ) : (
        <>
          {scheduled && (
            <Button busy={busy} onClick={() => onFinish(false)}>
              {t('wizard.save')}
            </Button>
          )}
          <Button variant="primary" busy={busy} onClick={() => onFinish(true)}>
            {scheduled ? t('wizard.saveRun') : t('wizard.run')}
          </Button>
        </>
      )}
    </>
  )
}
