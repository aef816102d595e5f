// Uses the gateway's /docs page (Swagger UI) as a developer would, in
// Debian's headless Chromium driven with playwright-core.
//
//   KINBRIDGE_TOKEN=... node docs.mjs CHROMIUM GATEWAY_URL METHOD PATH TIMEOUT_MS
//
// It opens GATEWAY_URL/docs, expands the operation METHOD PATH as the spec
// writes it (get /v1/children), presses "Try it out" and "Execute" with no
// token, then enters the token (from the environment, so it is in no
// process list) in the Authorize dialog and executes again.
//
// It prints one JSON line on stdout:
//   {"kind":"result","without":{"status":...,"body":...},"with":{"status":...,"body":...},
//    "requests":[{"method":...,"url":...,"authorization":"none"|"bearer"|"other"}],
//    "cspViolations":[...],"console":[...]}
// or {"kind":"failed","message":...,...} and exits 1 then. URLs are printed
// without their query and no token is printed.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { chromiumArgs } from "./chromium.mjs";

const [executablePath, gatewayURL, method, path, timeoutArg] = process.argv.slice(2);
const token = process.env.KINBRIDGE_TOKEN;
const timeoutMs = Number(timeoutArg);
if (!executablePath || !gatewayURL || !method || !path || !(timeoutMs > 0) || !token) {
  console.error("usage: KINBRIDGE_TOKEN=... node docs.mjs CHROMIUM GATEWAY_URL METHOD PATH TIMEOUT_MS");
  process.exit(2);
}
const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const stepMs = Math.max(5000, Math.floor(timeoutMs / 4));

const profile = mkdtempSync(join(tmpdir(), "kinbridge-chromium-"));
const requests = [];
const consoleLines = [];
let context;
let page;

const timer = setTimeout(() => {
  print({ kind: "timeout", afterMs: timeoutMs, requests, console: consoleLines });
  process.exit(1);
}, timeoutMs);

function withoutQuery(u) {
  try {
    const url = new URL(u);
    return url.origin + url.pathname;
  } catch {
    return "?";
  }
}

// execute presses Execute and returns the status and body Swagger UI shows
// for the answer.
async function execute(op) {
  // The previous answer, if any, is cleared first so that the one read
  // below is the new one.
  const clear = op.locator("button.btn-clear");
  if (await clear.count()) await clear.click();
  await op.locator("button.execute").click();
  const status = op.locator(".live-responses-table .response .response-col_status").first();
  await status.waitFor({ timeout: stepMs });
  const body = op.locator(".live-responses-table .response-col_description pre").first();
  return {
    status: Number((await status.innerText()).trim()),
    body: (await body.count()) ? await body.innerText() : "",
  };
}

try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: chromiumArgs,
  });
  // The page reports what its Content-Security-Policy refused.
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) => {
      window.__cspViolations.push(`${e.violatedDirective} refused ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(stepMs);
  page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => consoleLines.push(`pageerror: ${e.message}`));
  page.on("request", (req) => {
    const auth = req.headers()["authorization"];
    requests.push({
      method: req.method(),
      url: withoutQuery(req.url()),
      authorization: !auth ? "none" : auth === `Bearer ${token}` ? "bearer" : "other",
    });
  });

  await page.goto(new URL("/docs", gatewayURL).href, { waitUntil: "load" });
  const op = page.locator(`.opblock.opblock-${method}`)
    .filter({ has: page.locator(`.opblock-summary-path[data-path="${path}"]`) }).first();
  await op.locator(".opblock-summary").first().click();
  await op.locator("button.try-out__btn").click();
  const without = await execute(op);

  // The dialog has a form per security scheme: the bearer one takes the
  // token (the spec also offers ?access_token= for browser elements).
  await page.locator(".scheme-container button.authorize").click();
  const form = page.locator(".dialog-ux .auth-container")
    .filter({ has: page.locator("h4", { hasText: /bearer/i }) }).first();
  await form.locator("input").fill(token);
  await form.locator("button.modal-btn.authorize").click();
  await form.locator("button.btn-done").click();
  const withToken = await execute(op);

  const cspViolations = await page.evaluate(() => window.__cspViolations);
  print({ kind: "result", without, with: withToken, requests, cspViolations, console: consoleLines });
  process.exitCode = 0;
} catch (e) {
  const cspViolations = await page?.evaluate(() => window.__cspViolations).catch(() => []);
  print({ kind: "failed", message: String(e?.message ?? e), requests, cspViolations, console: consoleLines });
  process.exitCode = 1;
} finally {
  clearTimeout(timer);
  await context?.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
