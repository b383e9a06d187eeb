import { useState } from 'react'
import type { SnapshotDto } from '../../../engine/api/contract'
import { useKeepSnapshot, useRemoveSnapshot, useSnapshots } from '../../api/queries'
import { useNow } from '../../app/use-now'
import { Alert } from '../../components/bits'
import { Button } from '../../components/Button'
import { Dialog } from '../../components/Dialog'
import { IconCamera } from '../../components/icons'
import { errorText, useFormat, useT } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'
import { RevertDialog, type SnapshotVm } from './RevertDialog'
import { reviewState, sortSnapshots } from './snapshot-model'

function DiscardDialog({ vm, snapshot, onClose }: { readonly vm: SnapshotVm; readonly snapshot: SnapshotDto; readonly onClose: () => void }) {
  const t = useT()
  const fmt = useFormat()
  const toast = useUi((s) => s.toast)
  const remove = useRemoveSnapshot()
  const label = snapshot.label ?? snapshot.name
  return (
    <Dialog
      title={t('discard.title', { label })}
      tone="danger"
      closeLabel={t('common.close')}
      locked={remove.isPending}
      onClose={onClose}
      footer={
        <>
          <Button onClick={onClose} disabled={remove.isPending} data-autofocus>
            {t('common.cancel')}
          </Button>
          <Button
            variant="danger"
            busy={remove.isPending}
            onClick={() =>
              remove.mutate(
                { host: vm.hostId, vm: vm.vmId, snapshot: snapshot.id },
                {
                  onSuccess: () => {
                    toast('success', t('discard.done', { label }))
                    onClose()
                  },
                },
              )
            }
          >
            {t('discard.confirm')}
          </Button>
        </>
      }
    >
      {remove.isError && <Alert>{errorText(t, remove.error)}</Alert>}
      <p>{t('discard.body', { vm: vm.vmName, when: snapshot.createdAt !== undefined ? fmt.date(snapshot.createdAt) : t('snap.unknownTime') })}</p>
    </Dialog>
  )
}

/** The review line under a pre-patch snapshot: when to decide, overdue, or kept. */
function ReviewLine({ snapshot, now }: { readonly snapshot: SnapshotDto; readonly now: number }) {
  const t = useT()
  const fmt = useFormat()
  const state = reviewState(snapshot, now)
  if (state === 'pending' && snapshot.expiresAt !== undefined) return <span className="muted">{t('snap.reviewOn', { date: fmt.date(snapshot.expiresAt) })}</span>
  if (state === 'due' && snapshot.expiresAt !== undefined) return <span className="snap-due">{t('snap.reviewDue', { ago: fmt.relative(snapshot.expiresAt) })}</span>
  if (state === 'kept' && snapshot.keptAt !== undefined) return <span className="muted">{t('snap.keptOn', { date: fmt.date(snapshot.keptAt) })}</span>
  if (state === 'no-date') return <span className="muted">{t('snap.noReview')}</span>
  return null
}

/** One snapshot with what can be done about it: revert (confirmed), keep (pre-patch only), discard (confirmed). */
export function SnapshotRow({ vm, snapshot, now, onRevert, onDiscard }: { readonly vm: SnapshotVm; readonly snapshot: SnapshotDto; readonly now: number; readonly onRevert: () => void; readonly onDiscard: () => void }) {
  const t = useT()
  const fmt = useFormat()
  const keep = useKeepSnapshot()
  const toast = useUi((s) => s.toast)
  const state = reviewState(snapshot, now)
  const label = snapshot.label ?? snapshot.name
  return (
    <li className={`snap snap-${state}`} aria-label={label}>
      <div className="snap-main">
        <span className="snap-name truncate" title={label === snapshot.name ? label : `${label} (${snapshot.name})`}>
          {label}
        </span>
        <span className="snap-badges">
          {state !== 'not-lifeboat' && <span className="badge badge-brand">{t('snap.beforePatching')}</span>}
          {state === 'due' && <span className="badge badge-warning">{t('snap.due')}</span>}
          {state === 'kept' && <span className="badge">{t('snap.kept')}</span>}
          {snapshot.lifeboat && state === 'not-lifeboat' && <span className="badge badge-brand">{t('vm.snapshot.lifeboat')}</span>}
          {snapshot.vmState === 'running' && <span className="badge">{t('snap.withMemory')}</span>}
        </span>
      </div>
      <div className="snap-meta">
        <span>{snapshot.createdAt !== undefined ? `${fmt.date(snapshot.createdAt)} · ${fmt.relative(snapshot.createdAt)}` : t('snap.unknownTime')}</span>
        <ReviewLine snapshot={snapshot} now={now} />
      </div>
      {(snapshot.warnings ?? []).map((w) => (
        <p key={w} className="snap-warning">
          {w}
        </p>
      ))}
      <div className="snap-actions">
        <Button size="sm" onClick={onRevert} aria-label={t('snap.revertNamed', { label })}>
          {t('snap.revert')}
        </Button>
        {(state === 'pending' || state === 'due' || state === 'no-date') && (
          <Button
            size="sm"
            busy={keep.isPending}
            aria-label={t('snap.keepNamed', { label })}
            onClick={() =>
              keep.mutate(
                { host: vm.hostId, vm: vm.vmId, snapshot: snapshot.id },
                { onSuccess: () => toast('success', t('snap.keptToast', { label })), onError: (e) => toast('error', errorText(t, e)) },
              )
            }
          >
            {t('snap.keep')}
          </Button>
        )}
        <Button size="sm" variant="ghost" onClick={onDiscard} aria-label={t('snap.discardNamed', { label })}>
          {t('snap.discard')}
        </Button>
      </div>
    </li>
  )
}

