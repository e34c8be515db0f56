#!/usr/bin/env node
// The extension's manifest, language configuration and snippets hold together:
// the files package.json points at exist and name the same language and scope,
// the regular expressions of the language configuration compile and indent as
// intended, and every snippet has a prefix, a body and a description.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const read = (p) => JSON.parse(fs.readFileSync(path.join(root, p), 'utf8'));
const problems = [];
const check = (ok, what) => { if (!ok) problems.push(what); };

const pkg = read('package.json');
const [language] = pkg.contributes.languages;
const [grammar] = pkg.contributes.grammars;
const [snippetFile] = pkg.contributes.snippets;
check(language.id === 'flow' && language.extensions.includes('.flow'), 'the language is `flow`, for `.flow` files');
check(grammar.language === 'flow' && grammar.scopeName === 'source.flow', 'the grammar is source.flow, for `flow`');
check(read(grammar.path).scopeName === grammar.scopeName, `${grammar.path} has scopeName ${grammar.scopeName}`);
check(snippetFile.language === 'flow', 'the snippets are for `flow`');

const config = read(language.configuration);
check(config.comments.lineComment === '//', 'line comments are `//`');
check(config.comments.blockComment.join(' ') === '/* */', 'block comments are `/* */`');
const pairs = config.autoClosingPairs.map((p) => p.open + p.close);
for (const p of ['{}', '[]', '()', '""']) check(pairs.includes(p), `\`${p}\` closes itself`);
const re = (s) => new RegExp(s);
const inc = re(config.indentationRules.increaseIndentPattern);
const dec = re(config.indentationRules.decreaseIndentPattern);
for (const line of ['flow main() -> json {', '    let m = parallel {', '    let xs = [', 'tool t(', '} else {'])
  check(inc.test(line), `a line \`${line}\` indents the next one`);
for (const line of ['    let x = { a: 1 }', '// a comment with {', '    "a {x}"', '}'])
  check(!inc.test(line), `a line \`${line}\` does not indent the next one`);
for (const line of ['}', '    })', '] catch {', '} else {'])
  check(dec.test(line), `a line \`${line}\` goes back a level`);
check(!dec.test('    let x = 1'), 'a statement does not go back a level');
re(config.folding.markers.start);
re(config.folding.markers.end);
const word = re(config.wordPattern);
check(word.exec('  ci_id')[0] === 'ci_id' && word.exec(' 250ms')[0] === '250ms', 'words are names and durations');
const [onEnter] = config.onEnterRules;
check(re(onEnter.beforeText).test('    /// Doc') && onEnter.action.appendText === '/// ', 'Enter continues a `///` comment');

const snippets = read(snippetFile.path);
for (const [name, s] of Object.entries(snippets)) {
  check(typeof s.prefix === 'string' && s.prefix.length > 0, `snippet \`${name}\` has a prefix`);
  check(Array.isArray(s.body) && s.body.length > 0, `snippet \`${name}\` has a body`);
  check(typeof s.description === 'string', `snippet \`${name}\` has a description`);
}
const prefixes = Object.values(snippets).map((s) => s.prefix);
check(new Set(prefixes).size === prefixes.length, 'snippet prefixes are distinct');
for (const p of ['flow', 'tool', 'parallel', 'sequence', 'if', 'match', 'loop', 'for', 'try', 'race', 'decide'])
  check(prefixes.includes(p), `a snippet for \`${p}\``);

if (problems.length) {
  problems.forEach((p) => console.error(`not so: ${p}`));
  process.exit(1);
}
console.log(`configuration: manifest, language configuration and ${prefixes.length} snippets hold together`);
