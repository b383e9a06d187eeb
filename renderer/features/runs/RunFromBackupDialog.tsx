import { useId, useState } from 'react'
import type { PointSummaryDto } from '../../../engine/api/contract'
import { useHosts, useInventory } from '../../api/queries'
import { Alert, Field } from '../../components/bits'
import { Button } from '../../components/Button'
import { Dialog } from '../../components/Dialog'
import { errorText, useFormat, useT } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'
import { useRunJobs } from './run-store'
import { defaultRunName, runNameProblem, runPlan } from './run-model'
import { useRunFromBackup } from './use-runs'

type Network = 'none' | 'original'

/**
 * Asks where, under which name and with which network, then starts `points.run`; the app-wide banner takes over once
 * the VM runs. Where the point cannot run (XenServer, Hyper-V, a disk image, no KVM host) it says why in one sentence
 * and, for VM hosts, offers the full restore instead of hiding the action.
 */
export function RunFromBackupDialog({ point, onClose, onRestoreInstead }: { readonly point: PointSummaryDto; readonly onClose: () => void; readonly onRestoreInstead: () => void }) {
  const t = useT()
  const fmt = useFormat()
  const id = useId()
  const hosts = useHosts()
  const inventory = useInventory()
  const start = useRunFromBackup()
  const toast = useUi((s) => s.toast)
  const watch = useRunJobs((s) => s.watch)
  const plan = runPlan(hosts.data ?? [], point)
  const [hostId, setHostId] = useState<string | undefined>(undefined)
  const host = plan.choices.find((c) => c.host.id === hostId && c.canRun)?.host ?? plan.preferred
  const taken = new Set(inventory.data?.hosts.find((h) => h.hostId === host?.id)?.vms.map((v) => v.name) ?? [])
  const [stamp] = useState(() => new Date())
  const [typed, setTyped] = useState<string | undefined>(undefined)
  const name = typed ?? defaultRunName(point.vm.name, stamp, taken)
  const [network, setNetwork] = useState<Network>('none')
  const problem = runNameProblem(name, taken)
  const blocked = hosts.isSuccess ? plan.blocker : undefined
  const canStart = host !== undefined && problem === undefined && !start.isPending

  const submit = () => {
    if (host === undefined || !canStart) return
    start.mutate(
      { point: point.id, host: host.id, name: name.trim(), network },
      {
        onSuccess: ({ jobId }) => {
          watch({ jobId, kind: 'run', vm: name.trim(), hostId: host.id, hostName: host.name })
          toast('info', t('run.started', { vm: name.trim(), host: host.name }))
          onClose()
        },
      },
    )
  }

  const offersRestore = blocked === 'xenserver' || blocked === 'hyperv'
  return (
    <Dialog
      title={t('run.title', { vm: point.vm.name })}
      size="lg"
      closeLabel={t('common.close')}
      locked={start.isPending}
      onClose={onClose}
      footer={
        <>
          <Button onClick={onClose} disabled={start.isPending}>
            {t('common.cancel')}
          </Button>
          {offersRestore ? (
            <Button variant="primary" onClick={onRestoreInstead}>
              {t('run.restoreButton')}
            </Button>
          ) : (
            <Button variant="primary" busy={start.isPending} disabled={!canStart || blocked !== undefined} onClick={submit}>
              {t('run.start')}
            </Button>
          )}
        </>
      }
    >
      {start.isError && <Alert>{errorText(t, start.error)}</Alert>}
      {blocked !== undefined ? (
        <Alert tone={offersRestore ? 'info' : 'warning'}>
          {t(`run.blocked.${blocked}`)}
          {offersRestore && ` ${t('run.restoreInstead')}`}
        </Alert>
      ) : (
        <>
          <p className="muted">{t('run.intro', { vm: point.vm.name, date: fmt.date(point.finishedAt) })}</p>
          <Field label={t('run.host')} htmlFor={`${id}-host`} hint={t('run.hostHint')}>
            <select id={`${id}-host`} value={host?.id ?? ''} onChange={(e) => { setHostId(e.target.value); setTyped(undefined) }} data-autofocus>
              {plan.choices.map((c) => (
                <option key={c.host.id} value={c.host.id} disabled={!c.canRun}>
                  {c.canRun ? `${c.host.name} (${c.host.address})` : t('run.hostCannot', { host: c.host.name, kind: t(`kind.${c.host.kind}`) })}
                </option>
              ))}
            </select>
          </Field>
          <Field label={t('run.name')} htmlFor={`${id}-name`} {...(problem === undefined ? { hint: t('run.nameHint') } : { error: t(`run.name.${problem}`, { host: host?.name ?? '', name: name.trim() }) })}>
            <input id={`${id}-name`} value={name} maxLength={250} onChange={(e) => setTyped(e.target.value)} spellCheck={false} aria-invalid={problem !== undefined} />
          </Field>
          <fieldset className="choices">
            <legend>{t('run.network')}</legend>
            <label className={`choice${network === 'none' ? ' is-checked' : ''}`}>
              <input type="radio" name={`${id}-network`} checked={network === 'none'} onChange={() => setNetwork('none')} />
              <span>
                <strong>{t('run.network.none')}</strong>
                <span className="field-hint block">{t('run.network.noneHint')}</span>
              </span>
            </label>
            <label className={`choice${network === 'original' ? ' is-checked is-risky' : ''}`}>
              <input type="radio" name={`${id}-network`} checked={network === 'original'} onChange={() => setNetwork('original')} />
              <span>
                <strong>{t('run.network.original')}</strong>
                <span className="field-hint block">{t('run.network.originalHint')}</span>
              </span>
            </label>
          </fieldset>
          <p className="muted">{t('run.needsLifeboat')}</p>
        </>
      )}
    </Dialog>
  )
}
