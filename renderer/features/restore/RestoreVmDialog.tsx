import { useId, useMemo, useState } from 'react'
import type { HostInventoryDto, PointSummaryDto } from '../../../engine/api/contract'
import { useHosts, useInventory, useRestoreVm } from '../../api/queries'
import { Alert, Field } from '../../components/bits'
import { Button } from '../../components/Button'
import { Dialog } from '../../components/Dialog'
import { errorText, useFormat, useT } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'
import { pointSize } from './point-labels'
import { defaultRestoreName, inPlaceBlocker, originalVm, storageShortfall } from './restore-vm-model'

type Target = 'new' | 'inPlace'

/**
 * Restore a whole VM from a restore point: as a new VM beside the original by default (nothing existing is touched),
 * or over the original VM's disks once it is shut off and the admin has confirmed what is lost.
 */
export function RestoreVmDialog({ point, onClose }: { readonly point: PointSummaryDto; readonly onClose: () => void }) {
  const t = useT()
  const fmt = useFormat()
  const id = useId()
  const hosts = useHosts()
  const inventory = useInventory()
  const restore = useRestoreVm()
  const toast = useUi((s) => s.toast)
  const setJobsOpen = useUi((s) => s.setJobsOpen)

  const candidates = useMemo(() => (hosts.data ?? []).filter((h) => point.sourceHost.kind === undefined || h.kind === point.sourceHost.kind), [hosts.data, point.sourceHost.kind])
  const preferred = candidates.find((h) => h.id === point.sourceHost.id) ?? candidates.find((h) => h.name === point.sourceHost.name) ?? candidates[0]
  const [hostId, setHostId] = useState<string | undefined>(undefined)
  const host = candidates.find((h) => h.id === hostId) ?? preferred
  const hostInventory: HostInventoryDto | undefined = inventory.data?.hosts.find((h) => h.hostId === host?.id)
  const [target, setTarget] = useState<Target>('new')
  const [stamp] = useState(() => new Date())
  const [name, setName] = useState(() => defaultRestoreName(point.vm.name, stamp))
  const [storage, setStorage] = useState('')
  const [start, setStart] = useState(false)
  const [understood, setUnderstood] = useState(false)

  const blocker = inPlaceBlocker(point, hostInventory)
  const inPlace = target === 'inPlace' && blocker === undefined
  const size = pointSize(point)
  const storageList = hostInventory?.storage ?? []
  const shortfall = storageShortfall(storageList, storage, size)
  const nameOk = inPlace || name.trim().length > 0
  const canStart = host !== undefined && nameOk && (!inPlace || understood) && !restore.isPending

  const submit = () => {
    if (host === undefined || !canStart) return
    restore.mutate(
      {
        point: point.id,
        toHost: host.id,
        start,
        inPlace,
        confirm: inPlace && understood,
        ...(inPlace ? {} : { as: name.trim() }),
        ...(storage.trim() !== '' ? { storageDir: storage.trim() } : {}),
      },
      {
        onSuccess: () => {
          toast('info', t('restoreVm.started', { vm: inPlace ? point.vm.name : name.trim(), host: host.name }))
          setJobsOpen(true)
          onClose()
        },
      },
    )
  }

  return (
    <Dialog
      title={t('restoreVm.title', { vm: point.vm.name })}
      size="lg"
      closeLabel={t('common.close')}
      locked={restore.isPending}
      onClose={onClose}
      tone={inPlace ? 'danger' : 'default'}
      footer={
        <>
          <Button onClick={onClose} disabled={restore.isPending}>
            {t('common.cancel')}
          </Button>
          <Button variant={inPlace ? 'danger' : 'primary'} busy={restore.isPending} disabled={!canStart} onClick={submit}>
            {inPlace ? t('restoreVm.overwrite') : t('restoreVm.start')}
          </Button>
        </>
      }
    >
      {restore.isError && <Alert>{errorText(t, restore.error)}</Alert>}
      {hosts.isSuccess && candidates.length === 0 && <Alert tone="warning">{t('restoreVm.noHost', { kind: point.sourceHost.kind ?? '' })}</Alert>}
      <p className="muted">{t('restoreVm.intro', { date: fmt.date(point.finishedAt), size: fmt.bytes(size), count: point.disks.length })}</p>

      <Field label={t('restoreVm.host')} htmlFor={`${id}-host`} hint={host !== undefined && host.id !== point.sourceHost.id ? t('restoreVm.otherHost', { host: point.sourceHost.name }) : t('restoreVm.hostHint')}>
        <select id={`${id}-host`} value={host?.id ?? ''} onChange={(e) => { setHostId(e.target.value); setTarget('new'); setStorage('') }} data-autofocus disabled={candidates.length === 0}>
          {candidates.map((h) => (
            <option key={h.id} value={h.id}>
              {h.name} ({h.address})
            </option>
          ))}
        </select>
      </Field>

      <fieldset className="choices">
        <legend>{t('restoreVm.as')}</legend>
        <label className={`choice${target === 'new' ? ' is-checked' : ''}`}>
          <input type="radio" name={`${id}-target`} checked={target === 'new'} onChange={() => setTarget('new')} />
          <span>
            <strong>{t('restoreVm.asNew')}</strong>
            <span className="field-hint block">{t('restoreVm.asNewHint', { vm: point.vm.name })}</span>
          </span>
        </label>
        <label className={`choice${target === 'inPlace' ? ' is-checked' : ''}${blocker !== undefined ? ' is-disabled' : ''}`}>
          <input type="radio" name={`${id}-target`} checked={target === 'inPlace'} disabled={blocker !== undefined} onChange={() => setTarget('inPlace')} />
          <span>
            <strong>{t('restoreVm.inPlace')}</strong>
            <span className="field-hint block">{blocker !== undefined ? t(`restoreVm.blocked.${blocker}`, { vm: point.vm.name, host: host?.name ?? '' }) : t('restoreVm.inPlaceHint', { vm: point.vm.name })}</span>
          </span>
        </label>
      </fieldset>

      {!inPlace && (
        <Field label={t('restoreVm.name')} htmlFor={`${id}-name`} {...(nameOk ? { hint: t('restoreVm.nameHint') } : { error: t('restoreVm.nameMissing') })}>
          <input id={`${id}-name`} value={name} maxLength={200} onChange={(e) => setName(e.target.value)} spellCheck={false} />
        </Field>
      )}

      {storageList.length > 0 ? (
        <Field label={t('restoreVm.storage')} htmlFor={`${id}-storage`} {...(shortfall ? { error: t('restoreVm.storageFull', { size: fmt.bytes(size) }) } : { hint: t('restoreVm.storageHint') })}>
          <select id={`${id}-storage`} value={storage} onChange={(e) => setStorage(e.target.value)}>
            <option value="">{t('restoreVm.storageDefault')}</option>
            {storageList.map((s) => (
              <option key={s.id} value={s.id}>
                {s.freeBytes !== undefined ? t('restoreVm.storageFree', { name: s.name, free: fmt.bytes(s.freeBytes) }) : s.name}
              </option>
            ))}
          </select>
        </Field>
      ) : (
        <Field label={t('restoreVm.folder')} htmlFor={`${id}-storage`} hint={t('restoreVm.folderHint')}>
          <input id={`${id}-storage`} className="mono" value={storage} placeholder={t('restoreVm.folderPlaceholder')} onChange={(e) => setStorage(e.target.value)} spellCheck={false} />
        </Field>
      )}

      <label className="check">
        <input type="checkbox" checked={start} onChange={(e) => setStart(e.target.checked)} />
        <span>
          {t('restoreVm.startAfter')}
          {!inPlace && (
            <span className="field-hint block">
              {originalVm(point, inventory.data?.hosts ?? [])?.powerState === 'running' ? t('restoreVm.startAfterHint', { vm: point.vm.name }) : t('restoreVm.startAfterHintOff', { vm: point.vm.name })}
            </span>
          )}
        </span>
      </label>

      {inPlace && (
        <label className="check check-confirm" htmlFor={`${id}-understood`}>
          <input id={`${id}-understood`} type="checkbox" checked={understood} onChange={(e) => setUnderstood(e.target.checked)} />
          <span>{t('restoreVm.understood', { vm: point.vm.name, date: fmt.date(point.finishedAt) })}</span>
        </label>
      )}

      <section className="restore-summary" aria-label={t('restoreVm.summary')}>
        <h3>{t('restoreVm.summary')}</h3>
        <p>
          {inPlace
            ? t('restoreVm.summaryInPlace', { vm: point.vm.name, host: host?.name ?? '—', date: fmt.date(point.finishedAt) })
            : t('restoreVm.summaryNew', { vm: name.trim() || '—', host: host?.name ?? '—', date: fmt.date(point.finishedAt), size: fmt.bytes(size) })}{' '}
          {start ? t('restoreVm.summaryStart') : t('restoreVm.summaryOff')}
        </p>
      </section>
    </Dialog>
  )
}
