// The two-way bridge (issue 16) in the family app: each user signed in
// through the real OpenID provider's form, in a browser context of their
// own, Debian's headless Chromium at 375x667:
//
//   KINBRIDGE_USERS='{"admin":"u:pw","guardian":"u:pw","grandma":"u:pw","teacher":"u:pw","teacherB":"u:pw"}' \
//   KINBRIDGE_STEPS=invite,discuss,approval,settings \
//   node app-bridge.mjs CHROMIUM APP_URL CHILD_ID TIMEOUT_MS
//
// - invite: the administrator lets guardians invite on the child's Family
//   tab; the guardian invites grandma and copies the one-time link; grandma
//   opens it signed out, signs in, and the app redeems it and shows the
//   child; the same link again, a revoked one and an unknown one are each
//   refused in words; the guardian's list says Accepted, the timeline
//   "grandma joined, invited by the guardian".
// - discuss: grandma hearts the assessment "Fractions quiz" and comments
//   on it (a comment over 1000 characters is refused next to the field);
//   the teacher sees the heart and the comment, and removes the comment.
// - approval: the administrator requires approval; the teacher records
//   "Spelling test", which grandma does not see; the teacher sees it
//   "Awaiting approval" without Approve; teacher B approves it; grandma
//   sees it.
// - settings: grandma sets a time zone, quiet hours and an e-mail; the test
//   answers the ask "confirm" with the link mailed to Mailpit, which she
//   opens; then the test makes a digest due for her (yesterday's event,
//   quiet hours just ended) and answers "unsubscribe" with the mailed
//   digest's unsubscribe link, which she follows; an unknown link is refused.
//
// It prints asks ({"kind":"ask","what":...}, answered by a line on stdin)
// and then one JSON line: {"kind":"result", ...findings..., audits, ...}
// or {"kind":"failed","message":...} and exits 1.
import { createInterface } from "node:readline";
import { Journal, deadline, launch, phone, print, sessionOf, signInAtProvider } from "./app-lib.mjs";

const [executablePath, appURL, childId, timeoutArg] = process.argv.slice(2);
const users = JSON.parse(process.env.KINBRIDGE_USERS ?? "{}");
const steps = new Set((process.env.KINBRIDGE_STEPS ?? "invite,discuss").split(","));
const timeoutMs = Number(timeoutArg);
if (!executablePath || !appURL || !childId || !(timeoutMs > 0) || !users.guardian || !users.grandma) {
  console.error("usage: KINBRIDGE_USERS=... node app-bridge.mjs CHROMIUM APP_URL CHILD_ID TIMEOUT_MS");
  process.exit(2);
}
const origin = new URL(appURL).origin;
const childPath = `/children/${childId}`;
const stepMs = Math.max(15000, Math.floor(timeoutMs / 8));
const journal = new Journal();
const found = {};
const timer = deadline(timeoutMs, () => ({ steps: journal.steps, console: journal.console, found }));

const stdin = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function ask(what) {
  print({ kind: "ask", what });
  const { value, done } = await stdin.next();
  if (done) throw new Error(`stdin closed while asking ${what}`);
  return value;
}

// signIn opens path signed out in a new context, signs in at the provider
// and waits until the app is back on path.
async function signIn(run, name, path = childPath) {
  const [user, password] = users[name].split(":");
  const context = await run.browser.newContext({ viewport: phone });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin });
  const page = journal.watch(await context.newPage(), name);
  page.setDefaultTimeout(stepMs);
  await page.goto(new URL(path, origin).href);
  await page.waitForURL((u) => u.pathname === "/signin");
  await page.getByRole("link", { name: "Sign in" }).click();
  await page.locator("#username").waitFor();
  await signInAtProvider(page, origin, user, password);
  await page.waitForURL((u) => u.pathname === path.split("#")[0]);
  return page;
}

const tab = async (page, name) => {
  await page.getByRole("navigation", { name: "Child" }).getByRole("link", { name }).click();
  await page.getByRole("heading", { level: 1 }).waitFor();
};

// entry is the timeline's list item holding the article named label.
const entry = (page, label) => page.locator("ol.timeline > li").filter({ has: page.getByRole("article", { name: label, exact: true }) });

