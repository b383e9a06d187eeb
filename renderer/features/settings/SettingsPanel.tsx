import { useId, useState } from 'react'
import { useAppInfo, useHosts } from '../../api/queries'
import { Facts, Field } from '../../components/bits'
import { Button } from '../../components/Button'
import { useT } from '../../i18n/i18n'
import { useUi, type ThemeChoice } from '../../stores/ui-store'
import { AlertsSection } from './AlertsSection'
import { CredentialsDialog } from './CredentialsDialog'
import { RepositoryCard } from './RepositoryCard'

/** Appearance and language, the repositories (usage, verify now, immutability, prune preview), alerts, credentials, and what Lifeboat is. */
export function SettingsPanel() {
  const t = useT()
  const id = useId()
  const info = useAppInfo()
  const hosts = useHosts()
  const theme = useUi((s) => s.theme)
  const setTheme = useUi((s) => s.setTheme)
  const language = useUi((s) => s.language)
  const setLanguage = useUi((s) => s.setLanguage)
  const [credentialsFor, setCredentialsFor] = useState<string | undefined>(undefined)
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

      <RepositoryCard />

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
