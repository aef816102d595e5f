// A child's timeline: assessments, milestones and media merged newest
// first in the app (docs/app.md, "The timeline"). Media are listed newest
// first by the API and page with its token. Assessments and milestones
// are listed oldest first, so the app reads them backwards in windows of
// days: each source keeps its own cursor (the window's last day and the
// page token inside it), and "Load more" takes the newest head of the
// three until it has a page.
import { useEffect, useRef, useState } from "preact/hooks";
import {
  api,
  contentURL,
  hasThumbnail,
  idOf,
  unwrap,
  type Assessment,
  type Child,
  type Invitation,
  type MediaItem,
  type Milestone,
} from "../api";
import { useNotifications } from "../live";
import { Link } from "../router";
import { ErrorBox, Loading, enumLabel, formatDate, formatDateTime } from "../ui";
import { Discussion, type Viewer } from "./Discussion";

/** Whether an entry is a draft awaiting approval, and who made it. */
function draftOf(e: Entry): { draft: boolean; author: string } {
  if (e.kind === "assessment" || e.kind === "milestone") return { draft: e.item.state === "PUBLISH_STATE_DRAFT", author: e.item.recordedBy ?? "" };
  if (e.kind === "media") return { draft: e.item.publishState === "PUBLISH_STATE_DRAFT", author: e.item.uploadedBy ?? "" };
  return { draft: false, author: "" };
}

/** Approves the version the viewer sees: its etag, which the server requires. */
async function approve(e: Entry): Promise<Entry> {
  const [, child, , id] = e.item.name.split("/") as [string, string, string, string];
  if (e.kind === "assessment")
    return { ...e, item: await unwrap(api.POST("/v1/children/{child}/assessments/{assessment}:approve", { params: { path: { child, assessment: id } }, body: { etag: e.item.etag } })) };
  if (e.kind === "milestone")
    return { ...e, item: await unwrap(api.POST("/v1/children/{child}/milestones/{milestone}:approve", { params: { path: { child, milestone: id } }, body: { etag: e.item.etag } })) };
  if (e.kind === "media")
    return { ...e, item: await unwrap(api.POST("/v1/children/{child}/media/{mediaItem}:approve", { params: { path: { child, mediaItem: id } }, body: { etag: e.item.etag } })) };
  return e;
}

/**
 * A draft's mark, and Approve for the child's other contributors and the
 * administrators (the author may not approve their own: the button is
 * not offered, and the server refuses it anyway, as it refuses whoever
 * last edited it, which the refusal under the button then says). Guardians
 * never get drafts from the API.
 */
function Approval({ entry, viewer, onApproved }: { entry: Entry; viewer: Viewer; onApproved: (e: Entry) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const { draft, author } = draftOf(entry);
  if (!draft) return null;
  return (
    <div class="approval">
      <span class="draft-mark">Awaiting approval</span>
      {viewer.moderator && author !== viewer.user && (
        <button
          type="button"
          class="button small primary"
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            setError(null);
            try {
              onApproved(await approve(entry));
            } catch (e) {
              setError(e);
            } finally {
              setBusy(false);
            }
          }}
        >
          Approve
        </button>
      )}
      <ErrorBox error={error} />
    </div>
  );
}

export type Entry =
  | { kind: "assessment"; key: string; item: Assessment }
  | { kind: "milestone"; key: string; item: Milestone }
  | { kind: "media"; key: string; item: MediaItem }
  | { kind: "joined"; key: string; item: Invitation };

const PAGE = 20;
const WINDOW_DAYS = 120;
const LAST_DAY = "2199-12-31"; // the API's last date: future-dated entries come first

