/**
 * CommonJS consumers: `require()` of every entry point. The package is ESM only; this works where
 * Node loads ES modules through require() (require(esm), unflagged since Node 20.19 and 22.12).
 * Prints, per entry, the number of exports or the error code.
 */
const { exports: entries } = require('graphql-cached-instances/package.json');

const out = { node: process.version };
for (const entry of Object.keys(entries)) {
  const name = entry === '.' ? 'graphql-cached-instances' : `graphql-cached-instances/${entry.slice(2)}`;
  try {
    out[entry] = Object.keys(require(name)).length;
  } catch (error) {
    out[entry] = error.code ?? String(error);
  }
}
console.log(JSON.stringify(out));
