// A newcomer's first minutes with the family app, in Debian's headless
// Chromium at a phone's viewport (375x667):
//
//   KINBRIDGE_LINK=<the banner's sign-in link> node app-newcomer.mjs CHROMIUM TIMEOUT_MS
//
// It opens the one-time link (signed in as the administrator, on the child
// picker), adds a child on /admin, adds the signed-in user (the id the page
// says is theirs) as the child's guardian, goes back to the picker and opens the child's timeline. It also
// adds a child whose name is markup, to see it shown as text. Every page is
// audited (app-lib.mjs). Then a second, fresh browser opens the same link.
//
// It prints one JSON line on stdout:
//   {"kind":"result","user":...,"childPath":...,"pickerText":...,"childHeading":...,
//    "hostileHeading":...,"hostileAdminText":...,"injectedImages":n,"again":{"url":...,"session":...,"text":...},
//    "audits":[...],"dialogs":[...],"console":[...],"steps":[...]}
// or {"kind":"failed","message":...} and exits 1. The link is printed nowhere.
import { Journal, deadline, launch, phone, print, sessionOf } from "./app-lib.mjs";

const [executablePath, timeoutArg] = process.argv.slice(2);
const link = process.env.KINBRIDGE_LINK;
const timeoutMs = Number(timeoutArg);
if (!executablePath || !(timeoutMs > 0) || !link) {
  console.error("usage: KINBRIDGE_LINK=... node app-newcomer.mjs CHROMIUM TIMEOUT_MS");
  process.exit(2);
}
const stepMs = Math.max(10000, Math.floor(timeoutMs / 6));
const journal = new Journal();
const timer = deadline(timeoutMs, () => ({ steps: journal.steps, console: journal.console }));
const childName = "Ada Lovelace";
const hostileName = "<img src=x onerror=alert(1)>";
let run;

try {
  run = await launch(executablePath);
  const context = await run.browser.newContext({ viewport: phone });
  const page = journal.watch(await context.newPage(), "newcomer");
  page.setDefaultTimeout(stepMs);

  journal.step("open the link");
  await page.goto(link);
  await page.waitForURL((u) => u.pathname === "/");
  await page.getByRole("heading", { level: 1 }).waitFor();
  await page.getByText("No children yet").waitFor();
  const who = await sessionOf(page);
  await journal.audit(page, "picker, no children");

  journal.step("add a child");
  await page.getByRole("link", { name: "Add one" }).click();
  await page.waitForURL((u) => u.pathname === "/admin");
  await page.getByRole("heading", { name: "Add a child" }).waitFor();
  await journal.audit(page, "admin");
  // The page says which user id is the newcomer's own.
  const ownId = (await page.locator(".whoami").innerText()).trim();
  const addChild = page.getByRole("form", { name: "Add a child" });
  await addChild.getByLabel("Name").fill(childName);
  await addChild.getByRole("button", { name: "Add child" }).click();
  const row = page.locator("li.admin-child").filter({ has: page.getByRole("link", { name: childName, exact: true }) });
  await row.waitFor();

  journal.step("follow the child");
  await row.getByRole("button", { name: "Guardians" }).click();
  const follow = row.getByRole("form", { name: `Add someone to ${childName}` });
  await follow.getByLabel("User id").fill(ownId);
  await follow.getByLabel("Role").selectOption("ROLE_GUARDIAN");
  await follow.getByLabel("Relation").fill("parent");
  await follow.getByRole("button", { name: "Add", exact: true }).click();
  await row.locator("ul.people li").filter({ hasText: who.user }).waitFor();
  await journal.audit(page, "admin, guardians open");

  journal.step("add a child named with markup");
  await addChild.getByLabel("Name").fill(hostileName);
  await addChild.getByRole("button", { name: "Add child" }).click();
  const hostileRow = page.locator("li.admin-child").filter({ has: page.getByRole("link", { name: hostileName, exact: true }) });
  await hostileRow.waitFor();
  const hostileAdminText = await hostileRow.locator("h3").innerText();

  journal.step("the picker lists the child");
  await page.getByRole("link", { name: "Kinbridge" }).click();
  await page.waitForURL((u) => u.pathname === "/");
  const card = page.locator("a.child-card").filter({ hasText: childName });
  await card.waitFor();
  const pickerText = (await card.innerText()).replace(/\s+/g, " ").trim();
  await journal.audit(page, "picker");

  journal.step("open the child");
  await card.click();
  await page.waitForURL((u) => /^\/children\/[^/]+$/.test(u.pathname));
  const childPath = new URL(page.url()).pathname;
  await page.getByText("Nothing recorded yet.").waitFor();
  const childHeading = await page.getByRole("heading", { level: 1 }).innerText();
  await journal.audit(page, "timeline, empty");
  for (const [tab, ready] of [
    ["Gallery", "No photos or videos yet."],
    ["Summary", "No scored assessments"],
    ["Record", "Record an assessment"],
    ["Upload", "Upload photos and videos"],
  ]) {
    await page.getByRole("navigation", { name: "Child" }).getByRole("link", { name: tab }).click();
    await page.waitForURL((u) => u.pathname === `${childPath}/${tab.toLowerCase()}`);
    await page.getByText(ready).first().waitFor();
    await journal.audit(page, `${tab.toLowerCase()}, empty`);
  }

  journal.step("open the child named with markup");
  await page.goto(new URL("/", link).href);
  await page.locator("a.child-card").filter({ hasText: hostileName }).click();
  await page.waitForURL((u) => /^\/children\/[^/]+$/.test(u.pathname));
  await page.getByText("Nothing recorded yet.").waitFor();
  const hostileHeading = await page.getByRole("heading", { level: 1 }).innerText();
  const injectedImages = await page.locator('img[src="x"]').count();
  await journal.audit(page, "timeline of the child named with markup");
  await context.close();

  journal.step("the link again, in another browser");
  const other = await run.browser.newContext({ viewport: phone });
  const second = journal.watch(await other.newPage(), "again");
  second.setDefaultTimeout(stepMs);
  await second.goto(link);
  await second.waitForURL((u) => u.pathname === "/signin");
  await second.getByRole("heading", { level: 1 }).waitFor();
  const againURL = new URL(second.url());
  const again = {
    url: againURL.pathname + againURL.search,
    session: await sessionOf(second),
    text: (await second.locator("main").innerText()).replace(/\s+/g, " ").trim(),
  };
  await journal.audit(second, "sign-in, link used");
  await other.close();

  print({
    kind: "result",
    user: who.user,
    ownId,
    childPath,
    pickerText,
    childHeading,
    hostileHeading,
    hostileAdminText,
    injectedImages,
    again,
    audits: journal.audits,
    dialogs: journal.dialogs,
    console: journal.console,
    steps: journal.steps,
  });
  process.exitCode = 0;
} catch (e) {
  print({ kind: "failed", message: String(e?.message ?? e), steps: journal.steps, audits: journal.audits, console: journal.console });
  process.exitCode = 1;
} finally {
  clearTimeout(timer);
  await run?.close();
}
