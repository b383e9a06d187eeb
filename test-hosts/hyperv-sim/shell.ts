/**
 * What Windows OpenSSH does with an exec request: it hands the command line to the configured default shell
 * (cmd.exe /c by default; powershell.exe or pwsh -c when the DefaultShell registry value says so). The command line
 * Lifeboat sends starts powershell.exe or pwsh with -EncodedCommand; this module parses that command line the way
 * the default shell would, decodes the script, runs it in the PowerShell subset, and writes the output in the
 * console's encoding (the OEM code page unless the script switches [Console]::OutputEncoding), with CRLF line ends.
 */
import { coreCmdlets } from './ps/core-cmdlets'
import type { CmdletDef } from './ps/cmdlet'
import { Interpreter, type OutputEncoding, type StdinReader } from './ps/interpreter'
import type { Edition } from './ps/json'
import { parseScript } from './ps/parser'
import { PsError, PsObject, SimulatorLimit, asArray, psToString, type ErrorInfo } from './ps/values'
import { aclCmdlets } from './hyperv/cmdlets-acl'
import { configCmdlets } from './hyperv/cmdlets-config'
import { powerCmdlets } from './hyperv/cmdlets-power'
import { queryCmdlets } from './hyperv/cmdlets-query'
import { cimCmdlets } from './hyperv/rct'
import type { HyperVHost } from './hyperv/host'
import type { FileLocks } from './hyperv/locks'
import { HOME } from './hyperv/winfs'

export type DefaultShell = 'cmd' | 'powershell' | 'pwsh'

export interface ShellConfig {
  readonly defaultShell: DefaultShell
  /** PowerShell 7 (pwsh) installed beside Windows PowerShell. */
  readonly pwsh: boolean
  /** The Hyper-V PowerShell module (RSAT-Hyper-V-Tools) installed. */
  readonly hypervModule: boolean
}

export interface ExecIo {
  readonly stdin: StdinReader
  readonly signal: AbortSignal
  stdout(data: Buffer): void
  stderr(data: Buffer): void
}

const PROGRAMS: Record<string, Edition> = {
  powershell: 'Desktop',
  'powershell.exe': 'Desktop',
  'c:\\windows\\system32\\windowspowershell\\v1.0\\powershell.exe': 'Desktop',
  pwsh: 'Core',
  'pwsh.exe': 'Core',
  'c:\\program files\\powershell\\7\\pwsh.exe': 'Core',
}

export class ShellHost {
  constructor(
    private readonly host: HyperVHost,
    private readonly locks: FileLocks,
    private readonly config: ShellConfig,
  ) {}

  private readonly absent = new Set<string>()

  private cmdlets(): Map<string, CmdletDef> {
    const all = [...coreCmdlets, ...queryCmdlets(this.host), ...powerCmdlets(this.host), ...configCmdlets(this.host), ...aclCmdlets(this.host), ...cimCmdlets(this.host)]
    const hyperv = (d: CmdletDef) => d.errorClass.startsWith('Microsoft.HyperV') || d.errorClass.startsWith('Microsoft.Vhd')
    this.absent.clear()
    if (!this.config.hypervModule) for (const d of all.filter(hyperv)) this.absent.add(d.name.toLowerCase())
    const map = new Map(all.filter((d) => this.config.hypervModule || !hyperv(d)).map((d) => [d.name.toLowerCase(), d]))
    const getCommand: CmdletDef = {
      name: 'Get-Command',
      errorClass: 'Microsoft.PowerShell.Commands.GetCommandCommand',
      params: { Name: { type: 'string[]', position: 0 } },
      run(_ctx, args) {
        return asArray(args.get('Name') ?? null).map((n) => {
          const def = map.get(psToString(n).toLowerCase())
          if (!def) throw new PsError({ message: `The term '${psToString(n)}' is not recognized as the name of a cmdlet, function, script file, or operable program.`, fqid: 'CommandNotFoundException,Microsoft.PowerShell.Commands.GetCommandCommand', category: 'ObjectNotFound', exceptionType: 'System.Management.Automation.CommandNotFoundException', targetName: psToString(n) })
          return new PsObject('System.Management.Automation.CmdletInfo', [['Name', def.name], ['CommandType', 'Cmdlet']], true, def.name)
        })
      },
    }
    map.set('get-command', getCommand)
    return map
  }

