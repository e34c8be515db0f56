#!/usr/bin/env node
// Tokenizes .flow text with the grammar of this extension, through the same
// engine VS Code uses (vscode-textmate over vscode-oniguruma).
//
//   node tests/tokenize.js FILE            one line per token: LINE:COL text  scope scope …
//   node tests/tokenize.js --words W1 W2 … one JSON object per word: {"word", "scopes"}
//                                          (the scopes of a line holding just the word)
//   node tests/tokenize.js --html FILE     an HTML page of FILE coloured by a dark theme
//                                          (the theme's rules matched by vscode-textmate)
'use strict';
const fs = require('fs');
const path = require('path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const root = path.join(__dirname, '..');
const grammarPath = path.join(root, 'syntaxes', 'flow.tmLanguage.json');

async function loadGrammar(theme) {
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
  if (theme) registry.setTheme(theme);
  const grammar = await registry.loadGrammar('source.flow');
  grammar.registry = registry;
  return grammar;
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

// A dark theme in the colours of VS Code's Dark Modern, as `tokenColors` rules.
const THEME = {
  name: 'dark',
  settings: [
    { settings: { foreground: '#D4D4D4', background: '#1F1F1F' } },
    { scope: 'comment', settings: { foreground: '#6A9955' } },
    { scope: 'comment.line.documentation', settings: { foreground: '#6A9955', fontStyle: 'italic' } },
    { scope: 'markup.inline.raw', settings: { foreground: '#CE9178' } },
    { scope: ['keyword', 'storage'], settings: { foreground: '#569CD6' } },
    { scope: 'keyword.control', settings: { foreground: '#C586C0' } },
    { scope: 'keyword.operator', settings: { foreground: '#D4D4D4' } },
    { scope: 'keyword.other.unit', settings: { foreground: '#B5CEA8' } },
    { scope: ['string', 'punctuation.definition.string'], settings: { foreground: '#CE9178' } },
    { scope: 'string.regexp', settings: { foreground: '#D16969' } },
    { scope: ['constant.character.escape', 'keyword.other.flag.regexp'], settings: { foreground: '#D7BA7D' } },
    { scope: 'constant.numeric', settings: { foreground: '#B5CEA8' } },
    { scope: 'constant.language', settings: { foreground: '#569CD6' } },
    { scope: ['entity.name.function', 'support.function'], settings: { foreground: '#DCDCAA' } },
    { scope: ['entity.name.type', 'support.type', 'entity.name.namespace'], settings: { foreground: '#4EC9B0' } },
    { scope: ['variable', 'support.type.property-name', 'entity.other.attribute-name'], settings: { foreground: '#9CDCFE' } },
    { scope: ['variable.other.constant', 'support.constant'], settings: { foreground: '#4FC1FF' } },
    { scope: 'variable.language', settings: { foreground: '#569CD6' } },
    { scope: 'entity.name.label', settings: { foreground: '#C8C8C8' } },
    { scope: 'punctuation.section.interpolation', settings: { foreground: '#569CD6' } },
    { scope: 'meta.embedded', settings: { foreground: '#D4D4D4' } },
    { scope: 'invalid', settings: { foreground: '#F44747' } },
  ],
};

// Fields of vscode-textmate's encoded token attributes.
const FONT_STYLE_OFFSET = 11;
const FOREGROUND_OFFSET = 15;

async function html(file) {
  const grammar = await loadGrammar(THEME);
  const colors = grammar.registry.getColorMap();
  const escape = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  let stack = vsctm.INITIAL;
  const lines = fs.readFileSync(file, 'utf8').replace(/\n$/, '').split(/\r?\n/).map((line) => {
    const r = grammar.tokenizeLine2(line, stack);
    stack = r.ruleStack;
    let out = '';
    for (let i = 0; i < r.tokens.length; i += 2) {
      const start = r.tokens[i];
      const end = i + 2 < r.tokens.length ? r.tokens[i + 2] : line.length;
      const meta = r.tokens[i + 1];
      const fg = colors[(meta >>> FOREGROUND_OFFSET) & 0x1ff];
      const italic = ((meta >>> FONT_STYLE_OFFSET) & 0xf) & 1;
      const style = `color:${fg}` + (italic ? ';font-style:italic' : '');
      out += `<span style="${style}">${escape(line.slice(start, end))}</span>`;
    }
    return out;
  });
  const bg = colors[2];
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${escape(path.basename(file))}</title></head>\n` +
    `<body style="margin:0;background:${bg}"><pre style="margin:0;padding:12px;color:${colors[1]};` +
    `font:13px/1.45 'DejaVu Sans Mono',monospace">${lines.join('\n')}</pre></body></html>\n`;
}

async function main() {
  const args = process.argv.slice(2);
  if (args[0] === '--html' && args.length === 2) {
    process.stdout.write(await html(args[1]));
    return;
  }
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
    console.error('usage: tokenize.js FILE | --words WORD… | --html FILE');
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
