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
/** The demo day's first caller (`apps/loadgen`'s +1 415-555-1001, who booked Botox and gave her
 * name while booking). */
const MARIA = "Maria Lopez";
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
    await page.getByText("Follow-up sent", { exact: true }).waitFor();
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
    await page.getByText("Contact added", { exact: true }).waitFor();
    await page.getByLabel("Search name, number or company").fill("Whitfield");
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

/** A day three days ahead (`YYYY-MM-DD`): in the future in the clinic's zone, and open. */
const BOOKING_DAY = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
const OLIVIA = "Olivia Grant";

/** Books through the API as `who`'s session in `page` (another front-desk user, say). */
async function bookOverApi(page: Page, body: Record<string, string>) {
  const token = await page.evaluate(() => sessionStorage.getItem("console.session"));
  return fetch(`${BASE}/api/appointments`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

describe("appointments", () => {
  it("books a free slot, and offers alternatives when another booking takes it first", async () => {
    const { context, page, problems } = await open(browser);
    await signIn(page, A);
    await page.getByRole("link", { name: "Appointments" }).click();
    await page.getByTestId("calendar-day").first().waitFor();
    expect(await page.getByTestId("calendar-day").count()).toBe(7);
    await checkScreen(page, "appointments-week");
    await page.goto(`${BASE}/appointments?view=day&date=${BOOKING_DAY}`);
    const slots = page.getByTestId("free-slots");
    await slots.waitFor();
    await checkScreen(page, "appointments-day");
    await slots.getByRole("button").nth(4).click();
    const dialog = page.getByRole("dialog", { name: "Book appointment" });
    await dialog.getByLabel("Name").fill(OLIVIA);
    await dialog.getByLabel("Phone").fill("(415) 555-0142");
    const slot = await dialog.getByLabel("Time").inputValue();
    expect(slot).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    // Meanwhile another front-desk session books the same start.
    const first = await bookOverApi(page, {
      customer_name: "Walk-in Caller",
      customer_phone: "+14155550143",
      scheduled_time: slot,
    });
    expect(first.status).toBe(201);
    await dialog.getByRole("button", { name: "Book", exact: true }).click();
    await dialog.getByText("That time was just taken.").waitFor();
    const offered = dialog.getByTestId("alternatives").getByRole("button");
    expect(await offered.count()).toBeGreaterThan(0);
    await expectAccessible(page, "slot taken alternatives");
    await screenshot(page, "appointments-slot-taken-desktop");
    await offered.first().click();
    await page.getByText("Appointment booked", { exact: true }).waitFor();
    await page.getByTestId("appointment").filter({ hasText: OLIVIA }).waitFor();
    const walkIn = page.getByTestId("appointment").filter({ hasText: "Walk-in Caller" });
    await walkIn.getByRole("button", { name: "Remind by SMS" }).click();
    await page.getByText("Reminder sent", { exact: true }).waitFor();
    await walkIn.getByRole("button", { name: "Cancel" }).click();
    await walkIn.getByRole("button", { name: "Yes, cancel it" }).click();
    await page.getByText("Appointment cancelled", { exact: true }).waitFor();
    await walkIn.getByText("cancelled", { exact: true }).waitFor();
    expect(problems).toEqual([]);
    await context.close();
  });
});

describe("services and business hours", () => {
  it("prices a service in the clinic's currency and refuses a price it cannot hold", async () => {
    const { context, page, problems } = await open(browser);
    await signIn(page, A);
    await page.getByRole("link", { name: "Services & prices" }).click();
    await page.getByTestId("service-row").first().waitFor();
    await checkScreen(page, "services");
    await page.getByRole("button", { name: "New service" }).click();
    const dialog = page.getByRole("dialog", { name: "New service" });
    await dialog.getByLabel("Name").fill("Chemical peel");
    await dialog.getByLabel("Price").fill("125.555");
    await dialog.getByLabel("Keywords").fill("peel, Chemical Peel");
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.getByText("at most 2 decimals").waitFor();
    await expectAccessible(page, "service dialog");
    await dialog.getByLabel("Price").fill("125.5");
    await dialog.getByRole("button", { name: "Save" }).click();
    await page.getByText("Service added", { exact: true }).waitFor();
    const row = page.getByTestId("service-row").filter({ hasText: "Chemical peel" });
    await row.getByText("$125.50").waitFor();
    await row.getByText("chemical peel, peel").waitFor();
    expect(problems).toEqual([]);
    await context.close();
  });

  it("keeps the hours' rules before saving, and saves a closure", async () => {
    const { context, page, problems } = await open(browser);
    await signIn(page, A);
    await page.getByRole("link", { name: "Business hours" }).click();
    await page.getByTestId("windows").waitFor();
    expect(await page.getByLabel("Clinic time zone").inputValue()).toBe("America/New_York");
    await checkScreen(page, "business-hours");
    const step = page.getByLabel("Offer a start every (minutes)");
    await step.fill("4");
    await page.getByRole("button", { name: "Save business hours" }).click();
    await page.getByText("5 to 240 minutes.").waitFor();
    await step.fill("30");
    await page.getByRole("button", { name: "Add closed date" }).click();
    await page.getByLabel("Closure 1").fill("2027-12-25");
    await page.getByRole("button", { name: "Save business hours" }).click();
    await page.getByText("Business hours saved", { exact: true }).waitFor();
    await page.reload();
    await page.getByTestId("windows").waitFor();
    expect(await page.getByLabel("Closure 1").inputValue()).toBe("2027-12-25");
    expect(problems).toEqual([]);
    await context.close();
  });
});

describe("a contact", () => {
  it("shows the lead's calls, appointments and messages, saves edits and calls back once", async () => {
    const { context, page, problems } = await open(browser);
    await signIn(page, A);
    await page.goto(`${BASE}/contacts?q=5551001`);
    await page.getByTestId("contact-row").first().getByRole("link").click();
    await page.getByTestId("contact-calls").waitFor();
    await page.getByTestId("contact-appointments").waitFor();
    await checkScreen(page, "contact-detail");
    await page.getByLabel("Company").fill("Harbor Dental");
    await page.getByLabel("Lead score (0–100)").fill("150");
    await page.getByRole("button", { name: "Save contact" }).click();
    await page.getByText("0 to 100.").waitFor();
    await page.getByLabel("Lead score (0–100)").fill("90");
    await page.getByRole("button", { name: "Save contact" }).click();
    await page.getByText("Contact saved", { exact: true }).waitFor();
    await page.getByRole("button", { name: "Call back" }).click();
    await page.getByText("Calling back", { exact: true }).waitFor();
    await page.getByRole("button", { name: "Call back" }).click();
    await page.getByText("Already calling", { exact: true }).waitFor();
    await page.goto(`${BASE}/contacts?q=harbor`);
    await expect.poll(() => page.getByTestId("contact-row").count()).toBe(1);
    expect(problems).toEqual([]);
    await context.close();
  });
});

describe("roles", () => {
  it("gives a front-desk user the daily screens but not the clinic's set-up", async () => {
    const admin = await open(browser);
    await signIn(admin.page, A);
    const token = await admin.page.evaluate(() => sessionStorage.getItem("console.session"));
    await admin.context.close();
    const desk = {
      email: `desk-${Date.now().toString(36)}@sunrise-e2e.example`,
      password: "quiet-harbor-lantern-77",
    };
    const created = await fetch(`${BASE}/api/users`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "Front Desk", role: "user", ...desk }),
    });
    expect(created.status).toBe(201);

    const { context, page, problems } = await open(browser);
    await signIn(page, desk);
    const nav = page.getByRole("navigation", { name: "Main" });
    for (const screen of [
      "Dashboard",
      "Calls",
      "Leads & contacts",
      "Appointments",
      "Services & prices",
    ])
      await nav.getByRole("link", { name: screen }).waitFor();
    expect(await nav.getByRole("link", { name: "Business hours" }).count()).toBe(0);
    await page.goto(`${BASE}/settings/hours`);
    await page.getByText("Only managers and admins can change these.").waitFor();
    expect(await page.getByRole("button", { name: "Save business hours" }).count()).toBe(0);
    await page.goto(`${BASE}/services`);
    await page.getByTestId("service-row").first().waitFor();
    expect(await page.getByRole("button", { name: "New service" }).count()).toBe(0);
    expect(problems).toEqual([]);
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
    await own.page.getByRole("link", { name: MARIA }).first().click();
    await own.page.getByRole("heading", { level: 1, name: `Call with ${MARIA}` }).waitFor();
    const callUrl = own.page.url();
    await own.page.goto(`${BASE}/contacts?q=5551001`);
    await own.page.getByTestId("contact-row").first().getByRole("link").click();
    await own.page.getByTestId("contact-calls").waitFor();
    const contactUrl = own.page.url();
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
    await page.goto(`${BASE}/appointments?view=day&date=${BOOKING_DAY}`);
    await page.getByTestId("free-slots").waitFor();
    expect(await page.getByText(OLIVIA).count()).toBe(0);
    await page.goto(contactUrl);
    await page.getByRole("alert").waitFor();
    expect(await page.getByText("Harbor Dental").count()).toBe(0);
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
