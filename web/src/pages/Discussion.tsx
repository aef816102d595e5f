// Reactions and comments on a timeline item (an assessment, a milestone or
// a media item): the reaction bar with the fixed kinds, their counts and
// the user's own, and the comments thread. Each item's own service holds
// its conversation, so the calls differ only in their path.
import { useEffect, useState } from "preact/hooks";
import {
  ApiError,
  api,
  idOf,
  toError,
  unwrap,
  type Comment,
  type ReactionKind,
  type ReactionSummary,
} from "../api";
import { ErrorBox, Field, described, formatDateTime, messageOf } from "../ui";

/** Who is looking, and what they may do to others' comments. */
export interface Viewer {
  user: string;
  /** Contributors of the child and administrators: remove any comment, approve drafts. */
  moderator: boolean;
}

export type ItemKind = "assessment" | "milestone" | "media";

/** The limit of a comment, in characters after trimming (the API's). */
export const COMMENT_MAX = 1000;

export const reactionKinds: { kind: ReactionKind; emoji: string; label: string }[] = [
  { kind: "REACTION_KIND_HEART", emoji: "❤️", label: "Heart" },
  { kind: "REACTION_KIND_CLAP", emoji: "👏", label: "Clap" },
  { kind: "REACTION_KIND_STAR", emoji: "⭐", label: "Star" },
  { kind: "REACTION_KIND_LAUGH", emoji: "😄", label: "Laugh" },
  { kind: "REACTION_KIND_WOW", emoji: "😮", label: "Wow" },
];

/** children/c/assessments/a -> the path parameters of its calls. */
function parts(name: string) {
  const s = name.split("/");
  return { child: s[1]!, item: s[3]! };
}

// The calls of one kind of item, through the generated client.
const calls = {
  listComments(kind: ItemKind, name: string, pageToken?: string) {
    const { child, item } = parts(name);
    const query = { pageSize: 200, pageToken };
    if (kind === "assessment")
      return unwrap(api.GET("/v1/children/{child}/assessments/{assessment}/comments", { params: { path: { child, assessment: item }, query } }));
    if (kind === "milestone")
      return unwrap(api.GET("/v1/children/{child}/milestones/{milestone}/comments", { params: { path: { child, milestone: item }, query } }));
    return unwrap(api.GET("/v1/children/{child}/media/{mediaItem}/comments", { params: { path: { child, mediaItem: item }, query } }));
  },
  addComment(kind: ItemKind, name: string, text: string) {
    const { child, item } = parts(name);
    const body = { text };
    if (kind === "assessment")
      return unwrap(api.POST("/v1/children/{child}/assessments/{assessment}/comments", { params: { path: { child, assessment: item } }, body }));
    if (kind === "milestone")
      return unwrap(api.POST("/v1/children/{child}/milestones/{milestone}/comments", { params: { path: { child, milestone: item } }, body }));
    return unwrap(api.POST("/v1/children/{child}/media/{mediaItem}/comments", { params: { path: { child, mediaItem: item } }, body }));
  },
  async deleteComment(kind: ItemKind, name: string) {
    const s = name.split("/");
    const child = s[1]!, item = s[3]!, comment = s[5]!;
    const r =
      kind === "assessment"
        ? await api.DELETE("/v1/children/{child}/assessments/{assessment}/comments/{comment}", { params: { path: { child, assessment: item, comment } } })
        : kind === "milestone"
          ? await api.DELETE("/v1/children/{child}/milestones/{milestone}/comments/{comment}", { params: { path: { child, milestone: item, comment } } })
          : await api.DELETE("/v1/children/{child}/media/{mediaItem}/comments/{comment}", { params: { path: { child, mediaItem: item, comment } } });
    if (!r.response.ok) throw toApiError(r);
  },
  summary(kind: ItemKind, name: string) {
    const { child, item } = parts(name);
    const query = { pageSize: 1 };
    const p =
      kind === "assessment"
        ? api.GET("/v1/children/{child}/assessments/{assessment}/reactions", { params: { path: { child, assessment: item }, query } })
        : kind === "milestone"
          ? api.GET("/v1/children/{child}/milestones/{milestone}/reactions", { params: { path: { child, milestone: item }, query } })
          : api.GET("/v1/children/{child}/media/{mediaItem}/reactions", { params: { path: { child, mediaItem: item }, query } });
    return unwrap(p).then((r) => r.summary ?? {});
  },
  setReaction(kind: ItemKind, name: string, reactionKind: ReactionKind) {
    const { child, item } = parts(name);
    const body = { name: `${name}/reactions/me`, kind: reactionKind };
    if (kind === "assessment")
      return unwrap(api.PUT("/v1/children/{child}/assessments/{assessment}/reactions/{reaction}", { params: { path: { child, assessment: item, reaction: "me" } }, body }));
    if (kind === "milestone")
      return unwrap(api.PUT("/v1/children/{child}/milestones/{milestone}/reactions/{reaction}", { params: { path: { child, milestone: item, reaction: "me" } }, body }));
    return unwrap(api.PUT("/v1/children/{child}/media/{mediaItem}/reactions/{reaction}", { params: { path: { child, mediaItem: item, reaction: "me" } }, body }));
  },
  async deleteReaction(kind: ItemKind, name: string) {
    const { child, item } = parts(name);
    const r =
      kind === "assessment"
        ? await api.DELETE("/v1/children/{child}/assessments/{assessment}/reactions/{reaction}", { params: { path: { child, assessment: item, reaction: "me" } } })
        : kind === "milestone"
          ? await api.DELETE("/v1/children/{child}/milestones/{milestone}/reactions/{reaction}", { params: { path: { child, milestone: item, reaction: "me" } } })
          : await api.DELETE("/v1/children/{child}/media/{mediaItem}/reactions/{reaction}", { params: { path: { child, mediaItem: item, reaction: "me" } } });
    // NOT_FOUND: the reaction was already gone.
    if (!r.response.ok && r.response.status !== 404) throw toApiError(r);
  },
};

