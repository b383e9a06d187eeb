import { useMutation } from '@tanstack/react-query'
import { useId, useState } from 'react'
import { repoPrune, type OutputOf } from '../../../engine/api/contract'
import { useApi } from '../../api/api-client'
import { Button } from '../../components/Button'
import { errorText, useFormat, useT } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'

type PruneReport = OutputOf<typeof repoPrune>

/** Remove old restore points of one repository: a preview first, then the removal; locked points are listed as kept. */
export function PruneSection({ repoRef, onPruned }: { readonly repoRef: string | undefined; readonly onPruned: () => void }) {
  const t = useT()
  const fmt = useFormat()
  const api = useApi()
  const id = useId()
  const toast = useUi((s) => s.toast)
  const [keep, setKeep] = useState({ keepLast: '', keepDaily: '7', keepWeekly: '4', keepMonthly: '6' })
  const [preview, setPreview] = useState<PruneReport | undefined>(undefined)
  const policy = () => Object.fromEntries(Object.entries(keep).filter(([, v]) => /^\d+$/.test(v.trim()) && Number(v) > 0).map(([k, v]) => [k, Number(v)]))
  const prune = useMutation({
    mutationFn: (dryRun: boolean) => api.invoke(repoPrune, { ...(repoRef !== undefined ? { repo: repoRef } : {}), policy: policy(), dryRun }),
    onSuccess: (report) => {
      setPreview(report)
      if (!report.dryRun) {
        toast('success', t('settings.repo.pruned', { count: report.removed.length }))
        onPruned()
      }
    },
    onError: (e) => toast('error', errorText(t, e)),
  })
  return (
    <fieldset className="retention">
      <legend>{t('settings.repo.prune')}</legend>
      <div className="retention-grid">
        {(['keepLast', 'keepDaily', 'keepWeekly', 'keepMonthly'] as const).map((k) => (
          <label key={k} className="field">
            <span className="label">{t(`wizard.keep.${k}`)}</span>
            <input id={`${id}-${k}`} inputMode="numeric" value={keep[k]} onChange={(e) => setKeep({ ...keep, [k]: e.target.value })} />
          </label>
        ))}
      </div>
      <div className="panel-actions settings-actions">
        <Button busy={prune.isPending && prune.variables} onClick={() => prune.mutate(true)}>
          {t('settings.repo.preview')}
        </Button>
        <Button variant="danger" disabled={!preview?.dryRun || preview.removed.length === 0} busy={prune.isPending && !prune.variables} onClick={() => prune.mutate(false)}>
          {t('settings.repo.pruneNow', { count: preview?.dryRun ? preview.removed.length : 0 })}
        </Button>
      </div>
      {preview && (
        <div className="prune-preview" role="status">
          <p>{t(preview.dryRun ? 'settings.repo.previewResult' : 'settings.repo.prunedResult', { removed: preview.removed.length, kept: preview.kept.length })}</p>
          <ul className="plain-list">
            {preview.removed.slice(0, 20).map((d) => (
              <li key={d.id}>
                <code>{d.id}</code> <span className="muted">{d.group}</span>
              </li>
            ))}
          </ul>
          {preview.locked.length > 0 && (
            <>
              <p>{t('settings.repo.lockedIntro', { count: preview.locked.length })}</p>
              <ul className="plain-list" aria-label={t('settings.repo.lockedList')}>
                {preview.locked.map((l) => (
                  <li key={l.pointId}>
                    <code>{l.pointId}</code> <span className="muted">{t('settings.repo.lockedUntil', { date: fmt.date(l.until) })}</span>
                  </li>
                ))}
              </ul>
            </>
          )}
        </div>
      )}
    </fieldset>
  )
}
