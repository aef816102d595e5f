// /join#{token}: a relative opens the link an invitation made. The token
// is in the fragment, which the sign-in redirect does not carry, so the app
// keeps it in sessionStorage (this tab only) before anything else, signs
// the user in if needed (returnTo=/join), then redeems it once and shows
// the child, or says in words why the link no longer works.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, api, idOf, unwrap, type Child } from "../api";
import { Link } from "../router";
import { Loading, messageOf } from "../ui";

const KEY = "kinbridge.join";

/**
 * Moves a token from the address's fragment into sessionStorage and takes
 * it off the address (so it is neither in the history nor sent on). Called
 * before the sign-in check.
 */
export function keepJoinToken() {
  if (location.pathname !== "/join" || location.hash.length < 2) return;
  try {
    sessionStorage.setItem(KEY, decodeURIComponent(location.hash.slice(1)));
  } catch {
    // Storage refused (private mode): the redeem below then says so.
  }
  history.replaceState(null, "", "/join");
}

function takeToken(): string {
  try {
    return sessionStorage.getItem(KEY) ?? "";
  } catch {
    return "";
  }
}

function dropToken() {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // nothing kept
  }
}

/** Why a redeem was refused, for the relative. */
export function refusal(e: unknown): string {
  if (!(e instanceof ApiError)) return `The invitation could not be accepted: ${messageOf(e)}`;
  switch (e.reason) {
    case "INVITATION_EXPIRED":
      return "This invitation has expired. Ask whoever invited you for a new link.";
    case "INVITATION_REDEEMED":
      return "This invitation was already used: each link works once. Ask whoever invited you for a new link.";
    case "INVITATION_REVOKED":
      return "This invitation was withdrawn. Ask whoever invited you for a new link.";
    case "ALREADY_GUARDIAN":
      return "You already follow this child: there is nothing to accept.";
  }
  if (e.status === 404) return "This invitation link is not known. Check that you opened the whole link, or ask for a new one.";
  return `The invitation could not be accepted: ${e.message}`;
}

type State = { kind: "working" } | { kind: "none" } | { kind: "joined"; child: Child } | { kind: "refused"; why: string; retry: boolean };

export function Join() {
  const [state, setState] = useState<State>({ kind: "working" });
  const started = useRef(false);
  const redeem = async () => {
    const token = takeToken();
    if (!token) return setState({ kind: "none" });
    setState({ kind: "working" });
    try {
      const g = await unwrap(api.POST("/v1/invitations:redeem", { body: { token } }));
      dropToken();
      const child = await unwrap(api.GET("/v1/children/{child}", { params: { path: { child: g.name.split("/")[1]! } } }));
      setState({ kind: "joined", child });
    } catch (e) {
      // A network failure or an overloaded server may pass: keep the token.
      const final = e instanceof ApiError && e.status < 500 && e.status !== 429;
      if (final) dropToken();
      setState({ kind: "refused", why: refusal(e), retry: !final });
    }
  };
  useEffect(() => {
    document.title = "Join · Kinbridge";
    if (started.current) return;
    started.current = true;
    redeem();
  }, []);
  return (
    <main id="main" tabIndex={-1}>
      <h1>Join a child's family</h1>
      {state.kind === "working" && <Loading what="Accepting the invitation" />}
      {state.kind === "none" && (
        <p>
          Open the link from your invitation to join. <Link href="/">Your children</Link>.
        </p>
      )}
      {state.kind === "joined" && (
        <div class="card" role="status">
          <p>
            You now follow <strong>{state.child.displayName}</strong>.
          </p>
          <Link class="button primary" href={`/children/${idOf(state.child.name)}`}>
            Open {state.child.displayName}'s timeline
          </Link>
        </div>
      )}
      {state.kind === "refused" && (
        <div class="card">
          <p class="error" role="alert">
            {state.why}
          </p>
          {state.retry ? (
            <button type="button" class="button" onClick={redeem}>
              Try again
            </button>
          ) : (
            <Link href="/">Your children</Link>
          )}
        </div>
      )}
    </main>
  );
}
