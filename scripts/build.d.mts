export interface NodeEntry {
  readonly in: string
  readonly out: string
}
export declare const nodeEntries: readonly NodeEntry[]
export declare function buildNode(options?: { quiet?: boolean; outdir?: string; entries?: readonly NodeEntry[] }): Promise<void>
export declare function buildPreload(): Promise<void>
export declare function buildRenderer(): Promise<void>
export declare function linkBin(): Promise<void>
export declare function buildAll(): Promise<void>
