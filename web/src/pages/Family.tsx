// A child's family: inviting a relative (a one-time link), the child's
// invitations with their state and Revoke, and, for administrators, the
// child's settings (whether guardians may invite, whether what
// contributors record waits for approval).
import { useEffect, useState } from "preact/hooks";
import { ApiError, api, idOf, roleLabel, unwrap, type Child, type Invitation, type Role } from "../api";
import { ErrorBox, Field, Loading, described, enumLabel, formatDateTime, messageOf } from "../ui";
import type { Viewer } from "./Discussion";

/** The link a relative opens: the token in the fragment, which never reaches a server's logs. */
export function joinLink(token: string): string {
  return `${location.origin}/join#${token}`;
}

const stateLabel: Record<string, string> = {
  INVITATION_STATE_ACTIVE: "Waiting",
  INVITATION_STATE_REDEEMED: "Accepted",
  INVITATION_STATE_REVOKED: "Revoked",
  INVITATION_STATE_EXPIRED: "Expired",
};

function CopyLink({ link }: { link: string }) {
  const [copied, setCopied] = useState("");
  return (
    <div class="invite-link">
      <Field id="invite-link" label="The invitation link" hint="Send it to your relative. It works once, and is shown only now.">
        <input {...described("invite-link", undefined, true)} type="text" readOnly value={link} onFocus={(e) => e.currentTarget.select()} />
      </Field>
      <button
        type="button"
        class="button"
        onClick={async () => {
          try {
            await navigator.clipboard.writeText(link);
            setCopied("Copied.");
          } catch {
            const input = document.getElementById("invite-link") as HTMLInputElement | null;
            input?.select();
            setCopied("Press Ctrl+C (or ⌘C) to copy the selected link.");
          }
        }}
      >
        Copy link
      </button>
      <span role="status" class="muted">
        {copied}
      </span>
    </div>
  );
}

