import type { HostInventoryDto } from '../../../engine/api/contract'
import { EmptyState } from '../../components/bits'
import { Button } from '../../components/Button'
import { IconPlus } from '../../components/icons'
import { useT } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'

const logo = new URL('../../../assets/lifeboat.svg', import.meta.url).href

export function Welcome({ hosts }: { readonly hosts: readonly HostInventoryDto[] }) {
  const t = useT()
  const openAdd = useUi((s) => s.setAddHostOpen)
  if (hosts.length === 0) {
    return (
      <section className="panel panel-center" aria-labelledby="panel-title">
        <EmptyState
          icon={<img src={logo} alt="" width={72} height={72} />}
          title={t('welcome.title')}
          action={
            <Button variant="primary" icon={<IconPlus />} onClick={() => openAdd(true)}>
              {t('welcome.add')}
            </Button>
          }
        >
          <h1 id="panel-title" className="visually-hidden">
            {t('welcome.title')}
          </h1>
          <p>{t('welcome.body')}</p>
          <ul className="kind-list">
            {(['xenserver', 'hyperv', 'linux'] as const).map((k) => (
              <li key={k}>
                <strong>{t(`kind.${k}`)}</strong> — {t(`kind.${k}.detail`)}
              </li>
            ))}
          </ul>
        </EmptyState>
      </section>
    )
  }
  const online = hosts.filter((h) => h.status === 'online').length
  const vms = hosts.flatMap((h) => h.vms)
  const running = vms.filter((v) => v.powerState === 'running').length
  return (
    <section className="panel" aria-labelledby="panel-title">
      <header className="panel-header">
        <div className="panel-titles">
          <h1 id="panel-title">{t('welcome.overview')}</h1>
          <p className="panel-subtitle">{t('welcome.pick')}</p>
        </div>
      </header>
      <div className="cards">
        <div className="card stat">
          <p className="stat-label">{t('welcome.hosts')}</p>
          <p className="stat-value">{hosts.length}</p>
          <p className="stat-detail">{t('welcome.hostsOnline', { online, total: hosts.length })}</p>
        </div>
        <div className="card stat">
          <p className="stat-label">{t('welcome.vms')}</p>
          <p className="stat-value">{vms.length}</p>
          <p className="stat-detail">{t('welcome.vmsRunning', { running, total: vms.length })}</p>
        </div>
      </div>
    </section>
  )
}
