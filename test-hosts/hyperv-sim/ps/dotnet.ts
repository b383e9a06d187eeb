/**
 * The .NET corner of the subset: the static members the adapter's bootstrap and job lock use ([Console], encodings,
 * base64, [scriptblock]::Create, [System.IO.File]::Open) and the casts ([pscustomobject], [string], [int], …).
 */
import { parseScript } from './parser'
import { NetObject, PsBytes, PsEnum, PsError, PsGuid, PsHashtable, PsObject, ScriptBlock, SimulatorLimit, asArray, psToString, single, truthy, type PsValue } from './values'
import type { OutputEncoding, SessionOptions } from './interpreter'

function encodingObject(kind: OutputEncoding): NetObject {
  const name = kind === 'oem' ? 'System.Text.SBCSCodePageEncoding' : 'System.Text.UTF8Encoding'
  return new NetObject(name, {
    GetString: (args) => {
      const bytes = args[0]
      if (!(bytes instanceof PsBytes)) throw new SimulatorLimit('Encoding.GetString of something that is not a byte array')
      return (kind === 'oem' ? bytes.data.toString('latin1') : bytes.data.toString('utf8')).replace(/^\uFEFF/, '')
    },
  }, { __encoding: kind, WebName: kind === 'oem' ? 'ibm437' : 'utf-8' })
}


export class DotNet {
  constructor(private readonly session: Pick<SessionOptions, 'stdin' | 'signal' | 'statics' | 'setOutputEncoding'>) {}

  private typeKey(type: string): string {
    return type.toLowerCase().replace(/^system\./, '')
  }

  callStatic(type: string, name: string, args: PsValue[] | undefined): PsValue {
    const key = `${this.typeKey(type)}::${name.toLowerCase()}${args === undefined ? '' : '()'}`
    const arg = (i: number) => single(args?.[i] ?? null)
    switch (key) {
      case 'console::outputencoding':
        return encodingObject(this.outputEncoding)
      case 'console::in':
        return new NetObject('System.IO.SyncTextReader', {
          ReadToEnd: async () => await this.session.stdin.readAll(this.session.signal),
          ReadLine: async () => await this.session.stdin.readLine(this.session.signal),
        })
      case 'text.utf8encoding::new()':
        return encodingObject(truthy(arg(0)) ? 'utf8bom' : 'utf8')
      case 'text.encoding::utf8':
        return encodingObject('utf8bom')
      case 'convert::frombase64string()': {
        const text = psToString(arg(0))
        if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(text) || text.replace(/\s/g, '').length % 4 !== 0) {
          throw new PsError({ message: 'Exception calling "FromBase64String" with "1" argument(s): "The input is not a valid Base-64 string as it contains a non-base 64 character, more than two padding characters, or an illegal character among the padding characters. "', fqid: 'FormatException', category: 'NotSpecified', exceptionType: 'System.Management.Automation.MethodInvocationException' })
        }
        return new PsBytes(Buffer.from(text, 'base64'))
      }
      case 'scriptblock::create()': {
        const text = psToString(arg(0))
        try {
          return new ScriptBlock(parseScript(text), text)
        } catch (e) {
          if (e instanceof PsError) throw new PsError({ ...e.info, message: `Exception calling "Create" with "1" argument(s): "${e.info.message}"`, fqid: 'ParseException', category: 'NotSpecified', exceptionType: 'System.Management.Automation.MethodInvocationException' })
          throw e
        }
      }
      case 'io.file::open()':
        return this.session.statics.openFile(psToString(arg(0)), psToString(arg(1)), psToString(arg(2)), psToString(arg(3)))
      default:
        throw new SimulatorLimit(`the static member [${type}]::${name}${args === undefined ? '' : '()'}`)
    }
  }

  private outputEncoding: OutputEncoding = 'oem'

  setStatic(type: string, name: string, value: PsValue): void {
    if (this.typeKey(type) === 'console' && name.toLowerCase() === 'outputencoding') {
      if (!(value instanceof NetObject) || typeof value.properties.__encoding !== 'string') throw new SimulatorLimit('setting [Console]::OutputEncoding to anything but an encoding object')
      this.outputEncoding = value.properties.__encoding as OutputEncoding
      this.session.setOutputEncoding(this.outputEncoding)
      return
    }
    throw new SimulatorLimit(`setting [${type}]::${name}`)
  }

  cast(type: string, value: PsValue): PsValue {
    const v = single(value)
    switch (type.toLowerCase()) {
      case 'pscustomobject':
      case 'psobject':
      case 'system.management.automation.pscustomobject': {
        if (!(v instanceof PsHashtable)) {
          if (type.toLowerCase() === 'psobject') return v
          throw new SimulatorLimit('[pscustomobject] of anything but a hashtable literal')
        }
        return new PsObject('System.Management.Automation.PSCustomObject', [...v.entries.values()].map((x) => [x.key, x.value] as const))
      }
      case 'string':
      case 'system.string':
        return v === null ? '' : psToString(v)
      case 'int':
      case 'int32':
      case 'long':
      case 'int64':
      case 'uint64':
      case 'double': {
        const n = v instanceof PsEnum ? v.value : Number(psToString(v))
        if (!Number.isFinite(n)) throw new PsError({ message: `Cannot convert value "${psToString(v)}" to type "System.${type}". Error: "Input string was not in a correct format."`, fqid: 'InvalidCastFromStringToInteger', category: 'InvalidArgument', exceptionType: 'System.Management.Automation.RuntimeException' })
        return type.toLowerCase() === 'double' ? n : Math.round(n)
      }
      case 'bool':
      case 'boolean':
        return truthy(v)
      case 'guid':
        return v instanceof PsGuid ? v : new PsGuid(psToString(v))
      case 'array':
      case 'object[]':
        return asArray(value)
      default:
        throw new SimulatorLimit(`the cast [${type}]`)
    }
  }
}
