import type * as UndiciModule from 'undici'
import type * as XenApiModule from 'xen-api'

/**
 * xen-api and undici are loaded with the first pool connection, not at start-up: together they cost ~270 ms of CPU,
 * which every CLI command would pay although most never talk to a pool (issue 20 point 3, issue 19).
 */
let undici: Promise<typeof UndiciModule> | undefined
let xenApi: Promise<typeof XenApiModule> | undefined

export const loadUndici = (): Promise<typeof UndiciModule> => (undici ??= import('undici'))
export const loadXenApi = (): Promise<typeof XenApiModule> => (xenApi ??= import('xen-api'))

export type Undici = typeof UndiciModule
