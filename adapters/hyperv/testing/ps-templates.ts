import { readFile, readdir } from 'node:fs/promises'
import path from 'node:path'
import ts from 'typescript'

export interface PsTemplate {
  readonly file: string
  readonly line: number
  /** The template's literal parts as the running code sees them (TemplateStringsArray), joined by templateKey. */
  readonly key: string
}

export function templateKey(parts: readonly string[]): string {
  return parts.join('\u0000')
}

/**
 * Every ps`…` tagged template in the adapter's product code (not its tests or test helpers), found with TypeScript's
 * own parser: the script builders a recording of the adapter's flows must have run, each at least once.
 */
export async function psTemplates(dir: string): Promise<PsTemplate[]> {
  const out: PsTemplate[] = []
  const files = (await readdir(dir)).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).sort()
  for (const file of files) {
    const source = ts.createSourceFile(file, await readFile(path.join(dir, file), 'utf8'), ts.ScriptTarget.Latest, true)
    const visit = (node: ts.Node): void => {
      if (ts.isTaggedTemplateExpression(node) && ts.isIdentifier(node.tag) && node.tag.text === 'ps') {
        const t = node.template
        const parts = ts.isNoSubstitutionTemplateLiteral(t) ? [t.text] : [t.head.text, ...t.templateSpans.map((s) => s.literal.text)]
        out.push({ file, line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1, key: templateKey(parts) })
      }
      ts.forEachChild(node, visit)
    }
    visit(source)
  }
  return out
}
