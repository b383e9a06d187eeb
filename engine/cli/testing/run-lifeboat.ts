import { runCli } from '../main'

export interface CliRun {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs `lifeboat ARGV --home HOME` in this process as the terminal would, with `stdin` as its standard input. */
export async function lifeboat(home: string, argv: readonly string[], stdin = ''): Promise<CliRun> {
  let stdout = ''
  let stderr = ''
  const line = (t: string) => (t.endsWith('\n') ? t : `${t}\n`)
  const code = await runCli([...argv, '--home', home], new AbortController().signal, {
    json: argv.includes('--json'),
    out: (t) => (stdout += line(t)),
    err: (t) => (stderr += line(t)),
    confirm: () => undefined,
    readStdin: () => Promise.resolve(stdin),
  })
  return { code, stdout, stderr }
}