async function timelineShows(page, label, want) {
  for (let tries = 0; ; tries++) {
    await page.locator("ol.timeline, p.muted").first().waitFor();
    await page.waitForLoadState("networkidle");
    const n = await entry(page, label).count();
    if ((n > 0) === want) return;
    if (tries >= 10) throw new Error(`the timeline ${want ? "does not show" : "shows"} ${label}`);
    await page.waitForTimeout(500);
    await page.reload();
  }
}

async function openJoin(page, link) {
  // A page load, not a same-document jump to the fragment.
  await page.goto("about:blank");
  await page.goto(link);
  await page.locator("main .card").first().waitFor();
  return (await page.locator("main").innerText()).replace(/\s+/g, " ").trim();
}

let run;
try {
  run = await launch(executablePath);
  let admin, guardian, grandma, teacher;

  if (steps.has("invite")) {
    journal.step("the administrator lets guardians invite");
    admin = await signIn(run, "admin");
    await tab(admin, "Family");
    await journal.audit(admin, "family (administrator)");
    const mayInvite = admin.getByLabel("Guardians and contributors may invite relatives");
    await mayInvite.check();
    await admin.waitForFunction(() => document.getElementById("may-invite")?.checked && !document.getElementById("may-invite")?.disabled);

    journal.step("the guardian invites grandma");
    guardian = await signIn(run, "guardian");
    await tab(guardian, "Family");
    found.guardianRoleChoice = await guardian.locator("#invite-role").count();
    await guardian.locator("#invite-relation").fill("grandmother");
    await guardian.getByRole("button", { name: "Create invitation link" }).click();
    const linkInput = guardian.locator("#invite-link");
    await linkInput.waitFor();
    found.link = await linkInput.inputValue();
    await guardian.getByRole("button", { name: "Copy link" }).click();
    await guardian.getByText("Copied.").waitFor();
    found.copied = await guardian.evaluate(() => navigator.clipboard.readText());
    await journal.audit(guardian, "family, link made (guardian)");

    journal.step("grandma opens the link signed out, signs in, and joins");
    grandma = await signIn(run, "grandma", new URL(found.link).pathname + new URL(found.link).hash);
    await grandma.getByText("You now follow").waitFor();
    found.joined = (await grandma.locator("main").innerText()).replace(/\s+/g, " ").trim();
    found.joinURL = new URL(grandma.url()).pathname + new URL(grandma.url()).hash;
    await journal.audit(grandma, "join");
    await grandma.getByRole("link", { name: /timeline/ }).click();
    await grandma.waitForURL((u) => u.pathname === childPath);
    found.grandmaTabs = await grandma.getByRole("navigation", { name: "Child" }).getByRole("link").allInnerTexts();

    journal.step("the refusals: used, revoked, unknown");
    // Grandma's own link again is a retry: she keeps what she joined.
    // Anyone else finds it used (the guardian, who follows Ada already).
    found.retried = await openJoin(grandma, found.link);
    const guardianAt = guardian.url();
    found.usedAgain = await openJoin(guardian, found.link);
    await guardian.goto(guardianAt);
    await guardian.getByRole("heading", { level: 1 }).waitFor();
    await tab(guardian, "Timeline");
    await tab(guardian, "Family");
    await guardian.locator("#invite-relation").fill("uncle");
    await guardian.getByRole("button", { name: "Create invitation link" }).click();
    await guardian.locator("#invite-link").waitFor();
    const revokedLink = await guardian.locator("#invite-link").inputValue();
    const uncle = guardian.locator("ul.invitations > li").filter({ hasText: "uncle" });
    await uncle.getByRole("button", { name: "Revoke" }).click();
    await uncle.getByText("Revoked", { exact: true }).waitFor();
    found.revoked = await openJoin(grandma, revokedLink);
    found.unknown = await openJoin(grandma, `${origin}/join#${"A".repeat(43)}`);
    await journal.audit(grandma, "join, refused");
    found.invitations = (await guardian.locator("ul.invitations > li").allInnerTexts()).map((s) => s.replace(/\s+/g, " ").trim());
    await journal.audit(guardian, "family, invitations (guardian)");

    journal.step("the timeline says who joined");
    await tab(guardian, "Timeline");
    await guardian.locator("article.entry.joined").first().waitFor();
    found.joinedEntry = (await guardian.locator("article.entry.joined").first().innerText()).replace(/\s+/g, " ").trim();
  }

  if (steps.has("discuss")) {
    journal.step("grandma hearts and comments on the quiz");
    grandma ??= await signIn(run, "grandma");
    await grandma.goto(new URL(childPath, origin).href);
    const quiz = entry(grandma, "Assessment: Fractions quiz");
    await quiz.waitFor();
    const heart = quiz.getByRole("button", { name: /^Heart,/ });
    await heart.click();
    await quiz.getByRole("button", { name: "Heart, 1" }).and(quiz.locator("[aria-pressed=true]")).waitFor();
    await quiz.getByRole("button", { name: /comments?$/ }).click();
    const box = quiz.getByLabel("Add a comment");
    await box.fill("x".repeat(1001));
    await quiz.getByRole("button", { name: "Comment", exact: true }).click();
    await quiz.locator(".field-error").waitFor();
    found.tooLong = {
      error: await quiz.locator(".field-error").innerText(),
      invalid: await box.getAttribute("aria-invalid"),
      hint: await quiz.locator(".comments .hint").innerText(),
    };
    await box.fill("So proud of you, Ada!");
    await quiz.getByRole("button", { name: "Comment", exact: true }).click();
    await quiz.locator(".comment-text").filter({ hasText: "So proud of you, Ada!" }).waitFor();
    await journal.audit(grandma, "timeline, discussion (grandma)");

    journal.step("the teacher sees it and removes the comment");
    teacher = await signIn(run, "teacher");
    const tquiz = entry(teacher, "Assessment: Fractions quiz");
    await tquiz.waitFor();
    await tquiz.getByRole("button", { name: "Heart, 1" }).waitFor();
    found.teacherHeart = await tquiz.getByRole("button", { name: "Heart, 1" }).getAttribute("aria-pressed");
    await tquiz.getByRole("button", { name: "1 comment" }).click();
    const comment = tquiz.locator(".comment-list li").filter({ hasText: "So proud of you, Ada!" });
    await comment.waitFor();
    found.teacherSaw = (await comment.innerText()).replace(/\s+/g, " ").trim();
    await journal.audit(teacher, "timeline, discussion (teacher)");
    await comment.getByRole("button", { name: /^Remove/ }).click();
    await comment.waitFor({ state: "detached" });
    await tquiz.getByText("No comments yet.").waitFor();
    await grandma.reload();
    await entry(grandma, "Assessment: Fractions quiz").getByRole("button", { name: "0 comments" }).waitFor();
    found.grandmaAfterRemoval = "0 comments";
  }

  if (steps.has("approval")) {
    journal.step("the administrator requires approval");
    admin ??= await signIn(run, "admin");
    await admin.goto(new URL(`${childPath}/family`, origin).href);
    const require = admin.getByLabel("Contributors' records wait for approval");
    await require.check();
    await admin.waitForFunction(() => document.getElementById("require-approval")?.checked && !document.getElementById("require-approval")?.disabled);

    journal.step("the teacher records a draft");
    teacher ??= await signIn(run, "teacher");
    await teacher.goto(new URL(`${childPath}/record`, origin).href);
    const form = teacher.getByRole("form", { name: "Record an assessment" });
    await form.locator("#a-title").fill("Spelling test");
    await form.locator("#a-subject").fill("English");
    await form.locator("#a-earned").fill("9");
    await form.locator("#a-possible").fill("10");
    await form.locator("button[type=submit]").click();
    await form.locator(".success").waitFor();
    await teacher.goto(new URL(childPath, origin).href);
    const draft = entry(teacher, "Assessment: Spelling test");
    await draft.waitFor();
    found.authorDraft = (await draft.innerText()).replace(/\s+/g, " ").trim();
    found.authorApprove = await draft.getByRole("button", { name: "Approve" }).count();
    await journal.audit(teacher, "timeline, draft (author)");

    journal.step("grandma does not see it");
    grandma ??= await signIn(run, "grandma");
    await grandma.goto(new URL(childPath, origin).href);
    await timelineShows(grandma, "Assessment: Fractions quiz", true);
    found.grandmaSawDraft = await entry(grandma, "Assessment: Spelling test").count();

    journal.step("teacher B approves it");
    const teacherB = await signIn(run, "teacherB");
    const bdraft = entry(teacherB, "Assessment: Spelling test");
    await bdraft.getByText("Awaiting approval").waitFor();
    await journal.audit(teacherB, "timeline, draft (approver)");
    await bdraft.getByRole("button", { name: "Approve" }).click();
    await bdraft.getByText("Awaiting approval").waitFor({ state: "detached" });

    journal.step("grandma sees it");
    await timelineShows(grandma, "Assessment: Spelling test", true);
    found.grandmaSawApproved = await entry(grandma, "Assessment: Spelling test").count();
  }

  if (steps.has("settings")) {
    journal.step("grandma's settings");
    grandma ??= await signIn(run, "grandma");
    await grandma.goto(new URL("/settings", origin).href);
    await grandma.getByRole("heading", { level: 1, name: "Settings" }).waitFor();
    await grandma.locator("#s-email-state").waitFor();
    found.emailStateBefore = await grandma.locator("#s-email-state").innerText();
    await journal.audit(grandma, "settings");
    await grandma.getByLabel("Time zone").selectOption("Europe/Berlin");
    await grandma.locator("#s-quiet").check();
    await grandma.getByLabel("From").fill("21:00");
    await grandma.getByLabel("Until").fill("07:30");
    await grandma.getByLabel("Daily digest by e-mail").check();
    await grandma.getByLabel("E-mail address").fill("grandma@example.org");
    await grandma.getByRole("button", { name: "Save settings" }).click();
    await grandma.getByText("Saved.").waitFor();
    found.emailStatePending = await grandma.locator("#s-email-state").innerText();

    journal.step("grandma confirms her e-mail with the mailed link");
    const confirmLink = await ask("confirm");
    await grandma.goto(confirmLink);
    await grandma.locator("main").getByText(/confirmed|could not/i).first().waitFor();
    found.confirmPage = (await grandma.locator("main").innerText()).replace(/\s+/g, " ").trim();
    await journal.audit(grandma, "settings, e-mail confirmed");
    await grandma.goto(new URL("/settings", origin).href);
    await grandma.locator("#s-email-state").waitFor();
    found.emailStateAfter = await grandma.locator("#s-email-state").innerText();
    found.settingsAfterReload = {
      timeZone: await grandma.getByLabel("Time zone").inputValue(),
      from: await grandma.getByLabel("From").inputValue(),
      until: await grandma.getByLabel("Until").inputValue(),
      digest: await grandma.getByLabel("Daily digest by e-mail").isChecked(),
    };

    const unsubscribeLink = await ask("unsubscribe");
    if (unsubscribeLink && unsubscribeLink !== "none") {
      journal.step("grandma unsubscribes from the digest");
      await grandma.goto(unsubscribeLink);
      await grandma.locator("main").getByText(/unsubscribed|could not/i).first().waitFor();
      found.unsubscribePage = (await grandma.locator("main").innerText()).replace(/\s+/g, " ").trim();
      await journal.audit(grandma, "settings, unsubscribed");
      await grandma.goto(new URL("/settings", origin).href);
      await grandma.locator("#s-email-state").waitFor();
      found.digestAfterUnsubscribe = await grandma.getByLabel("Daily digest by e-mail").isChecked();
    }
    journal.step("an unknown unsubscribe link is refused in words");
    await grandma.goto(new URL(`/settings/unsubscribe#${"A".repeat(43)}`, origin).href);
    await grandma.locator("main .card").waitFor();
    found.unsubscribeRefused = (await grandma.locator("main").innerText()).replace(/\s+/g, " ").trim();
    await journal.audit(grandma, "settings, unsubscribe refused");
  }

  clearTimeout(timer);
  print({ kind: "result", ...found, audits: journal.audits, dialogs: journal.dialogs, console: journal.console, steps: journal.steps });
} catch (e) {
  print({ kind: "failed", message: String(e?.stack ?? e), steps: journal.steps, console: journal.console, found });
  process.exitCode = 1;
} finally {
  await run?.close();
  process.exit(process.exitCode ?? 0);
}
