import { useMutation, useQuery } from '@tanstack/react-query'
import { useId, useState } from 'react'
import { repoInfo, repoPrune, repoVerify, type OutputOf } from '../../../engine/api/contract'
import { useApi } from '../../api/api-client'
import { queryKeys } from '../../api/query-keys'
import { useAppInfo, useHosts } from '../../api/queries'
import { Alert, Facts, Field } from '../../components/bits'
import { Button } from '../../components/Button'
import { errorText, useFormat, useT } from '../../i18n/i18n'
import { useUi, type ThemeChoice } from '../../stores/ui-store'
import { AlertsSection } from './AlertsSection'
import { CredentialsDialog } from './CredentialsDialog'

type PruneReport = OutputOf<typeof repoPrune>

/** Appearance and language, the repository (usage, verify now, prune preview), alerts, credentials, and what Lifeboat is. */
export function SettingsPanel() {
  const t = useT()
  const fmt = useFormat()
  const api = useApi()
  const id = useId()
  const info = useAppInfo()
  const hosts = useHosts()
  const theme = useUi((s) => s.theme)
  const setTheme = useUi((s) => s.setTheme)
  const language = useUi((s) => s.language)
  const setLanguage = useUi((s) => s.setLanguage)
  const toast = useUi((s) => s.toast)
  const setJobsOpen = useUi((s) => s.setJobsOpen)
  const repo = useQuery({ queryKey: queryKeys.repoInfo, queryFn: () => api.invoke(repoInfo, {}), retry: false })
  const [keep, setKeep] = useState({ keepLast: '', keepDaily: '7', keepWeekly: '4', keepMonthly: '6' })
  const [preview, setPreview] = useState<PruneReport | undefined>(undefined)
  const [credentialsFor, setCredentialsFor] = useState<string | undefined>(undefined)
  const verify = useMutation({
    mutationFn: () => api.invoke(repoVerify, {}),
    onSuccess: () => {
      setJobsOpen(true)
      toast('info', t('settings.repo.verifyStarted'))
    },
    onError: (e) => toast('error', errorText(t, e)),
  })
  const policy = () => Object.fromEntries(Object.entries(keep).filter(([, v]) => /^\d+$/.test(v.trim()) && Number(v) > 0).map(([k, v]) => [k, Number(v)]))
  const prune = useMutation({
    mutationFn: (dryRun: boolean) => api.invoke(repoPrune, { policy: policy(), dryRun }),
    onSuccess: (report) => {
      setPreview(report)
      if (!report.dryRun) {
        toast('success', t('settings.repo.pruned', { count: report.removed.length }))
        void repo.refetch()
      }
    },
    onError: (e) => toast('error', errorText(t, e)),
  })
  return (
    <section className="panel" aria-labelledby="panel-title">
      <header className="panel-header">
        <div className="panel-titles">
          <h1 id="panel-title">{t('settings.title')}</h1>
        </div>
      </header>

      <div className="card">
        <h2 className="card-title">{t('settings.appearance')}</h2>
        <div className="form-grid">
          <Field label={t('topbar.theme')} htmlFor={`${id}-theme`}>
            <select id={`${id}-theme`} value={theme} onChange={(e) => setTheme(e.target.value as ThemeChoice)}>
              <option value="system">{t('topbar.theme.system')}</option>
              <option value="light">{t('topbar.theme.light')}</option>
              <option value="dark">{t('topbar.theme.dark')}</option>
            </select>
          </Field>
          <Field label={t('settings.language')} htmlFor={`${id}-language`}>
            <select id={`${id}-language`} value={language} onChange={(e) => setLanguage(e.target.value === 'de' ? 'de' : 'en')}>
              <option value="en">English</option>
              <option value="de">Deutsch</option>
            </select>
          </Field>
        </div>
      </div>

      <div className="card">
        <h2 className="card-title">{t('settings.repo')}</h2>
        {repo.isError ? (
          <Alert>{errorText(t, repo.error)}</Alert>
        ) : (
          <Facts
            items={[
              [t('settings.repo.location'), <code key="loc">{repo.data?.location ?? '—'}</code>],
              [t('settings.repo.points'), repo.data ? fmt.count(repo.data.points) : '—'],
              [t('settings.repo.stored'), repo.data ? `${fmt.bytes(repo.data.storedBytes)} (${t('settings.repo.ofDisks', { size: fmt.bytes(repo.data.logicalBytes) })})` : '—'],
              [t('settings.repo.free'), repo.data?.freeBytes !== undefined ? fmt.bytes(repo.data.freeBytes) : '—'],
              [t('settings.repo.encryption'), repo.data ? t(repo.data.encrypted ? 'settings.repo.encrypted' : 'settings.repo.plain') : '—'],
            ]}
          />
        )}
        <div className="panel-actions settings-actions">
          <Button busy={verify.isPending} onClick={() => verify.mutate()}>
            {t('settings.repo.verify')}
          </Button>
        </div>
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
            </div>
          )}
        </fieldset>
      </div>

      <AlertsSection />

      <div className="card">
        <h2 className="card-title">{t('settings.credentials')}</h2>
        <p className="muted">{info.data ? t('settings.credentials.protection', { how: info.data.secretsProtection }) : ''}</p>
        <table className="table">
          <tbody>
            {(hosts.data ?? []).map((h) => (
              <tr key={h.id}>
                <td className="truncate">{h.name}</td>
                <td className="truncate">
                  {h.user}@{h.address}
                </td>
                <td>{t(h.authType === 'password' ? 'host.auth.password' : 'host.auth.key')}</td>
                <td className="actions">
                  <Button size="sm" onClick={() => setCredentialsFor(h.id)}>
                    {t('settings.credentials.change')}
                  </Button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      <div className="card">
        <h2 className="card-title">{t('settings.about')}</h2>
        <Facts
          items={[
            [t('settings.about.version'), info.data?.version ?? '—'],
            [t('settings.about.data'), <code key="home">{info.data?.home ?? '—'}</code>],
            [t('settings.about.restores'), <code key="restores">{info.data?.restoreDirectory ?? '—'}</code>],
          ]}
        />
      </div>
      {credentialsFor !== undefined && <CredentialsDialog hostId={credentialsFor} onClose={() => setCredentialsFor(undefined)} />}
    </section>
  )
}
