// A contributor records an assessment or a milestone. The bodies are the
// generated types; a 400's field violations are shown next to their fields
// (and any that name no field of the form, above it).
import type { TargetedEvent } from "preact";
import { useState } from "preact/hooks";
import { ApiError, api, idOf, unwrap, type Body, type Child, type Schemas } from "../api";
import { Field, described, enumLabel, messageOf, today } from "../ui";

const kinds: Schemas["AssessmentKind"][] = [
  "ASSESSMENT_KIND_TEST",
  "ASSESSMENT_KIND_HOMEWORK",
  "ASSESSMENT_KIND_PROJECT",
  "ASSESSMENT_KIND_REPORT_CARD",
  "ASSESSMENT_KIND_TEACHER_NOTE",
];
const categories: Schemas["MilestoneCategory"][] = [
  "MILESTONE_CATEGORY_ACADEMIC",
  "MILESTONE_CATEGORY_SOCIAL",
  "MILESTONE_CATEGORY_ARTS",
  "MILESTONE_CATEGORY_SPORTS",
  "MILESTONE_CATEGORY_LIFE_SKILLS",
  "MILESTONE_CATEGORY_OTHER",
];

type Input = TargetedEvent<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement, Event>;
const value = (e: Input) => e.currentTarget.value;

/** Errors by field; those of fields the form does not have go under "". */
function split(e: unknown, known: string[]): Record<string, string> {
  if (!(e instanceof ApiError)) return { "": messageOf(e) };
  const out: Record<string, string> = {};
  const other: string[] = [];
  for (const [k, v] of Object.entries(e.fields)) {
    if (known.includes(k)) out[k] = v;
    else other.push(v);
  }
  out[""] = other.length ? other.join(" ") : Object.keys(out).length ? "Please correct the fields marked below." : e.message;
  return out;
}

function FormStatus({ errors, saved }: { errors: Record<string, string>; saved: string }) {
  return (
    <>
      {errors[""] && (
        <p class="error" role="alert">
          {errors[""]}
        </p>
      )}
      {saved && (
        <p class="success" role="status">
          {saved}
        </p>
      )}
    </>
  );
}

