import { useEffect, useRef, useState } from "preact/hooks";
import {
  api,
  idOf,
  loadMe,
  loadSession,
  roleLabel,
  signOut,
  unwrap,
  whenSignedOut,
  type Child,
  type FollowedChild,
  type Me,
  type Session,
} from "./api";
import { useLive, type Live } from "./live";
import { Link, navigate, useLocation } from "./router";
import { ErrorBox, Loading, formatDateTime, useLoad } from "./ui";
import { Timeline } from "./pages/Timeline";
import { Gallery } from "./pages/Gallery";
import { Summary } from "./pages/Summary";
import { Record } from "./pages/Record";
import { Upload } from "./pages/Upload";
import { Admin } from "./pages/Admin";
import { Family } from "./pages/Family";
import { Join } from "./pages/Join";
import { ConfirmEmail, SettingsPage, Unsubscribe } from "./pages/Settings";
import type { Viewer } from "./pages/Discussion";

/** What every signed-in page knows. */
export interface Ctx {
  session: Session;
  me: Me;
  admin: boolean;
}

const signInErrors: Record<string, string> = {
  denied: "Sign-in was cancelled or refused by your provider.",
  expired: "The sign-in took too long. Please try again.",
  invalid: "The sign-in could not be completed. Please try again.",
  link: "That sign-in link was already used or has expired. Ask for a new one.",
  unavailable: "The sign-in provider cannot be reached right now. Please try again in a moment.",
};

function SignIn({ url, session }: { url: URL; session: Session | null }) {
  const error = url.searchParams.get("error");
  const returnTo = url.searchParams.get("returnTo") ?? "/";
  const safe = returnTo.startsWith("/") && !returnTo.startsWith("//") ? returnTo : "/";
  useEffect(() => {
    document.title = "Sign in · Kinbridge";
  }, []);
  return (
    <main id="main" class="signin" tabIndex={-1}>
      <div class="card signin-card">
        <h1>Kinbridge</h1>
        <p>Follow your child's school life: grades, milestones, photos and videos, as they happen.</p>
        {error && (
          <p class="error" role="alert">
            {signInErrors[error] ?? "Sign-in failed. Please try again."}
          </p>
        )}
        {session?.signedIn ? (
          <Link class="button primary" href="/">
            Continue to your children
          </Link>
        ) : session && session.oidc === false ? (
          <p class="muted">
            Sign-in through a provider is not set up on this server. Use the sign-in link the server printed when it
            started.
          </p>
        ) : (
          <a class="button primary" href={`/auth/login?returnTo=${encodeURIComponent(safe)}`}>
            Sign in
          </a>
        )}
      </div>
    </main>
  );
}

