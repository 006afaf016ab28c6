import { mkdirSync } from "node:fs";
import path from "node:path";
import axe from "axe-core";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { expect } from "vitest";

/** The gateway serving the console (set by `loadgen console`). */
export const BASE = required("CONSOLE_URL");

/** A demo clinic's manager login (`A` has a day of calls; `B` is another organization). */
export function clinic(which: "A" | "B") {
  return {
    name: required(`CLINIC_${which}_NAME`),
    email: required(`CLINIC_${which}_EMAIL`),
    password: required(`CLINIC_${which}_PASSWORD`),
    number: required(`CLINIC_${which}_NUMBER`),
    phoneNumberId: required(`CLINIC_${which}_PHONE_NUMBER_ID`),
  };
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the suite through \`cargo xtask test\``);
  return value;
}

/** Debian's Chromium, with the flags a closed network and root need (STACK.md). */
export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_BIN ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Pages still open, photographed when a test fails. */
export const openPages = new Set<Page>();

/** Widths every screen is checked and photographed at. */
export const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
} as const;

/** A fresh browser context (its own session storage) whose CSP violations and page errors are
 * collected in `problems`. */
export async function open(
  browser: Browser,
  viewport: keyof typeof VIEWPORTS = "desktop",
): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: VIEWPORTS[viewport] });
  const page = await context.newPage();
  openPages.add(page);
  page.on("close", () => openPages.delete(page));
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => {
    // A read the page was still making when the test navigated away is cancelled by the
    // browser (a refetch after a realtime event can start at any time); that is no failure.
    if (r.method() === "GET" && r.failure()?.errorText === "net::ERR_ABORTED") return;
    problems.push(`request failed: ${r.method()} ${r.url()}`);
  });
  page.on("response", (r) => {
    if (r.status() >= 500) problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
  });
  if (process.env.E2E_TRACE) {
    page.on("request", (r) => console.error(`→ ${r.method()} ${r.url()}`));
    page.on("response", (r) => console.error(`← ${r.status()} ${r.url()}`));
    page.on("console", (m) => console.error(`console: ${m.text()}`));
  }
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy|Refused to/i.test(m.text())) {
      problems.push(`CSP: ${m.text()}`);
    }
  });
  return { context, page, problems };
}

/** Signs in through the form and waits for the dashboard (or `landing`) to finish loading. */
export async function signIn(
  page: Page,
  who: { email: string; password: string },
  landing = "Dashboard",
) {
  if (!page.url().includes("/sign-in")) await page.goto(`${BASE}/sign-in`);
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { level: 1, name: landing }).waitFor();
  // Let the landing page's requests finish, so a test's next step (a reload, a tampered
  // session) does not race them.
  await page.waitForLoadState("networkidle");
}

/** Runs axe-core on the page and fails on any serious or critical violation. */
export async function expectAccessible(page: Page, screen: string) {
  await page.evaluate(axe.source);
  const violations = await page.evaluate(async () => {
    // biome-ignore lint/suspicious/noExplicitAny: axe is injected into the page at run time
    const result = await (window as any).axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map(
      (v: { id: string; impact: string; nodes: { target: unknown }[] }) => ({
        id: v.id,
        impact: v.impact,
        targets: v.nodes.map((n) => JSON.stringify(n.target)).slice(0, 3),
      }),
    );
  });
  const serious = violations.filter(
    (v: { impact: string }) => v.impact === "serious" || v.impact === "critical",
  );
  expect(serious, `${screen}: ${JSON.stringify(serious)}`).toEqual([]);
}

const SHOTS =
  process.env.SCREENSHOT_DIR ??
  path.resolve(import.meta.dirname, "../../../target/console/screenshots");

/** Saves a full-page screenshot as `<name>.png` under `SCREENSHOT_DIR`. */
export async function screenshot(page: Page, name: string) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}
