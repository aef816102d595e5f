// /settings: the user's time zone, quiet hours, the daily digest and the
// e-mail address it goes to (with its state). /settings/confirm#{token}
// and /settings/unsubscribe#{token} are the pages the mailed links open:
// they need no sign-in (the token proves the mailbox), and the token stays
// in the fragment, which never reaches a server's logs.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, api, loadSession, unwrap, type Body, type Schemas } from "../api";
import { Link } from "../router";
import { ErrorBox, Field, Loading, described, messageOf } from "../ui";

type UserSettings = Schemas["UserSettings"];

export const emailStateLabel: Record<string, string> = {
  EMAIL_STATE_NONE: "No address",
  EMAIL_STATE_PENDING: "Waiting for confirmation: open the link we mailed to it",
  EMAIL_STATE_CONFIRMED: "Confirmed",
  EMAIL_STATE_FROM_IDENTITY: "From your sign-in",
};

/** The IANA time zones the browser knows, with the one stored kept even if it does not. */
function timeZones(current: string): string[] {
  const all = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const zones = new Set(all);
  zones.add("UTC");
  if (current) zones.add(current);
  return [...zones].sort();
}

interface Form {
  timeZone: string;
  quiet: boolean;
  start: string;
  end: string;
  digest: boolean;
  email: string;
}

function formOf(s: UserSettings): Form {
  return {
    timeZone: s.timeZone || "UTC",
    quiet: Boolean(s.quietHours?.start),
    start: s.quietHours?.start || "22:00",
    end: s.quietHours?.end || "07:00",
    digest: Boolean(s.digestEnabled),
    email: s.email ?? "",
  };
}

