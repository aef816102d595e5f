// Administrators: the children (create, edit) and who may follow each one
// (add a guardian or contributor with a relation, remove one).
import type { TargetedEvent } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, api, idOf, roleLabel, unwrap, type Body, type Child, type Guardianship, type Role } from "../api";
import { Link } from "../router";
import { ErrorBox, Field, Loading, described, messageOf } from "../ui";

type Input = TargetedEvent<HTMLInputElement | HTMLSelectElement, Event>;

const childFields = ["displayName", "school", "gradeLevel", "birthDate", "timeZone"] as const;
type ChildForm = Record<(typeof childFields)[number], string>;
const childLabels: Record<(typeof childFields)[number], string> = {
  displayName: "Name",
  school: "School",
  gradeLevel: "Grade level",
  birthDate: "Birth date",
  timeZone: "Time zone",
};

function fieldErrors(e: unknown): Record<string, string> {
  if (e instanceof ApiError) {
    const known = Object.keys(e.fields).length > 0;
    return { ...e.fields, "": known ? "Please correct the fields marked below." : e.message };
  }
  return { "": messageOf(e) };
}

function ChildEditor({ child, onSaved, onCancel }: { child?: Child; onSaved: (c: Child) => void; onCancel?: () => void }) {
  const prefix = child ? `e-${idOf(child.name)}` : "new";
  const [f, setF] = useState<ChildForm>(() => ({
    displayName: child?.displayName ?? "",
    school: child?.school ?? "",
    gradeLevel: child?.gradeLevel ?? "",
    birthDate: child?.birthDate ?? "",
    timeZone: child?.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone,
  }));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    // On an edit, an emptied school or grade is sent empty, which clears it
    // (the gateway's update mask names every field the body carries).
    const keep = (v: string) => (child ? v : v || undefined);
    const body: Body<"Child"> = {
      displayName: f.displayName,
      school: keep(f.school),
      gradeLevel: keep(f.gradeLevel),
      birthDate: f.birthDate || undefined,
      timeZone: f.timeZone || undefined,
    };
    try {
      const saved = child
        ? await unwrap(
            api.PATCH("/v1/children/{child}", {
              params: { path: { child: idOf(child.name) } },
              body: { ...body, etag: child.etag },
            }),
          )
        : await unwrap(api.POST("/v1/children", { body }));
      onSaved(saved);
      if (!child) setF({ ...f, displayName: "", birthDate: "", gradeLevel: "" });
    } catch (err) {
      setErrors(fieldErrors(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="form" onSubmit={submit} noValidate aria-label={child ? `Edit ${child.displayName}` : "Add a child"}>
      {errors[""] && (
        <p class="error" role="alert">
          {errors[""]}
        </p>
      )}
      <div class="grid-2">
        {childFields.map((k) => {
          const id = `${prefix}-${k}`;
          return (
            <Field key={k} id={id} label={childLabels[k]} error={errors[k]}>
              <input
                {...described(id, errors[k])}
                type={(k === "birthDate" ? "date" : "text") as "text"}
                value={f[k]}
                required={k === "displayName"}
                onInput={(e: Input) => setF({ ...f, [k]: e.currentTarget.value })}
              />
            </Field>
          );
        })}
      </div>
      <div class="actions">
        <button class="button primary" type="submit" disabled={busy}>
          {child ? "Save" : "Add child"}
        </button>
        {onCancel && (
          <button class="button" type="button" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}

function Guardians({ child }: { child: Child }) {
  const id = idOf(child.name);
  const [list, setList] = useState<Guardianship[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [f, setF] = useState({ user: "", role: "ROLE_GUARDIAN" as Role, relation: "" });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const load = async () => {
    try {
      const all: Guardianship[] = [];
      let pageToken: string | undefined;
      do {
        const page = await unwrap(
          api.GET("/v1/children/{child}/guardians", { params: { path: { child: id }, query: { pageSize: 200, pageToken } } }),
        );
        all.push(...(page.guardianships ?? []));
        pageToken = page.nextPageToken || undefined;
      } while (pageToken);
      setList(all);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    load();
  }, [id]);
  const add = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    try {
      await unwrap(
        api.POST("/v1/children/{child}/guardians", {
          params: { path: { child: id } },
          body: { user: f.user.trim(), role: f.role, relation: f.relation || undefined },
        }),
      );
      setF({ ...f, user: "", relation: "" });
      load();
    } catch (err) {
      setErrors(fieldErrors(err));
    }
  };
  const remove = async (g: Guardianship) => {
    if (!confirm(`Remove ${g.user} from ${child.displayName}?`)) return;
    try {
      await unwrap(
        api.DELETE("/v1/children/{child}/guardians/{guardian}", {
          params: { path: { child: id, guardian: idOf(g.name) } },
        }),
      );
      load();
    } catch (err) {
      setError(err);
    }
  };
  const p = `g-${id}`;
  return (
    <div class="guardians">
      <h4>Who may follow {child.displayName}</h4>
      <ErrorBox error={error} />
      {!list && !error && <Loading />}
      {list && list.length === 0 && <p class="muted">Nobody yet.</p>}
      {list && list.length > 0 && (
        <ul class="people">
          {list.map((g) => (
            <li key={g.name}>
              <span>
                <strong>{g.user}</strong>{" "}
                <span class="muted">
                  {roleLabel[g.role]}
                  {g.relation ? ` · ${g.relation}` : ""}
                </span>
              </span>
              <button type="button" class="button small danger" onClick={() => remove(g)} aria-label={`Remove ${g.user}`}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <form class="form compact" onSubmit={add} noValidate aria-label={`Add someone to ${child.displayName}`}>
        {errors[""] && (
          <p class="error" role="alert">
            {errors[""]}
          </p>
        )}
        <div class="grid-3">
          <Field id={`${p}-user`} label="User id" error={errors.user}>
            <input {...described(`${p}-user`, errors.user)} value={f.user} required onInput={(e: Input) => setF({ ...f, user: e.currentTarget.value })} />
          </Field>
          <Field id={`${p}-role`} label="Role" error={errors.role}>
            <select {...described(`${p}-role`, errors.role)} value={f.role} onChange={(e: Input) => setF({ ...f, role: e.currentTarget.value as Role })}>
              <option value="ROLE_GUARDIAN">Guardian (sees everything)</option>
              <option value="ROLE_CONTRIBUTOR">Contributor (also records and uploads)</option>
            </select>
          </Field>
          <Field id={`${p}-relation`} label="Relation" error={errors.relation}>
            <input {...described(`${p}-relation`, errors.relation)} value={f.relation} placeholder="mother, teacher…" onInput={(e: Input) => setF({ ...f, relation: e.currentTarget.value })} />
          </Field>
        </div>
        <button type="submit" class="button">
          Add
        </button>
      </form>
    </div>
  );
}

function ChildRow({ child, onChange }: { child: Child; onChange: (c: Child) => void }) {
  const [editing, setEditing] = useState(false);
  const [open, setOpen] = useState(false);
  return (
    <li class="card admin-child">
      <div class="admin-child-head">
        <h3>
          <Link href={`/children/${idOf(child.name)}`}>{child.displayName}</Link>
        </h3>
        <span class="muted">{[child.school, child.gradeLevel && `Grade ${child.gradeLevel}`].filter(Boolean).join(" · ")}</span>
        <div class="actions">
          <button type="button" class="button small" aria-expanded={editing} onClick={() => setEditing(!editing)}>
            Edit
          </button>
          <button type="button" class="button small" aria-expanded={open} onClick={() => setOpen(!open)}>
            Guardians
          </button>
        </div>
      </div>
      {editing && (
        <ChildEditor
          child={child}
          onSaved={(c) => {
            onChange(c);
            setEditing(false);
          }}
          onCancel={() => setEditing(false)}
        />
      )}
      {open && <Guardians child={child} />}
    </li>
  );
}

/** user is the signed-in user's id, which they add to a child to follow it themselves. */
export function Admin({ user }: { user: string }) {
  const [children, setChildren] = useState<Child[]>([]);
  const [token, setToken] = useState<string | undefined>();
  const [busy, setBusy] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const load = async (pageToken?: string) => {
    setBusy(true);
    try {
      const page = await unwrap(api.GET("/v1/children", { params: { query: { pageSize: 50, pageToken } } }));
      setChildren((c) => (pageToken ? [...c, ...(page.children ?? [])] : (page.children ?? [])));
      setToken(page.nextPageToken || undefined);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    document.title = "Admin · Kinbridge";
    load();
  }, []);
  return (
    <main id="main" tabIndex={-1}>
      <h1>Children and who follows them</h1>
      <p class="muted">
        You are signed in as <strong class="whoami">{user}</strong>: add this user id to a child's guardians to follow the
        child yourself.
      </p>
      <section aria-labelledby="add-child" class="card">
        <h2 id="add-child">Add a child</h2>
        <ChildEditor onSaved={(c) => setChildren((cs) => [c, ...cs])} />
      </section>
      <h2>Children</h2>
      <ErrorBox error={error} />
      <ul class="admin-children">
        {children.map((c) => (
          <ChildRow key={c.name} child={c} onChange={(n) => setChildren((cs) => cs.map((x) => (x.name === n.name ? n : x)))} />
        ))}
      </ul>
      {busy && <Loading />}
      {!busy && token && (
        <button type="button" class="button" onClick={() => load(token)}>
          Load more
        </button>
      )}
    </main>
  );
}
