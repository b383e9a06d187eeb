/** What bench-restore.ts hands each of its parts that run elsewhere (bench-restore-s3.ts, bench-restore-ssh.ts). */
export interface RestorePartOptions {
  readonly dir: string
  /** The bundled CLI (bench-restore.ts); beside it, the bundled helpers a part may run (s3-get.js). */
  readonly bin: string
  readonly home: string
  readonly env: NodeJS.ProcessEnv
  /** The mixed image (bench-image.ts): the reference file, and the SSH part's test VM disk. */
  readonly image: string
  readonly sizeMiB: number
  readonly repeat: number
  readonly dropCaches: () => Promise<unknown>
}
