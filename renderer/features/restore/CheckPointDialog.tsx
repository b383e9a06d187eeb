import { useId, useState } from 'react'
import type { PointSummaryDto } from '../../../engine/api/contract'
import { useCheckPoint, useHosts } from '../../api/queries'
import { Alert, Field } from '../../components/bits'
import { Button } from '../../components/Button'
import { Dialog } from '../../components/Dialog'
import { errorText, useFormat, useT } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'
import { checkHostChoices, timeoutSeconds } from './check-model'

/** Asks where and how long, then starts `points.check` as a job and opens the jobs view to follow its phases. */
export function CheckPointDialog({ point, onClose }: { readonly point: PointSummaryDto; readonly onClose: () => void }) {
  const t = useT()
  const fmt = useFormat()
  const id = useId()
  const hosts = useHosts()
  const check = useCheckPoint()
  const toast = useUi((s) => s.toast)
  const setJobsOpen = useUi((s) => s.setJobsOpen)
  const { choices, preferred } = checkHostChoices(hosts.data ?? [], point)
  const [hostId, setHostId] = useState<string | undefined>(undefined)
  const host = choices.find((c) => c.host.id === hostId && c.canCheck)?.host ?? preferred
  const [minutes, setMinutes] = useState('10')
  const [command, setCommand] = useState('')
  const timeoutSec = timeoutSeconds(minutes)
  const own = choices.find((c) => c.host.id === point.sourceHost.id)
  const kind = point.sourceHost.kind
  const fromVmHost = kind === 'linux' || kind === 'xenserver' || kind === 'hyperv'
  const pointKind = fromVmHost ? t(`kind.${kind}`) : (kind ?? '?')
  // Only the QEMU guest agent runs commands for Lifeboat; XenServer and Hyper-V checks refuse one.
  const commandPossible = host?.kind === 'linux'
  const canStart = host !== undefined && timeoutSec !== undefined && !check.isPending

  const submit = () => {
    if (host === undefined || timeoutSec === undefined || !canStart) return
    check.mutate(
      { point: point.id, host: host.id, timeoutSec, ...(commandPossible && command.trim() !== '' ? { command: command.trim() } : {}) },
      {
        onSuccess: () => {
          toast('info', t('check.started', { vm: point.vm.name, host: host.name }))
          setJobsOpen(true)
          onClose()
        },
      },
    )
  }

  return (
    <Dialog
      title={t('check.title', { vm: point.vm.name })}
      closeLabel={t('common.close')}
      locked={check.isPending}
      onClose={onClose}
      footer={
        <>
          <Button onClick={onClose} disabled={check.isPending}>
            {t('common.cancel')}
          </Button>
          <Button variant="primary" busy={check.isPending} disabled={!canStart} onClick={submit}>
            {t('check.start')}
          </Button>
        </>
      }
    >
      {check.isError && <Alert>{errorText(t, check.error)}</Alert>}
      <p className="muted">{t('check.intro', { date: fmt.date(point.finishedAt) })}</p>
      {hosts.isSuccess && preferred === undefined && <Alert tone="warning">{kind === undefined ? t('check.noHostAny') : fromVmHost ? t('check.noHost', { kind: pointKind }) : t('check.notVm')}</Alert>}
      {own !== undefined && !own.canCheck && <Alert tone="info">{t('check.ownHostCannot', { host: own.host.name, kind: t(`kind.${own.host.kind}`) })}</Alert>}
      {choices.length > 0 && (
        <Field label={t('check.host')} htmlFor={`${id}-host`} hint={t('check.hostHint')}>
          <select id={`${id}-host`} value={host?.id ?? ''} onChange={(e) => setHostId(e.target.value)} data-autofocus disabled={preferred === undefined}>
            {choices.map((c) => (
              <option key={c.host.id} value={c.host.id} disabled={!c.canCheck}>
                {c.canCheck
                  ? `${c.host.name} (${c.host.address})`
                  : c.why === 'other-kind'
                    ? t('check.hostOtherKind', { host: c.host.name, kind: t(`kind.${c.host.kind}`), pointKind })
                    : t('check.hostCannot', { host: c.host.name, kind: t(`kind.${c.host.kind}`) })}
              </option>
            ))}
          </select>
        </Field>
      )}
      <Field label={t('check.timeout')} htmlFor={`${id}-timeout`} {...(timeoutSec === undefined ? { error: t('check.timeoutBad') } : { hint: t('check.timeoutHint') })}>
        <input id={`${id}-timeout`} inputMode="numeric" value={minutes} onChange={(e) => setMinutes(e.target.value)} />
      </Field>
      <Field label={t('check.command')} htmlFor={`${id}-command`} hint={t(commandPossible ? 'check.commandHint' : 'check.commandKvmOnly')}>
        <input id={`${id}-command`} className="mono" value={commandPossible ? command : ''} maxLength={4096} placeholder="systemctl is-system-running" onChange={(e) => setCommand(e.target.value)} spellCheck={false} disabled={!commandPossible} />
      </Field>
    </Dialog>
  )
}
