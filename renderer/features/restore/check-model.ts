import { hostKindsThatCheck, type HostDto, type PointSummaryDto } from '../../../engine/api/contract'

export interface CheckHostChoice {
  readonly host: HostDto
  /** False where the point cannot boot on that host (the UI says why). */
  readonly canCheck: boolean
  /** Why not: this version cannot boot points on that kind of host, or the point is of another kind (it boots only where it could be restored). */
  readonly why?: 'unsupported' | 'other-kind'
}

/** Every saved host, those that can run a check first; the default is the point's own host when it can run one. */
export function checkHostChoices(hosts: readonly HostDto[], point: Pick<PointSummaryDto, 'sourceHost'>): { choices: CheckHostChoice[]; preferred?: HostDto } {
  const choices = hosts
    .map((host): CheckHostChoice => {
      if (!hostKindsThatCheck.includes(host.kind)) return { host, canCheck: false, why: 'unsupported' }
      if (point.sourceHost.kind !== undefined && point.sourceHost.kind !== host.kind) return { host, canCheck: false, why: 'other-kind' }
      return { host, canCheck: true }
    })
    .sort((a, b) => Number(b.canCheck) - Number(a.canCheck))
  const capable = choices.filter((c) => c.canCheck).map((c) => c.host)
  const own = capable.find((h) => h.id === point.sourceHost.id) ?? capable.find((h) => point.sourceHost.id === undefined && h.name === point.sourceHost.name)
  const preferred = own ?? capable[0]
  return preferred === undefined ? { choices } : { choices, preferred }
}

/** Whole minutes the admin typed, as the seconds the contract takes (5 s to 24 h); undefined for anything else. */
export function timeoutSeconds(minutes: string): number | undefined {
  const text = minutes.trim()
  if (!/^\d{1,4}$/.test(text)) return undefined
  const n = Number(text)
  return n >= 1 && n <= 24 * 60 ? n * 60 : undefined
}
