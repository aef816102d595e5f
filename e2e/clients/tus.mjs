// Uploads a file to the gateway's tus 1.0 endpoint with tus-js-client, the
// resumable-upload client browsers (and Uppy) use, from a Node file stream.
//
//   node tus.mjs ENDPOINT FILE TOKEN CHILD CHUNK_BYTES TIMEOUT_MS
//
// ENDPOINT is the tus creation URL, e.g. http://host/v1/uploads/; CHILD is
// "children/{id}". Every line on stdout is one JSON object:
//   {"kind":"created","url":...}        the upload exists
//   {"kind":"progress","percent":N,"sent":B,"total":T}  once per whole percent
//   {"kind":"retry","attempt":N,"status":S,"message":...}  tus-js-client retries by itself
//   {"kind":"done","item":...,"url":...}  finished: the item the upload became
//   {"kind":"failed","message":...} / {"kind":"timeout"}
// The script exits 0 once done, 1 on failure or after TIMEOUT_MS.
import { createReadStream } from "node:fs";
import { basename } from "node:path";
import { Upload } from "tus-js-client";

const [endpoint, file, token, child, chunkArg, timeoutArg] = process.argv.slice(2);
const chunkSize = Number(chunkArg);
const timeoutMs = Number(timeoutArg);
if (!endpoint || !file || !token || !child || !(chunkSize > 0) || !(timeoutMs > 0)) {
  console.error("usage: node tus.mjs ENDPOINT FILE TOKEN CHILD CHUNK_BYTES TIMEOUT_MS");
  process.exit(2);
}

const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");
let finished = false;
let lastPercent = -1;

function finish(code, line) {
  if (finished) return;
  finished = true;
  print(line);
  clearTimeout(timer);
  process.exitCode = code;
}

const upload = new Upload(createReadStream(file), {
  endpoint,
  chunkSize,
  // Retried for as long as the test allows: the proxy in front of the
  // gateway cuts every connection now and then.
  retryDelays: [0, 250, 500, 1000, 2000, 3000, 5000, 5000, 5000, 5000],
  headers: { Authorization: `Bearer ${token}` },
  metadata: { child, filename: basename(file), title: "Big video", kind: "video" },
  removeFingerprintOnSuccess: true,
  onUploadUrlAvailable() {
    print({ kind: "created", url: upload.url });
  },
  onProgress(sent, total) {
    const percent = Math.floor((sent * 100) / total);
    if (percent !== lastPercent) {
      lastPercent = percent;
      print({ kind: "progress", percent, sent, total });
    }
  },
  onShouldRetry(err, attempt) {
    const status = err.originalResponse ? err.originalResponse.getStatus() : 0;
    print({ kind: "retry", attempt, status, message: String(err.message).split("\n")[0] });
    // tus-js-client's own rule: retry unless the server refused outright
    // (4xx other than 409 Conflict and 423 Locked).
    return !(status >= 400 && status < 500 && status !== 409 && status !== 423);
  },
  onError(err) {
    finish(1, { kind: "failed", message: String(err && err.message) });
  },
  onSuccess({ lastResponse }) {
    finish(0, { kind: "done", item: lastResponse.getHeader("Kinbridge-Media-Item") || "", url: upload.url });
  },
});

const timer = setTimeout(() => {
  finish(1, { kind: "timeout" });
  upload.abort().finally(() => process.exit(1));
}, timeoutMs);

upload.start();
