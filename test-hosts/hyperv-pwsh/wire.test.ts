import { describe, expect, it } from 'vitest'
import { PsDate, PsEnum, PsGuid, PsHashtable, PsObject } from '../hyperv-sim/hyperv/values'
import { fromWire, toWire } from './wire'

const ID = '6d466660-1ade-4604-8173-817e09d2ce91'

describe('the bridge between the Hyper-V module and the model', () => {
  it('turns the tagged arguments PowerShell bound into the model values, and refuses anything else', () => {
    expect(fromWire({ $guid: ID })).toEqual(new PsGuid(ID))
    expect(fromWire({ $enum: 'Microsoft.HyperV.PowerShell.ControllerType', name: 'SCSI' })).toEqual(new PsEnum('Microsoft.HyperV.PowerShell.ControllerType', 'SCSI', 1))
    const vm = fromWire({ $ref: 'Microsoft.HyperV.PowerShell.VirtualMachine', id: ID })
    expect(vm instanceof PsObject && vm.typeName === 'Microsoft.HyperV.PowerShell.VirtualMachine' && vm.get('Id')).toEqual(new PsGuid(ID))
    expect(fromWire(["a'b", 3, true, null])).toEqual(["a'b", 3, true, null])
    expect(() => fromWire({ $ref: 'System.IO.FileInfo', id: ID })).toThrow(/cannot be passed/)
    expect(() => fromWire({ $enum: 'System.IO.FileMode', name: 'Create' })).toThrow(/unknown enum/)
    expect(() => fromWire({ Name: 'x' })).toThrow(/untagged/)
    expect(() => fromWire({ $guid: 'not a guid' })).toThrow()
  })

  it('takes CIM instances, adapters and drives back by value with their text, and -Arguments hashtables', () => {
    const cim = fromWire({ $o: 'Microsoft.Management.Infrastructure.CimInstance', p: [['Name', 'ABC']], s: 'Msvm_ComputerSystem' })
    expect(cim instanceof PsObject && [cim.typeName, cim.toString(), cim.get('Name')]).toEqual(['Microsoft.Management.Infrastructure.CimInstance', 'Msvm_ComputerSystem', 'ABC'])
    const h = fromWire({ $h: [['AffectedSystem', { $o: 'Microsoft.Management.Infrastructure.CimInstance', p: [], s: 'Msvm_ComputerSystem' }], ['ReferencePointType', 1]] })
    expect(h instanceof PsHashtable && [h.get('referencepointtype'), String(h.get('AffectedSystem'))]).toEqual([1, 'Msvm_ComputerSystem'])
    expect(fromWire({ $enum: 'Microsoft.HyperV.PowerShell.CopyFileSourceType', name: 'Host' })).toEqual(new PsEnum('Microsoft.HyperV.PowerShell.CopyFileSourceType', 'Host', 0))
    expect(() => fromWire({ $o: 'System.Diagnostics.Process', p: [] })).toThrow(/cannot be passed/)
    expect(() => fromWire({ $h: [['a']] })).toThrow(/malformed/)
  })

  it('tags what the model returns so the module can rebuild .NET types and property order', () => {
    const o = new PsObject('Microsoft.HyperV.PowerShell.VMSnapshot', [['Id', new PsGuid(ID)], ['State', new PsEnum('Microsoft.HyperV.PowerShell.VMState', 'Off', 3)], ['CreationTime', new PsDate(1_700_000_000_000)], ['HardDrives', []], ['Notes', null]], true)
    expect(toWire([o])).toEqual([
      {
        $o: 'Microsoft.HyperV.PowerShell.VMSnapshot',
        p: [['Id', { $guid: ID }], ['State', { $enum: 'Microsoft.HyperV.PowerShell.VMState', name: 'Off' }], ['CreationTime', { $date: 1_700_000_000_000 }], ['HardDrives', []], ['Notes', null]],
        s: 'Microsoft.HyperV.PowerShell.VMSnapshot',
      },
    ])
  })
})
