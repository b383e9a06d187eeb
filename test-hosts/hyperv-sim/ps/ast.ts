/** The syntax tree of the simulator's PowerShell subset (see parser.ts for what is accepted). */

export type Expr =
  | { readonly t: 'str'; readonly v: string }
  | { readonly t: 'num'; readonly v: number }
  | { readonly t: 'const'; readonly v: boolean | null }
  | { readonly t: 'var'; readonly name: string }
  | { readonly t: 'env'; readonly name: string }
  | { readonly t: 'array'; readonly items: readonly Expr[] }
  | { readonly t: 'subexpr'; readonly body: readonly Statement[] }
  | { readonly t: 'paren'; readonly pipeline: Pipeline }
  | { readonly t: 'hash'; readonly entries: readonly (readonly [string, Expr])[]; readonly ordered: boolean }
  | { readonly t: 'block'; readonly body: readonly Statement[]; readonly text: string }
  | { readonly t: 'member'; readonly target: Expr; readonly name: string }
  | { readonly t: 'invoke'; readonly target: Expr; readonly name: string; readonly args: readonly Expr[] }
  | { readonly t: 'static'; readonly type: string; readonly name: string; readonly args?: readonly Expr[] }
  | { readonly t: 'cast'; readonly type: string; readonly expr: Expr }
  | { readonly t: 'index'; readonly target: Expr; readonly index: Expr }
  | { readonly t: 'binop'; readonly op: string; readonly left: Expr; readonly right: Expr }
  | { readonly t: 'not'; readonly expr: Expr }
  | { readonly t: 'neg'; readonly expr: Expr }

export type CommandArg =
  | { readonly kind: 'param'; readonly name: string; readonly value?: Expr }
  | { readonly kind: 'value'; readonly value: Expr }

export type PipelineElement =
  | { readonly t: 'command'; readonly name: string; readonly args: readonly CommandArg[] }
  | { readonly t: 'call'; readonly target: Expr; readonly args: readonly CommandArg[] }
  | { readonly t: 'expr'; readonly expr: Expr }

export interface Pipeline {
  readonly elements: readonly PipelineElement[]
}

export type Statement =
  | { readonly t: 'pipeline'; readonly pipeline: Pipeline }
  | { readonly t: 'assign'; readonly name: string; readonly value: Pipeline }
  | { readonly t: 'assign-static'; readonly type: string; readonly name: string; readonly value: Pipeline }
  | { readonly t: 'if'; readonly clauses: readonly { readonly cond: Pipeline; readonly body: readonly Statement[] }[]; readonly otherwise?: readonly Statement[] }
  | { readonly t: 'try'; readonly body: readonly Statement[]; readonly catchBody?: readonly Statement[]; readonly finallyBody?: readonly Statement[] }
  | { readonly t: 'foreach'; readonly variable: string; readonly source: Pipeline; readonly body: readonly Statement[] }
  | { readonly t: 'exit'; readonly value?: Expr }
  | { readonly t: 'throw'; readonly value?: Expr }
