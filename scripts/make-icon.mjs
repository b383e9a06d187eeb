// Renders assets/lifeboat.svg to the 512×512 PNG electron-builder needs (run after changing the logo).
import { chromium } from 'playwright'
import { readFileSync } from 'node:fs'
const svg = readFileSync('assets/lifeboat.svg', 'utf8')
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--headless', '--disable-gpu'] })
const page = await browser.newPage({ viewport: { width: 512, height: 512 } })
await page.setContent(`<html><body style="margin:0;background:transparent">${svg.replace('<svg ', '<svg width="512" height="512" ')}</body></html>`)
await page.screenshot({ path: 'assets/icon.png', omitBackground: true })
await browser.close()
