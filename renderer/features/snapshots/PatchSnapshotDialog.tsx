import { useId, useState } from 'react'
import { useCreateSnapshot } from '../../api/queries'
import { Alert, Field } from '../../components/bits'
import { Button } from '../../components/Button'
import { Dialog } from '../../components/Dialog'
import { IconCamera } from '../../components/icons'
import { errorText, useFormat, useT } from '../../i18n/i18n'
import { useUi, type PatchTarget } from '../../stores/ui-store'
import { DEFAULT_REVIEW_DAYS, reviewChoices, reviewDate, snapshotLabel, type ReviewDays } from './snapshot-model'

/**
 * "Snapshot before patching": one dialog, two optional fields, one button. The snapshot is tagged as Lifeboat's,
 * carries the admin's note, and gets a review date after which Lifeboat asks whether to keep or discard it.
 */
export function PatchSnapshotDialog({ target }: { readonly target: PatchTarget }) {
  const t = useT()
  const fmt = useFormat()
  const id = useId()
  const close = useUi((s) => s.openPatchSnapshot)
  const select = useUi((s) => s.select)
  const toast = useUi((s) => s.toast)
  const create = useCreateSnapshot()
  const [note, setNote] = useState('')
  const [days, setDays] = useState<ReviewDays>(DEFAULT_REVIEW_DAYS)
  const [opened] = useState(() => new Date())
  const fallback = t('patch.defaultLabel', { date: fmt.date(opened.toISOString()) })
  const due = reviewDate(days, opened)

  const submit = () => {
    const expiresAt = reviewDate(days, new Date())
    create.mutate(
      { host: target.hostId, vm: target.vmId, label: snapshotLabel(note, fallback), ...(expiresAt !== undefined ? { expiresAt } : {}) },
      {
        onSuccess: (snapshot) => {
          toast('success', t('patch.done', { vm: target.vmName, label: snapshot.label ?? snapshot.name }))
          for (const w of snapshot.warnings ?? []) toast('info', w)
          select({ kind: 'vm', hostId: target.hostId, vmId: target.vmId })
          close(null)
        },
      },
    )
  }

  return (
    <Dialog
      title={t('patch.title', { vm: target.vmName })}
      closeLabel={t('common.close')}
      locked={create.isPending}
      onClose={() => close(null)}
      footer={
        <>
          <Button onClick={() => close(null)} disabled={create.isPending}>
            {t('common.cancel')}
          </Button>
          <Button variant="primary" icon={<IconCamera />} busy={create.isPending} onClick={submit}>
            {create.isPending ? t('patch.taking') : t('patch.take')}
          </Button>
        </>
      }
    >
      <form
        onSubmit={(e) => {
          e.preventDefault()
          submit()
        }}
      >
        {create.isError && <Alert title={t('patch.failed')}>{errorText(t, create.error)}</Alert>}
        <p>{t('patch.intro')}</p>
        <Field label={t('patch.note')} htmlFor={`${id}-note`} hint={t('patch.noteHint', { fallback })}>
          <input id={`${id}-note`} value={note} maxLength={500} onChange={(e) => setNote(e.target.value)} placeholder={t('patch.notePlaceholder')} data-autofocus disabled={create.isPending} />
        </Field>
        <Field label={t('patch.review')} htmlFor={`${id}-review`} hint={due !== undefined ? t('patch.reviewHint', { date: fmt.date(due) }) : t('patch.reviewNever')}>
          <select id={`${id}-review`} value={days} onChange={(e) => setDays(Number(e.target.value) as ReviewDays)} disabled={create.isPending}>
            {reviewChoices.map((d) => (
              <option key={d} value={d}>
                {d === 0 ? t('patch.review.none') : d === 1 ? t('patch.review.day') : t('patch.review.days', { count: d })}
              </option>
            ))}
          </select>
        </Field>
        <p className="muted small">{t('patch.neverDeleted')}</p>
      </form>
    </Dialog>
  )
}
