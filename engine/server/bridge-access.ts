import { createHash, randomBytes } from 'node:crypto'

/** What a `hello` credential gets the socket that sent it. */
export type Admission =
  /** A fresh link token, now spent: the socket is in and gets a session secret for its tab. */
  | { readonly kind: 'exchanged'; readonly session: string }
  /** A session secret handed out earlier (the tab reloaded or reconnected). */
  | { readonly kind: 'session' }
  /** A link token that was already exchanged: someone opened the link a second time. */
  | { readonly kind: 'link-used' }
  | { readonly kind: 'refused' }

export interface BridgeAccess {
  /** A new one-time link token. */
  issueLinkToken(): string
  admit(credential: string): Admission
  /** Called with each link token as it is exchanged (e.g. to remove the page that carried it). */
  onLinkUsed(listener: (token: string) => void): () => void
}

const newSecret = () => randomBytes(32).toString('base64url')

/**
 * The keys of the bridge. A link token (printed by `lifeboat serve`, visible in terminals, scrollback and
 * browser history) opens the door once: the first `hello` with it trades it for a session secret that lives only
 * in that tab's sessionStorage, and the token is dead from then on. Secrets are kept as SHA-256 digests and
 * looked up by digest, so the lookup's timing says nothing about the secret itself.
 */
export function createBridgeAccess(firstLinkToken?: string): BridgeAccess {
  const links = new Map<string, 'fresh' | 'used'>()
  const sessions = new Set<string>()
  const listeners = new Set<(token: string) => void>()
  const digest = (secret: string) => createHash('sha256').update(secret).digest('base64url')

  const issueLinkToken = (token = newSecret()) => {
    links.set(digest(token), 'fresh')
    return token
  }
  if (firstLinkToken !== undefined) issueLinkToken(firstLinkToken)

  return {
    issueLinkToken: () => issueLinkToken(),
    admit(credential) {
      if (credential.length === 0) return { kind: 'refused' }
      const key = digest(credential)
      if (sessions.has(key)) return { kind: 'session' }
      const link = links.get(key)
      if (link === 'used') return { kind: 'link-used' }
      if (link !== 'fresh') return { kind: 'refused' }
      links.set(key, 'used')
      const session = newSecret()
      sessions.add(digest(session))
      for (const listener of listeners) listener(credential)
      return { kind: 'exchanged', session }
    },
    onLinkUsed(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
  }
}
