import { create } from 'zustand'
import { persist } from 'zustand/middleware'

export type Language = 'en' | 'de'
export type ThemeChoice = 'system' | 'light' | 'dark'
export type Selection =
  | { readonly kind: 'host'; readonly hostId: string }
  | { readonly kind: 'vm'; readonly hostId: string; readonly vmId: string }
  /** A VM as the repository knows it (it may no longer exist on any host). */
  | { readonly kind: 'backups'; readonly vmId: string }
  | null

export interface Toast {
  readonly id: number
  readonly tone: 'success' | 'error' | 'info'
  readonly text: string
}

interface UiState {
  selection: Selection
  /** Hosts the admin collapsed in the tree (expanded is the default). */
  collapsed: Record<string, true>
  theme: ThemeChoice
  language: Language
  jobsOpen: boolean
  addHostOpen: boolean
  toasts: Toast[]
  select: (selection: Selection) => void
  setExpanded: (hostId: string, expanded: boolean) => void
  setTheme: (theme: ThemeChoice) => void
  setLanguage: (language: Language) => void
  setJobsOpen: (open: boolean) => void
  setAddHostOpen: (open: boolean) => void
  toast: (tone: Toast['tone'], text: string) => void
  dismissToast: (id: number) => void
}

let toastSeq = 0

function initialLanguage(): Language {
  return typeof navigator !== 'undefined' && navigator.language.toLowerCase().startsWith('de') ? 'de' : 'en'
}

/** UI state only (what is selected, open, chosen). Server state lives in react-query, never here. */
export const useUi = create<UiState>()(
  persist(
    (set) => ({
      selection: null,
      collapsed: {},
      theme: 'system',
      language: initialLanguage(),
      jobsOpen: false,
      addHostOpen: false,
      toasts: [],
      select: (selection) => set({ selection }),
      setExpanded: (hostId, expanded) =>
        set((s) => ({
          collapsed: expanded
            ? Object.fromEntries(Object.entries(s.collapsed).filter(([id]) => id !== hostId))
            : { ...s.collapsed, [hostId]: true as const },
        })),
      setTheme: (theme) => set({ theme }),
      setLanguage: (language) => set({ language }),
      setJobsOpen: (jobsOpen) => set({ jobsOpen }),
      setAddHostOpen: (addHostOpen) => set({ addHostOpen }),
      toast: (tone, text) => set((s) => ({ toasts: [...s.toasts.slice(-3), { id: ++toastSeq, tone, text }] })),
      dismissToast: (id) => set((s) => ({ toasts: s.toasts.filter((t) => t.id !== id) })),
    }),
    {
      name: 'lifeboat-ui',
      partialize: (s) => ({ collapsed: s.collapsed, theme: s.theme, language: s.language, jobsOpen: s.jobsOpen }),
    },
  ),
)
