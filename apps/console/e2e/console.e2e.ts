/**
 * The console end to end: headless Chromium against the gateway binary on a fresh database,
 * two demo organizations (A with a replayed day of calls, B another tenant), providers faked at
 * the HTTP level (started by `loadgen console`). Every screen is checked for serious or
 * critical axe-core violations and photographed at desktop and phone width.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  BASE,
  clinic,
  expectAccessible,
  launch,
  open,
  openPages,
  screenshot,
  signIn,
  VIEWPORTS,
} from "./browser";
import { hangUp, ring, say } from "./vapi";

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});
// A failing test leaves a picture of every page it had open, and their addresses.
afterEach(async ({ task }) => {
  if (task.result?.state === "fail") {
    let n = 0;
    for (const page of openPages) {
      const name = `failed-${task.name.replace(/\W+/g, "-").slice(0, 60)}-${n++}`;
      console.error(`${name}: ${page.url()}`);
      await screenshot(page, name).catch(() => undefined);
    }
  }
  for (const page of openPages)
    await page
      .context()
      .close()
      .catch(() => undefined);
});

const A = clinic("A");
/** The demo day's first caller (`apps/loadgen`'s Maria Lopez, who booked Botox), as shown. */
const MARIA = "+1 415-555-1001";
const B = clinic("B");

/** Checks and photographs the current screen at both widths. */
async function checkScreen(page: Page, name: string) {
  await expectAccessible(page, `${name} (desktop)`);
  await screenshot(page, `${name}-desktop`);
  await page.setViewportSize(VIEWPORTS.phone);
  await expectAccessible(page, `${name} (phone)`);
  await screenshot(page, `${name}-phone`);
  await page.setViewportSize(VIEWPORTS.desktop);
}

describe("a new organization", () => {
  it("signs up and sees what to do on every empty screen", async () => {
    const { context, page, problems } = await open(browser);
    await page.goto(`${BASE}/`);
    await page.waitForURL(/\/sign-in$/);
    await checkScreen(page, "sign-in");
    await page.getByRole("link", { name: "Create an organization" }).click();
    const slug = `e2e-new-${Date.now().toString(36)}`;
    await page.getByLabel("Clinic name").fill("Harbor Physio");
    await page.getByLabel("Organization address").fill(slug);
    await page.getByLabel("Your name").fill("Robin Owner");
    await page.getByLabel("Email").fill(`owner@${slug}.example`);
    await page.getByLabel("Password").fill("short");
    await page.getByRole("button", { name: "Create organization" }).click();
    await expect.poll(() => page.getByText("At least 8 characters.").count()).toBe(1);
    await checkScreen(page, "sign-up");
    await page.getByLabel("Password").fill("tide-lantern-orchard-42");
    await page.getByRole("button", { name: "Create organization" }).click();
    await page.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();
    await page.getByText("No calls yet").waitFor();
    await page.getByText("Nothing booked today").waitFor();
    await page.getByText("No hot leads").waitFor();
    await checkScreen(page, "dashboard-empty");
    await page.getByRole("link", { name: "Calls" }).click();
    await page.getByText("No calls yet").waitFor();
    await page.getByRole("link", { name: "Leads & contacts" }).click();
    await page.getByText("No contacts yet").waitFor();
    expect(problems).toEqual([]);
    await context.close();
  });
});

