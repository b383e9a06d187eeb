import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'

/** The Electron binary, when `npm install` could download it (never on the CI machines, which are offline). */
export function electronBinary(): string | undefined {
  const dir = path.resolve('node_modules/electron')
  const pathFile = path.join(dir, 'path.txt')
  if (!existsSync(pathFile)) return undefined
  const binary = path.join(dir, 'dist', readFileSync(pathFile, 'utf8').trim())
  return existsSync(binary) ? binary : undefined
}

export function electronAvailable(): boolean {
  return electronBinary() !== undefined
}
