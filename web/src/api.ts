// The app's one way to the gateway: the generated client (compiled against
// client/typescript/src/schema.ts, so an API change breaks this build),
// authenticated by the session cookie the gateway set at sign-in. Every
// write carries the session's CSRF token.
import { createKinbridgeClient, idOf, type components } from "@kinbridge/client";
import type { Readable, Writable } from "openapi-typescript-helpers";

export { idOf };
/** The schemas as the gateway answers them (output-only fields present). */
export type Schemas = { [K in keyof components["schemas"]]: Readable<components["schemas"][K]> };
/** What a request body may carry: no output-only field. */
export type Body<K extends keyof components["schemas"]> = Writable<components["schemas"][K]>;
export type Child = Schemas["Child"];
export type Assessment = Schemas["Assessment"];
export type Milestone = Schemas["Milestone"];
export type MediaItem = Schemas["MediaItem"];
export type Guardianship = Schemas["Guardianship"];
export type Notification = Schemas["Notification"];
export type Role = Schemas["Role"];
export type Comment = Schemas["Comment"];
export type ReactionKind = Schemas["ReactionKind"];
export type ReactionSummary = Schemas["ReactionSummary"];
export type Invitation = Schemas["Invitation"];

/** GET /auth/session (contract of issue 15). */
export interface Session {
  signedIn: boolean;
  oidc?: boolean;
  user?: string;
  administrator?: boolean;
  expireTime?: string;
  csrfToken?: string;
}

/** GET /v1/users/me: who I am, and the children I follow with my role. */
export type Me = Schemas["User"];
export type FollowedChild = Schemas["FollowedChild"];

let csrf = "";
let onSignedOut: () => void = () => {};

/** Called when the gateway answers 401: the session ended. */
export function whenSignedOut(f: () => void) {
  onSignedOut = f;
}

/** Tells the app the session ended (what a 401 does). */
export function signedOut() {
  onSignedOut();
}

export const api = createKinbridgeClient({ baseUrl: location.origin, credentials: "same-origin" });
api.use({
  onRequest({ request }) {
    if (!["GET", "HEAD", "OPTIONS"].includes(request.method)) request.headers.set("X-CSRF-Token", csrf);
    return request;
  },
  onResponse({ response }) {
    if (response.status === 401) onSignedOut();
    return response;
  },
});

/** The headers every write made outside the client (tus, logout) carries. */
export function csrfHeaders(): Record<string, string> {
  return { "X-CSRF-Token": csrf };
}

export async function loadSession(): Promise<Session> {
  const r = await fetch("/auth/session", { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!r.ok) return { signedIn: false, oidc: false };
  const s = (await r.json()) as Session;
  csrf = s.csrfToken ?? "";
  return s;
}

export function loadMe(): Promise<Me> {
  return unwrap(api.GET("/v1/users/{user}", { params: { path: { user: "me" } } }));
}

/** POST /auth/logout, then the provider's end-session page when it has one. */
export async function signOut(): Promise<string> {
  const r = await fetch("/auth/logout", { method: "POST", credentials: "same-origin", headers: csrfHeaders() });
  csrf = "";
  if (!r.ok) return "/signin";
  const body = (await r.json().catch(() => ({}))) as { logoutUrl?: string };
  return body.logoutUrl || "/signin";
}

/** A refused call: its message, and the field violations of a 400 by field. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fields: Record<string, string> = {},
    /** The ErrorInfo reason ("INVITATION_EXPIRED"), when the answer had one. */
    readonly reason = "",
  ) {
    super(message);
  }
}

interface FieldViolation {
  field?: string;
  description?: string;
}

/** Turns the gateway's error JSON (google.rpc.Status) into an ApiError. */
export function toError(status: number, body: unknown): ApiError {
  const s = (body ?? {}) as Schemas["Status"];
  const fields: Record<string, string> = {};
  let reason = "";
  for (const d of s.details ?? []) {
    if (String(d["@type"] ?? "").endsWith("google.rpc.ErrorInfo")) reason = String((d as { reason?: string }).reason ?? "");
    if (!String(d["@type"] ?? "").endsWith("google.rpc.BadRequest")) continue;
    for (const v of ((d as { fieldViolations?: FieldViolation[] }).fieldViolations ?? [])) {
      // "assessment.teacher_comment" -> "teacherComment": the form's names
      // are the JSON field names.
      const last = (v.field ?? "").split(".").pop() ?? "";
      const key = last.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
      fields[key] = fields[key] ? `${fields[key]}; ${v.description ?? ""}` : (v.description ?? "invalid");
    }
  }
  const message = s.message || (status === 403 ? "You may not do that." : `The request failed (${status}).`);
  return new ApiError(status, message, fields, reason);
}

/** The data of a client call, or its error thrown as an ApiError. */
export async function unwrap<D>(p: Promise<{ data?: D; error?: unknown; response: Response }>): Promise<D> {
  const r = await p;
  if (!r.response.ok || r.data === undefined) throw toError(r.response.status, r.error);
  return r.data;
}

/** The path of a media item's bytes: the original, or a thumbnail JPEG. */
export function contentURL(item: MediaItem, thumbnail?: "small" | "large"): string {
  const u = `/v1/${item.name}:content`;
  return thumbnail ? `${u}?thumbnail=${thumbnail}` : u;
}

export function hasThumbnail(item: MediaItem, size: "small" | "large"): boolean {
  return (item.thumbnails ?? []).some((t) => t.size === size);
}

export const roleLabel: Record<Role, string> = {
  ROLE_UNSPECIFIED: "Follower",
  ROLE_GUARDIAN: "Guardian",
  ROLE_CONTRIBUTOR: "Contributor",
};
