/**
 * The dashboard in headless Chromium against the real gateway (real SQLite, real HTTP on loopback,
 * a mock upstream): first-run setup → create a provider and a client key in the UI → requests sent
 * with the official `openai` SDK show up in the live table within 1 s → the request detail shows
 * tokens and cost → the overview charts draw data → sign out; plus: the live WebSocket refuses an
 * unauthenticated upgrade, and a viewer sees no mutating controls. Every page is screenshotted at
 * desktop and phone widths into test-output/screenshots/.
 *
 * Needs Debian's `chromium` (/usr/bin/chromium); without it the file is skipped with a message.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import type { Page } from "playwright-core";
import { CHROMIUM_PATH, chromiumAvailable, launchBrowser, screenshot, watchPage, type LaunchedBrowser } from "./testing/browser.ts";
import { startGateway } from "./testing/gateway-harness.ts";
import { startMockUpstream } from "./testing/mock-upstream.ts";

const available = chromiumAvailable();
if (!available) {
  console.warn(`dashboard browser tests skipped: no Chromium at ${CHROMIUM_PATH} (install it with: apt-get install -y chromium)`);
}

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const ADMIN = { username: "admin", password: "correct horse battery staple" };
const VIEWER = { username: "viewer1", password: "viewer password 123" };
const MODEL = "mock-model";

/** An OpenAI-compatible upstream: 12 prompt + 7 completion tokens per answer, streaming or not. */
const upstream = startMockUpstream((r) => {
  if (r.method === "GET") return Response.json({ object: "list", data: [{ id: MODEL, object: "model" }] });
  const model = r.body?.model ?? MODEL;
  const usage = { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 };
  const base = { id: "chatcmpl-mock", created: 1_700_000_000, model };
  if (r.body?.stream) {
    const chunks = [
      { ...base, object: "chat.completion.chunk", choices: [{ index: 0, delta: { role: "assistant", content: "Hello" }, finish_reason: null }] },
      { ...base, object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: " there" }, finish_reason: "stop" }] },
      { ...base, object: "chat.completion.chunk", choices: [], usage },
    ];
    const sse = chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join("") + "data: [DONE]\n\n";
    return new Response(sse, { headers: { "content-type": "text/event-stream" } });
  }
  return Response.json({ ...base, object: "chat.completion", choices: [{ index: 0, message: { role: "assistant", content: "Hello there" }, finish_reason: "stop" }], usage });
});

let gw: Awaited<ReturnType<typeof startGateway>>;
let chrome: LaunchedBrowser;

beforeAll(async () => {
  if (!available) return;
  // A config-file provider too, so the Providers page shows a read-only one.
  const toml = [
    `[request_log]\nflush_interval_ms = 50\nstore_bodies = true`,
    `[monitoring]\nprobe_interval_ms = 0`,
    `[[providers]]\nid = "from-config"\ntype = "openai-compatible"\nbase_url = "${upstream.url}/v1"\napi_key = "sk-config-secret"\nmodels = ["config-model"]`,
  ].join("\n\n");
  [gw, chrome] = await Promise.all([startGateway(toml, {}, { api: { bcryptCost: 4 } }), launchBrowser()]);
});

afterAll(async () => {
  await chrome?.close();
  await gw?.stop();
  upstream.stop();
});

/** Waits until the page has rendered its heading and finished its first loads. */
async function settle(page: Page) {
  await page.waitForSelector("h1", { timeout: 5000 });
  await page.waitForFunction(() => !document.querySelector(".loading"), null, { timeout: 5000 });
  await page.waitForTimeout(150); // charts size themselves on the next frame
}

/** Screenshots at desktop and phone widths (the same page, resized; media queries re-apply). */
async function shoot(page: Page, name: string) {
  await screenshot(page, `${name}-desktop`);
  await page.setViewportSize(PHONE);
  await page.waitForTimeout(200);
  await screenshot(page, `${name}-phone`);
  await page.setViewportSize(DESKTOP);
  await page.waitForTimeout(100);
}

async function go(page: Page, path: string) {
  await page.goto(gw.base + path);
  await settle(page);
}

/** Browser problems a test must not have: uncaught errors and CSP violations (expected 401s aside). */
function problems(errors: string[]) {
  return errors.filter((e) => !/Failed to load resource: the server responded with a status of 40[13]/.test(e));
}

