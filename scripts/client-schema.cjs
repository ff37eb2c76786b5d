'use strict';
/**
 * node scripts/client-schema.cjs < openapi.json > clients/typescript/schema.d.ts
 * How clients/typescript/schema.d.ts is made from the OpenAPI document, in one place, so
 * that `npm run client` (generate-client.ts) and the drift test
 * (test/client/generated-client.test.ts) cannot make it two ways. Plain CommonJS run by
 * Node itself: openapi-typescript requires an ES module (parse-json), which Node ≥ 20.19
 * loads from require() and Jest's module system does not.
 */

/** Relative to the repository's root, where npm runs scripts. */
const CLIENT_SCHEMA_PATH = 'clients/typescript/schema.d.ts';

/** The text of schema.d.ts for `document`, the JSON /api/docs-json serves. */
async function renderClientSchema(document) {
  // Required here, not above: reading CLIENT_SCHEMA_PATH must work under Jest.
  const { default: openapiTS, astToString, COMMENT_HEADER } = require('openapi-typescript');
  const ts = require('typescript');
  const BLOB = ts.factory.createTypeReferenceNode('Blob');
  const NULL = ts.factory.createLiteralTypeNode(ts.factory.createNull());
  const header = COMMENT_HEADER.replace(
    ' */',
    ' * Regenerate it with `npm run client` (scripts/generate-client.ts), from GET /api/docs-json.\n */',
  );
  const ast = await openapiTS(structuredClone(document), {
    silent: true,
    // openapi-typescript's recipe for files: a file part (UploadDto.file) is sent as a Blob (or File), not a string.
    transform: (schema) =>
      schema.format === 'binary' ? (schema.nullable ? ts.factory.createUnionTypeNode([BLOB, NULL]) : BLOB) : undefined,
  });
  return `${header}${astToString(ast)}`;
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  process.stdout.write(await renderClientSchema(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
}

if (require.main === module) {
  main().catch((error) => {
    process.stderr.write(`client-schema: ${error.stack ?? error.message}\n`);
    process.exit(1);
  });
}

module.exports = { renderClientSchema, CLIENT_SCHEMA_PATH };
