// Shared by the family app's browser journeys (app-*.mjs): Debian's
// Chromium through playwright-core, a check of every page a journey sees
// (no horizontal scrolling at the viewport, no serious or critical axe-core
// violation), and the one JSON line each journey prints at the end.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import AxeBuilder from "@axe-core/playwright";
import { chromiumArgs } from "./chromium.mjs";

export const phone = { width: 375, height: 667 };
export const desktop = { width: 1280, height: 800 };

export const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");

// launch starts Chromium with a throwaway profile.
export async function launch(executablePath) {
  const profile = mkdtempSync(join(tmpdir(), "kinbridge-chromium-"));
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [
      ...chromiumArgs,
      "--autoplay-policy=no-user-gesture-required",
    ],
  });
  return {
    browser,
    close: async () => {
      await browser.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

// journal collects what the pages of one browser context did that a test
// asserts on: console errors, page errors, alert dialogs (the escaping
// check: user text must run nothing) and the audit of each page.
export class Journal {
  constructor() {
    this.console = [];
    this.dialogs = [];
    this.audits = [];
    this.steps = [];
  }

  watch(page, who) {
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") this.console.push(`${who} ${m.type()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => this.console.push(`${who} pageerror: ${e.message}`));
    // Answers of 400 and more, for the log (which ones a journey expects is
    // its own business).
    page.on("response", (r) => {
      if (r.status() >= 400) {
        const u = new URL(r.url());
        this.console.push(`${who} response ${r.status()}: ${r.request().method()} ${u.pathname}`);
      }
    });
    page.on("dialog", async (d) => {
      this.dialogs.push(`${who} ${d.type()}: ${d.message()}`);
      // confirm() is how the app asks before removing someone; alerts
      // are what an injected script would raise.
      if (d.type() === "confirm") await d.accept();
      else await d.dismiss();
    });
    return page;
  }

  step(name) {
    this.steps.push(name);
  }

  // audit checks the page as it is now: the document is no wider than the
  // viewport, and axe-core (WCAG 2.x A and AA rules and best practices)
  // finds nothing serious or critical.
  async audit(page, name) {
    await page.waitForLoadState("load");
    const { scrollWidth, innerWidth } = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
    }));
    const axe = await new AxeBuilder({ page }).analyze();
    const violations = axe.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        targets: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
      }));
    this.audits.push({ name, path: new URL(page.url()).pathname, scrollWidth, innerWidth, violations });
  }
}

// sessionOf asks the gateway, from inside the page (its cookie), who is
// signed in.
export async function sessionOf(page) {
  return page.evaluate(async () => (await fetch("/auth/session", { credentials: "same-origin" })).json());
}

// signInAtProvider fills the OpenID provider's HTML login form (pkg/testenv:
// #username, #password, the Login button) and waits until the browser is
// back on the app.
export async function signInAtProvider(page, appOrigin, username, password) {
  await page.locator("#username").fill(username);
  await page.locator("#password").fill(password);
  await page.getByRole("button", { name: /login/i }).click();
  await page.waitForURL((u) => u.origin === appOrigin && !u.pathname.startsWith("/auth/"));
}

// timer ends the script with a timeout line if it runs too long.
export function deadline(timeoutMs, state) {
  return setTimeout(() => {
    print({ kind: "timeout", afterMs: timeoutMs, ...state() });
    process.exit(1);
  }, timeoutMs);
}
