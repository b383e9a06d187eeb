/** Microsoft.PowerShell.Utility/Core cmdlets of the subset: Select-Object, ConvertTo-Json, Out-Null, Write-Output, Join-Path. */
import { confirmed, flag, str, type CmdletDef } from './cmdlet'
import { toJson } from './json'
import { PsError, PsHashtable, PsObject, ScriptBlock, SimulatorLimit, asArray, psToString, type PsValue } from './values'

const UTILITY = 'Microsoft.PowerShell.Commands'

const selectObject: CmdletDef = {
  name: 'Select-Object',
  errorClass: `${UTILITY}.SelectObjectCommand`,
  params: {
    Property: { type: 'object[]', position: 0 },
    First: { type: 'int' },
    ExpandProperty: { type: 'string' },
    InputObject: { type: 'object' },
  },
  run(_ctx, args, input) {
    const items = args.has('InputObject') ? asArray(args.get('InputObject') ?? null) : (input ?? [])
    const first = args.get('First')
    const chosen = typeof first === 'number' ? items.slice(0, first) : items
    const expand = str(args, 'ExpandProperty')
    if (expand !== undefined) {
      return chosen.flatMap((item) => {
        if (!(item instanceof PsObject)) throw new SimulatorLimit('Select-Object -ExpandProperty on something that is not an object')
        if (!item.has(expand)) {
          throw new PsError({ message: `Property "${expand}" cannot be found.`, fqid: `ExpandPropertyNotFound,${UTILITY}.SelectObjectCommand`, category: 'InvalidArgument', exceptionType: 'System.Management.Automation.PSArgumentException', targetName: psToString(item) })
        }
        return asArray(item.get(expand))
      })
    }
    const props = args.get('Property')
    if (props === undefined) return chosen
    const specs = asArray(props ?? null)
    return chosen.map((item) => {
      const typeName = item instanceof PsObject ? item.typeName : 'System.Object'
      const out = new PsObject(`Selected.${typeName}`)
      for (const spec of specs) {
        if (spec instanceof PsHashtable) throw new SimulatorLimit('calculated properties in Select-Object (they need script blocks evaluated per object)')
        const name = psToString(spec)
        if (/[*?[]/.test(name)) throw new SimulatorLimit(`wildcards in Select-Object -Property (${name})`)
        if (!(item instanceof PsObject)) throw new SimulatorLimit('Select-Object -Property on something that is not an object')
        const real = item.props.get(name.toLowerCase())?.name ?? name
        out.set(real, item.get(name))
      }
      return out
    })
  },
}

const convertToJson: CmdletDef = {
  name: 'ConvertTo-Json',
  errorClass: `${UTILITY}.ConvertToJsonCommand`,
  params: {
    InputObject: { type: 'any', position: 0 },
    Depth: { type: 'int' },
    Compress: { type: 'switch' },
    EnumsAsStrings: { type: 'switch', coreOnly: true },
    AsArray: { type: 'switch', coreOnly: true },
  },
  run(ctx, args, input) {
    let value: PsValue
    if (args.has('InputObject')) value = args.get('InputObject') ?? null
    else {
      const items = input ?? []
      if (items.length === 0) return []
      value = items.length === 1 && !flag(args, 'AsArray') ? (items[0] ?? null) : items
    }
    if (flag(args, 'AsArray') && !Array.isArray(value)) value = [value]
    const depth = args.get('Depth')
    const d = typeof depth === 'number' ? depth : 2
    if (d > 100) throw new PsError({ message: `Cannot validate argument on parameter 'Depth'. The ${d} argument is greater than the maximum allowed range of 100. Supply an argument that is less than or equal to 100 and then try the command again.`, fqid: `ParameterArgumentValidationError,${UTILITY}.ConvertToJsonCommand`, category: 'InvalidData', exceptionType: 'System.Management.Automation.ParameterBindingValidationException' })
    if (value instanceof ScriptBlock) throw new SimulatorLimit('ConvertTo-Json of a script block')
    return [
      toJson(value, {
        depth: d,
        compress: flag(args, 'Compress'),
        enumsAsStrings: flag(args, 'EnumsAsStrings'),
        edition: ctx.edition,
        onTruncated: () => ctx.warn(`Resulting JSON is truncated as serialization has exceeded the set depth of ${d}.`),
      }),
    ]
  },
}

const outNull: CmdletDef = {
  name: 'Out-Null',
  errorClass: `${UTILITY}.OutNullCommand`,
  params: { InputObject: { type: 'any' } },
  run: () => [],
}

const writeOutput: CmdletDef = {
  name: 'Write-Output',
  errorClass: `${UTILITY}.WriteOutputCommand`,
  params: { InputObject: { type: 'object[]', position: 0 }, NoEnumerate: { type: 'switch' } },
  run(_ctx, args, input) {
    return args.has('InputObject') ? asArray(args.get('InputObject') ?? null) : (input ?? [])
  },
}

const joinPath: CmdletDef = {
  name: 'Join-Path',
  errorClass: `${UTILITY}.JoinPathCommand`,
  params: { Path: { type: 'string', position: 0 }, ChildPath: { type: 'string', position: 1 } },
  run(_ctx, args) {
    const base = (str(args, 'Path') ?? '').replace(/[\\/]+$/, '')
    const child = (str(args, 'ChildPath') ?? '').replace(/^[\\/]+/, '')
    return [`${base}\\${child}`]
  },
}

/** Guards for cmdlets with ConfirmImpact High: without -Confirm:$false they prompt, which fails in -NonInteractive. */
export function requireNoPrompt(name: string, errorClass: string, args: ReadonlyMap<string, PsValue>, force = false): void {
  if (confirmed(args) || force) return
  throw new PsError({
    message: 'PowerShell is in NonInteractive mode. Read and Prompt functionality is not available.',
    fqid: `HostFunctionNotImplemented,${errorClass}`,
    category: 'InvalidOperation',
    exceptionType: 'System.Management.Automation.Host.HostException',
    activity: name,
  })
}

export const coreCmdlets: readonly CmdletDef[] = [selectObject, convertToJson, outNull, writeOutput, joinPath]