describe.skipIf(!available)("dashboard in a real browser", () => {
  test(
    "setup → provider → key → live requests → detail with cost → charts → sign out",
    async () => {
      const context = await chrome.newContext(DESKTOP);
      const page = await context.newPage();
      const { errors } = watchPage(page);

      // 1. The one-time setup link from the server log.
      const line = gw.lines.find((l) => l.includes("setup_url"));
      expect(line).toBeDefined();
      const setupUrl = new URL(JSON.parse(line!).setup_url);
      await page.goto(gw.base + setupUrl.pathname + setupUrl.search);
      await page.getByRole("heading", { name: "Create the first admin" }).waitFor();
      await page.waitForURL(/\/setup$/); // the token leaves the address bar (and history) at once
      await shoot(page, "setup");
      await page.getByLabel("Username").fill(ADMIN.username);
      await page.getByLabel("Password", { exact: true }).fill(ADMIN.password);
      await page.getByLabel("Repeat the password").fill(ADMIN.password);
      await page.getByRole("button", { name: "Create admin and sign in" }).click();
      await page.getByRole("heading", { name: "Overview" }).waitFor();
      await page.locator('[data-live="open"]').waitFor({ timeout: 5000 });

      // 2. A provider pointing at the mock upstream.
      await go(page, "/providers");
      await page.getByRole("button", { name: "Add provider" }).click();
      const providerDialog = page.getByRole("dialog");
      await providerDialog.getByLabel("ID", { exact: true }).fill("mock");
      await providerDialog.getByLabel("Type").selectOption("openai-compatible");
      await providerDialog.getByLabel("Base URL").fill(`${upstream.url}/v1`);
      await providerDialog.getByLabel("API keys").fill("sk-mock-upstream-key-9876");
      await providerDialog.getByLabel("Models", { exact: true }).fill(MODEL);
      await providerDialog.getByRole("button", { name: "Add provider" }).click();
      await page.locator('[data-provider="mock"]').waitFor();
      expect(await page.locator('[data-provider="mock"]').textContent()).toContain("••••9876");
      expect(await page.content()).not.toContain("sk-mock-upstream-key-9876");
      // Config providers are read-only: no edit controls on them.
      const configCard = page.locator('[data-provider="from-config"]');
      expect(await configCard.getByRole("button", { name: "Edit" }).count()).toBe(0);
      expect(await configCard.getByText("read-only").count()).toBe(1);
      // Test connection works against the mock.
      await page.locator('[data-provider="mock"]').getByRole("button", { name: "Test" }).click();
      await page.getByRole("dialog").getByRole("button", { name: "Run test" }).click();
      await expect(page.getByTestId("test-result").textContent()).resolves.toContain("Connection works");
      await page.keyboard.press("Escape"); // dialogs close on Escape
      await page.getByRole("dialog").waitFor({ state: "detached" });

      // 3. A price for the model, so its requests are priced (USD per 1M tokens).
      await go(page, "/pricing");
      await page.getByRole("button", { name: "Add override" }).click();
      const priceDialog = page.getByRole("dialog");
      await priceDialog.getByLabel("Model").fill(MODEL);
      await priceDialog.getByLabel("Input", { exact: true }).fill("2.5");
      await priceDialog.getByLabel("Output", { exact: true }).fill("10");
      await priceDialog.getByRole("button", { name: "Save price" }).click();
      await page.getByTestId("overrides").getByText(MODEL).waitFor();

      // 4. A client key, read once from its dialog.
      await go(page, "/keys");
      await page.getByRole("button", { name: "Create key" }).click();
      await page.getByRole("dialog").getByLabel("Name").fill("browser-test");
      await page.getByRole("dialog").getByLabel("Daily budget (USD)").fill("5");
      await page.getByRole("dialog").getByRole("button", { name: "Create key" }).click();
      await page.getByText("you will not see it again").waitFor();
      const key = await page.getByTestId("secret-value").inputValue();
      expect(key.length).toBeGreaterThan(20);
      await screenshot(page, "key-created-desktop");
      await page.getByRole("button", { name: "I have saved the key" }).click();
      await page.getByRole("dialog").waitFor({ state: "detached" });
      expect(await page.content()).not.toContain(key); // shown once, then gone
      expect(page.url()).not.toContain(key);
      // Edit a limit (only the changed field is sent).
      const keyCard = page.locator(".card.key", { hasText: "browser-test" });
      await keyCard.getByRole("button", { name: "Edit" }).click();
      await page.getByRole("dialog").getByLabel("Requests per minute").fill("600");
      await page.getByRole("dialog").getByRole("button", { name: "Save" }).click();
      await keyCard.getByText("600 req/min").waitFor();

      // 5. Requests with the official SDK appear in the live table within 1 s.
      await go(page, "/requests");
      await page.locator('[data-live="open"]').waitFor({ timeout: 5000 });
      const client = new OpenAI({ baseURL: `${gw.base}/v1`, apiKey: key, maxRetries: 0 });
      const ids: string[] = [];
      for (const [i, stream] of [false, true, false].entries()) {
        let id: string | null;
        if (stream) {
          const { data, response } = await client.chat.completions.create({ model: MODEL, stream: true, messages: [{ role: "user", content: "hi" }] }).withResponse();
          for await (const _ of data) {
            // drain the stream
          }
          id = response.headers.get("x-request-id");
        } else {
          // The last one is attributed to a project (the overview's "By project" breakdown, below).
          const options = i === 2 ? { headers: { "x-llm-proxy-project": "apollo" } } : undefined;
          const { data, response } = await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "hi" }] }, options).withResponse();
          expect(data.choices[0]!.message.content).toBe("Hello there");
          id = response.headers.get("x-request-id");
        }
        expect(id).toBeTruthy();
        const done = performance.now();
        await page.locator(`tr[data-request-id="${id}"][data-state="done"]`).waitFor({ timeout: 1000 });
        expect(performance.now() - done).toBeLessThan(1000);
        ids.push(id!);
      }
      const firstRow = page.locator(`tr[data-request-id="${ids[0]}"]`);
      expect(await firstRow.textContent()).toContain("$0.0001"); // 12 × $2.5/M + 7 × $10/M
      // Paused: new rows wait until resumed.
      await page.getByTestId("pause").click();
      const held = await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "hi" }] }).withResponse();
      const heldId = held.response.headers.get("x-request-id")!;
      await page.getByRole("button", { name: "Resume (1 new)" }).waitFor({ timeout: 2000 });
      expect(await page.locator(`tr[data-request-id="${heldId}"]`).count()).toBe(0);
      await page.getByTestId("pause").click();
      await page.locator(`tr[data-request-id="${heldId}"][data-state="done"]`).waitFor({ timeout: 1000 });
      await shoot(page, "requests");

      // 6. The detail: usage, cost breakdown with the pricing entry and rule, bodies.
      await firstRow.getByRole("link").click();
      await page.waitForURL(`**/requests/${ids[0]}`);
      await settle(page);
      expect(await page.getByTestId("request-cost").textContent()).toBe("$0.0001");
      const usage = await page.getByTestId("usage-table").textContent();
      expect(usage).toContain("Input tokens12");
      expect(usage).toContain("Output tokens7");
      const cost = await page.getByTestId("cost-table").textContent();
      expect(cost).toContain("Input$0.00003");
      expect(cost).toContain("Output$0.00007");
      expect(cost).toContain("Total$0.0001");
      expect(await page.getByText("Matching rule").count()).toBe(1);
      expect(await page.getByText("Request body").count()).toBe(1);
      await shoot(page, "request-detail");

      // 7. The overview draws its charts with data.
      await go(page, "/?range=1h");
      const charts = page.locator("figure.chart");
      expect(await charts.count()).toBe(4);
      for (const chart of await charts.all()) {
        expect(Number(await chart.getAttribute("data-points"))).toBeGreaterThan(0);
        expect(await chart.locator("canvas").count()).toBe(1);
      }
      const requestsStat = await page.locator(".stat").first().textContent();
      expect(requestsStat).toContain("Requests4");
      // A canvas that has been drawn on is not blank.
      const painted = await page.evaluate(() => {
        const c = document.querySelector("figure.chart canvas") as HTMLCanvasElement;
        const pixels = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i]! > 0) n++;
        return n;
      });
      expect(painted).toBeGreaterThan(1000);
      await page.getByRole("button", { name: "By model" }).click();
      await page.getByTestId("breakdown-model").getByText(MODEL).waitFor();
      await shoot(page, "overview");
      // By project: the attributed request, and the rest as "(no project)"; its link filters the requests.
      await page.getByRole("button", { name: "By project" }).click();
      const byProject = page.getByTestId("breakdown-project");
      await byProject.getByText("(no project)").waitFor();
      await byProject.getByRole("link", { name: "apollo" }).click();
      await page.waitForURL("**/requests?project=apollo");
      await page.locator(`tr[data-request-id="${ids[2]}"]`).waitFor();
      expect(await page.locator(`tr[data-request-id="${ids[0]}"]`).count()).toBe(0);
      expect(await page.getByLabel("Project").inputValue()).toBe("apollo");

      // 8. Revoke a key (with confirmation), then the other pages at both widths.
      await go(page, "/keys");
      await page.locator(".card.key", { hasText: "test" }).filter({ hasNotText: "browser-test" }).getByRole("button", { name: "Revoke" }).click();
      await page.getByRole("dialog").getByRole("button", { name: "Revoke key" }).click();
      await page.getByText(/Show revoked \(1\)/).waitFor();
      for (const [path, name] of [
        ["/providers", "providers"],
        ["/keys", "keys"],
        ["/pricing", "pricing"],
        ["/audit", "audit"],
      ] as const) {
        await go(page, path);
        await shoot(page, name);
      }
      // System: the initial snapshot, then live samples over the `metrics` socket.
      await go(page, "/system");
      await page.waitForFunction(() => Number(document.querySelector("figure.chart")?.getAttribute("data-points")) >= 2, null, { timeout: 8000 });
      await shoot(page, "system");

      // 9. A viewer, created on the Users page (signed in later in a fresh context).
      await go(page, "/users");
      await page.getByRole("button", { name: "Add user" }).click();
      const userDialog = page.getByRole("dialog");
      await userDialog.getByLabel("Username").fill(VIEWER.username);
      await userDialog.getByLabel("Password").fill(VIEWER.password);
      await userDialog.getByLabel("Role").selectOption("viewer");
      await userDialog.getByRole("button", { name: "Add user" }).click();
      await page.locator(`tr[data-user="${VIEWER.username}"]`).waitFor();
      await shoot(page, "users");

      // 10. Dark theme (the toggle cycles system → light → dark).
      await go(page, "/?range=1h");
      await page.getByRole("button", { name: /^Theme:/ }).click();
      await page.getByRole("button", { name: /^Theme:/ }).click();
      expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe("dark");
      await settle(page);
      await shoot(page, "overview-dark");
      await page.getByRole("button", { name: /^Theme:/ }).click(); // back to the system theme

      // 11. Sign out: back on the sign-in page, and the session is gone.
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.getByRole("heading", { name: "Sign in" }).waitFor();
      expect(await page.evaluate(async () => (await fetch("/api/auth/me")).status)).toBe(401);
      await shoot(page, "login");
      // Signing in again works, and a protected page sends you back to /login first.
      await page.goto(`${gw.base}/keys`);
      await page.waitForURL(/\/login\?next=%2Fkeys$/);
      await page.getByLabel("Username").fill(ADMIN.username);
      await page.getByLabel("Password").fill("wrong password!!");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByText("Incorrect username or password.").waitFor();
      await page.getByLabel("Password").fill(ADMIN.password);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("heading", { name: "Client keys" }).waitFor();
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.getByRole("heading", { name: "Sign in" }).waitFor();

      expect(problems(errors)).toEqual([]);
      await context.close();
    },
    { timeout: 60_000 },
  );

  test("the live WebSocket refuses an unauthenticated upgrade", async () => {
    const url = `${gw.base.replace(/^http/, "ws")}/api/live`;
    // From a plain client without the session cookie…
    const outcome = await new Promise<string>((resolve) => {
      const ws = new WebSocket(url);
      ws.onopen = () => resolve("open");
      ws.onerror = () => resolve("error");
      ws.onclose = () => resolve("closed");
    });
    expect(outcome).not.toBe("open");
    // …and from the browser, same origin, signed out.
    const context = await chrome.newContext(DESKTOP);
    const page = await context.newPage();
    await page.goto(`${gw.base}/login`);
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    const inBrowser = await page.evaluate(
      (u) =>
        new Promise<string>((resolve) => {
          const ws = new WebSocket(u);
          ws.onopen = () => resolve("open");
          ws.onclose = (e) => resolve(`closed ${e.code}`);
        }),
      url,
    );
    expect(inBrowser).toBe("closed 1006");
    await context.close();
  }, 15_000);

  test("a viewer sees no mutating controls", async () => {
    const context = await chrome.newContext(DESKTOP);
    const page = await context.newPage();
    const { errors } = watchPage(page);
    await page.goto(`${gw.base}/login`);
    await page.getByLabel("Username").fill(VIEWER.username);
    await page.getByLabel("Password").fill(VIEWER.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    expect(await page.locator(".role.viewer").count()).toBe(1);
    // No user administration or audit log in the navigation.
    const nav = (await page.getByRole("navigation", { name: "Main" }).textContent()) ?? "";
    expect(nav).not.toContain("Users");
    expect(nav).not.toContain("Audit log");

    const MUTATING = /^(Add|Create|Edit|Delete|Revoke|Disable|Enable|Test|Remove|Reset password|Set price|Refresh now|Recompute|Run test|Save)\b/;
    for (const path of ["/", "/requests", "/providers", "/keys", "/pricing", "/system"]) {
      await go(page, path);
      const labels = await page.getByRole("button").allTextContents();
      expect({ path, mutating: labels.map((l) => l.trim()).filter((l) => MUTATING.test(l)) }).toEqual({ path, mutating: [] });
      expect(await page.locator("main select[aria-label^='Role of']").count()).toBe(0);
    }
    await go(page, "/keys");
    await shoot(page, "keys-viewer");
    await go(page, "/users"); // reachable by URL, but explains itself instead of managing users
    await page.getByRole("heading", { name: "Admins only" }).waitFor();
    expect(problems(errors)).toEqual([]);
    await context.close();
  }, 30_000);
});
