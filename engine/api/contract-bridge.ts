/**
 * The wire protocol of the local WebSocket bridge (browser mode). JSON text frames. The first frame a client
 * sends must be `hello`; anything else closes the socket. Its token is either the one-time link token printed by
 * `lifeboat serve` — the `welcome` then carries a session secret for the tab, and the link token is spent — or
 * a session secret received earlier (reloads and reconnects).
 */
import { z } from 'zod'
import { ApiErrorSchema } from './contract-errors'

export const BRIDGE_PATH = '/api'
export const BRIDGE_PROTOCOL = 'lifeboat.v1'
/** Close codes (4000–4999 are for applications). */
export const CLOSE_UNAUTHORIZED = 4401
export const CLOSE_BAD_MESSAGE = 4400
/** The hello carried a link token that was already exchanged for a session (the link was opened twice). */
export const CLOSE_LINK_USED = 4403

export const ClientMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), token: z.string().max(200) }),
  z.object({ type: z.literal('invoke'), id: z.number().int().nonnegative(), channel: z.string().max(100), input: z.unknown() }),
  z.object({ type: z.literal('subscribe'), topic: z.string().max(100) }),
  z.object({ type: z.literal('unsubscribe'), topic: z.string().max(100) }),
])
export type ClientMessage = z.infer<typeof ClientMessageSchema>

export const ServerMessageSchema = z.union([
  z.object({ type: z.literal('welcome'), session: z.string().max(200).optional() }),
  z.object({ type: z.literal('result'), id: z.number(), ok: z.literal(true), value: z.unknown() }),
  z.object({ type: z.literal('result'), id: z.number(), ok: z.literal(false), error: ApiErrorSchema }),
  z.object({ type: z.literal('event'), topic: z.string(), payload: z.unknown() }),
  z.object({ type: z.literal('error'), error: ApiErrorSchema }),
])
export type ServerMessage =
  | { type: 'welcome'; session?: string }
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; error: z.infer<typeof ApiErrorSchema> }
  | { type: 'event'; topic: string; payload: unknown }
  | { type: 'error'; error: z.infer<typeof ApiErrorSchema> }

/** Maximum size of one frame either way; a bigger one is refused unread. */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024
