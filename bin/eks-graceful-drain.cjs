#!/usr/bin/env node
// Runs bin/eks-graceful-drain.ts through the repository's tsx, until the
// package build ships it compiled (dist/bin/eks-graceful-drain.js).
require('tsx/cjs');
const { main } = require('./eks-graceful-drain.ts');
main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`eks-graceful-drain: ${err && err.message}\n`); process.exitCode = 2; },
);