/**
 * A VM's snapshots, pre-patch ones first. Asks the host for details (review dates, memory state); until the
 * answer is there, it shows nothing rather than half a list with buttons that could act on stale data.
 */
export function SnapshotsCard({ vm }: { readonly vm: SnapshotVm }) {
  const t = useT()
  const now = useNow(60_000)
  const openPatch = useUi((s) => s.openPatchSnapshot)
  const snapshots = useSnapshots(vm.hostId, vm.vmId)
  const [dialog, setDialog] = useState<{ kind: 'revert' | 'discard'; snapshot: SnapshotDto } | null>(null)
  const list = sortSnapshots(snapshots.data ?? [], now)
  return (
    <div className="card snap-card">
      <div className="card-title-row">
        <h2 className="card-title">{t('vm.snapshots')}</h2>
        <Button size="sm" icon={<IconCamera />} onClick={() => openPatch({ hostId: vm.hostId, vmId: vm.vmId, vmName: vm.vmName })}>
          {t('vm.patchSnapshot')}
        </Button>
      </div>
      {snapshots.isPending ? (
        <p className="muted">{t('snap.loading')}</p>
      ) : snapshots.isError ? (
        <Alert>{errorText(t, snapshots.error)}</Alert>
      ) : list.length === 0 ? (
        <p className="muted">{t('vm.snapshots.empty')}</p>
      ) : (
        <ul className="snap-list">
          {list.map((s) => (
            <SnapshotRow key={s.id} vm={vm} snapshot={s} now={now} onRevert={() => setDialog({ kind: 'revert', snapshot: s })} onDiscard={() => setDialog({ kind: 'discard', snapshot: s })} />
          ))}
        </ul>
      )}
      {dialog?.kind === 'revert' && <RevertDialog vm={vm} snapshot={dialog.snapshot} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'discard' && <DiscardDialog vm={vm} snapshot={dialog.snapshot} onClose={() => setDialog(null)} />}
    </div>
  )
}

/** The banner on a VM with a pre-patch snapshot awaiting a decision: the one thing the admin must not forget. */
export function PatchBanner({ vm }: { readonly vm: SnapshotVm }) {
  const t = useT()
  const fmt = useFormat()
  const now = useNow(60_000)
  const snapshots = useSnapshots(vm.hostId, vm.vmId)
  const [dialog, setDialog] = useState<{ kind: 'revert' | 'discard'; snapshot: SnapshotDto } | null>(null)
  const keep = useKeepSnapshot()
  const toast = useUi((s) => s.toast)
  const open = sortSnapshots(snapshots.data ?? [], now).filter((s) => {
    const state = reviewState(s, now)
    return state === 'pending' || state === 'due' || state === 'no-date'
  })
  const first = open[0]
  if (!first) return null
  const label = first.label ?? first.name
  const due = reviewState(first, now) === 'due'
  return (
    <div className="patch-banner" role="region" aria-label={t('patch.bannerLabel')}>
      <Alert
        tone={due ? 'warning' : 'info'}
        title={due ? t('patch.bannerDue', { label }) : t('patch.banner', { label, ago: first.createdAt !== undefined ? fmt.relative(first.createdAt) : '—' })}
        action={
          <span className="banner-actions">
            <Button size="sm" onClick={() => setDialog({ kind: 'revert', snapshot: first })}>
              {t('snap.revert')}
            </Button>
            <Button
              size="sm"
              busy={keep.isPending}
              onClick={() => keep.mutate({ host: vm.hostId, vm: vm.vmId, snapshot: first.id }, { onSuccess: () => toast('success', t('snap.keptToast', { label })), onError: (e) => toast('error', errorText(t, e)) })}
            >
              {t('snap.keep')}
            </Button>
            <Button size="sm" variant="ghost" onClick={() => setDialog({ kind: 'discard', snapshot: first })}>
              {t('snap.discard')}
            </Button>
          </span>
        }
      >
        {due ? t('patch.bannerDueBody') : first.expiresAt !== undefined ? t('patch.bannerBody', { date: fmt.date(first.expiresAt) }) : t('patch.bannerNoDate')}
        {open.length > 1 && ` ${t('patch.bannerMore', { count: open.length - 1 })}`}
      </Alert>
      {dialog?.kind === 'revert' && <RevertDialog vm={vm} snapshot={dialog.snapshot} onClose={() => setDialog(null)} />}
      {dialog?.kind === 'discard' && <DiscardDialog vm={vm} snapshot={dialog.snapshot} onClose={() => setDialog(null)} />}
    </div>
  )
}