export function SettingsPage() {
  const [settings, setSettings] = useState<UserSettings | null>(null);
  const [f, setF] = useState<Form | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [saved, setSaved] = useState("");
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    document.title = "Settings · Kinbridge";
    unwrap(api.GET("/v1/users/{user}/settings", { params: { path: { user: "me" } } })).then((s) => {
      setSettings(s);
      setF(formOf(s));
    }, setError);
  }, []);
  if (!settings || !f) {
    return (
      <main id="main" tabIndex={-1}>
        <h1>Settings</h1>
        {error ? <ErrorBox error={error} /> : <Loading />}
      </main>
    );
  }
  const set = (patch: Partial<Form>) => {
    setF({ ...f, ...patch });
    setSaved("");
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    setSaved("");
    if (f.quiet && f.start === f.end) return setErrors({ end: "Quiet hours must end at another time than they start." });
    setBusy(true);
    // The gateway's update mask names the fields the body carries: the
    // e-mail only when it changed (setting it mails a new link).
    const body: Body<"UserSettings"> = {
      timeZone: f.timeZone,
      quietHours: f.quiet ? { start: f.start, end: f.end } : {},
      digestEnabled: f.digest,
      etag: settings.etag,
    };
    if (f.email.trim() !== (settings.email ?? "")) body.email = f.email.trim();
    try {
      const s = await unwrap(api.PATCH("/v1/users/{user}/settings", { params: { path: { user: "me" } }, body }));
      setSettings(s);
      setF(formOf(s));
      setSaved(body.email ? "Saved. We mailed a link to confirm the address." : "Saved.");
    } catch (err) {
      if (err instanceof ApiError && Object.keys(err.fields).length) setErrors({ ...err.fields, "": "Please correct the fields marked below." });
      else setErrors({ "": messageOf(err) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" tabIndex={-1}>
      <h1>Settings</h1>
      <form class="form card" onSubmit={submit} noValidate aria-label="Your settings">
        {errors[""] && (
          <p class="error" role="alert">
            {errors[""]}
          </p>
        )}
        <Field id="s-tz" label="Time zone" error={errors.timeZone} hint="Quiet hours and the digest's days follow it.">
          <select {...described("s-tz", errors.timeZone, true)} value={f.timeZone} onChange={(e) => set({ timeZone: e.currentTarget.value })}>
            {timeZones(f.timeZone).map((z) => (
              <option key={z} value={z}>
                {z.replace(/_/g, " ")}
              </option>
            ))}
          </select>
        </Field>
        <fieldset>
          <legend>Quiet hours</legend>
          <p class="hint" id="s-quiet-hint">
            During them the bell stays quiet; what arrives waits in your notifications and shows when they end.
          </p>
          <div class="check">
            <input id="s-quiet" type="checkbox" aria-describedby="s-quiet-hint" checked={f.quiet} onChange={(e) => set({ quiet: e.currentTarget.checked })} />
            <label for="s-quiet">Quiet hours</label>
          </div>
          {f.quiet && (
            <div class="grid-2">
              <Field id="s-start" label="From" error={errors.start}>
                <input {...described("s-start", errors.start)} type="time" value={f.start} onInput={(e) => set({ start: e.currentTarget.value })} />
              </Field>
              <Field id="s-end" label="Until" error={errors.end}>
                <input {...described("s-end", errors.end)} type="time" value={f.end} onInput={(e) => set({ end: e.currentTarget.value })} />
              </Field>
            </div>
          )}
        </fieldset>
        <fieldset>
          <legend>E-mail</legend>
          <Field id="s-email" label="E-mail address" error={errors.email}>
            <input {...described("s-email", errors.email)} type="email" autocomplete="email" value={f.email} onInput={(e) => set({ email: e.currentTarget.value })} />
          </Field>
          <p class="hint">
            State: <span id="s-email-state">{emailStateLabel[settings.emailState] ?? "Unknown"}</span>
          </p>
          <div class="check">
            <input id="s-digest" type="checkbox" aria-describedby="s-digest-hint" checked={f.digest} onChange={(e) => set({ digest: e.currentTarget.checked })} />
            <label for="s-digest">Daily digest by e-mail</label>
          </div>
          <p class="hint" id="s-digest-hint">
            One mail a day with what happened, sent only to a confirmed address, and only on days with news.
          </p>
        </fieldset>
        <div class="actions">
          <button class="button primary" type="submit" disabled={busy}>
            Save settings
          </button>
          <span role="status" class="success-text">
            {saved}
          </span>
        </div>
      </form>
    </main>
  );
}

function fragmentToken(): string {
  const t = location.hash.slice(1);
  // The token stays out of the history and of what a reload sends.
  if (t) history.replaceState(null, "", location.pathname);
  return decodeURIComponent(t);
}

/** A page a mailed link opens: runs act once with the fragment's token. */
function TokenPage({ title, act, done }: { title: string; act: (token: string) => Promise<string>; done: string }) {
  const [state, setState] = useState<{ ok?: string; error?: string } | null>(null);
  const started = useRef(false);
  useEffect(() => {
    document.title = `${title} · Kinbridge`;
    if (started.current) return;
    started.current = true;
    const token = fragmentToken();
    if (!token) return setState({ error: "This page needs the link from the mail." });
    loadSession()
      .catch(() => null)
      .then(() => act(token))
      .then(
        (ok) => setState({ ok }),
        (e: unknown) => setState({ error: messageOf(e) }),
      );
  }, []);
  return (
    <main id="main" tabIndex={-1}>
      <h1>{title}</h1>
      {!state && <Loading />}
      {state?.ok && (
        <div class="card">
          <p role="status">{state.ok}</p>
          <Link href="/settings">{done}</Link>
        </div>
      )}
      {state?.error && (
        <div class="card">
          <p class="error" role="alert">
            {state.error}
          </p>
          <Link href="/settings">Your settings</Link>
        </div>
      )}
    </main>
  );
}

export function ConfirmEmail() {
  return (
    <TokenPage
      title="Confirm your e-mail"
      done="Your settings"
      act={async (token) => {
        try {
          const r = await unwrap(api.POST("/v1/settings:confirmEmail", { body: { token } }));
          return `Your address ${r.email ?? ""} is confirmed.`;
        } catch (e) {
          if (e instanceof ApiError) {
            if (e.reason === "EMAIL_LINK_USED") throw new Error("This link was already used: the address it confirmed stays confirmed.");
            if (e.reason === "EMAIL_LINK_EXPIRED") throw new Error("This link has expired. Set the address again in your settings for a new one.");
            if (e.status === 404) throw new Error("This link is not known, or the address was changed since it was sent. The address could not be confirmed.");
          }
          throw new Error(`The address could not be confirmed: ${messageOf(e)}`);
        }
      }}
    />
  );
}

export function Unsubscribe() {
  return (
    <TokenPage
      title="Daily digest"
      done="Your settings"
      act={async (token) => {
        try {
          await unwrap(api.POST("/v1/digest:unsubscribe", { body: { token } }));
          return "You are unsubscribed: no more daily digests. You can turn it on again in your settings.";
        } catch (e) {
          if (e instanceof ApiError && e.status === 404) throw new Error("This unsubscribe link is not known. You could not be unsubscribed by it; turn the digest off in your settings.");
          throw new Error(`You could not be unsubscribed: ${messageOf(e)}`);
        }
      }}
    />
  );
}