  /** Runs one exec request; resolves with the exit code. */
  async exec(command: string, io: ExecIo): Promise<number> {
    const text = (s: string) => io.stderr(Buffer.from(s.replace(/\n/g, '\r\n'), 'latin1'))
    let argv: string[]
    if (this.config.defaultShell === 'cmd') {
      const parsed = splitCmdLine(command)
      if (parsed === undefined) throw new SimulatorLimit(`cmd.exe syntax in "${command.slice(0, 80)}" (operators, %VARIABLES%, escapes)`)
      argv = parsed
    } else {
      const direct = this.asPowerShellCommand(command)
      if (direct === undefined) {
        // The default shell is PowerShell itself: the line is a script.
        this.host.log.push(command)
        return await this.runScript(this.config.defaultShell === 'pwsh' ? 'Core' : 'Desktop', command, false, io)
      }
      argv = direct
    }
    const program = (argv[0] ?? '').toLowerCase()
    const edition = PROGRAMS[program]
    if (edition === undefined || (edition === 'Core' && !this.config.pwsh)) {
      if (this.config.defaultShell === 'cmd') {
        text(`'${argv[0] ?? ''}' is not recognized as an internal or external command,\noperable program or batch file.\n`)
        return 9009
      }
      text(`${argv[0] ?? ''} : The term '${argv[0] ?? ''}' is not recognized as the name of a cmdlet, function, script file, or operable program.\n    + CategoryInfo          : ObjectNotFound: (${argv[0] ?? ''}:String) [], CommandNotFoundException\n    + FullyQualifiedErrorId : CommandNotFoundException\n`)
      return 1
    }
    let script: string | undefined
    let encoded = false
    for (let i = 1; i < argv.length; i++) {
      const a = (argv[i] ?? '').toLowerCase()
      if (a === '-nologo' || a === '-noprofile' || a === '-noninteractive') continue
      if (a === '-encodedcommand' || a === '-enc' || a === '-e' || a === '-ec') {
        const b64 = argv[++i] ?? ''
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) {
          text('Cannot process the command because the value specified with -EncodedCommand is not properly encoded. The value must be Base64 encoded.\n')
          return edition === 'Core' ? 64 : 1
        }
        script = Buffer.from(b64, 'base64').toString('utf16le')
        encoded = true
        if (i !== argv.length - 1) throw new SimulatorLimit('arguments after -EncodedCommand')
        break
      }
      if (a === '-command' || a === '-c') {
        script = argv.slice(i + 1).join(' ')
        break
      }
      throw new SimulatorLimit(`the ${argv[0] ?? ''} argument "${argv[i] ?? ''}"`)
    }
    if (script === undefined) throw new SimulatorLimit('an interactive PowerShell session (no -EncodedCommand or -Command)')
    this.host.log.push(script)
    return await this.runScript(edition, script, encoded, io)
  }

  /** In a PowerShell default shell, "powershell.exe -NoLogo …" is a native command line; anything else is a script. */
  private asPowerShellCommand(command: string): string[] | undefined {
    const first = /^\s*(\S+)/.exec(command)?.[1]?.toLowerCase()
    if (first === undefined || PROGRAMS[first] === undefined) return undefined
    const body = parseScript(command)
    const el = body.length === 1 && body[0]?.t === 'pipeline' && body[0].pipeline.elements.length === 1 ? body[0].pipeline.elements[0] : undefined
    if (el?.t !== 'command') throw new SimulatorLimit(`this command line in a PowerShell default shell: ${command.slice(0, 80)}`)
    return [
      el.name,
      ...el.args.map((a) => {
        if (a.kind === 'param' && a.value === undefined) return `-${a.name}`
        if (a.kind === 'value' && (a.value.t === 'str' || a.value.t === 'num')) return String(a.value.v)
        throw new SimulatorLimit('a non-literal argument to powershell.exe')
      }),
    ]
  }

  private async runScript(edition: Edition, script: string, encoded: boolean, io: ExecIo): Promise<number> {
    let encoding: OutputEncoding = 'oem'
    let bomWritten = false
    let clixml = false
    const owner = {}
    const writeOut = (line: string) => {
      const textLine = `${line}\r\n`
      if (encoding === 'oem') io.stdout(Buffer.from(textLine.replace(/[^\p{ASCII}]/gu, '?'), 'latin1'))
      else {
        if (encoding === 'utf8bom' && !bomWritten) {
          io.stdout(Buffer.from([0xef, 0xbb, 0xbf]))
          bomWritten = true
        }
        io.stdout(Buffer.from(textLine, 'utf8'))
      }
    }
    const writeStderr = (kind: 'Error' | 'warning', message: string) => {
      if (encoded && edition === 'Desktop') {
        if (!clixml) {
          io.stderr(Buffer.from('#< CLIXML\r\n'))
          clixml = true
        }
        const esc = message.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '_x000D_').replace(/\n/g, '_x000A_')
        io.stderr(Buffer.from(`<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><S S="${kind}">${esc}_x000D__x000A_</S></Objs>`, 'utf8'))
      } else io.stderr(Buffer.from(`${kind === 'warning' ? 'WARNING: ' : ''}${message}\r\n`, 'utf8'))
    }
    const writeError = (info: ErrorInfo) => {
      const activity = info.activity !== undefined ? `${info.activity} : ` : ''
      writeStderr('Error', `${activity}${info.message}\n    + CategoryInfo          : ${info.category}: (${info.targetName ?? ''}:${info.targetName !== undefined ? 'String' : ''}) [${info.activity ?? ''}], ${info.exceptionType.split('.').pop() ?? ''}\n    + FullyQualifiedErrorId : ${info.fqid}`)
    }
    const interpreter = new Interpreter({
      edition,
      version: edition === 'Desktop' ? (this.host.os === '2022' ? '5.1.20348.2849' : '5.1.17763.6414') : '7.4.6',
      signal: io.signal,
      stdin: io.stdin,
      cmdlets: this.cmdlets(),
      absentCommands: this.absent,
      env: {
        COMPUTERNAME: this.host.computerName,
        USERNAME: 'Administrator',
        USERPROFILE: HOME,
        ProgramData: 'C:\\ProgramData',
        SystemRoot: 'C:\\Windows',
        TEMP: `${HOME}\\AppData\\Local\\Temp`,
      },
      statics: { openFile: (p, mode, access, share) => this.locks.open(owner, p, mode, access, share) },
      writeOut,
      writeError,
      warn: (m) => writeStderr('warning', m),
      setOutputEncoding: (e) => {
        encoding = e
      },
    })
    try {
      return await interpreter.run(script)
    } catch (e) {
      if (e instanceof PsError) {
        writeError(e.info)
        return 1
      }
      throw e
    } finally {
      this.locks.releaseAll(owner)
    }
  }
}

/**
 * cmd.exe /c with a plain command line: words separated by spaces, "double quotes" group. Operators (& | < > ^)
 * and %VARIABLES% are cmd syntax the simulator does not model: undefined.
 */
export function splitCmdLine(line: string): string[] | undefined {
  const out: string[] = []
  let cur = ''
  let quoted = false
  let any = false
  for (const c of line) {
    if (c === '"') {
      quoted = !quoted
      any = true
      continue
    }
    if (!quoted && /[&|<>^%]/.test(c)) return undefined
    if (!quoted && (c === ' ' || c === '\t')) {
      if (any) out.push(cur)
      cur = ''
      any = false
      continue
    }
    cur += c
    any = true
  }
  if (quoted) return undefined
  if (any) out.push(cur)
  return out
}
