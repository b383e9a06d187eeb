import { useMutation, useQuery } from '@tanstack/react-query'
import { useId, useState, type SyntheticEvent } from 'react'
import { plansList, repoInfo, repoVerify } from '../../../engine/api/contract'
import { useApi } from '../../api/api-client'
import { queryKeys } from '../../api/query-keys'
import { Alert, Facts, Field } from '../../components/bits'
import { Button } from '../../components/Button'
import { errorText, useFormat, useT } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'
import { ImmutabilitySection } from './ImmutabilitySection'
import { knownRepositories } from './immutability-model'
import { PruneSection } from './PruneSection'

const DEFAULT = ''
const OTHER = '\u0000other'

/**
 * One repository at a time: the default one, one a plan backs up or copies to, or any other location typed in. Its
 * usage, verify, immutability (S3 Object Lock) and removing old restore points.
 */
export function RepositoryCard() {
  const t = useT()
  const fmt = useFormat()
  const api = useApi()
  const id = useId()
  const toast = useUi((s) => s.toast)
  const setJobsOpen = useUi((s) => s.setJobsOpen)
  const plans = useQuery({ queryKey: queryKeys.plans, queryFn: () => api.invoke(plansList, {}) })
  const known = knownRepositories(plans.data ?? [])
  const [choice, setChoice] = useState(DEFAULT)
  const [typed, setTyped] = useState('')
  const [opened, setOpened] = useState<string | undefined>(undefined)
  const repoRef = choice === DEFAULT ? undefined : choice === OTHER ? opened : choice
  const showing = choice !== OTHER || opened !== undefined
  const repo = useQuery({
    queryKey: queryKeys.repoInfoAt(repoRef),
    queryFn: () => api.invoke(repoInfo, repoRef !== undefined ? { repo: repoRef } : {}),
    retry: false,
    enabled: showing,
  })
  const verify = useMutation({
    mutationFn: () => api.invoke(repoVerify, repoRef !== undefined ? { repo: repoRef } : {}),
    onSuccess: () => {
      setJobsOpen(true)
      toast('info', t('settings.repo.verifyStarted'))
    },
    onError: (e) => toast('error', errorText(t, e)),
  })
  const open = (event: SyntheticEvent) => {
    event.preventDefault()
    const location = typed.trim()
    if (location !== '') setOpened(location)
  }
  const usedBy = (r: (typeof known)[number]) =>
    [...(r.planNames.length > 0 ? [t('settings.repo.usedBy', { plans: r.planNames.join(', ') })] : []), ...(r.copyOf.length > 0 ? [t('settings.repo.copyOf', { plans: r.copyOf.join(', ') })] : [])].join('; ')
  return (
    <div className="card">
      <h2 className="card-title">{t('settings.repo')}</h2>
      <div className="form-grid repo-pick">
        <Field label={t('settings.repo.which')} htmlFor={`${id}-which`}>
          <select id={`${id}-which`} value={choice} onChange={(e) => setChoice(e.target.value)}>
            <option value={DEFAULT}>{t('settings.repo.default')}</option>
            {known.map((r) => (
              <option key={r.location} value={r.location}>
                {`${r.location} (${usedBy(r)})`}
              </option>
            ))}
            <option value={OTHER}>{t('settings.repo.other')}</option>
          </select>
        </Field>
      </div>
      {choice === OTHER && (
        <form className="repo-open" onSubmit={open} aria-label={t('settings.repo.other')}>
          <div className="repo-open-row">
            <Field label={t('settings.repo.otherLocation')} htmlFor={`${id}-loc`}>
              <input
                id={`${id}-loc`}
                className="mono"
                value={typed}
                onChange={(e) => setTyped(e.target.value)}
                spellCheck={false}
                placeholder="s3://bucket/lifeboat?endpoint=https://s3.example.net"
                aria-describedby={`${id}-loc-hint`}
              />
            </Field>
            <Button type="submit" disabled={typed.trim() === ''}>
              {t('settings.repo.open')}
            </Button>
          </div>
          <p className="field-hint" id={`${id}-loc-hint`}>
            {t('settings.repo.otherHint')}
          </p>
        </form>
      )}
      {!showing ? null : repo.isError ? (
        <Alert>{errorText(t, repo.error)}</Alert>
      ) : (
        <>
          <Facts
            items={[
              [t('settings.repo.location'), <code key="loc">{repo.data?.location ?? '—'}</code>],
              [t('settings.repo.points'), repo.data ? fmt.count(repo.data.points) : '—'],
              [t('settings.repo.stored'), repo.data ? `${fmt.bytes(repo.data.storedBytes)} (${t('settings.repo.ofDisks', { size: fmt.bytes(repo.data.logicalBytes) })})` : '—'],
              [t('settings.repo.free'), repo.data?.freeBytes !== undefined ? fmt.bytes(repo.data.freeBytes) : '—'],
              [t('settings.repo.encryption'), repo.data ? t(repo.data.encrypted ? 'settings.repo.encrypted' : 'settings.repo.plain') : '—'],
            ]}
          />
          <div className="panel-actions settings-actions">
            <Button busy={verify.isPending} onClick={() => verify.mutate()}>
              {t('settings.repo.verify')}
            </Button>
          </div>
          {repo.data && <ImmutabilitySection repoRef={repoRef} info={repo.data} />}
          <PruneSection key={repoRef ?? DEFAULT} repoRef={repoRef} onPruned={() => void repo.refetch()} />
        </>
      )}
    </div>
  )
}
