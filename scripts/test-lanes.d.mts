export declare const HOST_LANE: readonly string[]
export declare const HOST_PEER_IMPORT: RegExp
export declare const BALANCE_TO_HOSTS: readonly string[]
export declare const OLD_XAPI: { readonly project: string; readonly version: string; readonly files: readonly string[] }
