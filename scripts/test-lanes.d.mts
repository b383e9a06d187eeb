export declare const HOST_LANE: readonly string[]
export declare const HOST_PEER_IMPORT: RegExp
