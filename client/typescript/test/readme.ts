// The README's REST examples ("Try it", "Recording and reading progress",
// "Photos, artwork and videos", the inbox of "Live notifications"), made
// with the generated client against a running suite. e2e/typescript_test.go
// compiles this with tsc, so a call the spec does not allow fails there,
// and runs it with node, so an answer that is not what the README says
// fails here. Configuration comes from the environment: KINBRIDGE_URL, the
// tokens KINBRIDGE_TOKEN (an admin's, from `kinbridge token issue --admin`
// as in the README), MARIA, OLGA and TEACHER, and PHOTO, a JPEG file.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createKinbridgeClient, idOf } from "../src/index.js";

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

const baseUrl = env("KINBRIDGE_URL");
const admin = createKinbridgeClient({ baseUrl, token: env("KINBRIDGE_TOKEN") });
const maria = createKinbridgeClient({ baseUrl, token: env("MARIA") });
const olga = createKinbridgeClient({ baseUrl, token: env("OLGA") });
const teacher = createKinbridgeClient({ baseUrl, token: () => env("TEACHER") });

function step(what: string) {
  console.log(`ok ${what}`);
}

// --- Try it
// An admin creates a child and keeps its resource name.
const created = await admin.POST("/v1/children", {
  body: { displayName: "Ada", school: "Hill Primary", gradeLevel: "3", timeZone: "Europe/Lisbon" },
});
assert.equal(created.response.status, 200, JSON.stringify(created.error));
assert.ok(created.data);
const name: string = created.data.name; // required in answers: the type says it is there
assert.match(name, /^children\/[a-z0-9]+$/);
const child = idOf(name);
step(`created ${name}`);

// maria may now follow Ada.
const granted = await admin.POST("/v1/children/{child}/guardians", {
  params: { path: { child } },
  body: { user: "maria", role: "ROLE_GUARDIAN", relation: "mother" },
});
assert.equal(granted.response.status, 200, JSON.stringify(granted.error));
assert.equal(granted.data?.role, "ROLE_GUARDIAN");
step("maria follows Ada");

// maria's token reads the child; olga's gets 404, as if Ada did not exist.
const read = await maria.GET("/v1/children/{child}", { params: { path: { child } } });
assert.equal(read.response.status, 200);
assert.equal(read.data?.displayName, "Ada");
const hidden = await olga.GET("/v1/children/{child}", { params: { path: { child } } });
assert.equal(hidden.response.status, 404);
assert.equal(hidden.error?.code, 5); // NOT_FOUND
step("maria reads Ada, olga gets 404");

// Partial update with an etag: a stale etag answers 409 and changes nothing.
const updated = await admin.PATCH("/v1/children/{child}", {
  params: { path: { child } },
  body: { school: "River School", etag: "v1" },
});
assert.equal(updated.response.status, 200, JSON.stringify(updated.error));
assert.equal(updated.data?.school, "River School");
const stale = await admin.PATCH("/v1/children/{child}", {
  params: { path: { child } },
  body: { school: "Lake School", etag: "v1" },
});
assert.equal(stale.response.status, 409);
assert.equal(stale.error?.code, 10); // ABORTED
step("the etag guards the update");

// --- Recording and reading progress
const contributor = await admin.POST("/v1/children/{child}/guardians", {
  params: { path: { child } },
  body: { user: "teacher", role: "ROLE_CONTRIBUTOR" },
});
assert.equal(contributor.response.status, 200, JSON.stringify(contributor.error));

// Three Math results: points, a letter grade, points. requestId makes a retry safe.
const quiz = {
  subject: "Math",
  title: "Fractions quiz",
  kind: "ASSESSMENT_KIND_TEST",
  assessedDate: "2026-03-01",
  score: { points: { earned: 18, possible: 20 } },
  teacherComment: "Careful work",
} as const;
const first = await teacher.POST("/v1/children/{child}/assessments", {
  params: { path: { child }, query: { requestId: "quiz-1" } },
  body: quiz,
});
assert.equal(first.response.status, 200, JSON.stringify(first.error));
assert.equal(first.data?.percent, 90);
const retried = await teacher.POST("/v1/children/{child}/assessments", {
  params: { path: { child }, query: { requestId: "quiz-1" } },
  body: quiz,
});
assert.equal(retried.data?.name, first.data?.name, "a retry with the same requestId records nothing new");
const letter = await teacher.POST("/v1/children/{child}/assessments", {
  params: { path: { child } },
  body: { subject: "Math", title: "Homework 3", kind: "ASSESSMENT_KIND_HOMEWORK", assessedDate: "2026-03-15", score: { letterGrade: "B+" } },
});
assert.equal(letter.data?.percent, 87);
const unit = await teacher.POST("/v1/children/{child}/assessments", {
  params: { path: { child } },
  body: { subject: "Math", title: "Unit test", kind: "ASSESSMENT_KIND_TEST", assessedDate: "2026-03-31", score: { points: { earned: 70, possible: 100 } } },
});
assert.equal(unit.data?.percent, 70);
const milestone = await teacher.POST("/v1/children/{child}/milestones", {
  params: { path: { child } },
  body: { title: "Read a chapter book alone", category: "MILESTONE_CATEGORY_ACADEMIC", achievedDate: "2026-03-20" },
});
assert.equal(milestone.response.status, 200, JSON.stringify(milestone.error));
step("the teacher records three assessments and a milestone");