function InviteForm({ child, admin, onCreated }: { child: Child; admin: boolean; onCreated: () => void }) {
  const [relation, setRelation] = useState("");
  const [role, setRole] = useState<Role>("ROLE_GUARDIAN");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [link, setLink] = useState("");
  const submit = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    setLink("");
    if ([...relation.trim()].length > 50) return setErrors({ relation: "At most 50 characters." });
    setBusy(true);
    try {
      const inv = await unwrap(
        api.POST("/v1/children/{child}/invitations", {
          params: { path: { child: idOf(child.name) } },
          body: { relation: relation.trim() || undefined, role: admin ? role : undefined },
        }),
      );
      setLink(joinLink(inv.token ?? ""));
      setRelation("");
      onCreated();
    } catch (err) {
      if (err instanceof ApiError && Object.keys(err.fields).length) setErrors(err.fields);
      else setErrors({ "": messageOf(err) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="invite-title" class="card">
      <h2 id="invite-title">Invite a relative</h2>
      <form class="form" onSubmit={submit} noValidate>
        {errors[""] && (
          <p class="error" role="alert">
            {errors[""]}
          </p>
        )}
        <Field id="invite-relation" label="Relation to the child" hint="For example grandmother or uncle." error={errors.relation}>
          <input
            {...described("invite-relation", errors.relation, true)}
            type="text"
            value={relation}
            onInput={(e) => setRelation(e.currentTarget.value)}
          />
        </Field>
        {admin && (
          <Field id="invite-role" label="Role" error={errors.role}>
            <select {...described("invite-role", errors.role)} value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
              <option value="ROLE_GUARDIAN">{roleLabel.ROLE_GUARDIAN}: follows the child</option>
              <option value="ROLE_CONTRIBUTOR">{roleLabel.ROLE_CONTRIBUTOR}: records and uploads</option>
            </select>
          </Field>
        )}
        <button class="button primary" type="submit" disabled={busy}>
          Create invitation link
        </button>
      </form>
      {link && <CopyLink link={link} />}
    </section>
  );
}

function Invitations({ child, viewer, version }: { child: Child; viewer: Viewer; version: number }) {
  const id = idOf(child.name);
  const [list, setList] = useState<Invitation[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const load = async () => {
    try {
      const all: Invitation[] = [];
      let pageToken: string | undefined;
      do {
        const page = await unwrap(
          api.GET("/v1/children/{child}/invitations", { params: { path: { child: id }, query: { pageSize: 200, pageToken } } }),
        );
        all.push(...(page.invitations ?? []));
        pageToken = page.nextPageToken || undefined;
      } while (pageToken);
      setList(all);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    load();
  }, [id, version]);
  const revoke = async (inv: Invitation) => {
    if (!confirm(`Revoke the invitation${inv.relation ? ` for ${inv.relation}` : ""}? Its link stops working.`)) return;
    setError(null);
    try {
      await unwrap(
        api.POST("/v1/children/{child}/invitations/{invitation}:revoke", {
          params: { path: { child: id, invitation: idOf(inv.name) } },
          body: {},
        }),
      );
      await load();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section aria-labelledby="invitations-title">
      <h2 id="invitations-title">Invitations</h2>
      <ErrorBox error={error} />
      {!list && !error && <Loading />}
      {list && list.length === 0 && <p class="muted">No invitations yet.</p>}
      {list && list.length > 0 && (
        <ul class="invitations">
          {list.map((inv) => (
            <li key={inv.name} class="card">
              <p>
                <strong>{inv.relation || "Relative"}</strong> · {roleLabel[inv.role ?? "ROLE_GUARDIAN"]} ·{" "}
                <span class={`state ${inv.state}`}>{stateLabel[inv.state] ?? enumLabel(inv.state, "INVITATION_STATE_")}</span>
              </p>
              <p class="muted">
                Invited by {inv.creator === viewer.user ? "you" : inv.creator} on {formatDateTime(inv.createTime)}
                {inv.state === "INVITATION_STATE_ACTIVE" && `; the link works until ${formatDateTime(inv.expireTime)}`}
                {inv.redeemer && `; accepted by ${inv.redeemer} on ${formatDateTime(inv.redeemTime)}`}
                {inv.revokeTime && `; revoked on ${formatDateTime(inv.revokeTime)}`}
              </p>
              {inv.state === "INVITATION_STATE_ACTIVE" && (inv.creator === viewer.user || viewer.moderator) && (
                <button type="button" class="button small" onClick={() => revoke(inv)}>
                  Revoke
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** Administrators: the child's switches, each saved on change (UpdateChild with its field alone). */
function ChildSettings({ child, onSaved }: { child: Child; onSaved: (c: Child) => void }) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  // The switch shows the value asked for while it is being saved (and
  // the saved one after, or the old one again on a refusal).
  const [pending, setPending] = useState<Partial<Pick<Child, "guardiansMayInvite" | "requireApproval">>>({});
  const save = async (patch: Partial<Pick<Child, "guardiansMayInvite" | "requireApproval">>) => {
    setBusy(true);
    setError(null);
    setPending(patch);
    try {
      onSaved(
        await unwrap(
          api.PATCH("/v1/children/{child}", { params: { path: { child: idOf(child.name) } }, body: { ...patch, etag: child.etag } }),
        ),
      );
    } catch (e) {
      setError(e);
    } finally {
      setPending({});
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="child-settings-title" class="card">
      <h2 id="child-settings-title">Settings for {child.displayName}</h2>
      <ErrorBox error={error} />
      <div class="check">
        <input
          id="may-invite"
          type="checkbox"
          checked={Boolean(pending.guardiansMayInvite ?? child.guardiansMayInvite)}
          disabled={busy}
          onChange={(e) => save({ guardiansMayInvite: e.currentTarget.checked })}
        />
        <label for="may-invite">Guardians and contributors may invite relatives</label>
      </div>
      <div class="check">
        <input
          id="require-approval"
          type="checkbox"
          aria-describedby="require-approval-hint"
          checked={Boolean(pending.requireApproval ?? child.requireApproval)}
          disabled={busy}
          onChange={(e) => save({ requireApproval: e.currentTarget.checked })}
        />
        <label for="require-approval">Contributors' records wait for approval</label>
      </div>
      <p class="hint" id="require-approval-hint">
        What a contributor records or uploads is seen by the family only once another contributor or an administrator approves it.
        Turning it off publishes no waiting draft.
      </p>
    </section>
  );
}

export function Family({ child: initial, viewer, admin }: { child: Child; viewer: Viewer; admin: boolean }) {
  const [child, setChild] = useState(initial);
  const [version, setVersion] = useState(0);
  useEffect(() => setChild(initial), [initial]);
  const canInvite = admin || Boolean(child.guardiansMayInvite);
  return (
    <div class="family">
      {admin && <ChildSettings child={child} onSaved={setChild} />}
      {canInvite ? (
        <InviteForm child={child} admin={admin} onCreated={() => setVersion((v) => v + 1)} />
      ) : (
        <p class="muted">Only the school can invite relatives to follow {child.displayName}.</p>
      )}
      <Invitations child={child} viewer={viewer} version={version} />
    </div>
  );
}
