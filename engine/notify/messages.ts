import type { NotifyLanguage } from '../api/contract-notify'
import type { NotifyEvent, NotifyMessage, Severity } from './events'

const severity: Record<NotifyEvent['kind'], Severity> = {
  'run-failed': 'error',
  'run-skipped': 'warning',
  'vm-stale': 'error',
  'check-failed': 'error',
  'snapshot-review': 'warning',
  'repo-space-low': 'warning',
  'verify-damage': 'error',
  'daily-summary': 'info',
  test: 'info',
}

function bytes(n: number, language: NotifyLanguage): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let value = n
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${new Intl.NumberFormat(language === 'de' ? 'de-DE' : 'en-GB', { maximumFractionDigits: 1 }).format(value)} ${units[unit] ?? 'B'}`
}

/** Host-supplied text goes into one line of a subject or message: no line breaks, no control characters, bounded. */
export function clean(text: string, max = 300): string {
  // eslint-disable-next-line no-control-regex -- stripping control characters is the point
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim()
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat
}

function when(iso: string | undefined, language: NotifyLanguage): string {
  if (iso === undefined) return language === 'de' ? 'noch nie' : 'never'
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return language === 'de' ? 'unbekannt' : 'unknown'
  return new Intl.DateTimeFormat(language === 'de' ? 'de-DE' : 'en-GB', { dateStyle: 'medium', timeStyle: 'short' }).format(d)
}

type Parts = readonly [subject: string, text: string]

function english(e: NotifyEvent): Parts {
  switch (e.kind) {
    case 'run-failed':
      return [`Backup failed: ${clean(e.plan)}${e.vm ? ` (${clean(e.vm)})` : ''}`, `The plan "${clean(e.plan)}" failed${e.vm ? ` for ${clean(e.vm)}` : ''}: ${clean(e.error, 1000)}${e.jobId ? `\nDetails: lifeboat jobs show ${clean(e.jobId)}` : ''}`]
    case 'run-skipped':
      return [`Backup skipped: ${clean(e.plan)}`, `The plan "${clean(e.plan)}" did not run: ${clean(e.reason, 1000)}`]
    case 'vm-stale':
      return [`No backup for ${e.hours} h: ${clean(e.vm)}`, `${clean(e.vm)}${e.host ? ` on ${clean(e.host)}` : ''} has had no successful backup for more than ${e.hours} hours. Last success: ${when(e.lastSuccessAt, 'en')}.`]
    case 'check-failed':
      return [`Health check failed: ${clean(e.vm ?? e.point)}`, `The restore point ${clean(e.point)}${e.vm ? ` of ${clean(e.vm)}` : ''} did not pass its health check: ${clean(e.reason, 1000)}`]
    case 'snapshot-review':
      return [`Snapshot to review: ${clean(e.vm)}`, `The snapshot "${clean(e.snapshot)}" of ${clean(e.vm)} was due for review on ${when(e.reviewBy, 'en')}. Revert, discard or keep it.`]
    case 'repo-space-low':
      return [`Repository space low: ${clean(e.repository)}`, `The repository ${clean(e.repository)} has ${bytes(e.freeBytes, 'en')} free${e.totalBytes !== undefined ? ` of ${bytes(e.totalBytes, 'en')}` : ''}. Backups will fail when it is full.`]
    case 'verify-damage':
      return [`Verify found damage: ${clean(e.repository)}`, `Verifying ${clean(e.repository)} found ${e.damagedChunks} damaged chunk(s). Affected restore points: ${e.points.length > 0 ? e.points.slice(0, 20).map((p) => clean(p, 100)).join(', ') : 'none named'}.`]
    case 'daily-summary':
      return [
        `Lifeboat daily summary ${clean(e.date, 20)}`,
        [
          `Backups in the last 24 hours: ${e.runsSucceeded} succeeded, ${e.runsFailed} failed, ${e.runsSkipped} skipped.`,
          e.staleVms.length > 0 ? `VMs without a recent backup: ${e.staleVms.slice(0, 50).map((v) => clean(v, 100)).join(', ')}.` : 'Every VM under a plan has a recent backup.',
          ...(e.freeBytes !== undefined ? [`Free space in the repository: ${bytes(e.freeBytes, 'en')}.`] : []),
        ].join('\n'),
      ]
    case 'test':
      return ['Lifeboat test message', 'This is a test message from Lifeboat. If you can read it, alerts reach you on this channel.']
  }
}

function german(e: NotifyEvent): Parts {
  switch (e.kind) {
    case 'run-failed':
      return [`Sicherung fehlgeschlagen: ${clean(e.plan)}${e.vm ? ` (${clean(e.vm)})` : ''}`, `Der Plan „${clean(e.plan)}“ ist${e.vm ? ` für ${clean(e.vm)}` : ''} fehlgeschlagen: ${clean(e.error, 1000)}${e.jobId ? `\nEinzelheiten: lifeboat jobs show ${clean(e.jobId)}` : ''}`]
    case 'run-skipped':
      return [`Sicherung übersprungen: ${clean(e.plan)}`, `Der Plan „${clean(e.plan)}“ ist nicht gelaufen: ${clean(e.reason, 1000)}`]
    case 'vm-stale':
      return [`Seit ${e.hours} Std. keine Sicherung: ${clean(e.vm)}`, `${clean(e.vm)}${e.host ? ` auf ${clean(e.host)}` : ''} hat seit mehr als ${e.hours} Stunden keine erfolgreiche Sicherung. Letzter Erfolg: ${when(e.lastSuccessAt, 'de')}.`]
    case 'check-failed':
      return [`Zustandsprüfung fehlgeschlagen: ${clean(e.vm ?? e.point)}`, `Der Wiederherstellungspunkt ${clean(e.point)}${e.vm ? ` von ${clean(e.vm)}` : ''} hat die Zustandsprüfung nicht bestanden: ${clean(e.reason, 1000)}`]
    case 'snapshot-review':
      return [`Snapshot prüfen: ${clean(e.vm)}`, `Der Snapshot „${clean(e.snapshot)}“ von ${clean(e.vm)} sollte am ${when(e.reviewBy, 'de')} geprüft werden. Zurücksetzen, verwerfen oder behalten.`]
    case 'repo-space-low':
      return [`Wenig Platz im Repository: ${clean(e.repository)}`, `Im Repository ${clean(e.repository)} sind noch ${bytes(e.freeBytes, 'de')}${e.totalBytes !== undefined ? ` von ${bytes(e.totalBytes, 'de')}` : ''} frei. Ist es voll, schlagen Sicherungen fehl.`]
    case 'verify-damage':
      return [`Prüfung fand Schäden: ${clean(e.repository)}`, `Die Prüfung von ${clean(e.repository)} fand ${e.damagedChunks} beschädigte(n) Block/Blöcke. Betroffene Wiederherstellungspunkte: ${e.points.length > 0 ? e.points.slice(0, 20).map((p) => clean(p, 100)).join(', ') : 'keine genannt'}.`]
    case 'daily-summary':
      return [
        `Lifeboat-Tagesbericht ${clean(e.date, 20)}`,
        [
          `Sicherungen der letzten 24 Stunden: ${e.runsSucceeded} erfolgreich, ${e.runsFailed} fehlgeschlagen, ${e.runsSkipped} übersprungen.`,
          e.staleVms.length > 0 ? `VMs ohne aktuelle Sicherung: ${e.staleVms.slice(0, 50).map((v) => clean(v, 100)).join(', ')}.` : 'Jede VM mit Plan hat eine aktuelle Sicherung.',
          ...(e.freeBytes !== undefined ? [`Freier Platz im Repository: ${bytes(e.freeBytes, 'de')}.`] : []),
        ].join('\n'),
      ]
    case 'test':
      return ['Lifeboat-Testnachricht', 'Dies ist eine Testnachricht von Lifeboat. Wenn Sie sie lesen können, erreichen Sie Warnungen über diesen Kanal.']
  }
}

/** Renders an event in the app's language (English or German). */
export function render(event: NotifyEvent, language: NotifyLanguage): NotifyMessage {
  const [subject, text] = language === 'de' ? german(event) : english(event)
  return { kind: event.kind, severity: severity[event.kind], subject, text }
}