// maria reads March: the list and the summary.
const page = await maria.GET("/v1/children/{child}/assessments", {
  params: { path: { child }, query: { subject: "Math", pageSize: 2 } },
});
assert.equal(page.response.status, 200);
assert.equal(page.data?.assessments?.length, 2);
assert.ok(page.data?.nextPageToken, "a page of two has a next page");
const summary = await maria.GET("/v1/children/{child}/progressSummary", {
  params: { path: { child }, query: { startDate: "2026-03-01", endDate: "2026-03-31" } },
});
assert.equal(summary.response.status, 200);
const math = summary.data?.subjects?.find((s) => s.subject === "Math");
assert.deepEqual([math?.latestPercent, math?.meanPercent, math?.trend], [70, 82.33, -20.28]);
assert.deepEqual(summary.data?.milestones?.map((m) => m.title), ["Read a chapter book alone"]);
step("maria reads the worked example: latest 70, mean 82.33, trend -20.28");

// A guardian cannot record (403); the violation of a missing field names it as sent.
const refused = await maria.POST("/v1/children/{child}/milestones", {
  params: { path: { child } },
  body: { title: "Tied shoes", achievedDate: "2026-03-21" },
});
assert.equal(refused.response.status, 403);
assert.equal(refused.error?.code, 7); // PERMISSION_DENIED
const badDate = await teacher.POST("/v1/children/{child}/milestones", {
  params: { path: { child } },
  body: { title: "Swam", achievedDate: "1800-01-01" },
});
assert.equal(badDate.response.status, 400);
assert.match(JSON.stringify(badDate.error?.details), /"field":"milestone\.achievedDate"/);
step("a guardian cannot record; a bad date names milestone.achievedDate");

// --- Photos, artwork and videos
const photo = new Blob([await readFile(env("PHOTO"))], { type: "image/jpeg" });
const upload = await teacher.POST("/v1/children/{child}/media:upload", {
  params: { path: { child }, query: { title: "Self-portrait", kind: "artwork" } },
  body: photo,
  bodySerializer: (b) => b,
  headers: { "Content-Type": "application/octet-stream" },
});
assert.equal(upload.response.status, 200, JSON.stringify(upload.error));
assert.ok(upload.data);
const item: string = upload.data.name;
assert.match(item, /^children\/[a-z0-9]+\/media\/[a-z0-9]+$/);
const mediaItem = idOf(item);
const got = await maria.GET("/v1/children/{child}/media/{mediaItem}", { params: { path: { child, mediaItem } } });
assert.equal(got.data?.title, "Self-portrait");
const range = await maria.GET("/v1/children/{child}/media/{mediaItem}:content", {
  params: { path: { child, mediaItem }, header: { Range: "bytes=0-99" } },
  parseAs: "arrayBuffer",
});
assert.equal(range.response.status, 206);
assert.equal((range.data as ArrayBuffer | undefined)?.byteLength, 100);
step(`uploaded ${item}; maria reads its first 100 bytes`);

// An HTML file named .jpg is refused (415); a guardian cannot upload (403).
const html = new Blob(["<html><script>alert(1)</script></html>\n"]);
const notAPhoto = await teacher.POST("/v1/children/{child}/media:upload", {
  params: { path: { child } },
  body: html,
  bodySerializer: (b) => b,
  headers: { "Content-Type": "application/octet-stream" },
});
assert.equal(notAPhoto.response.status, 415);
const byGuardian = await maria.POST("/v1/children/{child}/media:upload", {
  params: { path: { child } },
  body: photo,
  bodySerializer: (b) => b,
  headers: { "Content-Type": "application/octet-stream" },
});
assert.equal(byGuardian.response.status, 403);
step("HTML is refused with 415, a guardian's upload with 403");

// --- Live notifications: maria's inbox and her unread count.
const inbox = await maria.GET("/v1/users/{user}/notifications", {
  params: { path: { user: "me" }, query: { pageSize: 5 } },
});
assert.equal(inbox.response.status, 200, JSON.stringify(inbox.error));
assert.ok((inbox.data?.notifications?.length ?? 0) <= 5);
const unread = await maria.GET("/v1/users/{user}/notifications:countUnread", { params: { path: { user: "me" } } });
assert.equal(unread.response.status, 200, JSON.stringify(unread.error));
step("maria reads her inbox and unread count");

console.log("README examples: ok");