function addDays(day: string, n: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** A source of entries, newest first, fetched a chunk at a time. */
interface Source {
  buffer: Entry[];
  done: boolean;
  fill(): Promise<void>;
}

function mediaSource(child: string): Source {
  let pageToken: string | undefined;
  const s: Source = {
    buffer: [],
    done: false,
    async fill() {
      const page = await unwrap(
        api.GET("/v1/children/{child}/media", { params: { path: { child }, query: { pageSize: PAGE, pageToken } } }),
      );
      for (const item of page.mediaItems ?? []) {
        s.buffer.push({ kind: "media", key: `${item.createTime.slice(0, 10)}|${item.createTime}`, item });
      }
      pageToken = page.nextPageToken || undefined;
      s.done = !pageToken;
    },
  };
  return s;
}

/**
 * Reads an oldest-first list backwards: first its oldest entry (where to
 * stop), then windows of WINDOW_DAYS days from the last date down, each
 * read whole (it may take several pages) and reversed.
 */
function backwardsSource<T>(
  list: (q: { pageSize: number; pageToken?: string; startDate?: string; endDate?: string }) => Promise<{
    items: T[];
    next?: string;
  }>,
  entry: (t: T) => Entry,
  dayOf: (t: T) => string,
): Source {
  let oldest: string | undefined;
  let end = LAST_DAY;
  const s: Source = {
    buffer: [],
    done: false,
    async fill() {
      if (oldest === undefined) {
        const first = await list({ pageSize: 1 });
        const o = first.items[0];
        if (!o) {
          s.done = true;
          return;
        }
        oldest = dayOf(o);
      }
      // The first window reaches from WINDOW_DAYS before today to the last date.
      const start = end === LAST_DAY ? addDays(new Date().toISOString().slice(0, 10), -WINDOW_DAYS) : addDays(end, -WINDOW_DAYS);
      const got: T[] = [];
      let pageToken: string | undefined;
      do {
        const page = await list({ pageSize: 200, pageToken, startDate: start, endDate: end });
        got.push(...page.items);
        pageToken = page.next || undefined;
      } while (pageToken);
      for (const t of got.reverse()) s.buffer.push(entry(t));
      end = addDays(start, -1);
      if (start <= oldest) s.done = true;
    },
  };
  return s;
}

/**
 * The redeemed invitations ("X joined, invited by Y"), by when they were
 * redeemed. ListInvitations is ordered by creation, so the app reads the
 * child's invitations whole (at most a few hundred) and sorts them. A
 * server without invitations, or a refusal, leaves them out.
 */
function joinedSource(child: string): Source {
  const s: Source = {
    buffer: [],
    done: false,
    async fill() {
      s.done = true;
      const got: Invitation[] = [];
      let pageToken: string | undefined;
      try {
        do {
          const page = await unwrap(
            api.GET("/v1/children/{child}/invitations", { params: { path: { child }, query: { pageSize: 200, pageToken } } }),
          );
          got.push(...(page.invitations ?? []));
          pageToken = page.nextPageToken || undefined;
        } while (pageToken);
      } catch {
        return;
      }
      const redeemed = got.filter((i) => i.state === "INVITATION_STATE_REDEEMED" && i.redeemTime);
      redeemed.sort((a, b) => (a.redeemTime! < b.redeemTime! ? 1 : -1));
      for (const item of redeemed) s.buffer.push({ kind: "joined", key: `${item.redeemTime!.slice(0, 10)}|${item.redeemTime}`, item });
    },
  };
  return s;
}

export function sources(child: string): Source[] {
  return [
    backwardsSource<Assessment>(
      async (q) => {
        const r = await unwrap(api.GET("/v1/children/{child}/assessments", { params: { path: { child }, query: q } }));
        return { items: r.assessments ?? [], next: r.nextPageToken };
      },
      (item) => ({ kind: "assessment", key: `${item.assessedDate}|${item.createTime}`, item }),
      (a) => a.assessedDate,
    ),
    backwardsSource<Milestone>(
      async (q) => {
        const r = await unwrap(api.GET("/v1/children/{child}/milestones", { params: { path: { child }, query: q } }));
        return { items: r.milestones ?? [], next: r.nextPageToken };
      },
      (item) => ({ kind: "milestone", key: `${item.achievedDate}|${item.createTime}`, item }),
      (m) => m.achievedDate,
    ),
    mediaSource(child),
    joinedSource(child),
  ];
}

/** The next n entries, newest first, across the sources. */
export async function take(srcs: Source[], n: number): Promise<Entry[]> {
  const out: Entry[] = [];
  while (out.length < n) {
    // A source with nothing buffered may still hold the newest entry.
    await Promise.all(
      srcs.map(async (s) => {
        while (s.buffer.length === 0 && !s.done) await s.fill();
      }),
    );
    let best: Source | undefined;
    for (const s of srcs) {
      if (s.buffer.length && (!best || s.buffer[0]!.key > best.buffer[0]!.key)) best = s;
    }
    if (!best) break;
    out.push(best.buffer.shift()!);
  }
  return out;
}

function EntryView({ entry, childId }: { entry: Entry; childId: string }) {
  if (entry.kind === "joined") {
    const i = entry.item;
    return (
      <article class="entry joined" aria-label={`${i.redeemer} joined`}>
        <p class="entry-kind">Family{i.relation ? ` · ${i.relation}` : ""}</p>
        <p>
          <strong>{i.redeemer}</strong> joined, invited by <strong>{i.creator}</strong>
        </p>
        <time dateTime={i.redeemTime}>{formatDateTime(i.redeemTime)}</time>
      </article>
    );
  }
  if (entry.kind === "assessment") {
    const a = entry.item;
    const score = a.score?.letterGrade
      ? a.score.letterGrade
      : a.score?.points
        ? `${a.score.points.earned ?? 0}/${a.score.points.possible ?? 0}`
        : "";
    return (
      <article class="entry assessment" aria-label={`Assessment: ${a.title}`}>
        <p class="entry-kind">
          {enumLabel(a.kind, "ASSESSMENT_KIND_")} · {a.subject}
        </p>
        <h3>{a.title}</h3>
        {(score || a.percent !== undefined) && (
          <p class="score">
            {score}
            {a.percent !== undefined && <span class="muted"> ({Math.round(a.percent)}%)</span>}
          </p>
        )}
        {a.teacherComment && <p class="comment">{a.teacherComment}</p>}
        <time dateTime={a.assessedDate}>{formatDate(a.assessedDate)}</time>
      </article>
    );
  }
  if (entry.kind === "milestone") {
    const m = entry.item;
    return (
      <article class="entry milestone" aria-label={`Milestone: ${m.title}`}>
        <p class="entry-kind">Milestone{m.category ? ` · ${enumLabel(m.category, "MILESTONE_CATEGORY_")}` : ""}</p>
        <h3>{m.title}</h3>
        {m.description && <p class="comment">{m.description}</p>}
        <time dateTime={m.achievedDate}>{formatDate(m.achievedDate)}</time>
      </article>
    );
  }
  const item = entry.item;
  const label = item.title || item.caption || enumLabel(item.kind, "MEDIA_KIND_") || "Media";
  return (
    <article class="entry media" aria-label={`${enumLabel(item.kind, "MEDIA_KIND_") || "Media"}: ${label}`}>
      <p class="entry-kind">{enumLabel(item.kind, "MEDIA_KIND_") || "Media"}</p>
      {item.state === "MEDIA_STATE_READY" && hasThumbnail(item, "small") ? (
        <Link href={`/children/${childId}/gallery?item=${idOf(item.name)}`} class="entry-thumb">
          <img src={contentURL(item, "small")} alt={label} loading="lazy" />
          {item.kind === "MEDIA_KIND_VIDEO" && (
            <span class="play" aria-hidden="true">
              ▶
            </span>
          )}
        </Link>
      ) : (
        <p class="muted">{item.state === "MEDIA_STATE_FAILED" ? "Could not be processed." : "Being processed…"}</p>
      )}
      {item.title && <h3>{item.title}</h3>}
      {item.caption && <p class="comment">{item.caption}</p>}
      <time dateTime={item.createTime}>{formatDate(item.takenTime || item.createTime)}</time>
    </article>
  );
}

export function Timeline({ child, viewer }: { child: Child; viewer: Viewer }) {
  const id = idOf(child.name);
  const srcs = useRef<Source[]>([]);
  const [entries, setEntries] = useState<Entry[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [fresh, setFresh] = useState(0);

  const more = async (reset: boolean) => {
    if (reset) srcs.current = sources(id);
    setBusy(true);
    setError(null);
    try {
      const got = await take(srcs.current, PAGE);
      setEntries((e) => (reset ? got : [...e, ...got]));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    setEntries([]);
    setFresh(0);
    more(true);
  }, [id]);
  useNotifications(
    (n) => {
      if (n.child === child.name) setFresh((f) => f + 1);
    },
    [child.name],
  );

  const exhausted = srcs.current.length > 0 && srcs.current.every((s) => s.done && s.buffer.length === 0);
  return (
    <section aria-labelledby="timeline-title">
      <h2 id="timeline-title" class="visually-hidden">
        Timeline
      </h2>
      {fresh > 0 && (
        <p class="notice" role="status">
          {fresh === 1 ? "Something new arrived." : `${fresh} new updates arrived.`}{" "}
          <button
            type="button"
            class="link-button"
            onClick={() => {
              setFresh(0);
              more(true);
            }}
          >
            Show
          </button>
        </p>
      )}
      {entries.length === 0 && !busy && !error && <p class="muted">Nothing recorded yet.</p>}
      <ol class="timeline">
        {entries.map((e) => (
          <li key={`${e.kind}:${e.item.name}`}>
            <EntryView entry={e} childId={id} />
            <Approval entry={e} viewer={viewer} onApproved={(n) => setEntries((all) => all.map((x) => (x === e ? n : x)))} />
            {e.kind !== "joined" && <Discussion kind={e.kind} item={e.item} viewer={viewer} />}
          </li>
        ))}
      </ol>
      <ErrorBox error={error} />
      {busy && <Loading />}
      {!busy && !exhausted && entries.length > 0 && (
        <button type="button" class="button" onClick={() => more(false)}>
          Load more
        </button>
      )}
    </section>
  );
}
