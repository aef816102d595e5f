// The per-subject summary over time: GetProgressSummary for each of the
// last twelve months, drawn as one line per subject (mean percentage of the
// month), with the same numbers in a table for screen readers and anyone
// who prefers them, and the whole year's summary per subject.
import { api, idOf, unwrap, type Child, type Schemas } from "../api";
import { ErrorBox, Loading, useLoad } from "../ui";

type SubjectSummary = Schemas["SubjectSummary"];

interface Month {
  label: string; // "Mar 2026"
  start: string;
  end: string;
  subjects: Map<string, SubjectSummary>;
}

const MONTHS = 12;
const palette = ["#1d5f8a", "#b34700", "#2f7d32", "#8e3b9e", "#a0233a", "#52606d", "#7a6300", "#006d77"];

function monthWindows(now = new Date()): { label: string; start: string; end: string }[] {
  const out = [];
  for (let i = MONTHS - 1; i >= 0; i--) {
    const first = new Date(Date.UTC(now.getFullYear(), now.getMonth() - i, 1));
    const last = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0));
    out.push({
      label: first.toLocaleDateString(undefined, { month: "short", year: "numeric", timeZone: "UTC" }),
      start: first.toISOString().slice(0, 10),
      end: last.toISOString().slice(0, 10),
    });
  }
  return out;
}

async function loadSummaries(child: string) {
  const windows = monthWindows();
  const months: Month[] = await Promise.all(
    windows.map(async (w) => {
      const s = await unwrap(
        api.GET("/v1/children/{child}/progressSummary", {
          params: { path: { child }, query: { startDate: w.start, endDate: w.end } },
        }),
      );
      const subjects = new Map<string, SubjectSummary>();
      for (const sub of s.subjects ?? []) if (sub.subject) subjects.set(sub.subject, sub);
      return { ...w, subjects };
    }),
  );
  const year = await unwrap(
    api.GET("/v1/children/{child}/progressSummary", {
      params: { path: { child }, query: { startDate: windows[0]!.start, endDate: windows[windows.length - 1]!.end } },
    }),
  );
  return { months, year };
}

function fmt(n: number | undefined): string {
  return n === undefined ? "–" : `${Math.round(n * 10) / 10}`;
}

function Chart({ months, subjects }: { months: Month[]; subjects: string[] }) {
  // Small enough that the labels stay readable on a phone.
  const W = 400;
  const H = 220;
  const left = 32;
  const right = 12;
  const top = 12;
  const bottom = 30;
  const x = (i: number) => left + ((W - left - right) * i) / Math.max(1, months.length - 1);
  const y = (p: number) => top + (H - top - bottom) * (1 - Math.max(0, Math.min(100, p)) / 100);
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="chart-title" preserveAspectRatio="xMidYMid meet">
        <title id="chart-title">Mean percentage per subject and month; the table below has the same numbers.</title>
        {[0, 25, 50, 75, 100].map((p) => (
          <g key={p}>
            <line x1={left} x2={W - right} y1={y(p)} y2={y(p)} class="grid" />
            <text x={left - 6} y={y(p) + 4} text-anchor="end" class="axis">
              {p}
            </text>
          </g>
        ))}
        {months.map((m, i) =>
          i % 2 === months.length % 2 ? null : (
            <text key={m.start} x={x(i)} y={H - bottom + 17} text-anchor="middle" class="axis">
              {m.label.split(" ")[0]}
            </text>
          ),
        )}
        {subjects.map((s, si) => {
          const color = palette[si % palette.length]!;
          // One line through the months with scores (a month without is skipped).
          const points = months.flatMap((m, i) => {
            const sub = m.subjects.get(s);
            return sub?.meanPercent !== undefined && (sub.scoredCount ?? 0) > 0 ? [`${x(i).toFixed(1)},${y(sub.meanPercent).toFixed(1)}`] : [];
          });
          const segments = points.length > 1 ? [`M${points.join("L")}`] : [];
          return (
            <g key={s} stroke={color} fill={color}>
              {segments.map((p) => (
                <path key={p} d={p} fill="none" stroke-width="2" />
              ))}
              {months.map((m, i) => {
                const sub = m.subjects.get(s);
                if (sub?.meanPercent === undefined || !(sub.scoredCount ?? 0)) return null;
                return <circle key={m.start} cx={x(i)} cy={y(sub.meanPercent)} r="3.5" />;
              })}
            </g>
          );
        })}
      </svg>
      <figcaption>
        <ul class="legend">
          {subjects.map((s, si) => (
            <li key={s}>
              <span class="swatch" style={{ background: palette[si % palette.length] }} aria-hidden="true" />
              {s}
            </li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
}

export function Summary({ child }: { child: Child }) {
  const id = idOf(child.name);
  const { data, error } = useLoad(() => loadSummaries(id), [id]);
  if (error) return <ErrorBox error={error} />;
  if (!data) return <Loading />;
  const subjects = [...new Set(data.months.flatMap((m) => [...m.subjects.keys()]))].sort();
  const yearSubjects = data.year.subjects ?? [];
  return (
    <section aria-labelledby="summary-title">
      <h2 id="summary-title">Progress over the last {MONTHS} months</h2>
      {subjects.length === 0 ? (
        <p class="muted">No scored assessments in the last {MONTHS} months.</p>
      ) : (
        <>
          <Chart months={data.months} subjects={subjects} />
          <div class="table-scroll" tabIndex={0} role="region" aria-label="Mean percentage per month, as a table">
            <table>
              <caption>Mean percentage per subject and month</caption>
              <thead>
                <tr>
                  <th scope="col">Month</th>
                  {subjects.map((s) => (
                    <th scope="col" key={s}>
                      {s}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {data.months.map((m) => (
                  <tr key={m.start}>
                    <th scope="row">{m.label}</th>
                    {subjects.map((s) => (
                      <td key={s}>{fmt(m.subjects.get(s)?.meanPercent)}</td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      {yearSubjects.length > 0 && (
        <>
          <h2>This year per subject</h2>
          <div class="table-scroll" tabIndex={0} role="region" aria-label="Summary per subject">
            <table>
              <caption>Trend: percentage points gained or lost per 30 days</caption>
              <thead>
                <tr>
                  <th scope="col">Subject</th>
                  <th scope="col">Entries</th>
                  <th scope="col">Latest</th>
                  <th scope="col">Mean</th>
                  <th scope="col">Trend</th>
                </tr>
              </thead>
              <tbody>
                {[...yearSubjects, ...(data.year.overall ? [{ ...data.year.overall, subject: "Overall" }] : [])].map((s) => (
                  <tr key={s.subject}>
                    <th scope="row">{s.subject}</th>
                    <td>{s.assessmentCount ?? 0}</td>
                    <td>{fmt(s.latestPercent)}</td>
                    <td>{fmt(s.meanPercent)}</td>
                    <td>{s.trend === undefined ? "–" : `${s.trend > 0 ? "+" : ""}${fmt(s.trend)}`}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