function toApiError(r: { response: Response; error?: unknown }): ApiError {
  return toError(r.response.status, r.error);
}

/** The number of characters of a comment as the API counts them: code points after trimming. */
export function commentLength(text: string): number {
  return [...text.trim()].length;
}

function countOf(s: ReactionSummary, kind: ReactionKind): number {
  return (s.counts ?? []).find((c) => c.kind === kind)?.count ?? 0;
}

function ReactionBar({ kind, name, summary, onChange }: { kind: ItemKind; name: string; summary: ReactionSummary; onChange: (s: ReactionSummary) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const mine = summary.myKind && summary.myKind !== "REACTION_KIND_UNSPECIFIED" ? summary.myKind : undefined;
  const react = async (k: ReactionKind) => {
    setBusy(true);
    setError(null);
    try {
      if (mine === k) await calls.deleteReaction(kind, name);
      else await calls.setReaction(kind, name, k);
      onChange(await calls.summary(kind, name));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="reactions" role="group" aria-label="Reactions">
      {reactionKinds.map((r) => {
        const n = countOf(summary, r.kind);
        return (
          <button
            key={r.kind}
            type="button"
            class={mine === r.kind ? "reaction mine" : "reaction"}
            aria-pressed={mine === r.kind}
            aria-label={`${r.label}, ${n}`}
            title={r.label}
            disabled={busy}
            onClick={() => react(r.kind)}
          >
            <span aria-hidden="true">{r.emoji}</span>
            {n > 0 && <span aria-hidden="true">{n}</span>}
          </button>
        );
      })}
      {error ? (
        <p class="field-error" role="alert">
          {messageOf(error)}
        </p>
      ) : null}
    </div>
  );
}

function Comments({ kind, name, viewer, onCount }: { kind: ItemKind; name: string; viewer: Viewer; onCount: (n: number) => void }) {
  const [list, setList] = useState<Comment[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [text, setText] = useState("");
  const [fieldError, setFieldError] = useState("");
  const [busy, setBusy] = useState(false);
  const id = `c-${kind}-${idOf(name)}`;
  const load = async () => {
    try {
      const all: Comment[] = [];
      let pageToken: string | undefined;
      do {
        const page = await calls.listComments(kind, name, pageToken);
        all.push(...(page.comments ?? []));
        pageToken = page.nextPageToken || undefined;
      } while (pageToken);
      setList(all);
      onCount(all.length);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    load();
  }, [name]);
  const length = commentLength(text);
  const add = async (e: Event) => {
    e.preventDefault();
    setFieldError("");
    setError(null);
    if (length === 0) return setFieldError("Write something first.");
    if (length > COMMENT_MAX) return setFieldError(`A comment has at most ${COMMENT_MAX} characters; this one has ${length}.`);
    setBusy(true);
    try {
      await calls.addComment(kind, name, text);
      setText("");
      await load();
    } catch (err) {
      if (err instanceof ApiError && err.fields.text) setFieldError(err.fields.text);
      else setFieldError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  const remove = async (c: Comment) => {
    if (!confirm("Remove this comment?")) return;
    setError(null);
    try {
      await calls.deleteComment(kind, c.name);
      await load();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <div class="comments">
      <ErrorBox error={error} />
      {list && list.length === 0 && <p class="muted">No comments yet.</p>}
      {list && list.length > 0 && (
        <ul class="comment-list">
          {list.map((c) => (
            <li key={c.name}>
              <p class="comment-meta">
                <strong>{c.author === viewer.user ? "You" : c.author}</strong>{" "}
                <time class="muted" dateTime={c.createTime}>
                  {formatDateTime(c.createTime)}
                </time>
              </p>
              <p class="comment-text">{c.text}</p>
              {(c.author === viewer.user || viewer.moderator) && (
                <button type="button" class="link-button" onClick={() => remove(c)} aria-label={`Remove the comment by ${c.author === viewer.user ? "you" : c.author}`}>
                  Remove
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      <form class="comment-form" onSubmit={add} noValidate>
        <Field id={id} label="Add a comment" error={fieldError} hint={`${length}/${COMMENT_MAX} characters`}>
          <textarea
            {...described(id, fieldError, true)}
            rows={2}
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
          />
        </Field>
        <button type="submit" class="button small" disabled={busy}>
          Comment
        </button>
      </form>
    </div>
  );
}

/** The reaction bar and the comments of one item. */
export function Discussion({ kind, item, viewer }: { kind: ItemKind; item: { name: string; reactions?: ReactionSummary }; viewer: Viewer }) {
  const [summary, setSummary] = useState<ReactionSummary>(item.reactions ?? {});
  const [open, setOpen] = useState(false);
  useEffect(() => {
    // Without the item's summary (an older server), ask for it.
    if (!item.reactions) calls.summary(kind, item.name).then(setSummary, () => {});
  }, [item.name]);
  const count = summary.commentCount ?? 0;
  return (
    <div class="discussion">
      <ReactionBar kind={kind} name={item.name} summary={summary} onChange={setSummary} />
      <button
        type="button"
        class="link-button"
        aria-expanded={open}
        aria-controls={`d-${kind}-${idOf(item.name)}`}
        onClick={() => setOpen(!open)}
      >
        {count === 1 ? "1 comment" : `${count} comments`}
      </button>
      {open && (
        <div id={`d-${kind}-${idOf(item.name)}`}>
          <Comments kind={kind} name={item.name} viewer={viewer} onCount={(n) => setSummary((s) => ({ ...s, commentCount: n }))} />
        </div>
      )}
    </div>
  );
}
