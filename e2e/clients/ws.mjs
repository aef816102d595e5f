// Follows a user's live notifications over WebSocket with the npm `ws`
// package, speaking the frames a browser page reads.
//
//   node ws.mjs URL COUNT TIMEOUT_MS
//
// URL is the feed, e.g. ws://host/v1/notifications/ws?access_token=T&resume=R.
// The client sends the Origin of the page it stands for (the feed's own
// host), as a browser does. Every line on stdout is one JSON object:
//   {"kind":"open"}
//   {"kind":"notification","resumeToken":...,"type":...,"title":...,"body":...}
//   {"kind":"resume","resumeToken":...,"reason":...}   the server ended the feed: reconnect
//                                                    with resume=resumeToken
//   {"kind":"closed","code":...,"reason":...}
//   {"kind":"failed","status":...}   the upgrade was refused (400 for a resume the feed refuses)
//   {"kind":"done"} / {"kind":"timeout"} / {"kind":"failed","message":...}
// After COUNT notifications the client closes normally (1000), and the
// script exits 0 once the close completes; it exits 1 on TIMEOUT_MS, on a
// connection error, or when the server closes first.
import WebSocket from "ws";

const [url, countArg, timeoutArg] = process.argv.slice(2);
const count = Number(countArg);
const timeoutMs = Number(timeoutArg);
if (!url || !(count > 0) || !(timeoutMs > 0)) {
  console.error("usage: node ws.mjs URL COUNT TIMEOUT_MS");
  process.exit(2);
}

const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");
let received = 0;
let closing = false;
const origin = new URL(url);
origin.protocol = origin.protocol === "wss:" ? "https:" : "http:";
const ws = new WebSocket(url, { origin: origin.origin });
const timer = setTimeout(() => {
  print({ kind: "timeout", received });
  process.exitCode = 1;
  ws.terminate();
}, timeoutMs);

ws.on("open", () => print({ kind: "open" }));
ws.on("unexpected-response", (_req, res) => {
  print({ kind: "failed", status: res.statusCode });
  process.exitCode = 1;
  clearTimeout(timer);
  ws.terminate();
});
ws.on("error", (err) => {
  print({ kind: "failed", message: String(err && err.message) });
  process.exitCode = 1;
  clearTimeout(timer);
});
ws.on("message", (data) => {
  const f = JSON.parse(data.toString());
  if (f.type === "heartbeat") return;
  if (f.type !== "notification") {
    print({ kind: f.type, resumeToken: f.resumeToken ?? null, reason: f.reason ?? null });
    return;
  }
  if (closing) return; // the close is under way: this one stays for the next connection
  const n = f.notification;
  print({ kind: "notification", resumeToken: f.resumeToken, type: n.type, title: n.title, body: n.body });
  if (++received === count) {
    closing = true;
    ws.close(1000, "done");
  }
});
ws.on("close", (code, reason) => {
  clearTimeout(timer);
  print({ kind: "closed", code, reason: reason.toString() });
  if (closing && code === 1000) {
    print({ kind: "done", received });
  } else if (process.exitCode === undefined) {
    process.exitCode = 1;
  }
});
