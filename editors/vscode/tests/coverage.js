#!/usr/bin/env node
// Every scope the grammar defines is asserted by some test in tests/unit/, and
// every scope a test names (required or excluded) is one the grammar defines:
// an assertion about a misspelt scope would pass for the wrong reason.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const grammar = JSON.parse(fs.readFileSync(path.join(root, 'syntaxes', 'flow.tmLanguage.json'), 'utf8'));

const defined = new Set([grammar.scopeName]);
(function walk(node) {
  if (Array.isArray(node)) return node.forEach(walk);
  if (!node || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node)) {
    if ((key === 'name' || key === 'contentName') && typeof value === 'string') {
      value.split(/\s+/).filter(Boolean).forEach((s) => defined.add(s));
    } else {
      walk(value);
    }
  }
})(grammar.repository);

const unitDir = path.join(root, 'tests', 'unit');
const asserted = new Set();
const problems = [];
for (const file of fs.readdirSync(unitDir).filter((f) => f.endsWith('.flow')).sort()) {
  fs.readFileSync(path.join(unitDir, file), 'utf8').split('\n').forEach((line, i) => {
    const m = /^\/\/\s*(?:\^+|<~*-+)\s+(.*)$/.exec(line);
    if (!m) return;
    const [required, ...excluded] = m[1].split(/\s+-\s+/);
    const named = required.split(/\s+/).filter(Boolean);
    named.forEach((s) => asserted.add(s));
    for (const s of named.concat(excluded.join(' ').split(/\s+/).filter(Boolean))) {
      if (!defined.has(s)) problems.push(`tests/unit/${file}:${i + 1}: \`${s}\` is not a scope of the grammar`);
    }
  });
}
for (const s of [...defined].sort()) {
  if (s !== grammar.scopeName && !asserted.has(s)) problems.push(`no test in tests/unit/ asserts \`${s}\``);
}
if (problems.length) {
  problems.forEach((p) => console.error(p));
  process.exit(1);
}
console.log(`scope coverage: all ${defined.size - 1} scopes of the grammar are asserted`);
