// A contributor (teacher) and a guardian (a parent) use the family app at
// the same time, each signed in through the real OpenID provider's HTML
// form, in two browser contexts of Debian's headless Chromium at 375x667:
//
//   KINBRIDGE_PHOTO=photo.jpg KINBRIDGE_VIDEO=clip.webm [KINBRIDGE_HEIC_ITEM=id] \
//   node app-family.mjs CHROMIUM APP_URL CHILD_ID CONTRIBUTOR:PASSWORD GUARDIAN:PASSWORD TIMEOUT_MS
//
// The guardian opens the child's timeline and keeps it open. The
// contributor records an assessment and a milestone, uploads the photo
// (with the upload slowed down, the page is reloaded mid-upload and the
// file chosen again) and the video (the test cuts the network under the
// upload: the script prints {"kind":"ask","what":"arm"} and waits for a
// line on stdin), and sees both in the gallery. The guardian's badge
// and timeline notice change without a reload; then the guardian sees the
// timeline newest first, the summary chart, the gallery, the photo and the
// video (played and seeked), an HEIC photo when given (through its JPEG),
// and signs out.
//
// It prints asks and then one JSON line:
//   {"kind":"result", ...findings..., "audits":[...],"dialogs":[...],"console":[...],"steps":[...]}
// or {"kind":"failed","message":...} and exits 1.
import { createInterface } from "node:readline";
import { basename } from "node:path";
import { Journal, deadline, launch, phone, print, sessionOf, signInAtProvider } from "./app-lib.mjs";

const [executablePath, appURL, childId, contributorArg, guardianArg, timeoutArg] = process.argv.slice(2);
const photo = process.env.KINBRIDGE_PHOTO;
const video = process.env.KINBRIDGE_VIDEO;
const heicItem = process.env.KINBRIDGE_HEIC_ITEM; // optional: an HEIC photo's media id
const timeoutMs = Number(timeoutArg);
if (!executablePath || !appURL || !childId || !contributorArg || !guardianArg || !(timeoutMs > 0) || !photo || !video) {
  console.error("usage: KINBRIDGE_PHOTO=... KINBRIDGE_VIDEO=... node app-family.mjs CHROMIUM APP_URL CHILD_ID USER:PASSWORD USER:PASSWORD TIMEOUT_MS");
  process.exit(2);
}
const origin = new URL(appURL).origin;
const childPath = `/children/${childId}`;
const stepMs = Math.max(15000, Math.floor(timeoutMs / 6));
const journal = new Journal();
const found = {};
const timer = deadline(timeoutMs, () => ({ steps: journal.steps, console: journal.console, found }));

// ask tells the test what to do and waits for its answer.
const stdin = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function ask(what) {
  print({ kind: "ask", what });
  const { value, done } = await stdin.next();
  if (done) throw new Error(`stdin closed while asking ${what}`);
  return value;
}

// tusLog records the tus requests of a page: method, offset and status.
function tusLog(page) {
  const log = [];
  page.on("requestfinished", async (req) => {
    if (!new URL(req.url()).pathname.startsWith("/v1/uploads")) return;
    const res = await req.response();
    log.push({ method: req.method(), offset: req.headers()["upload-offset"] ?? "", status: res?.status() ?? 0 });
  });
  page.on("requestfailed", (req) => {
    if (!new URL(req.url()).pathname.startsWith("/v1/uploads")) return;
    log.push({ method: req.method(), offset: req.headers()["upload-offset"] ?? "", failed: req.failure()?.errorText ?? "failed" });
  });
  return log;
}

async function signIn(context, name, user, password) {
  const page = journal.watch(await context.newPage(), name);
  page.setDefaultTimeout(stepMs);
  await page.goto(new URL(childPath, origin).href);
  await page.waitForURL((u) => u.pathname === "/signin");
  await page.getByRole("heading", { level: 1 }).waitFor();
  await journal.audit(page, `sign-in (${name})`);
  await page.getByRole("link", { name: "Sign in" }).click();
  await page.locator("#username").waitFor();
  await signInAtProvider(page, origin, user, password);
  // returnTo brought the user back to the child's page.
  await page.waitForURL((u) => u.pathname === childPath);
  await page.getByRole("heading", { level: 1 }).waitFor();
  return page;
}

