export declare function newestSource(dir: string, wanted: (name: string) => boolean, newest?: number): number
