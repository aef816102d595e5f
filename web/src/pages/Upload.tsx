// Uploads photos and videos with tus (tus-js-client) to /v1/uploads. An
// upload survives a dropped connection (tus-js-client retries from the
// server's offset) and a page reload: its URL is kept in localStorage by
// the file's fingerprint, so choosing the same file again resumes it
// where it stopped instead of starting over.
import { useEffect, useState } from "preact/hooks";
import * as tus from "tus-js-client";
import { csrfHeaders, idOf, signedOut, type Child } from "../api";
import { Link } from "../router";
import { Field } from "../ui";

type Kind = "photo" | "video" | "artwork" | "document";

interface Job {
  id: number;
  file: File;
  kind: Kind;
  sent: number;
  total: number;
  state: "uploading" | "paused" | "retrying" | "done" | "failed";
  resumed: boolean;
  message: string;
  item: string; // the media item's name once known
  upload?: tus.Upload;
}

let nextJob = 1;

function kindOf(file: File, chosen: Kind | ""): Kind {
  if (chosen) return chosen;
  return file.type.startsWith("video/") ? "video" : "photo";
}

function size(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GB`;
}

/** The refusal the gateway sent (tus answers carry a text body). */
function why(err: Error): string {
  const e = err as tus.DetailedError;
  const status = e.originalResponse?.getStatus();
  const body = e.originalResponse?.getBody()?.trim();
  if (status === 413) return `Too large${body ? `: ${body}` : "."}`;
  if (status === 415) return `Not a photo or video this server accepts${body ? `: ${body}` : "."}`;
  if (status === 403) return "You may not upload for this child, or your session changed: reload the page.";
  if (status && body) return `${body} (${status})`;
  return "The connection failed. Press Resume to continue.";
}

export function Upload({ child }: { child: Child }) {
  const [jobs, setJobs] = useState<Job[]>([]);
  const [kind, setKind] = useState<Kind | "">("");
  const [title, setTitle] = useState("");
  const [caption, setCaption] = useState("");
  const [unfinished, setUnfinished] = useState<tus.PreviousUpload[]>([]);

  const update = (id: number, patch: Partial<Job>) => setJobs((js) => js.map((j) => (j.id === id ? { ...j, ...patch } : j)));

  useEffect(() => {
    // Uploads a reload interrupted, for this child: choosing the same file resumes them.
    tus.defaultOptions.urlStorage
      .findAllUploads()
      .then((all) => setUnfinished(all.filter((u) => u.metadata.child === child.name)))
      .catch(() => {});
  }, [child.name]);

  /** Cancels an unfinished upload on the server (its bytes are dropped) and forgets it here. */
  const discard = async (u: tus.PreviousUpload) => {
    if (u.uploadUrl) await tus.Upload.terminate(u.uploadUrl, { headers: csrfHeaders() }).catch(() => {});
    await tus.defaultOptions.urlStorage.removeUpload(u.urlStorageKey).catch(() => {});
    setUnfinished((list) => list.filter((p) => p.urlStorageKey !== u.urlStorageKey));
  };

  const start = async (file: File) => {
    const id = nextJob++;
    const k = kindOf(file, kind);
    const job: Job = { id, file, kind: k, sent: 0, total: file.size, state: "uploading", resumed: false, message: "", item: "" };
    const metadata: Record<string, string> = { child: child.name, filename: file.name, kind: k };
    if (title) metadata.title = title;
    if (caption) metadata.caption = caption;
    const upload = new tus.Upload(file, {
      endpoint: "/v1/uploads",
      headers: csrfHeaders(),
      metadata,
      // Chunks keep each request short, so a dropped connection costs at
      // most one chunk and the progress bar moves steadily.
      chunkSize: 8 * 1024 * 1024,
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
      removeFingerprintOnSuccess: true,
      onProgress: (sent, total) => update(id, { sent, total, state: "uploading", message: "" }),
      onShouldRetry: (err, attempt) => {
        const status = (err as tus.DetailedError).originalResponse?.getStatus() ?? 0;
        // Refusals are final; nothing else is. A 401 means the session
        // ended: the upload resumes after signing in again.
        if (status === 401) signedOut();
        if ([400, 401, 403, 404, 413, 415].includes(status)) return false;
        update(id, { state: "retrying", message: `Connection lost; retrying (attempt ${attempt + 1})…` });
        return true;
      },
      onAfterResponse: (_req, res) => {
        const item = res.getHeader("Kinbridge-Media-Item");
        if (item) update(id, { item });
      },
      onError: (err) => update(id, { state: "failed", message: why(err) }),
      onSuccess: () => {
        update(id, { state: "done", sent: file.size, message: "" });
        setUnfinished((u) => u.filter((p) => p.metadata.filename !== file.name));
      },
    });
    job.upload = upload;
    const previous = await upload.findPreviousUploads().catch(() => []);
    if (previous.length) {
      upload.resumeFromPreviousUpload(previous[0]!);
      job.resumed = true;
    }
    setJobs((js) => [job, ...js]);
    upload.start();
  };

  return (
    <section aria-labelledby="upload-title" class="form">
      <h2 id="upload-title">Upload photos and videos</h2>
      {unfinished.length > 0 && (
        <div class="notice" role="status">
          <p>Unfinished uploads — choose the same file again to continue where it stopped:</p>
          <ul>
            {unfinished.map((u) => (
              <li key={u.urlStorageKey}>
                {u.metadata.filename ?? "a file"} ({size(u.size ?? 0)}){" "}
                <button type="button" class="link-button" onClick={() => discard(u)}>
                  Discard<span class="visually-hidden"> {u.metadata.filename ?? "this upload"}</span>
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
      <div class="row">
        <Field id="u-title" label="Title (optional)">
          <input id="u-title" value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
        </Field>
        <Field id="u-kind" label="Kind">
          <select id="u-kind" value={kind} onChange={(e) => setKind(e.currentTarget.value as Kind | "")}>
            <option value="">From the file</option>
            <option value="photo">Photo</option>
            <option value="video">Video</option>
            <option value="artwork">Artwork</option>
          </select>
        </Field>
      </div>
      <Field id="u-caption" label="Caption (optional)">
        <input id="u-caption" value={caption} onInput={(e) => setCaption(e.currentTarget.value)} />
      </Field>
      <Field id="u-file" label="Files" hint="Photos (JPEG, PNG, HEIC, …) and videos (MP4, MOV, …).">
        <input
          id="u-file"
          type="file"
          accept="image/*,video/*"
          multiple
          aria-describedby="u-file-hint"
          onChange={(e) => {
            const files = [...(e.currentTarget.files ?? [])];
            e.currentTarget.value = "";
            for (const f of files) start(f);
          }}
        />
      </Field>
      <ul class="uploads" aria-label="Uploads">
        {jobs.map((j) => {
          const pct = j.total ? Math.floor((j.sent / j.total) * 100) : 0;
          return (
            <li key={j.id} class={`upload ${j.state}`}>
              <div class="upload-head">
                <strong class="filename">{j.file.name}</strong>
                <span class="muted">
                  {size(j.total)}
                  {j.resumed ? " · resumed" : ""}
                </span>
              </div>
              <progress id={`p-${j.id}`} max={100} value={pct} aria-label={`Upload of ${j.file.name}`}>
                {pct}%
              </progress>
              <p class="upload-state" aria-live="polite">
                {j.state === "done"
                  ? "Uploaded. It appears in the gallery once processed."
                  : j.state === "paused"
                    ? `Paused at ${pct}%.`
                    : j.state === "failed"
                      ? j.message
                      : j.message || `${pct}% (${size(j.sent)} of ${size(j.total)})`}
              </p>
              <div class="actions">
                {(j.state === "uploading" || j.state === "retrying") && (
                  <button
                    type="button"
                    class="button small"
                    onClick={() => {
                      j.upload?.abort();
                      update(j.id, { state: "paused" });
                    }}
                  >
                    Pause
                  </button>
                )}
                {(j.state === "paused" || j.state === "failed") && (
                  <button
                    type="button"
                    class="button small"
                    onClick={() => {
                      update(j.id, { state: "uploading", message: "" });
                      j.upload?.start();
                    }}
                  >
                    Resume
                  </button>
                )}
                {j.state === "done" && j.item && (
                  <Link class="button small" href={`/children/${idOf(child.name)}/gallery?item=${idOf(j.item)}`}>
                    View
                  </Link>
                )}
              </div>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