describe("the demo clinic", () => {
  it("shows its day on the dashboard and in the calls list", async () => {
    const { context, page, problems } = await open(browser);
    await signIn(page, A);
    await expect.poll(() => page.getByTestId("stat-Calls").textContent()).not.toBe("0");
    await page.getByRole("heading", { name: "Recent activity" }).waitFor();
    await expect.poll(() => page.getByText(MARIA).count()).toBeGreaterThan(0);
    await expect.poll(() => page.getByTestId("live-state").textContent()).toBe("Live");
    await checkScreen(page, "dashboard");
    await page.getByRole("link", { name: "Calls" }).click();
    await page.getByTestId("call-row").first().waitFor();
    expect(await page.getByTestId("call-row").count()).toBeGreaterThan(3);
    await checkScreen(page, "calls");
    await page.getByLabel("Outcome").selectOption("booked");
    await expect.poll(() => page.getByTestId("call-row").count()).toBe(4);
    expect(page.url()).toContain("outcome=booked");
    await page.getByLabel("Outcome").selectOption("");
    await page.getByLabel("Search name or number").fill("5551001");
    await expect.poll(() => page.getByTestId("call-row").count()).toBe(1);
    expect(page.url()).toContain("q=5551001");
    await page.getByRole("link", { name: MARIA }).click();
    await page.getByRole("heading", { level: 1, name: `Call with ${MARIA}` }).waitFor();
    await page.getByTestId("transcript").waitFor();
    await checkScreen(page, "call-detail");
    expect(problems).toEqual([]);
    await context.close();
  });

  it("sends a follow-up SMS with its 160-character rule", async () => {
    const { context, page } = await open(browser);
    await signIn(page, A);
    await page.goto(`${BASE}/calls?q=5551001`);
    await page.getByRole("link", { name: MARIA }).click();
    const message = page.getByLabel("Message");
    await message.fill("x".repeat(161));
    await page.getByText("161/160 characters").waitFor();
    await page.getByRole("button", { name: "Send SMS" }).click();
    await page.getByText("At most 160 characters (one SMS).").waitFor();
    await message.fill("Thanks for calling! Reply to this message if anything changes.");
    await page.getByRole("button", { name: "Send SMS" }).click();
    await page.getByText("Follow-up sent").waitFor();
    await context.close();
  });

  it("adds a contact, refusing a number that is not E.164", async () => {
    const { context, page, problems } = await open(browser);
    await signIn(page, A);
    await page.getByRole("link", { name: "Leads & contacts" }).click();
    await page.getByTestId("contact-row").first().waitFor();
    await checkScreen(page, "contacts");
    await page.getByRole("button", { name: "New contact" }).click();
    const dialog = page.getByRole("dialog", { name: "New contact" });
    await dialog.getByLabel("Name").fill("Dana Whitfield");
    await dialog.getByLabel("Phone").fill("12345");
    await dialog.getByRole("button", { name: "Add contact" }).click();
    await dialog.getByText("Enter a phone number").waitFor();
    await expectAccessible(page, "new contact dialog");
    await dialog.getByLabel("Phone").fill("(415) 555-0199");
    await dialog.getByRole("button", { name: "Add contact" }).click();
    await page.getByText("Contact added").waitFor();
    await page.getByLabel("Search name or number").fill("Whitfield");
    await expect.poll(() => page.getByTestId("contact-row").count()).toBe(1);
    await page.getByText("+1 415-555-0199").waitFor();
    expect(problems).toEqual([]);
    await context.close();
  });

  it("shows a call arriving, its transcript growing, and its report, without a reload", async () => {
    const { context, page } = await open(browser);
    await signIn(page, A);
    await page.getByRole("link", { name: "Calls" }).click();
    await page.getByTestId("call-row").first().waitFor();
    await expect.poll(() => page.getByTestId("live-state").textContent()).toBe("Live");
    const caller = "+14155550177";
    const call = await ring(A, `e2e-live-${Date.now()}`, caller);
    const row = page.getByRole("link", { name: "+1 415-555-0177" });
    await row.waitFor({ timeout: 15_000 });
    await row.click();
    await page.getByRole("heading", { level: 1, name: /Call with/ }).waitFor();
    await say(call, "user", "Hi, do you have anything on Saturday morning?");
    await page.getByText("do you have anything on Saturday morning?").waitFor({ timeout: 15_000 });
    await hangUp(
      call,
      "User: Hi, do you have anything on Saturday morning?",
      "Asked about Saturday hours.",
    );
    await page.getByText("Asked about Saturday hours.").waitFor({ timeout: 15_000 });
    await context.close();
  });
});

describe("the dashboard's first load", () => {
  it("is usable quickly and says what it asked the API (reported, not enforced)", async () => {
    const { context, page } = await open(browser);
    await signIn(page, A);
    const requests: string[] = [];
    page.on("request", (r) => {
      const url = new URL(r.url());
      if (url.pathname.startsWith("/api/")) requests.push(`${r.method()} ${url.pathname}`);
    });
    const started = Date.now();
    await page.goto(`${BASE}/`);
    await page.getByTestId("stat-Calls").waitFor();
    await page.getByText(MARIA).first().waitFor();
    const usableMs = Date.now() - started;
    await page.waitForLoadState("networkidle");
    const js = await page.evaluate(() =>
      performance
        .getEntriesByType("resource")
        .filter((e) => e.name.endsWith(".js"))
        .reduce((sum, e) => sum + (e as PerformanceResourceTiming).encodedBodySize, 0),
    );
    console.info(
      `console: dashboard usable in ${usableMs} ms; ${requests.length} API requests (${requests.sort().join(", ")}); JavaScript transferred ${js} bytes`,
    );
    expect(requests.length).toBeGreaterThan(0);
    await context.close();
  });
});

describe("tenancy in the browser", () => {
  it("shows another organization none of the demo clinic's calls or contacts", async () => {
    const own = await open(browser);
    await signIn(own.page, A);
    await own.page.goto(`${BASE}/calls?q=5551001`);
    await own.page.getByRole("link", { name: MARIA }).click();
    await own.page.getByRole("heading", { level: 1, name: `Call with ${MARIA}` }).waitFor();
    const callUrl = own.page.url();
    await own.context.close();

    const { context, page } = await open(browser);
    await signIn(page, B);
    await page.getByRole("link", { name: "Calls" }).click();
    await page.getByRole("heading", { level: 1, name: "Calls" }).waitFor();
    await page.waitForLoadState("networkidle");
    expect(await page.getByText(MARIA).count()).toBe(0);
    await page.goto(callUrl);
    await page.getByRole("alert").waitFor();
    expect(await page.getByText(MARIA).count()).toBe(0);
    await page.goto(`${BASE}/contacts?q=Whitfield`);
    await page.getByText(/No contacts match/).waitFor();
    await context.close();
  });
});

describe("sessions", () => {
  it("returns to sign-in when the session ends, then to the page the user was on", async () => {
    const { context, page } = await open(browser);
    await signIn(page, A);
    await page.evaluate(() => sessionStorage.setItem("console.session", "not-a-valid-token"));
    await page.goto(`${BASE}/contacts?q=5551001`);
    await page.waitForURL(/\/sign-in\?expired=1&next=/);
    await page.getByText("Your session ended.").waitFor();
    await signIn(page, A, "Leads & contacts");
    expect(new URL(page.url()).pathname).toBe("/contacts");
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/sign-in$/);
    expect(await page.evaluate(() => sessionStorage.getItem("console.session"))).toBeNull();
    await context.close();
  });
});
