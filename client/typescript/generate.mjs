// Writes src/schema.ts, the client's types, from the OpenAPI 3 spec with
// openapi-typescript: readOnly fields are marked (--read-write-markers) so
// request bodies leave them out, and binary content is a Blob (a File in a
// browser) rather than a string. `node generate.mjs [out]`.
import fs from "node:fs";
import openapiTS, { astToString } from "openapi-typescript";
import ts from "typescript";

const BLOB = ts.factory.createTypeReferenceNode(ts.factory.createIdentifier("Blob"));
const NULL = ts.factory.createLiteralTypeNode(ts.factory.createNull());

const spec = new URL("../../gen/openapi/kinbridge.openapi.json", import.meta.url);
const ast = await openapiTS(spec, {
  readWriteMarkers: true,
  transform(schema) {
    if (schema.format === "binary") {
      return schema.nullable ? ts.factory.createUnionTypeNode([BLOB, NULL]) : BLOB;
    }
  },
});
const out = process.argv[2] ?? new URL("src/schema.ts", import.meta.url);
const banner = "// Generated from gen/openapi/kinbridge.openapi.json by client/typescript/generate.mjs\n// (openapi-typescript): `make generate`. Do not edit.\n\n";
fs.writeFileSync(out, banner + astToString(ast));
