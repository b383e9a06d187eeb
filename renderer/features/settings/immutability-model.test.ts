import { describe, expect, it } from 'vitest'
import type { PlanView } from '../../../engine/api/contract'
import { translate } from '../../i18n/i18n'
import { checkDraft, draftFrom, isChange, knownRepositories, MAX_LOCK_DAYS, needsConfirmation, repoKind, stateKeys } from './immutability-model'

describe('the immutability form', () => {
  it('takes 1 to 3650 whole days and says in plain words what is wrong otherwise', () => {
    expect(checkDraft({ mode: 'GOVERNANCE', days: '7' })).toEqual({ lock: { mode: 'GOVERNANCE', days: 7 } })
    expect(checkDraft({ mode: 'COMPLIANCE', days: ' 3650 ' })).toEqual({ lock: { mode: 'COMPLIANCE', days: 3650 } })
    expect(checkDraft({ mode: 'GOVERNANCE', days: '1' })).toEqual({ lock: { mode: 'GOVERNANCE', days: 1 } })
    const says = (days: string) => {
      const r = checkDraft({ mode: 'GOVERNANCE', days })
      return 'error' in r ? translate('en', r.error, r.params) : 'accepted'
    }
    expect(says('')).toBe('Enter for how many days each restore point stays locked (1 to 3650).')
    expect(says('   ')).toBe('Enter for how many days each restore point stays locked (1 to 3650).')
    for (const bad of ['7.5', '-3', '1e3', '30 days', 'thirty', '0x1F']) expect(says(bad), bad).toBe('Enter a whole number of days, such as 30.')
    for (const bad of ['0', '3651', '36500', '99999999999999999999']) expect(says(bad), bad).toBe('Lock for 1 to 3650 days (3650 days is about 10 years).')
    expect(MAX_LOCK_DAYS).toBe(3650)
  })

  it('asks before compliance (it cannot be undone for the points it locks), never before governance', () => {
    expect(needsConfirmation({ mode: 'COMPLIANCE', days: 1 })).toBe(true)
    expect(needsConfirmation({ mode: 'GOVERNANCE', days: 3650 })).toBe(false)
  })

  it('starts from the current setting, else governance for 30 days, and knows when saving would change nothing', () => {
    expect(draftFrom(undefined)).toEqual({ mode: 'GOVERNANCE', days: '30' })
    expect(draftFrom({ mode: 'COMPLIANCE', days: 90 })).toEqual({ mode: 'COMPLIANCE', days: '90' })
    expect(isChange(undefined, { mode: 'GOVERNANCE', days: 30 })).toBe(true)
    expect(isChange({ mode: 'GOVERNANCE', days: 7 }, { mode: 'GOVERNANCE', days: 7 })).toBe(false)
    expect(isChange({ mode: 'GOVERNANCE', days: 7 }, { mode: 'COMPLIANCE', days: 7 })).toBe(true)
    expect(isChange({ mode: 'GOVERNANCE', days: 7 }, { mode: 'GOVERNANCE', days: 5 })).toBe(true)
  })

  it('says what the repository does now, in both languages', () => {
    const say = (language: 'en' | 'de', lock?: { mode: 'GOVERNANCE' | 'COMPLIANCE'; days: number }) => {
      const k = stateKeys(lock)
      return `${translate(language, k.title, { days: lock?.days ?? 0 })}: ${translate(language, k.text, { days: lock?.days ?? 0 })}`
    }
    expect(say('en')).toBe('Off: restore points in this repository can be deleted by whoever has its S3 credentials.')
    expect(say('en', { mode: 'GOVERNANCE', days: 30 })).toBe(
      'Governance, 30 days: nobody can delete or overwrite a restore point for 30 days after it was made, except an account allowed to bypass governance.',
    )
    expect(say('en', { mode: 'COMPLIANCE', days: 1 })).toBe(
      'Compliance, 1 day: nobody at all, not even the bucket owner, can delete or overwrite a restore point until its date (1 day after it was made). That lock cannot be shortened.',
    )
    expect(say('de', { mode: 'GOVERNANCE', days: 1 })).toMatch(/^Governance, 1 Tag: Niemand kann einen Wiederherstellungspunkt in den 1 Tag nach/)
  })
})

describe('repository kinds and the repositories the app knows of', () => {
  it('tells S3 from SFTP from folders by the location', () => {
    expect(repoKind('s3://bucket/lifeboat?endpoint=http%3A%2F%2F127.0.0.1%3A7480')).toBe('s3')
    expect(repoKind('S3://Bucket/x')).toBe('s3')
    expect(repoKind('sftp://nas/srv/backups')).toBe('sftp')
    expect(repoKind('/home/admin/.lifeboat/repository')).toBe('folder')
    expect(repoKind('C:\\Backups\\lifeboat')).toBe('folder')
    // A folder whose name merely contains "s3://" is still a folder.
    expect(repoKind('/srv/s3://not-a-bucket')).toBe('folder')
  })

  it('lists each plan repository and copy target once, with the plans that use it', () => {
    const view = (name: string, repo: string | undefined, copies: string[]) =>
      ({ plan: { name, ...(repo !== undefined ? { repo } : {}), copies: copies.map((to) => ({ to })) }, status: {} }) as unknown as PlanView
    const known = knownRepositories([view('Nightly', 's3://b/p', ['/mnt/usb']), view('Weekly', undefined, ['s3://b/p']), view('Files', 's3://b/p', [])])
    expect(known).toEqual([
      { location: 's3://b/p', planNames: ['Nightly', 'Files'], copyOf: ['Weekly'] },
      { location: '/mnt/usb', planNames: [], copyOf: ['Nightly'] },
    ])
    expect(knownRepositories([view('Default', undefined, [])])).toEqual([])
  })
})
