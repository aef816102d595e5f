// Kinbridge's REST client: openapi-fetch over the types openapi-typescript
// generates from the OpenAPI 3 spec (schema.ts, `make generate`). Paths,
// parameters, bodies and answers are checked by the compiler against the
// spec the gateway serves.
import createClient, { type Client, type ClientOptions } from "openapi-fetch";
import type { paths } from "./schema.js";

export type { paths, components, operations } from "./schema.js";

/** The client: `client.GET("/v1/children/{child}", { params: { path: { child } } })`. */
export type KinbridgeClient = Client<paths>;

/** A bearer token, or a function that returns the current one (called for each request). */
export type Token = string | (() => string | Promise<string>);

export interface KinbridgeClientOptions extends ClientOptions {
  /** The gateway's address, for example `http://localhost:8080`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <token>` on every request. */
  token?: Token;
}

/** Creates a client for the gateway at `options.baseUrl`. */
export function createKinbridgeClient(options: KinbridgeClientOptions): KinbridgeClient {
  const { token, ...rest } = options;
  const client = createClient<paths>(rest);
  if (token !== undefined) {
    client.use({
      async onRequest({ request }) {
        const value = typeof token === "function" ? await token() : token;
        request.headers.set("Authorization", `Bearer ${value}`);
        return request;
      },
    });
  }
  return client;
}

/**
 * The id a resource name ends with: `idOf("children/abc")` is `"abc"`,
 * for the path parameters (`{child}`, `{assessment}`, ...).
 */
export function idOf(name: string): string {
  const i = name.lastIndexOf("/");
  return i < 0 ? name : name.slice(i + 1);
}
