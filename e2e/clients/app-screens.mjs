// Screenshots of the family app's main pages for docs/app.md, at a phone's
// and a desktop's viewport, in Debian's headless Chromium:
//
//   node app-screens.mjs CHROMIUM APP_URL CHILD_ID PHOTO_ID OUT_DIR USER:PASSWORD TIMEOUT_MS
//
// The sign-in page is taken signed out; then the browser signs in through
// the OpenID provider's form as USER (the desktop pass reuses the phone
// pass's cookie).
// It writes OUT_DIR/<page>-<phone|desktop>.png and prints one JSON line:
//   {"kind":"result","files":[...]} or {"kind":"failed","message":...}.
import { join } from "node:path";
import { deadline, desktop, launch, phone, print, signInAtProvider } from "./app-lib.mjs";

const [executablePath, appURL, childId, photoId, outDir, userArg, timeoutArg] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg);
if (!executablePath || !appURL || !childId || !photoId || !outDir || !userArg?.includes(":") || !(timeoutMs > 0)) {
  console.error("usage: node app-screens.mjs CHROMIUM APP_URL CHILD_ID PHOTO_ID OUT_DIR USER:PASSWORD TIMEOUT_MS");
  process.exit(2);
}
const [user, password] = userArg.split(":");
const files = [];
const steps = [];
const timer = deadline(timeoutMs, () => ({ files, steps }));
const child = `/children/${childId}`;

// Each page and what shows it is ready.
const pages = [
  ["home", "/", "a.child-card"],
  ["timeline", child, "ol.timeline article.entry.media img"],
  ["gallery", `${child}/gallery`, "ul.gallery img"],
  ["photo", `${child}/gallery?item=${photoId}`, ".viewer-media img"],
  ["summary", `${child}/summary`, "svg[role=img]"],
  ["record", `${child}/record`, "#a-title"],
  ["upload", `${child}/upload`, "#u-file"],
  ["admin", "/admin", "li.admin-child"],
];

// settled waits until every image of the page has loaded and the live
// connection is up, so that the picture is the page at rest.
async function settled(page, ready) {
  await page.locator(ready).first().waitFor();
  await page.waitForFunction(() => Array.from(document.images).every((i) => i.complete));
  await page.getByText("Live updates on").waitFor().catch(() => {});
  await page.evaluate(() => document.activeElement?.blur());
}

let run;
try {
  run = await launch(executablePath);
  let cookies = null;
  for (const [size, viewport] of [["phone", phone], ["desktop", desktop]]) {
    const context = await run.browser.newContext({ viewport, deviceScaleFactor: 1, reducedMotion: "reduce" });
    const page = await context.newPage();
    page.setDefaultTimeout(30000);
    steps.push(`${size}: sign-in`);
    await page.goto(new URL("/signin", appURL).href);
    await page.getByRole("link", { name: "Sign in" }).waitFor();
    await page.screenshot({ path: join(outDir, `signin-${size}.png`) });
    files.push(`signin-${size}.png`);
    if (cookies) await context.addCookies(cookies);
    else {
      await page.getByRole("link", { name: "Sign in" }).click();
      await page.locator("#username").waitFor();
      await signInAtProvider(page, new URL(appURL).origin, user, password);
      await page.waitForURL((u) => u.pathname === "/");
      cookies = await context.cookies();
    }
    for (const [name, path, ready] of pages) {
      steps.push(`${size}: ${name}`);
      await page.goto(new URL(path, appURL).href);
      await settled(page, ready);
      const file = `${name}-${size}.png`;
      await page.screenshot({ path: join(outDir, file) });
      files.push(file);
    }
    await context.close();
  }
  print({ kind: "result", files, steps });
  process.exitCode = 0;
} catch (e) {
  print({ kind: "failed", message: String(e?.message ?? e), files, steps });
  process.exitCode = 1;
} finally {
  clearTimeout(timer);
  await run?.close();
}