// startUpload picks the file on the upload page and waits until the upload
// has sent at least a fifth.
async function startUpload(page, file, title) {
  await page.locator("#u-title").fill(title);
  await page.locator("#u-file").setInputFiles(file);
  const bar = page.getByRole("progressbar", { name: `Upload of ${basename(file)}` }).first();
  await bar.waitFor();
  await page.waitForFunction((f) => {
    const p = document.querySelector(`progress[aria-label="Upload of ${f}"]`);
    return p && Number(p.value) >= 20;
  }, basename(file));
  return bar;
}

async function uploaded(page, file) {
  const row = page.locator("ul.uploads li").filter({ hasText: basename(file) }).first();
  await row.getByText("Uploaded.").waitFor({ timeout: 3 * stepMs });
  return row;
}

// galleryShows waits until the gallery shows a loaded thumbnail for each of
// alts, reloading now and then: an item is listed, and has a thumbnail,
// only once processed.
async function galleryShows(page, alts) {
  const shown = () =>
    page.waitForFunction(
      (alts) => {
        const loaded = Array.from(document.querySelectorAll("ul.gallery img")).filter((i) => i.complete && i.naturalWidth > 0);
        return alts.every((a) => loaded.some((i) => i.alt === a));
      },
      alts,
      { timeout: 5000, polling: 250 },
    );
  for (let tries = 0; ; tries++) {
    try {
      return await shown();
    } catch (e) {
      if (tries >= 12) throw new Error(`the gallery does not show ${alts.join(", ")}: ${e.message}`);
      await page.reload();
    }
  }
}

// bellLabel is the notification button's accessible name ("Notifications,
// 3 unread").
const bellLabel = (page) => page.locator(".bell > button").getAttribute("aria-label");

