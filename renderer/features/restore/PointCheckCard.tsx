import { useState } from 'react'
import type { PointSummaryDto } from '../../../engine/api/contract'
import { Button } from '../../components/Button'
import { useFormat, useT } from '../../i18n/i18n'
import { CheckPointDialog } from './CheckPointDialog'
import { CheckScreenshotDialog } from './CheckScreenshotDialog'

/** Whether this point was proven to boot: the last health check's verdict, when and where it ran, and the way to run one. */
export function PointCheckCard({ point }: { readonly point: PointSummaryDto }) {
  const t = useT()
  const fmt = useFormat()
  const [checking, setChecking] = useState(false)
  const [viewing, setViewing] = useState(false)
  const c = point.lastCheck
  // Tenths of a second for the short phases; minutes once a phase took as long as a boot that never came (10 min).
  const span = (ms: number) => (ms < 60_000 ? `${(ms / 1000).toFixed(1)}\u00a0s` : fmt.duration(ms / 1000))
  return (
    <section className={`point-check${c === undefined ? '' : c.verdict === 'booted' ? ' is-ok' : ' is-bad'}`} aria-label={t('check.section')}>
      <div className="point-check-text">
        {c === undefined ? (
          <>
            <p className="point-check-verdict">{t('check.never')}</p>
            <p className="muted">{t('check.neverHint')}</p>
          </>
        ) : (
          <>
            <p className="point-check-verdict">{t(c.verdict === 'booted' ? 'check.booted' : 'check.failed', { reason: c.reason })}</p>
            <p className="muted">
              {t('check.when', { date: fmt.date(c.checkedAt), relative: fmt.relative(c.checkedAt), host: c.host.name })} ·{' '}
              {t('check.timings', { restore: span(c.timings.restoreMs), boot: span(c.timings.bootMs), proof: span(c.timings.proofMs) })}
            </p>
            {c.command !== undefined && (
              <p className="muted">
                {t('check.commandResult', { command: c.command.commandLine, code: c.command.exitCode })}
              </p>
            )}
          </>
        )}
      </div>
      <div className="point-check-actions">
        {c?.screenshot !== undefined && (c.screenshot.format === 'png' || c.screenshot.format === 'jpeg') && (
          <Button size="sm" onClick={() => setViewing(true)}>
            {t('check.viewScreenshot')}
          </Button>
        )}
        <Button size="sm" variant={c === undefined ? 'primary' : 'secondary'} onClick={() => setChecking(true)}>
          {t('check.button')}
        </Button>
      </div>
      {checking && <CheckPointDialog point={point} onClose={() => setChecking(false)} />}
      {viewing && c !== undefined && <CheckScreenshotDialog point={point} check={c} onClose={() => setViewing(false)} />}
    </section>
  )
}
