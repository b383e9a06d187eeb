/** A plain JSON-RPC / HTTP client for testing the simulator itself (trusting its certificate as a CA). */
import { Agent, request } from 'undici'
import type { XapiSim } from './sim'

export class SimClient {
  readonly agent: Agent
  session = ''

  constructor(
    readonly sim: XapiSim,
    readonly base = sim.url,
  ) {
    this.agent = new Agent({ connect: { ca: [sim.certificatePem, ...sim.core.hosts.map((h) => h.certPem)], rejectUnauthorized: true } })
  }

  async raw(method: string, params: unknown[]): Promise<{ result?: unknown; error?: { message: string; data: string[] } }> {
    const res = await request(`${this.base}/jsonrpc`, { method: 'POST', dispatcher: this.agent, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }) })
    return (await res.body.json()) as { result?: unknown; error?: { message: string; data: string[] } }
  }

  async call<T = unknown>(method: string, ...params: unknown[]): Promise<T> {
    const answer = await this.raw(method, [this.session, ...params])
    if (answer.error) throw Object.assign(new Error(`${answer.error.message}(${answer.error.data.join(', ')})`), { code: answer.error.message, params: answer.error.data })
    return answer.result as T
  }

  async login(): Promise<string> {
    const answer = await this.raw('session.login_with_password', [this.sim.user, this.sim.password, '2.21', 'test'])
    if (answer.error) throw new Error(answer.error.message)
    this.session = answer.result as string
    return this.session
  }

  /** Waits for a task to end and returns its record. */
  async waitTask(task: string): Promise<Record<string, unknown>> {
    for (;;) {
      const r = await this.call<Record<string, unknown>>('task.get_record', task)
      if (r.status !== 'pending' && r.status !== 'cancelling') return r
      await new Promise((res) => setTimeout(res, 20))
    }
  }

  async get(path: string, query: Record<string, string>): Promise<{ status: number; body: Buffer; headers: Record<string, unknown> }> {
    const res = await request(`${this.base}${path}?${new URLSearchParams({ session_id: this.session, ...query }).toString()}`, { dispatcher: this.agent, maxRedirections: 0 })
    return { status: res.statusCode, body: Buffer.from(await res.body.arrayBuffer()), headers: res.headers }
  }

  async put(path: string, query: Record<string, string>, body: Buffer): Promise<number> {
    const res = await request(`${this.base}${path}?${new URLSearchParams({ session_id: this.session, ...query }).toString()}`, { method: 'PUT', dispatcher: this.agent, body, headers: { 'content-length': String(body.length) } })
    await res.body.dump()
    return res.statusCode
  }

  async close(): Promise<void> {
    await this.agent.close()
  }
}