function Bell({ live }: { live: Live }) {
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    // Escape or a click elsewhere closes the panel.
    const key = (e: KeyboardEvent) => e.key === "Escape" && setOpen(false);
    const click = (e: PointerEvent) => {
      if (!root.current?.contains(e.target as Node)) setOpen(false);
    };
    addEventListener("keydown", key);
    addEventListener("pointerdown", click);
    return () => {
      removeEventListener("keydown", key);
      removeEventListener("pointerdown", click);
    };
  }, [open]);
  const label = live.unread > 0 ? `Notifications, ${live.unread} unread` : "Notifications";
  return (
    <div class="bell" ref={root}>
      <button
        type="button"
        class="icon-button"
        aria-expanded={open}
        aria-controls="notifications"
        aria-label={label}
        onClick={() => setOpen(!open)}
      >
        <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
          <path
            d="M12 22a2.5 2.5 0 0 0 2.5-2.5h-5A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.8V3a1.5 1.5 0 0 0-3 0v1.2A7 7 0 0 0 5 11v5l-2 2v1h18v-1Z"
            fill="currentColor"
          />
        </svg>
        {live.unread > 0 && (
          <span class="badge" aria-hidden="true">
            {live.unread > 99 ? "99+" : live.unread}
          </span>
        )}
      </button>
      <span class="visually-hidden" aria-live="polite">
        {live.unread > 0 ? `${live.unread} unread notifications` : ""}
      </span>
      {open && (
        <div class="panel" id="notifications" role="region" aria-label="Notifications">
          <div class="panel-head">
            <h2>Notifications</h2>
            <button type="button" class="link-button" disabled={live.unread === 0} onClick={() => live.markAllRead()}>
              Mark all read
            </button>
          </div>
          {live.recent.length === 0 ? (
            <p class="muted">Nothing yet.</p>
          ) : (
            <ul class="notes">
              {live.recent.map((n) => (
                <li key={n.name} class={n.read ? "" : "unread"}>
                  {n.child ? (
                    <Link href={`/children/${idOf(n.child)}`} onClick={() => setOpen(false)}>
                      {n.title || "Update"}
                    </Link>
                  ) : (
                    <strong>{n.title || "Update"}</strong>
                  )}
                  {n.body && <span class="note-body">{n.body}</span>}
                  <time class="muted" dateTime={n.createTime}>
                    {formatDateTime(n.createTime)}
                  </time>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </div>
  );
}

function Header({ ctx, live }: { ctx: Ctx; live: Live }) {
  const [busy, setBusy] = useState(false);
  return (
    <header class="bar">
      <Link href="/" class="brand">
        Kinbridge
      </Link>
      <nav aria-label="Account" class="account">
        {ctx.admin && <Link href="/admin">Admin</Link>}
        <Link href="/settings">Settings</Link>
        <Bell live={live} />
        <button
          type="button"
          class="button small"
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            const next = await signOut().catch(() => "/signin");
            location.assign(next);
          }}
        >
          Sign out
        </button>
      </nav>
    </header>
  );
}

/** A child on the picker; an administrator may open children they hold no role for. */
type Pick = Omit<FollowedChild, "role"> & { role?: FollowedChild["role"] };

/**
 * The children the user may open: those GET /v1/users/me lists, or, for an
 * administrator (and a user following more than it lists), ListChildren's.
 */
async function listChildren(ctx: Ctx): Promise<Pick[]> {
  const followed = ctx.me.children ?? [];
  if (!ctx.admin && !ctx.me.childrenTruncated) return followed;
  const all: Pick[] = [];
  let pageToken: string | undefined;
  do {
    const page = await unwrap(api.GET("/v1/children", { params: { query: { pageSize: 200, pageToken } } }));
    for (const c of page.children ?? []) {
      const f = followed.find((x) => x.child === c.name);
      all.push({ child: c.name, displayName: c.displayName, role: f?.role, relation: f?.relation });
    }
    pageToken = page.nextPageToken || undefined;
  } while (pageToken);
  return all;
}

function Home({ ctx }: { ctx: Ctx }) {
  // GET /v1/users/me again on each visit: the roles the shell loaded at
  // sign-in are stale once an administrator added themselves to a child.
  const { data, error } = useLoad(async () => listChildren({ ...ctx, me: await loadMe() }), [ctx.me]);
  useEffect(() => {
    document.title = "Your children · Kinbridge";
  }, []);
  return (
    <main id="main" tabIndex={-1}>
      <h1>{ctx.admin ? "All children" : "Your children"}</h1>
      <ErrorBox error={error} />
      {!data && !error && <Loading />}
      {data && data.length === 0 && (
        <p class="muted">
          {ctx.admin ? (
            <>
              No children yet. <Link href="/admin">Add one</Link>.
            </>
          ) : (
            "You do not follow any child yet. Ask the school to add you as a guardian."
          )}
        </p>
      )}
      {data && data.length > 0 && (
        <ul class="children">
          {data.map((c) => (
            <li key={c.child}>
              <Link class="card child-card" href={`/children/${idOf(c.child)}`}>
                <span class="avatar" aria-hidden="true">
                  {(c.displayName || "?").trim().charAt(0).toUpperCase()}
                </span>
                <span>
                  <strong>{c.displayName || idOf(c.child)}</strong>
                  <span class="muted">
                    {[c.role ? roleLabel[c.role] : ctx.admin ? "Administrator" : "", c.relation]
                      .filter(Boolean)
                      .join(" · ")}
                  </span>
                </span>
              </Link>
            </li>
          ))}
        </ul>
      )}
    </main>
  );
}

const tabs = [
  ["", "Timeline"],
  ["/gallery", "Gallery"],
  ["/summary", "Summary"],
  ["/family", "Family"],
  ["/record", "Record"],
  ["/upload", "Upload"],
] as const;

/** The pages of one child, under a header with the child's name and tabs. */
function ChildPages({ ctx, id, page, url }: { ctx: Ctx; id: string; page: string; url: URL }) {
  const { data: child, error } = useLoad(
    () => unwrap(api.GET("/v1/children/{child}", { params: { path: { child: id } } })),
    [id],
  );
  const followed = (ctx.me.children ?? []).find((c) => idOf(c.child) === id);
  const canWrite = ctx.admin || followed?.role === "ROLE_CONTRIBUTOR";
  const viewer: Viewer = { user: ctx.session.user ?? idOf(ctx.me.name), moderator: canWrite };
  const name = child?.displayName || followed?.displayName || "";
  const title = tabs.find(([p]) => p === page)?.[1] ?? "";
  useEffect(() => {
    document.title = `${name ? `${name} · ` : ""}${title} · Kinbridge`;
  }, [name, title]);
  let body;
  if (!child) body = error ? <ErrorBox error={error} /> : <Loading />;
  else if (page === "") body = <Timeline child={child} viewer={viewer} />;
  else if (page === "/family") body = <Family child={child} viewer={viewer} admin={ctx.admin} />;
  else if (page === "/gallery") body = <Gallery child={child} url={url} />;
  else if (page === "/summary") body = <Summary child={child} />;
  else if (!canWrite) body = <p class="error">Only the child's contributors may do this.</p>;
  else if (page === "/record") body = <Record child={child} />;
  else body = <Upload child={child} />;
  return (
    <main id="main" tabIndex={-1}>
      <div class="child-head">
        <h1>{name || "Child"}</h1>
        {child && <ChildFacts child={child} />}
      </div>
      <nav aria-label="Child" class="tabs">
        {tabs
          .filter(([p]) => canWrite || (p !== "/record" && p !== "/upload"))
          .map(([p, label]) => (
            <Link key={p} href={`/children/${id}${p}`} aria-current={p === page ? "page" : undefined}>
              {label}
            </Link>
          ))}
      </nav>
      {body}
    </main>
  );
}

function ChildFacts({ child }: { child: Child }) {
  const facts = [child.school, child.gradeLevel ? `Grade ${child.gradeLevel}` : ""].filter(Boolean);
  return facts.length ? <p class="muted">{facts.join(" · ")}</p> : null;
}

function NotFound() {
  return (
    <main id="main" tabIndex={-1}>
      <h1>Not found</h1>
      <p>
        There is no such page. <Link href="/">Back to your children</Link>.
      </p>
    </main>
  );
}

function Shell({ ctx, url }: { ctx: Ctx; url: URL }) {
  const live = useLive(ctx.session.user ?? idOf(ctx.me.name));
  const path = url.pathname.replace(/\/+$/, "") || "/";
  const m = /^\/children\/([^/]+)(\/gallery|\/summary|\/family|\/record|\/upload)?$/.exec(path);
  let page;
  if (path === "/") page = <Home ctx={ctx} />;
  else if (path === "/join") page = <Join />;
  else if (path === "/settings") page = <SettingsPage />;
  else if (m) page = <ChildPages ctx={ctx} id={decodeURIComponent(m[1]!)} page={m[2] ?? ""} url={url} />;
  else if (path === "/admin" && ctx.admin) page = <Admin user={ctx.session.user ?? idOf(ctx.me.name)} />;
  else page = <NotFound />;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <Header ctx={ctx} live={live} />
      {page}
      <footer class="foot">
        <span class={live.connected ? "dot on" : "dot"} aria-hidden="true" />
        {live.connected ? "Live updates on" : "Connecting to live updates…"}
      </footer>
    </>
  );
}

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, true), [to]);
  return null;
}

