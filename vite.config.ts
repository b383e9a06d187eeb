import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'

// The renderer is built once and served unchanged by the Electron shell (lifeboat:// protocol) and by the web
// bridge (http://127.0.0.1:PORT), so asset URLs are relative.
export default defineConfig({
  root: 'renderer',
  base: './',
  plugins: [react()],
  build: {
    outDir: '../dist/renderer',
    emptyOutDir: true,
    target: 'chrome120',
    sourcemap: true,
    assetsInlineLimit: 0,
  },
  server: { strictPort: true },
})
