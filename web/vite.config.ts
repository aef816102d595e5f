// Builds the app into dist/ (committed; embedded by web.go). The output must
// be the same on every machine: web_test.go rebuilds it and fails on any
// difference, as CI does for gen/.
import { defineConfig } from "vite";
import { fileURLToPath } from "node:url";

export default defineConfig({
  base: "/",
  resolve: {
    // The app compiles against the generated client's sources, so a change
    // to the API (schema.ts) breaks this build.
    alias: {
      "@kinbridge/client": fileURLToPath(new URL("../client/typescript/src/index.ts", import.meta.url)),
    },
    // The client's own import of openapi-fetch resolves to this package's
    // pinned copy: client/typescript need not be installed to build the app.
    dedupe: ["openapi-fetch"],
  },
  oxc: {
    jsx: { runtime: "automatic", importSource: "preact" },
  },
  // `npx vite`: a dev server with hot reload in front of a running gateway
  // (KINBRIDGE_GATEWAY, default the `make run` one).
  server: {
    proxy: Object.fromEntries(
      ["/v1", "/auth", "/docs", "/openapi.json"].map((p) => [
        p,
        { target: process.env.KINBRIDGE_GATEWAY ?? "http://127.0.0.1:8080", changeOrigin: false },
      ]),
    ),
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    // Every browser the app supports has modulepreload.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
});
