// Opens the `make run` banner's one-time sign-in link in Debian's headless
// Chromium (driven with playwright-core), as a newcomer would, then asks
// the gateway who the browser is, from the page.
//
//   node signin.mjs CHROMIUM LINK TIMEOUT_MS
//
// It prints one JSON line on stdout:
//   {"kind":"result","landed":URL,"session":{...},"cookies":[{"name","httpOnly","secure","sameSite","path"}]}
// or {"kind":"failed","message":...} and exits 1 then. Neither the link's
// code nor the cookie's value is printed.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { chromiumArgs } from "./chromium.mjs";

const [executablePath, link, timeoutArg] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg);
if (!executablePath || !link || !(timeoutMs > 0)) {
  console.error("usage: node signin.mjs CHROMIUM LINK TIMEOUT_MS");
  process.exit(2);
}
const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const profile = mkdtempSync(join(tmpdir(), "kinbridge-chromium-"));
let context;

const timer = setTimeout(() => {
  print({ kind: "timeout", afterMs: timeoutMs });
  process.exit(1);
}, timeoutMs);

try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: chromiumArgs,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(timeoutMs);
  await page.goto(link, { waitUntil: "load" });
  const landed = new URL(page.url());
  const session = await page.evaluate(async () => {
    const r = await fetch("/auth/session", { credentials: "same-origin" });
    return { status: r.status, ...(await r.json()) };
  });
  if (session.csrfToken) session.csrfToken = "<set>";
  const cookies = (await context.cookies()).map((c) => ({
    name: c.name, httpOnly: c.httpOnly, secure: c.secure, sameSite: c.sameSite, path: c.path,
  }));
  print({ kind: "result", landed: landed.origin + landed.pathname, session, cookies });
  process.exitCode = 0;
} catch (e) {
  print({ kind: "failed", message: String(e?.message ?? e).replace(/code=[^&\s"]+/g, "code=<code>") });
  process.exitCode = 1;
} finally {
  clearTimeout(timer);
  await context?.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
