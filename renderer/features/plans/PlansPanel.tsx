import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { plansDelete, plansList, plansRun, plansSave, type PlanView } from '../../../engine/api/contract'
import { useApi } from '../../api/api-client'
import { queryKeys } from '../../api/query-keys'
import { Alert, EmptyState } from '../../components/bits'
import { Button } from '../../components/Button'
import { Dialog } from '../../components/Dialog'
import { IconPlus } from '../../components/icons'
import type { MessageKey } from '../../i18n/en'
import { errorText, useFormat, useT } from '../../i18n/i18n'
import { useUi } from '../../stores/ui-store'
import { scheduleText } from '../backup/schedule-text'
import { modeKey } from '../restore/point-labels'

const resultKey: Record<NonNullable<PlanView['status']['lastResult']>, MessageKey> = {
  succeeded: 'plans.result.succeeded',
  failed: 'plans.result.failed',
  partial: 'plans.result.partial',
  cancelled: 'plans.result.cancelled',
}

export function usePlans() {
  const api = useApi()
  return useQuery({ queryKey: queryKeys.plans, queryFn: () => api.invoke(plansList, {}), refetchInterval: 15_000 })
}

function planScheduleText(t: ReturnType<typeof useT>, v: PlanView): string {
  if (!v.plan.enabled) return t('plans.disabled')
  return scheduleText(t, v.plan.schedule) ?? t('plans.manual')
}

/** What the plan's boot check does and when: after each run, or on its own schedule. */
function checkText(t: ReturnType<typeof useT>, check: NonNullable<PlanView['plan']['check']>): string {
  const host = check.hostName ?? check.host
  const min = Math.max(1, Math.round(check.timeoutSec / 60))
  const when = check.schedule !== undefined ? scheduleText(t, check.schedule) : undefined
  return when !== undefined ? t('plans.checksScheduled', { when, host, min }) : t('plans.checks', { host, min })
}

