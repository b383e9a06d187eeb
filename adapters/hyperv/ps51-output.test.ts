import { describe, expect, it } from 'vitest'
import { parseErrorRecord } from './errors'
import { readInventory } from './inventory'
import { PsRaw, jsonArray, splitOutput } from './powershell'
import { interpret, runJson, type PowerShellRunner } from './ps-runner'
import { destroyReferencePoint } from './rct'
import { ENUMS, SnapshotRecord, VhdRecord, VmRecord, arrayOf, parseJson, psDate } from './schemas'
import { z } from 'zod'

/**
 * What Windows PowerShell 5.1 prints, as the adapter's parsers receive it. 5.1 cannot run on the test machines, so the
 * documents below are written in its serializer's shape (see adapters/hyperv/README.md, "Windows PowerShell 5.1 and
 * PowerShell 7"): DateTime as "\/Date(ms)\/", enums as numbers, ' < > & escaped as \u0027 \u003c \u003e \u0026, one
 * object for a one-element pipeline, arrays that reach ConvertTo-Json as one object written {"value":[…],"Count":n},
 * Get-Date-made dates with their ETS properties, objects beyond -Depth flattened to strings, CRLF line ends and a BOM.
 */
const VM_ID = '5c5a8f0e-3b7c-4c1e-9a62-0f3b1e2d4c5a'
const SNAP_ID = '9d1c2b3a-4e5f-4a6b-8c7d-1e2f3a4b5c6d'
const ms = 1_700_000_000_000
const iso = new Date(ms).toISOString()

const vm51 = `{"Id":"${VM_ID.toUpperCase()}","Name":"it\\u0027s \\u003cweb\\u003e \\u0026 db","State":2,"Generation":2,"Version":"9.0","CheckpointType":3,"ProcessorCount":2,"MemoryStartup":1073741824,"DynamicMemoryEnabled":false,"MemoryMinimum":536870912,"MemoryMaximum":1099511627776,"Heartbeat":6,"IntegrationServicesState":"Up to date","ParentSnapshotId":null,"Notes":"","Status":"Operating normally"}`
const snapshot51 = (creation: string) => `{"Id":"${SNAP_ID}","Name":"Before patching 2026-12-06 22:00 - it\\u0027s \\u003c1\\u003e [Lifeboat]","VMId":"${VM_ID}","VMName":"web","CreationTime":${creation},"ParentSnapshotId":null,"SnapshotType":0,"State":6}`
const vhd51 = `{"Path":"C:\\\\VMs\\\\web.vhdx","VhdFormat":3,"VhdType":3,"Size":68719476736,"FileSize":4194304,"ParentPath":null,"LogicalSectorSize":512,"PhysicalSectorSize":4096,"BlockSize":33554432}`

const runnerOf = (answers: readonly string[]): PowerShellRunner => {
  let i = 0
  return (_script: PsRaw) => Promise.resolve(answers[i++] ?? '')
}
const signal = () => AbortSignal.timeout(10_000)