export function App() {
  const url = useLocation();
  const [session, setSession] = useState<Session | null>(null);
  const [me, setMe] = useState<Me | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    whenSignedOut(() => {
      setSession({ signedIn: false });
      setMe(null);
      if (location.pathname !== "/signin") {
        navigate(`/signin?returnTo=${encodeURIComponent(location.pathname + location.search)}`, true);
      }
    });
    loadSession().then(setSession, setError);
  }, []);

  useEffect(() => {
    if (session?.signedIn && !me) loadMe().then(setMe, setError);
  }, [session]);

  // Keyboard and screen reader users land on the new page's content.
  useEffect(() => {
    window.scrollTo(0, 0);
    document.getElementById("main")?.focus({ preventScroll: true });
  }, [url.pathname]);

  if (url.pathname === "/signin") return <SignIn url={url} session={session} />;
  // The mailed links work signed out: their token proves the mailbox.
  if (url.pathname === "/settings/confirm") return <ConfirmEmail />;
  if (url.pathname === "/settings/unsubscribe") return <Unsubscribe />;
  if (error && !me) {
    return (
      <main id="main" tabIndex={-1}>
        <h1>Kinbridge</h1>
        <ErrorBox error={error} />
        <button type="button" class="button" onClick={() => location.reload()}>
          Try again
        </button>
      </main>
    );
  }
  if (session && !session.signedIn) return <Redirect to={`/signin?returnTo=${encodeURIComponent(url.pathname + url.search)}`} />;
  if (!session || !me) {
    return (
      <main id="main" tabIndex={-1}>
        <Loading />
      </main>
    );
  }
  const ctx: Ctx = { session, me, admin: Boolean(session.administrator || me.administrator) };
  return <Shell ctx={ctx} url={url} />;
}
