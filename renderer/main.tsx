import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { ApiContext, type ApiClient } from './api/api-client'
import { BridgeClient } from './api/bridge-client'
import { IpcClient, type PreloadBridge } from './api/ipc-client'
import { App, NoToken } from './app/App'
import './styles/app.css'

/**
 * The composition root, and the only place that looks at `window`: in the Electron window the preload offers
 * window.lifeboat (IPC); in a browser the page was opened with #token=… from `lifeboat serve`. That link token
 * works once: the bridge trades it for a session secret, which replaces it in this tab's sessionStorage so that
 * reloads get back in.
 */
function createClient(): ApiClient | undefined {
  const preload = (window as unknown as { lifeboat?: PreloadBridge }).lifeboat
  if (preload) return new IpcClient(preload)
  const fromHash = new URLSearchParams(window.location.hash.slice(1)).get('token')
  if (fromHash) {
    sessionStorage.setItem('lifeboat-token', fromHash)
    // Keep the token out of the address bar, history and screenshots.
    history.replaceState(null, '', window.location.pathname + window.location.search)
  }
  const token = fromHash ?? sessionStorage.getItem('lifeboat-token')
  return token ? BridgeClient.fromLocation(window.location, token, (session) => sessionStorage.setItem('lifeboat-token', session)) : undefined
}

const client = createClient()
const queryClient = new QueryClient({
  defaultOptions: { queries: { retry: 1, refetchOnWindowFocus: false, staleTime: 5_000 } },
})
const rootElement = document.getElementById('root')
if (!rootElement) throw new Error('index.html has no #root')

createRoot(rootElement).render(
  <StrictMode>
    {client ? (
      <ApiContext.Provider value={client}>
        <QueryClientProvider client={queryClient}>
          <App />
        </QueryClientProvider>
      </ApiContext.Provider>
    ) : (
      <NoToken />
    )}
  </StrictMode>,
)
