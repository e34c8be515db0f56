#!/usr/bin/env node
// The extension starts the language server: package.json names the entry point,
// activates on `.flow` files and declares the `flowc.path` setting;
// vscode-languageclient resolves from the extension's folder; and the entry
// point asks for `FLOWC_PATH lsp` from the setting (read here through a
// stand-in for VS Code's configuration API, the one part of `vscode` it reads
// before starting the client).
'use strict';
const fs = require('fs');
const path = require('path');
const Module = require('module');

const root = path.join(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const problems = [];
const check = (ok, what) => { if (!ok) problems.push(what); };

check(fs.existsSync(path.join(root, pkg.main)), `the entry point ${pkg.main} exists`);
check((pkg.activationEvents || []).includes('onLanguage:flow'), 'it activates on `.flow` files');
const setting = pkg.contributes.configuration.properties['flowc.path'];
check(setting && setting.type === 'string' && setting.default === 'flowc', 'the `flowc.path` setting, default `flowc`');
check(pkg.dependencies['vscode-languageclient'], 'vscode-languageclient is a dependency');
require.resolve('vscode-languageclient/node', { paths: [root] });

let configured = '/opt/flowc/bin/flowc';
const vscode = {
  workspace: { getConfiguration: (section) => ({ get: (key) => (section === 'flowc' && key === 'path' ? configured : undefined) }) },
};
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === 'vscode' ? 'vscode' : resolve.call(this, request, ...rest);
};
require.cache.vscode = { id: 'vscode', filename: 'vscode', loaded: true, exports: vscode };
const ext = require(path.join(root, pkg.main));
check(typeof ext.activate === 'function' && typeof ext.deactivate === 'function', 'it exports activate and deactivate');
const opts = ext.serverOptions();
check(opts.command === configured && opts.args.join(' ') === 'lsp', `it starts \`${configured} lsp\` (got ${JSON.stringify(opts)})`);
configured = '';
check(ext.serverOptions().command === 'flowc', 'without a setting it starts `flowc` from PATH');

if (problems.length) {
  console.error(problems.map((p) => `not so: ${p}`).join('\n'));
  process.exit(1);
}
console.log('the extension starts `flowc lsp`: ok');