describe("the adapter's parsers read Windows PowerShell 5.1's JSON", () => {
  it('dates: \\/Date(ms)\\/, with a time-zone offset, before 1970, ISO 8601 (7), and a Get-Date-made date with its ETS properties', () => {
    const date = (json: string) => psDate.parse(JSON.parse(json))
    expect(date('"\\/Date(1700000000000)\\/"')).toBe(iso)
    // The offset names the local zone the value was written in; the milliseconds are UTC already.
    expect(date('"\\/Date(1700000000000+0100)\\/"')).toBe(iso)
    expect(date('"\\/Date(1700000000000-0530)\\/"')).toBe(iso)
    expect(date('"\\/Date(-86400000)\\/"')).toBe('1969-12-31T00:00:00.000Z')
    expect(date('"2023-11-14T23:13:20+01:00"')).toBe(iso)
    expect(date(`{"value":"\\/Date(${ms})\\/","DisplayHint":2,"DateTime":"Tuesday, November 14, 2023 10:13:20 PM"}`)).toBe(iso)
    expect(date('"not a date"')).toBeUndefined()
  })

  it('records: enums as numbers, escaped quotes and angle brackets, upper-case GUIDs', () => {
    const vm = parseJson(vm51, VmRecord)
    expect(vm).toMatchObject({ ok: true, value: { Id: VM_ID, Name: "it's <web> & db", State: 'Running', CheckpointType: 'Production', Heartbeat: 'OkApplicationsHealthy' } })
    expect(parseJson(vhd51, VhdRecord)).toMatchObject({ ok: true, value: { Path: 'C:\\VMs\\web.vhdx', VhdFormat: 'VHDX', VhdType: 'Dynamic' } })
    for (const [table, values] of Object.entries(ENUMS)) {
      for (const [name, n] of Object.entries(values)) {
        const field = { VMState: 'State', CheckpointType: 'CheckpointType', VMHeartbeatStatus: 'Heartbeat' }[table]
        if (field === undefined) continue
        const doc = JSON.stringify({ ...(JSON.parse(vm51) as object), [field]: n })
        expect(parseJson(doc, VmRecord), `${table} ${n}`).toMatchObject({ ok: true, value: { [field]: name } })
      }
    }
    expect(parseJson(vm51.replace('"State":2', '"State":77'), VmRecord)).toMatchObject({ ok: true, value: { State: 'Unknown(77)' } })
  })

  it('one object where an array was meant, and an array written as {"value":[…],"Count":n}', () => {
    const list = arrayOf(SnapshotRecord)
    const one = snapshot51(`"\\/Date(${ms})\\/"`)
    expect(parseJson(one, list)).toMatchObject({ ok: true, value: [{ Id: SNAP_ID, CreationTime: iso, State: 'Saved', SnapshotType: 'Standard' }] })
    expect(parseJson(`[${one},${one}]`, list)).toMatchObject({ ok: true, value: [{ Id: SNAP_ID }, { Id: SNAP_ID }] })
    expect(parseJson(`{"value":[${one},${one}],"Count":2}`, list)).toMatchObject({ ok: true, value: [{ Id: SNAP_ID }, { Id: SNAP_ID }] })
    expect(parseJson('null', list)).toEqual({ ok: true, value: [] })
    expect(jsonArray(`\r\n${one}\r\n`)).toHaveLength(1)
    // A lookalike that is not 5.1's wrapper (the count does not match) stays an object, and the schema refuses it.
    expect(parseJson(`{"value":[${one}],"Count":2}`, list)).toMatchObject({ ok: false })
  })

  it('objects beyond -Depth arrive as strings (5.1 says nothing): refused with where, never half-read', async () => {
    const truncated = `{"host":{"name":"HV01","os":"Microsoft Windows Server 2019 Datacenter","version":"10.0.17763","ps":"5.1.17763.5576","edition":"Desktop"},"vms":[${vm51}],"drives":["@{VMId=${VM_ID}; Path=C:\\\\VMs\\\\web.vhdx; ControllerType=1; ControllerNumber=0; ControllerLocation=0}"],"vhds":[],"snapshots":[],"integration":[],"volumes":[]}`
    await expect(readInventory(runnerOf([truncated]), signal())).rejects.toMatchObject({ code: 'BAD_RESPONSE', message: expect.stringContaining('drives.0') })
    await expect(runJson(runnerOf(['"Microsoft.HyperV.PowerShell.VirtualMachine"']), new PsRaw(''), VmRecord, { signal: signal(), what: 'Reading' })).rejects.toMatchObject({ code: 'BAD_RESPONSE' })
  })

  it('a whole 5.1 inventory: pretty-printed with CRLF, after a BOM, nested arrays as {"value":[…],"Count":n}', async () => {
    const pretty = [
      '{',
      '    "host":  {',
      '                 "name":  "HV01",',
      '                 "os":  "Microsoft Windows Server 2019 Datacenter",',
      '                 "version":  "10.0.17763",',
      '                 "ps":  "5.1.17763.5576",',
      '                 "edition":  "Desktop"',
      '             },',
      `    "vms":  ${vm51},`,
      `    "drives":  {"value":[{"VMId":"${VM_ID}","Path":"C:\\\\VMs\\\\web.vhdx","ControllerType":1,"ControllerNumber":0,"ControllerLocation":0}],"Count":1},`,
      `    "vhds":  ${vhd51},`,
      `    "snapshots":  ${snapshot51(`{"value":"\\/Date(${ms}+0100)\\/","DisplayHint":2,"DateTime":"Tuesday, November 14, 2023 11:13:20 PM"}`)},`,
      '    "integration":  [',
      `                        {"VMId":"${VM_ID}","Id":"Microsoft:${VM_ID.toUpperCase()}\\\\84EAAE65-2F2E-45F5-9BB5-0E857DC8EB47","Name":"Heartbeat","Enabled":true,"PrimaryStatusDescription":"OK","PrimaryOperationalStatus":2},`,
      `                        {"VMId":"${VM_ID}","Id":"Microsoft:${VM_ID.toUpperCase()}\\\\5CED1297-4598-4915-A5FC-AD21BB4D02A4","Name":"VSS","Enabled":true,"PrimaryStatusDescription":"OK","PrimaryOperationalStatus":2}`,
      '                    ],',
      '    "volumes":  {"DeviceID":"C:","Size":274877906944,"FreeSpace":137438953472}',
      '}',
    ].join('\r\n')
    const output = interpret({ code: 0, stdout: `\uFEFFLIFEBOAT-OK\r\n${pretty}\r\n`, stderr: '' }, 'powershell.exe', 'Reading')
    const inv = await readInventory(runnerOf([output]), signal())
    expect(inv.powershell).toBe('Desktop 5.1.17763.5576')
    expect(inv.vms).toMatchObject([{ id: VM_ID, name: "it's <web> & db", powerState: 'running', guestAgent: true, disks: [{ id: 'SCSI0:0', sizeBytes: 68719476736, format: 'vhdx' }], snapshots: [{ id: SNAP_ID, createdAt: iso }] }])
    expect(inv.storage).toEqual([{ id: 'C:', name: 'C:', sizeBytes: 274877906944, freeBytes: 137438953472 }])
  })

  it('markers and error records with a BOM and CRLF', () => {
    expect(splitOutput('\uFEFFLIFEBOAT-OK\r\n\uFEFF[1]\r\n')).toEqual({ ok: true, output: '[1]' })
    expect(parseJson('\uFEFF[1]', z.array(z.number()))).toEqual({ ok: true, value: [1] })
    const record = '{"message":"Hyper-V was unable to find a virtual machine with name \\u0027a\\u0027.","id":"InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM","category":"InvalidArgument","reason":"VirtualizationException","target":"a","activity":"Get-VM","exception":"Microsoft.HyperV.PowerShell.VirtualizationException"}'
    expect(parseErrorRecord(`\uFEFF${record}\r\n`)).toMatchObject({ message: "Hyper-V was unable to find a virtual machine with name 'a'.", category: 'InvalidArgument' })
  })

  it('an answer of DestroyReferencePoint that is not JSON is a BAD_RESPONSE, not a crash', async () => {
    await expect(destroyReferencePoint({ runner: runnerOf(['Der Vorgang wurde abgebrochen.']), connection: () => Promise.reject(new Error('none')), executable: () => Promise.resolve('powershell.exe'), rct: true }, 'P1', signal())).rejects.toMatchObject({ code: 'BAD_RESPONSE' })
    await expect(destroyReferencePoint({ runner: runnerOf(['\uFEFF{"ReturnValue":0,"Job":null}']), connection: () => Promise.reject(new Error('none')), executable: () => Promise.resolve('powershell.exe'), rct: true }, 'P1', signal())).resolves.toBeUndefined()
  })
})