function AssessmentForm({ child }: { child: string }) {
  const blank = { title: "", subject: "", kind: "ASSESSMENT_KIND_TEST" as Schemas["AssessmentKind"], assessedDate: today(), letter: "", earned: "", possible: "", comment: "" };
  const [f, setF] = useState(blank);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [saved, setSaved] = useState("");
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof blank) => (e: Input) => setF({ ...f, [k]: value(e) });

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setSaved("");
    setErrors({});
    // Output-only fields (name, times, recordedBy) are the server's.
    const body: Body<"Assessment"> = {
      title: f.title,
      subject: f.subject,
      kind: f.kind,
      assessedDate: f.assessedDate,
      teacherComment: f.comment || undefined,
      score: f.letter
        ? { letterGrade: f.letter }
        : f.earned || f.possible
          ? { points: { earned: Number(f.earned), possible: Number(f.possible) } }
          : undefined,
    };
    try {
      const a = await unwrap(api.POST("/v1/children/{child}/assessments", { params: { path: { child } }, body }));
      setSaved(`Recorded “${a.title}”.`);
      setF({ ...blank, subject: f.subject, kind: f.kind });
    } catch (err) {
      setErrors(split(err, ["title", "subject", "kind", "assessedDate", "letterGrade", "earned", "possible", "score", "points", "teacherComment"]));
    } finally {
      setBusy(false);
    }
  };
  const pts = errors.points || errors.score;
  return (
    <form onSubmit={submit} noValidate aria-labelledby="assessment-title" class="form">
      <h2 id="assessment-title">Record an assessment</h2>
      <FormStatus errors={errors} saved={saved} />
      <Field id="a-title" label="Title" error={errors.title}>
        <input {...described("a-title", errors.title)} value={f.title} onInput={set("title")} required autoComplete="off" />
      </Field>
      <div class="row">
        <Field id="a-subject" label="Subject" error={errors.subject}>
          <input {...described("a-subject", errors.subject)} value={f.subject} onInput={set("subject")} required />
        </Field>
        <Field id="a-kind" label="Kind" error={errors.kind}>
          <select {...described("a-kind", errors.kind)} value={f.kind} onChange={set("kind")}>
            {kinds.map((k) => (
              <option key={k} value={k}>
                {enumLabel(k, "ASSESSMENT_KIND_")}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <Field id="a-date" label="Date" error={errors.assessedDate}>
        <input type="date" {...described("a-date", errors.assessedDate)} value={f.assessedDate} onInput={set("assessedDate")} required />
      </Field>
      <fieldset>
        <legend>Score (a letter, or points)</legend>
        <div class="row">
          <Field id="a-letter" label="Letter grade" error={errors.letterGrade}>
            <input {...described("a-letter", errors.letterGrade)} value={f.letter} onInput={set("letter")} size={4} />
          </Field>
          <Field id="a-earned" label="Points earned" error={errors.earned || pts}>
            <input type="number" inputMode="decimal" step="any" min="0" {...described("a-earned", errors.earned || pts)} value={f.earned} onInput={set("earned")} />
          </Field>
          <Field id="a-possible" label="Points possible" error={errors.possible}>
            <input type="number" inputMode="decimal" step="any" min="0" {...described("a-possible", errors.possible)} value={f.possible} onInput={set("possible")} />
          </Field>
        </div>
      </fieldset>
      <Field id="a-comment" label="Teacher's comment" error={errors.teacherComment}>
        <textarea {...described("a-comment", errors.teacherComment)} value={f.comment} onInput={set("comment")} rows={3} />
      </Field>
      <button class="button primary" type="submit" disabled={busy}>
        {busy ? "Saving…" : "Record assessment"}
      </button>
    </form>
  );
}

function MilestoneForm({ child }: { child: string }) {
  const blank = { title: "", achievedDate: today(), category: "MILESTONE_CATEGORY_ACADEMIC" as Schemas["MilestoneCategory"], description: "" };
  const [f, setF] = useState(blank);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [saved, setSaved] = useState("");
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof blank) => (e: Input) => setF({ ...f, [k]: value(e) });
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setSaved("");
    setErrors({});
    const body: Body<"Milestone"> = { title: f.title, achievedDate: f.achievedDate, category: f.category, description: f.description || undefined };
    try {
      const m = await unwrap(api.POST("/v1/children/{child}/milestones", { params: { path: { child } }, body }));
      setSaved(`Recorded “${m.title}”.`);
      setF(blank);
    } catch (err) {
      setErrors(split(err, ["title", "achievedDate", "category", "description"]));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} noValidate aria-labelledby="milestone-title" class="form">
      <h2 id="milestone-title">Record a milestone</h2>
      <FormStatus errors={errors} saved={saved} />
      <Field id="m-title" label="Title" error={errors.title}>
        <input {...described("m-title", errors.title)} value={f.title} onInput={set("title")} required autoComplete="off" />
      </Field>
      <div class="row">
        <Field id="m-date" label="Date" error={errors.achievedDate}>
          <input type="date" {...described("m-date", errors.achievedDate)} value={f.achievedDate} onInput={set("achievedDate")} required />
        </Field>
        <Field id="m-category" label="Category" error={errors.category}>
          <select {...described("m-category", errors.category)} value={f.category} onChange={set("category")}>
            {categories.map((c) => (
              <option key={c} value={c}>
                {enumLabel(c, "MILESTONE_CATEGORY_")}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <Field id="m-description" label="Description" error={errors.description}>
        <textarea {...described("m-description", errors.description)} value={f.description} onInput={set("description")} rows={3} />
      </Field>
      <button class="button primary" type="submit" disabled={busy}>
        {busy ? "Saving…" : "Record milestone"}
      </button>
    </form>
  );
}

export function Record({ child }: { child: Child }) {
  const id = idOf(child.name);
  return (
    <div class="forms">
      <AssessmentForm child={id} />
      <MilestoneForm child={id} />
    </div>
  );
}
