import fs from "node:fs";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

/**
 * Headless Chromium for browser tests: Debian's `chromium` package driven by playwright-core
 * (no browser download). CI installs it with `apt-get install -y chromium` when missing.
 * The flags keep Chromium from reaching for Google's services, which this machine's closed
 * network refuses (and which slow every start); each launch gets a fresh, empty profile.
 */
export const CHROMIUM_PATH = process.env.LLM_PROXY_CHROMIUM ?? "/usr/bin/chromium";

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Whether the Chromium binary is installed (browser tests skip, with a message, when it is not). */
export function chromiumAvailable(): boolean {
  try {
    fs.accessSync(CHROMIUM_PATH, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export type LaunchedBrowser = {
  browser: Browser;
  /** A new isolated context (own cookies), with the given viewport. */
  newContext(viewport?: { width: number; height: number }): Promise<BrowserContext>;
  close(): Promise<void>;
};

/**
 * Launches Chromium. playwright's `launch` always starts it with a fresh, empty user-data
 * directory of its own (a temporary folder it deletes on close; it refuses `--user-data-dir`).
 */
export async function launchBrowser(): Promise<LaunchedBrowser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
  return {
    browser,
    newContext: (viewport = { width: 1280, height: 800 }) => browser.newContext({ viewport, reducedMotion: "reduce" }),
    close: () => browser.close().catch(() => {}),
  };
}

/**
 * Collects what a page reports that a test should fail on: uncaught errors, console errors
 * (a CSP violation is one) and failed same-origin requests other than expected 4xx answers.
 */
export function watchPage(page: Page): { errors: string[] } {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  return { errors };
}

export const SCREENSHOT_DIR = path.resolve(import.meta.dir, "../../test-output/screenshots");

/** Saves a full-page PNG as test-output/screenshots/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  // From the top: Chromium draws sticky headers where the page happens to be scrolled.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: file, fullPage: true, animations: "disabled" });
  return file;
}
