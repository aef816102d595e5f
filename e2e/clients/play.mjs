// Plays and seeks a video in a real browser: Debian's headless Chromium,
// driven with playwright-core.
//
//   node play.mjs CHROMIUM PAGE_URL SEEK_TO TIMEOUT_MS
//
// CHROMIUM is the browser binary (/usr/bin/chromium). PAGE_URL is a page
// with one <video> element whose src is the media to play; the page is
// the test's, so the video is loaded the way a frontend page loads it, from
// another origin and with no headers of the page's choosing. The script
// waits for the metadata, calls play() and waits for currentTime to
// advance, sets currentTime to SEEK_TO (seconds), waits for `seeked`, and
// waits for playback to go on from there.
//
// It prints one JSON line on stdout:
//   {"kind":"result","duration":...,"videoWidth":...,"videoHeight":...,
//    "playResolved":true,"startedAt":...,"advancedTo":...,"seekTo":...,
//    "seekedAt":...,"continuedTo":...,"paused":...,"buffered":[[s,e],...],
//    "events":[{"type":...,"at":...,"ms":...}],
//    "network":[{"method":...,"path":...,"range":...,"status":...,"contentRange":...}],
//    "console":[...]}
// or {"kind":"failed","message":...,"events":...,"network":...,"console":...}
// and exits 1 then; {"kind":"timeout"} after TIMEOUT_MS. URLs are printed
// without their query, so no access_token ends up in a test log.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { chromiumArgs } from "./chromium.mjs";

const [executablePath, pageURL, seekArg, timeoutArg] = process.argv.slice(2);
const seekTo = Number(seekArg);
const timeoutMs = Number(timeoutArg);
if (!executablePath || !pageURL || !(seekTo > 0) || !(timeoutMs > 0)) {
  console.error("usage: node play.mjs CHROMIUM PAGE_URL SEEK_TO TIMEOUT_MS");
  process.exit(2);
}

const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");
// How long one step (metadata, advancing, seeking) may take.
const stepMs = Math.max(5000, Math.floor(timeoutMs / 4));

// A fresh profile every run, removed at the end.
const profile = mkdtempSync(join(tmpdir(), "kinbridge-chromium-"));
let context;
let finished = false;

async function finish(code, line) {
  if (finished) return;
  finished = true;
  print(line);
  clearTimeout(timer);
  try {
    await context?.close();
  } catch {
    // the browser is gone already
  }
  rmSync(profile, { recursive: true, force: true });
  process.exitCode = code;
}

const timer = setTimeout(() => {
  finish(1, { kind: "timeout", afterMs: timeoutMs, ...diagnostics() }).finally(() => process.exit(1));
}, timeoutMs);

const network = [];
const pending = [];
const consoleLines = [];
let pageEvents = [];

function diagnostics() {
  return { events: pageEvents, network, console: consoleLines };
}

function withoutQuery(u) {
  try {
    const url = new URL(u);
    return url.origin + url.pathname;
  } catch {
    return "?";
  }
}

try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    // Muted autoplay is allowed anyway; the policy flag makes play()
    // independent of that.
    args: [
      ...chromiumArgs,
      "--autoplay-policy=no-user-gesture-required",
    ],
  });
  // Media events do not bubble, but a capturing listener on the document
  // sees them all, from before the page's own scripts run.
  await context.addInitScript(() => {
    window.__mediaEvents = [];
    for (const type of ["loadstart", "loadedmetadata", "loadeddata", "canplay", "canplaythrough", "play", "playing",
      "pause", "waiting", "stalled", "seeking", "seeked", "ended", "error", "abort", "emptied"]) {
      document.addEventListener(type, (e) => {
        if (e.target instanceof HTMLMediaElement) {
          window.__mediaEvents.push({ type, at: e.target.currentTime, ms: Math.round(performance.now()) });
        }
      }, true);
    }
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => consoleLines.push(`pageerror: ${e.message}`));
  page.on("response", (resp) => {
    const req = resp.request();
    if (req.resourceType() !== "media") return;
    pending.push((async () => {
      const headers = await req.allHeaders().catch(() => req.headers());
      network.push({ method: req.method(), path: withoutQuery(req.url()), range: headers["range"] ?? "",
        status: resp.status(), contentRange: resp.headers()["content-range"] ?? "" });
    })());
  });

  await page.goto(pageURL, { waitUntil: "domcontentloaded", timeout: stepMs });
  let result;
  try {
    result = await page.evaluate(async ({ seekTo, stepMs }) => {
      const v = document.querySelector("video");
      if (!v) throw new Error("the page has no <video>");
      const state = () => `currentTime ${v.currentTime}, readyState ${v.readyState}, networkState ${v.networkState}, paused ${v.paused}`;
      // until polls test() and fails on a media error or after stepMs.
      const until = (what, test) => new Promise((resolve, reject) => {
        const started = performance.now();
        const poll = setInterval(() => {
          if (v.error) {
            clearInterval(poll);
            reject(new Error(`media error ${v.error.code} (${v.error.message}) while waiting for ${what}; ${state()}`));
          } else if (test()) {
            clearInterval(poll);
            resolve();
          } else if (performance.now() - started > stepMs) {
            clearInterval(poll);
            reject(new Error(`timed out after ${stepMs} ms waiting for ${what}; ${state()}`));
          }
        }, 20);
      });
      const out = { seekTo };

      await until("the metadata", () => v.readyState >= HTMLMediaElement.HAVE_METADATA);
      out.duration = v.duration;
      out.videoWidth = v.videoWidth;
      out.videoHeight = v.videoHeight;

      out.startedAt = v.currentTime;
      await v.play(); // rejects if the browser refuses to play
      out.playResolved = true;
      await until("playback to advance", () => v.currentTime >= out.startedAt + 0.5);
      out.advancedTo = v.currentTime;

      const seeked = new Promise((resolve) => v.addEventListener("seeked", () => resolve(v.currentTime), { once: true }));
      v.currentTime = seekTo;
      let seekedAt;
      seeked.then((t) => { seekedAt = t; });
      await until("seeked", () => seekedAt !== undefined);
      out.seekedAt = seekedAt;
      await until("playback to go on after the seek", () => !v.paused && v.currentTime >= seekedAt + 0.4);
      out.continuedTo = v.currentTime;
      out.paused = v.paused;
      out.buffered = [];
      for (let i = 0; i < v.buffered.length; i++) out.buffered.push([v.buffered.start(i), v.buffered.end(i)]);
      return out;
    }, { seekTo, stepMs });
  } finally {
    pageEvents = await page.evaluate(() => window.__mediaEvents ?? []).catch(() => pageEvents);
    await Promise.allSettled(pending);
  }
  await finish(0, { kind: "result", ...result, ...diagnostics() });
} catch (e) {
  await Promise.allSettled(pending);
  await finish(1, { kind: "failed", message: String(e?.message ?? e), ...diagnostics() });
}