/** Saved backup plans: what runs when, how the last run went, what was missed; run, edit, pause, delete. */
export function PlansPanel() {
  const t = useT()
  const fmt = useFormat()
  const api = useApi()
  const client = useQueryClient()
  const plans = usePlans()
  const openWizard = useUi((s) => s.openWizard)
  const toast = useUi((s) => s.toast)
  const setJobsOpen = useUi((s) => s.setJobsOpen)
  const [deleting, setDeleting] = useState<PlanView | undefined>(undefined)
  const refresh = () => void client.invalidateQueries({ queryKey: queryKeys.plans })
  const run = useMutation({
    mutationFn: (id: string) => api.invoke(plansRun, { id }),
    onSuccess: () => {
      setJobsOpen(true)
      refresh()
    },
    onError: (e) => toast('error', errorText(t, e)),
  })
  const toggle = useMutation({
    mutationFn: (v: PlanView) => api.invoke(plansSave, { ...v.plan, enabled: !v.plan.enabled }),
    onSuccess: refresh,
    onError: (e) => toast('error', errorText(t, e)),
  })
  const remove = useMutation({
    mutationFn: (id: string) => api.invoke(plansDelete, { id }),
    onSuccess: () => {
      setDeleting(undefined)
      refresh()
    },
    onError: (e) => toast('error', errorText(t, e)),
  })
  const list = plans.data ?? []
  return (
    <section className="panel panel-wide" aria-labelledby="panel-title">
      <header className="panel-header">
        <div className="panel-titles">
          <h1 id="panel-title">{t('plans.title')}</h1>
          <p className="panel-subtitle">{t('plans.subtitle')}</p>
        </div>
        <div className="panel-actions">
          <Button variant="primary" icon={<IconPlus />} onClick={() => openWizard({ targets: [] })}>
            {t('plans.new')}
          </Button>
        </div>
      </header>
      {plans.isError && <Alert>{errorText(t, plans.error)}</Alert>}
      {plans.data && list.length === 0 ? (
        <EmptyState title={t('plans.none')}>
          <p>{t('plans.none.hint')}</p>
        </EmptyState>
      ) : (
        <div className="plan-list">
          {list.map((v) => (
            <article key={v.plan.id} className="card plan-card" aria-label={v.plan.name}>
              <header className="plan-head">
                <h2 className="truncate" title={v.plan.name}>
                  {v.plan.name}
                </h2>
                {v.status.running ? (
                  <span className="badge job-state-running">{t('plans.running')}</span>
                ) : v.status.lastResult === 'succeeded' && v.status.lastCheck?.verdict === 'failed' ? (
                  <span className="badge badge-warning">{t('plans.result.notBootable')}</span>
                ) : v.status.lastResult ? (
                  <span className={`badge plan-${v.status.lastResult}`}>{t(resultKey[v.status.lastResult])}</span>
                ) : (
                  <span className="badge">{t('plans.neverRun')}</span>
                )}
              </header>
              <p className="muted">
                {t(modeKey[v.plan.mode])} · {v.plan.targets.map((x) => x.vmName ?? x.vm).join(', ')}
              </p>
              <dl className="facts">
                <div className="fact">
                  <dt>{t('plans.schedule')}</dt>
                  <dd>{planScheduleText(t, v)}</dd>
                </div>
                <div className="fact">
                  <dt>{t('plans.next')}</dt>
                  <dd>{v.status.nextRuns[0] ? fmt.date(v.status.nextRuns[0]) : '—'}</dd>
                </div>
                <div className="fact">
                  <dt>{t('plans.last')}</dt>
                  <dd>{v.status.lastRunAt ? fmt.date(v.status.lastRunAt) : '—'}</dd>
                </div>
                {v.plan.check?.schedule !== undefined && (
                  <div className="fact">
                    <dt>{t('plans.nextCheck')}</dt>
                    <dd>{v.status.checking === true ? t('plans.checking') : v.status.nextChecks?.[0] ? fmt.date(v.status.nextChecks[0]) : '—'}</dd>
                  </div>
                )}
              </dl>
              {v.plan.check !== undefined && <p className="muted">{checkText(t, v.plan.check)}</p>}
              {v.status.lastCheck !== undefined && (
                <Alert tone={v.status.lastCheck.verdict === 'booted' ? 'info' : v.status.lastCheck.verdict === 'failed' ? 'error' : 'warning'}>
                  {t(v.status.lastCheck.verdict === 'booted' ? 'plans.check.booted' : v.status.lastCheck.verdict === 'failed' ? 'plans.check.failed' : 'plans.check.error', { summary: v.status.lastCheck.summary })}
                </Alert>
              )}
              {v.status.missedRuns > 0 && (
                <Alert tone="warning">{t('plans.missed', { count: v.status.missedRuns, since: fmt.date(v.status.missedSince) })}</Alert>
              )}
              <div className="plan-actions">
                <Button size="sm" variant="primary" busy={run.isPending && run.variables === v.plan.id} disabled={v.status.running} onClick={() => run.mutate(v.plan.id)}>
                  {t('plans.runNow')}
                </Button>
                <Button size="sm" onClick={() => openWizard({ planId: v.plan.id })}>
                  {t('plans.edit')}
                </Button>
                <Button size="sm" onClick={() => toggle.mutate(v)}>
                  {v.plan.enabled ? t('plans.pause') : t('plans.resume')}
                </Button>
                <Button size="sm" variant="ghost" onClick={() => setDeleting(v)}>
                  {t('plans.delete')}
                </Button>
              </div>
            </article>
          ))}
        </div>
      )}
      {deleting && (
        <Dialog
          title={t('plans.deleteTitle', { name: deleting.plan.name })}
          closeLabel={t('common.close')}
          tone="danger"
          locked={remove.isPending}
          onClose={() => setDeleting(undefined)}
          footer={
            <>
              <Button onClick={() => setDeleting(undefined)} data-autofocus>
                {t('common.cancel')}
              </Button>
              <Button variant="danger" busy={remove.isPending} onClick={() => remove.mutate(deleting.plan.id)}>
                {t('plans.delete')}
              </Button>
            </>
          }
        >
          <p>{t('plans.deleteBody')}</p>
        </Dialog>
      )}
    </section>
  )
}
