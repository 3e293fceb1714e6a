#!/usr/bin/env node
// Validates AsyncAPI documents (JSON or YAML files, or stdin when no file is named) with the
// official AsyncAPI parser: the spec's JSON Schema, the protocol bindings' schemas and the
// parser's own rules. Prints every error and warning; exits 1 when any document has an error
// (2 on a usage or read failure), so a test or CI step can run it as is. With --strict a
// warning (a rule of the parser's AsyncAPI ruleset, e.g. a message without an id) fails too.
const fs = require('fs');
const { Parser, DiagnosticSeverity } = require('@asyncapi/parser');

const SEVERITY = {
  [DiagnosticSeverity.Error]: 'error',
  [DiagnosticSeverity.Warning]: 'warning',
  [DiagnosticSeverity.Information]: 'info',
  [DiagnosticSeverity.Hint]: 'hint',
};

async function check(parser, name, text, strict) {
  const { document, diagnostics } = await parser.parse(text);
  let errors = 0;
  for (const d of diagnostics) {
    if (d.severity > DiagnosticSeverity.Warning) continue;
    if (d.severity === DiagnosticSeverity.Error || strict) errors += 1;
    const where = (d.path || []).join('/') || '(document)';
    console.log(`${name}: ${SEVERITY[d.severity]} ${d.code} at ${where}: ${d.message}`);
  }
  if (!document && errors === 0) errors = 1; // the parser gave up without saying why
  console.log(`${name}: ${errors ? `${errors} problem(s)` : 'valid'} (AsyncAPI ${document ? document.version() : '?'})`);
  return errors;
}

async function main(args) {
  const strict = args.includes('--strict');
  const files = args.filter((a) => a !== '--strict');
  const parser = new Parser();
  const inputs = files.length ? files.map((f) => [f, fs.readFileSync(f, 'utf8')])
    : [['<stdin>', fs.readFileSync(0, 'utf8')]];
  let failed = 0;
  for (const [name, text] of inputs) failed += (await check(parser, name, text, strict)) ? 1 : 0;
  process.exit(failed ? 1 : 0);
}

main(process.argv.slice(2)).catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(2);
});