let run;
try {
  run = await launch(executablePath);
  const [contributorUser, contributorPassword] = contributorArg.split(":");
  const [guardianUser, guardianPassword] = guardianArg.split(":");

  journal.step("the guardian signs in and keeps the timeline open");
  const gctx = await run.browser.newContext({ viewport: phone });
  const guardian = await signIn(gctx, "guardian", guardianUser, guardianPassword);
  found.guardianSession = await sessionOf(guardian);
  await guardian.getByText("Live updates on").waitFor();
  await journal.audit(guardian, "timeline (guardian)");
  found.guardianTabs = await guardian.getByRole("navigation", { name: "Child" }).getByRole("link").allInnerTexts();
  found.bellBefore = await bellLabel(guardian);

  journal.step("the contributor signs in and records");
  const cctx = await run.browser.newContext({ viewport: phone });
  const contributor = await signIn(cctx, "contributor", contributorUser, contributorPassword);
  await contributor.getByRole("navigation", { name: "Child" }).getByRole("link", { name: "Record" }).click();
  await contributor.waitForURL((u) => u.pathname === `${childPath}/record`);
  await journal.audit(contributor, "record");
  const assessment = contributor.getByRole("form", { name: "Record an assessment" });
  await assessment.locator("#a-title").fill("Fractions quiz");
  await assessment.locator("#a-subject").fill("Mathematics");
  await assessment.locator("#a-earned").fill("18");
  await assessment.locator("#a-possible").fill("20");
  await assessment.locator("#a-comment").fill("Careful work.");
  await assessment.locator("button[type=submit]").click();
  await assessment.locator(".success").waitFor();
  const milestone = contributor.getByRole("form", { name: "Record a milestone" });
  await milestone.locator("#m-title").fill("First length of the pool");
  await milestone.locator("button[type=submit]").click();
  await milestone.locator(".success").waitFor();

  journal.step("the guardian's page changed by itself");
  await guardian.locator(".notice").filter({ hasText: /arrived/ }).first().waitFor();
  await guardian.waitForFunction(() => /unread/.test(document.querySelector(".bell > button")?.getAttribute("aria-label") ?? ""));
  found.bellAfterRecords = await bellLabel(guardian);
  found.guardianNotice = await guardian.locator(".notice").first().innerText();
  await guardian.locator(".bell > button").click();
  const panel = guardian.getByRole("region", { name: "Notifications" });
  await panel.locator("li").first().waitFor();
  found.notifications = await panel.locator("li").allInnerTexts();
  await journal.audit(guardian, "notifications panel");
  await guardian.keyboard.press("Escape");
  await panel.waitFor({ state: "detached" });

  journal.step("the contributor uploads a photo; the page is reloaded mid-upload");
  await contributor.getByRole("navigation", { name: "Child" }).getByRole("link", { name: "Upload" }).click();
  await contributor.waitForURL((u) => u.pathname === `${childPath}/upload`);
  await journal.audit(contributor, "upload");
  const tus = tusLog(contributor);
  const cdp = await cctx.newCDPSession(contributor);
  await cdp.send("Network.enable");
  // Slowed down so that the reload lands mid-upload.
  const conditions = (uploadThroughput) => ({ offline: false, latency: 0, downloadThroughput: -1, uploadThroughput });
  await cdp.send("Network.emulateNetworkConditions", conditions(64 * 1024));
  await startUpload(contributor, photo, "Sports day");
  await contributor.reload();
  await contributor.getByText("Upload photos and videos").waitFor();
  const notice = contributor.locator(".notice").filter({ hasText: basename(photo) }).first();
  await notice.waitFor();
  found.unfinishedNotice = (await notice.innerText()).replace(/\s+/g, " ").trim();
  await cdp.send("Network.emulateNetworkConditions", conditions(-1));
  await contributor.locator("#u-title").fill("Sports day");
  await contributor.locator("#u-file").setInputFiles(photo);
  await uploaded(contributor, photo);
  found.photoTus = tus.splice(0);
  await journal.audit(contributor, "upload, photo done");

  journal.step("the contributor uploads a video; the network is cut mid-upload");
  // The proxy between the browser and the gateway drops every connection
  // once some kilobytes more went through it, in the video's body.
  found.armed = await ask("arm");
  await contributor.locator("#u-title").fill("Sports day video");
  await contributor.locator("#u-file").setInputFiles(video);
  await uploaded(contributor, video);
  found.videoTus = tus.splice(0);

  journal.step("the contributor sees both in the gallery");
  await contributor.getByRole("navigation", { name: "Child" }).getByRole("link", { name: "Gallery" }).click();
  await contributor.waitForURL((u) => u.pathname === `${childPath}/gallery`);
  await galleryShows(contributor, ["Sports day", "Sports day video"]);
  found.contributorGallery = await contributor.locator("ul.gallery img").evaluateAll((imgs) => imgs.map((i) => i.alt));
  await journal.audit(contributor, "gallery (contributor)");

  journal.step("the guardian's timeline: new items, newest first");
  // The uploads' notifications follow their processing: wait for them.
  await guardian
    .waitForFunction(
      (before) => Number(/(\d+) unread/.exec(document.querySelector(".bell > button")?.getAttribute("aria-label") ?? "")?.[1] ?? 0) > before,
      Number(/(\d+) unread/.exec(found.bellAfterRecords ?? "")?.[1] ?? 0),
      { timeout: stepMs },
    )
    .catch(() => {});
  found.bellAfterUploads = await bellLabel(guardian);
  const show = guardian.locator(".notice").getByRole("button", { name: "Show" });
  if (await show.count()) await show.click();
  else await guardian.reload();
  await guardian.locator("article.entry.media").nth(1).waitFor();
  found.timeline = await guardian.locator("ol.timeline article.entry").evaluateAll((as) => as.map((a) => a.getAttribute("aria-label")));
  await journal.audit(guardian, "timeline with entries");

  journal.step("the guardian's summary");
  await guardian.getByRole("navigation", { name: "Child" }).getByRole("link", { name: "Summary" }).click();
  await guardian.waitForURL((u) => u.pathname === `${childPath}/summary`);
  await guardian.locator("svg[role=img]").waitFor();
  found.chartLines = await guardian.locator("svg[role=img] path, svg[role=img] polyline, svg[role=img] circle").count();
  found.summaryText = (await guardian.locator("main").innerText()).replace(/\s+/g, " ");
  await journal.audit(guardian, "summary");

  journal.step("the guardian's gallery, photo and video");
  const ranges = [];
  guardian.on("response", (res) => {
    if (new URL(res.url()).pathname.endsWith(":content")) {
      ranges.push({ status: res.status(), range: res.request().headers()["range"] ?? "", thumbnail: res.url().includes("thumbnail") });
    }
  });
  await guardian.getByRole("navigation", { name: "Child" }).getByRole("link", { name: "Gallery" }).click();
  await guardian.waitForURL((u) => u.pathname === `${childPath}/gallery`);
  await galleryShows(guardian, ["Sports day", "Sports day video"]);
  found.guardianThumbnails = await guardian.locator("ul.gallery img").evaluateAll((imgs) =>
    imgs.map((i) => ({ alt: i.alt, width: i.naturalWidth })),
  );
  await journal.audit(guardian, "gallery (guardian)");
  await guardian.locator("ul.gallery a").filter({ has: guardian.getByRole("img", { name: "Sports day", exact: true }) }).click();
  await guardian.waitForURL((u) => u.searchParams.has("item"));
  const photoEl = guardian.locator(".viewer-media img");
  await photoEl.waitFor();
  await guardian.waitForFunction(() => (document.querySelector(".viewer-media img")?.naturalWidth ?? 0) > 0);
  found.photoViewer = await photoEl.evaluate((i) => ({ width: i.naturalWidth, src: new URL(i.src).pathname + new URL(i.src).search }));
  await journal.audit(guardian, "photo viewer");
  await guardian.goto(new URL(`${childPath}/gallery`, origin).href);
  await guardian.locator("ul.gallery a").filter({ has: guardian.getByRole("img", { name: "Sports day video", exact: true }) }).click();
  await guardian.waitForURL((u) => u.searchParams.has("item"));
  const videoEl = guardian.locator(".viewer-media video");
  await videoEl.waitFor();
  await journal.audit(guardian, "video player");
  found.video = await videoEl.evaluate(async (v) => {
    v.muted = true;
    if (v.readyState < 1) await new Promise((ok, no) => { v.addEventListener("loadedmetadata", ok, { once: true }); v.addEventListener("error", () => no(new Error(`video error ${v.error?.code}`)), { once: true }); });
    await v.play();
    await new Promise((ok) => v.addEventListener("timeupdate", ok, { once: true }));
    v.pause();
    const before = v.currentTime;
    await new Promise((ok) => { v.addEventListener("seeked", ok, { once: true }); v.currentTime = Math.min(3, v.duration - 0.5); });
    return { duration: v.duration, before, after: v.currentTime, error: v.error?.code ?? 0 };
  });
  found.contentResponses = ranges;

  if (heicItem) {
    journal.step("the guardian's HEIC photo, through its JPEG rendition");
    await guardian.goto(new URL(`${childPath}/gallery?item=${heicItem}`, origin).href);
    const shown = guardian.locator(".viewer-media img");
    await shown.waitFor();
    await guardian.waitForFunction(() => (document.querySelector(".viewer-media img")?.naturalWidth ?? 0) > 0);
    const download = guardian.locator(".viewer a[download]");
    found.heic = {
      ...(await shown.evaluate((i) => ({ width: i.naturalWidth, src: new URL(i.src).pathname + new URL(i.src).search }))),
      download: new URL(await download.getAttribute("href"), origin).pathname,
      text: (await guardian.locator(".viewer").innerText()).replace(/\s+/g, " "),
    };
    await journal.audit(guardian, "HEIC viewer");
  }

  journal.step("the guardian signs out");
  const cookie = (await gctx.cookies()).find((c) => c.name === "__Host-kinbridge_session");
  found.cookie = cookie?.value ?? "";
  await guardian.getByRole("button", { name: "Sign out" }).click();
  await guardian.waitForURL((u) => u.origin === origin && u.pathname === "/signin");
  await guardian.reload();
  await guardian.getByRole("link", { name: "Sign in" }).waitFor();
  found.afterSignOut = { path: new URL(guardian.url()).pathname, session: await sessionOf(guardian) };
  await gctx.close();
  await cctx.close();

  print({ kind: "result", ...found, audits: journal.audits, dialogs: journal.dialogs, console: journal.console, steps: journal.steps });
  process.exitCode = 0;
} catch (e) {
  print({ kind: "failed", message: String(e?.message ?? e), found, steps: journal.steps, audits: journal.audits, console: journal.console });
  process.exitCode = 1;
} finally {
  clearTimeout(timer);
  await run?.close();
  process.exit();
}
