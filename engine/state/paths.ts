import { homedir } from 'node:os'
import path from 'node:path'

/**
 * Where Lifeboat keeps its state. The desktop app, the web bridge and the CLI all use this one folder, so a
 * host added in one is there in the others. `$LIFEBOAT_HOME` wins; otherwise the OS's app-data folder, the
 * same one Electron's app.getPath('userData') gives for productName "Lifeboat".
 */
export function defaultHome(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  const explicit = env.LIFEBOAT_HOME
  if (explicit !== undefined && explicit.trim() !== '') return path.resolve(explicit)
  if (platform === 'win32') return path.join(env.APPDATA ?? path.join(homedir(), 'AppData', 'Roaming'), 'Lifeboat')
  if (platform === 'darwin') return path.join(homedir(), 'Library', 'Application Support', 'Lifeboat')
  const config = env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : path.join(homedir(), '.config')
  return path.join(config, 'Lifeboat')
}

export interface StatePaths {
  readonly home: string
  readonly hosts: string
  readonly secrets: string
  readonly jobs: string
  readonly repository: string
  readonly logs: string
  readonly snapshotReviews: string
  /** Health-check verdicts of restore points, and the folder of their console screenshots. */
  readonly pointChecks: string
  readonly checkScreenshots: string
  /** Alert channels and choices (no secrets), and what alerting remembers (open episodes, failed deliveries). */
  readonly notifySettings: string
  readonly notifyState: string
  /** What listing repositories remembers of each restore point (summaries by repository id and point id). */
  readonly pointSummaries: string
}

export function statePaths(home: string): StatePaths {
  return {
    home,
    hosts: path.join(home, 'hosts.json'),
    secrets: path.join(home, 'secrets.json'),
    jobs: path.join(home, 'jobs'),
    repository: path.join(home, 'repository'),
    logs: path.join(home, 'logs'),
    snapshotReviews: path.join(home, 'snapshot-reviews.json'),
    pointChecks: path.join(home, 'point-checks.json'),
    checkScreenshots: path.join(home, 'checks'),
    notifySettings: path.join(home, 'notify.json'),
    notifyState: path.join(home, 'notify-state.json'),
    pointSummaries: path.join(home, 'cache', 'point-summaries'),
  }
}
