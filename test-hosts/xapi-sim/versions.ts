/**
 * The XAPI version the simulator plays (`--xapi-version`, e.g. 1.249.0 for XCP-ng 8.2 LTS). The published datamodel
 * (xenapi.json) tags classes, fields and messages with the release they appeared in (kept as `since` in
 * datamodel.generated.json; `releasedBy` decides), but not parameters added to an existing message later, so those
 * are listed here with the XAPI version that added them, from XAPI's change notes.
 */
export const PARAMETERS_SINCE: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  // VM.snapshot's ignore_vdis arrived in XAPI 21.4.0 (issue 21; Xen Orchestra passes it only when needed and
  // retries without it); XCP-ng 8.2 LTS runs 1.249.
  'VM.snapshot': { ignore_vdis: '21.4.0' },
}

function parts(version: string): number[] {
  return version.split('.').map((p) => Number.parseInt(p, 10) || 0)
}

/** a ≥ b, numerically part by part (1.249.0 < 21.4.0 < 24.20.0). */
export function atLeast(a: string, b: string): boolean {
  const x = parts(a)
  const y = parts(b)
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0)
    if (d !== 0) return d > 0
  }
  return true
}

/** A version the simulator can play: numbered, as XAPI's own (`1.249.0`, `24.20.0`). */
export function checkVersion(version: string): string {
  if (!/^\d{1,4}\.\d{1,4}(\.\d{1,4})?$/.test(version)) throw new Error(`--xapi-version must be a numbered XAPI release such as 1.249.0 or 24.20.0, not ${JSON.stringify(version)}`)
  return version
}

/**
 * Whether something the datamodel tags `since` (a numbered release; undefined for one before every numbered release)
 * exists on a pool running `version` (undefined: the newest).
 */
export function releasedBy(version: string | undefined, since: string | undefined): boolean {
  return version === undefined || since === undefined || atLeast(version, since)
}

/** Whether `method`'s parameter `param` exists on a pool running `version` (undefined: the newest). */
export function hasParameter(version: string | undefined, method: string, param: string): boolean {
  const since = PARAMETERS_SINCE[method]?.[param]
  return version === undefined || since === undefined || atLeast(version, since)
}
