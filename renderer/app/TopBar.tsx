import { useJobs } from '../api/queries'
import { Button } from '../components/Button'
import { IconJobs, IconMonitor, IconMoon, IconPlus, IconSun } from '../components/icons'
import { useT } from '../i18n/i18n'
import { useUi, type ThemeChoice } from '../stores/ui-store'

const logo = new URL('../../assets/lifeboat.svg', import.meta.url).href
const nextTheme: Record<ThemeChoice, ThemeChoice> = { system: 'light', light: 'dark', dark: 'system' }

export function TopBar() {
  const t = useT()
  const theme = useUi((s) => s.theme)
  const setTheme = useUi((s) => s.setTheme)
  const language = useUi((s) => s.language)
  const setLanguage = useUi((s) => s.setLanguage)
  const jobsOpen = useUi((s) => s.jobsOpen)
  const setJobsOpen = useUi((s) => s.setJobsOpen)
  const openAdd = useUi((s) => s.setAddHostOpen)
  const jobs = useJobs()
  const running = (jobs.data ?? []).filter((j) => j.state === 'running' || j.state === 'queued' || j.state === 'cancelling').length
  const themeLabel = t(theme === 'system' ? 'topbar.theme.system' : theme === 'light' ? 'topbar.theme.light' : 'topbar.theme.dark')
  return (
    <header className="topbar">
      <div className="brand">
        <img src={logo} alt="" width={26} height={26} />
        <span className="brand-name">{t('app.name')}</span>
        <span className="brand-tagline">{t('app.tagline')}</span>
      </div>
      <div className="topbar-actions">
        <Button variant="primary" icon={<IconPlus />} onClick={() => openAdd(true)}>
          {t('topbar.addHost')}
        </Button>
        <Button variant="ghost" icon={<IconJobs />} aria-pressed={jobsOpen} onClick={() => setJobsOpen(!jobsOpen)}>
          {t('topbar.jobs')}
          {running > 0 && <span className="count-badge">{t('topbar.jobsRunning', { count: running })}</span>}
        </Button>
        <label className="visually-hidden" htmlFor="language-select">
          {t('topbar.language')}
        </label>
        <select id="language-select" className="select-compact" value={language} onChange={(e) => setLanguage(e.target.value === 'de' ? 'de' : 'en')}>
          <option value="en">English</option>
          <option value="de">Deutsch</option>
        </select>
        <button type="button" className="icon-button" onClick={() => setTheme(nextTheme[theme])} aria-label={`${t('topbar.theme')}: ${themeLabel}`} title={themeLabel}>
          {theme === 'dark' ? <IconMoon /> : theme === 'light' ? <IconSun /> : <IconMonitor />}
        </button>
      </div>
    </header>
  )
}
