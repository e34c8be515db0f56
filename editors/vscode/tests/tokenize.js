#!/usr/bin/env node
// Tokenizes .flow text with the grammar of this extension, through the same
// engine VS Code uses (vscode-textmate over vscode-oniguruma).
//
//   node tests/tokenize.js FILE            one line per token: LINE:COL text  scope scope …
//   node tests/tokenize.js --words W1 W2 … one JSON object per word: {"word", "scopes"}
//                                          (the scopes of a line holding just the word)
'use strict';
const fs = require('fs');
const path = require('path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const root = path.join(__dirname, '..');
const grammarPath = path.join(root, 'syntaxes', 'flow.tmLanguage.json');

async function loadGrammar() {
  const wasm = fs.readFileSync(path.join(path.dirname(require.resolve('vscode-oniguruma')), 'onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (sources) => new oniguruma.OnigScanner(sources),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName) => {
      if (scopeName !== 'source.flow') return null;
      return vsctm.parseRawGrammar(fs.readFileSync(grammarPath, 'utf8'), grammarPath);
    },
  });
  return registry.loadGrammar('source.flow');
}

function tokenizeText(grammar, text) {
  let stack = vsctm.INITIAL;
  const out = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const r = grammar.tokenizeLine(line, stack);
    stack = r.ruleStack;
    for (const t of r.tokens) {
      const s = line.slice(t.startIndex, t.endIndex);
      if (s.trim() === '') continue;
      out.push({ line: i + 1, col: t.startIndex + 1, text: s, scopes: t.scopes.slice(1) });
    }
  });
  return out;
}

async function main() {
  const args = process.argv.slice(2);
  const grammar = await loadGrammar();
  if (args[0] === '--words') {
    for (const word of args.slice(1)) {
      const toks = tokenizeText(grammar, word);
      const scopes = toks.length === 1 && toks[0].text === word ? toks[0].scopes : [];
      console.log(JSON.stringify({ word, scopes }));
    }
    return;
  }
  if (args.length !== 1) {
    console.error('usage: tokenize.js FILE | --words WORD…');
    process.exit(2);
  }
  for (const t of tokenizeText(grammar, fs.readFileSync(args[0], 'utf8'))) {
    console.log(`${t.line}:${t.col} ${t.text}  ${t.scopes.join(' ')}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
