// Follows a user's live notifications over Server-Sent Events with the npm
// `eventsource` package, the EventSource API a browser page uses.
//
//   node sse.mjs URL COUNT TIMEOUT_MS
//
// URL is the feed, e.g. http://host/v1/notifications/events?access_token=T.
// Every line on stdout is one JSON object:
//   {"kind":"open"}                    a connection (first or reconnect) is open
//   {"kind":"error","message":...}     the connection broke; EventSource retries by itself
//   {"kind":"notification","id":...,"type":...,"title":...,"body":...}
//   {"kind":"resume","data":...}       the server ended the stream; EventSource resumes by itself
//   {"kind":"failed","code":...}       EventSource gave up: a non-200 answer (400 for a
//                                      Last-Event-ID the feed refuses), which it never retries
//   {"kind":"done"} / {"kind":"timeout"}
// The script exits 0 after COUNT notifications, and 1 on TIMEOUT_MS or when
// EventSource gives up (readyState CLOSED).
import { EventSource } from "eventsource";

const [url, countArg, timeoutArg] = process.argv.slice(2);
const count = Number(countArg);
const timeoutMs = Number(timeoutArg);
if (!url || !(count > 0) || !(timeoutMs > 0)) {
  console.error("usage: node sse.mjs URL COUNT TIMEOUT_MS");
  process.exit(2);
}

const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");
let received = 0;
let finished = false;
const es = new EventSource(url);
const timer = setTimeout(() => finish(1, { kind: "timeout", received }), timeoutMs);

function finish(code, line) {
  finished = true;
  print(line);
  clearTimeout(timer);
  es.close();
  process.exitCode = code;
}

// Once finished, events still being parsed from the last chunk are ignored.
es.addEventListener("open", () => finished || print({ kind: "open" }));
es.addEventListener("error", (e) => {
  if (finished) return;
  if (es.readyState === EventSource.CLOSED) {
    finish(1, { kind: "failed", code: e.code ?? null, message: e.message ?? null });
  } else {
    print({ kind: "error", code: e.code ?? null, message: e.message ?? null });
  }
});
es.addEventListener("resume", (e) => finished || print({ kind: "resume", data: e.data }));
es.addEventListener("notification", (e) => {
  if (finished) return;
  const n = JSON.parse(e.data);
  print({ kind: "notification", id: e.lastEventId, type: n.type, title: n.title, body: n.body });
  if (++received === count) finish(0, { kind: "done", received });
});
