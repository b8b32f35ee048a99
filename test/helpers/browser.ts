import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium unless SLUICE_CHROMIUM names another; Playwright downloads no browser. */
export const CHROMIUM = process.env.SLUICE_CHROMIUM ?? '/usr/bin/chromium';

export const LAPTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export interface PageProblem {
  kind: 'console' | 'pageerror' | 'csp' | 'offsite';
  text: string;
  /** What the test was doing then (see `expect`). */
  phase: string;
}

export interface ConsoleBrowser {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Console errors, uncaught exceptions, CSP violations and off-machine requests, in order. */
  problems: PageProblem[];
  /** Names the current step; problems are recorded with it, so a test can allow the ones it causes. */
  phase(name: string): void;
  close(): Promise<void>;
}

/**
 * Headless Chromium on one page, every request outside 127.0.0.1 refused and recorded (the page
 * must need nothing from the internet), and everything that would show in the browser's console
 * collected. Root cannot run Chromium's sandbox, hence --no-sandbox (loopback test pages only).
 */
export async function openBrowser(): Promise<ConsoleBrowser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  const problems: PageProblem[] = [];
  let phase = 'start';
  try {
    const context = await browser.newContext({ viewport: LAPTOP, serviceWorkers: 'block' });
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.hostname === '127.0.0.1') return route.continue();
      problems.push({ kind: 'offsite', text: url.href, phase });
      return route.abort('blockedbyclient');
    });
    // Runs before the page's own scripts (injected by the browser, so the page's CSP does not apply to it).
    await context.addInitScript({
      content: "document.addEventListener('securitypolicyviolation', (event) => console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || 'inline'}`));",
    });
    const page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') {
        problems.push({ kind: message.text().startsWith('CSP violation') ? 'csp' : 'console', text: `${message.type()}: ${message.text()}`, phase });
      }
    });
    page.on('pageerror', (error) => problems.push({ kind: 'pageerror', text: error.message, phase }));
    return {
      browser,
      context,
      page,
      problems,
      phase: (name) => (phase = name),
      close: () => browser.close(),
    };
  } catch (error) {
    await browser.close();
    throw error;
  }
}

/** With SLUICE_SCREENSHOTS=1, saves the page as docs/console-<name>.png (the README's pictures). */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (process.env.SLUICE_SCREENSHOTS !== '1') return;
  mkdirSync('docs', { recursive: true });
  await page.screenshot({ path: `docs/console-${name}.png`, fullPage: true, animations: 'disabled' });
}
