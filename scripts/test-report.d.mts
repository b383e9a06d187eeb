export interface Failure {
  readonly where: string
  readonly message: string
}
export interface Report {
  readonly passed: number
  readonly failed: number
  readonly skipped: number
  readonly failures: Failure[]
  readonly flaky: Failure[]
}
export declare function head(message: unknown, lines?: number): string
export declare function counts(options: { root: string; vitest: readonly (string | { readonly file: string; readonly project: string })[]; playwright: string }): Promise<Report>
export declare function print(report: Report): void
