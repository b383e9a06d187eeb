/**
 * Entry point of the fake LVM executables: `node fake-lvm.mjs <lvs|vgs|lvcreate|lvremove|lvdisplay> ARGS…`, with the
 * state folder in $FAKE_LVM_STATE (the generated wrappers in <fake>/bin set both). Also `fake-lvm-write VG/LV OFFSET
 * LENGTH BYTE`, the write hook for tests that drive a host over SSH.
 */
import { createInterface, type Interface } from 'node:readline'
import { LvmError } from './args'
import type { Command, Io } from './common'
import { lvcreate } from './lvcreate'
import { lvdisplay } from './lvdisplay'
import { lvremove } from './lvremove'
import { lvs, vgs } from './lvs'
import { writeToLv } from './lv-write'
import { loadConfig } from './state'

const commands: Readonly<Record<string, Command>> = {
  lvs,
  vgs,
  lvcreate,
  lvremove,
  lvdisplay,
  'fake-lvm-write': async (config, argv) => {
    const [target = '', offset = '', length = '', byte = ''] = argv
    const [vg = '', lv = ''] = target.split('/')
    const value = Number(byte)
    if (!/^\d+$/.test(offset) || !/^\d+$/.test(length) || !Number.isInteger(value) || value < 0 || value > 255) {
      throw new LvmError(['usage: fake-lvm-write VG/LV OFFSET LENGTH BYTE'], 3)
    }
    await writeToLv(config, { vg, lv, offset: Number(offset), data: Buffer.alloc(Number(length), value) })
    return 0
  },
}

let prompts: Interface | undefined
let answers: AsyncIterator<string> | undefined
const io: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  async ask(question) {
    process.stdout.write(question)
    prompts ??= createInterface({ input: process.stdin })
    answers ??= prompts[Symbol.asyncIterator]()
    const next = await answers.next()
    return next.done === true ? undefined : next.value
  },
}

async function main(): Promise<number> {
  const [name = '', ...argv] = process.argv.slice(2)
  const command = commands[name]
  const stateDir = process.env.FAKE_LVM_STATE
  if (command === undefined || stateDir === undefined) {
    io.err(`fake-lvm: unknown command "${name}" or FAKE_LVM_STATE not set`)
    return 2
  }
  try {
    return await command(await loadConfig(stateDir), argv, io)
  } catch (err) {
    if (err instanceof LvmError) {
      err.lines.forEach(io.err)
      return err.exitCode
    }
    io.err(`  fake-lvm: ${err instanceof Error ? err.message : String(err)}`)
    return 5
  } finally {
    prompts?.close()
  }
}

process.exitCode = await main()
