import { create } from 'zustand'
import { persist } from 'zustand/middleware'

export type Language = 'en' | 'de'
export type ThemeChoice = 'system' | 'light' | 'dark'
export type Selection =
  | { readonly kind: 'host'; readonly hostId: string }
  | { readonly kind: 'vm'; readonly hostId: string; readonly vmId: string }
  /** A VM as the repository knows it (it may no longer exist on any host). */
  | { readonly kind: 'backups'; readonly vmId: string }
  | { readonly kind: 'view'; readonly view: 'dashboard' | 'plans' | 'settings' }
  | null

/** What the backup wizard starts from: some VMs, or an existing plan to edit. */
export type WizardStart = { readonly targets: readonly { readonly host: string; readonly vm: string }[] } | { readonly planId: string }

/** The VM the "Snapshot before patching" dialog is open for. */
export interface PatchTarget {
  readonly hostId: string
  readonly vmId: string
  readonly vmName: string
}

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
  wizard: WizardStart | null
  patchSnapshot: PatchTarget | null
  toasts: Toast[]
  select: (selection: Selection) => void
  setExpanded: (hostId: string, expanded: boolean) => void
  setTheme: (theme: ThemeChoice) => void
  setLanguage: (language: Language) => void
  setJobsOpen: (open: boolean) => void
  setAddHostOpen: (open: boolean) => void
  openWizard: (start: WizardStart | null) => void
  openPatchSnapshot: (target: PatchTarget | null) => void
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
      wizard: null,
      patchSnapshot: null,
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
      openWizard: (wizard) => set({ wizard }),
      openPatchSnapshot: (patchSnapshot) => set({ patchSnapshot }),
      toast: (tone, text) => set((s) => ({ toasts: [...s.toasts.slice(-3), { id: ++toastSeq, tone, text }] })),
      dismissToast: (id) => set((s) => ({ toasts: s.toasts.filter((t) => t.id !== id) })),
    }),
    {
      name: 'lifeboat-ui',
      partialize: (s) => ({ collapsed: s.collapsed, theme: s.theme, language: s.language, jobsOpen: s.jobsOpen }),
    },
  ),
)
