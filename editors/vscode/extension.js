// Starts the flowc language server (`flowc lsp`) for `.flow` files:
// diagnostics as you type, hover, go to definition, completion, rename,
// document symbols and quick fixes. The binary is the `flowc.path` setting
// (default: `flowc` on PATH).
'use strict';
const vscode = require('vscode');

let client;

function serverOptions() {
  const command = vscode.workspace.getConfiguration('flowc').get('path') || 'flowc';
  return { command, args: ['lsp'] };
}

async function start() {
  const { LanguageClient } = require('vscode-languageclient/node');
  client = new LanguageClient('flowc', 'flowc', serverOptions(), {
    documentSelector: [{ scheme: 'file', language: 'flow' }, { scheme: 'untitled', language: 'flow' }],
  });
  await client.start();
}

async function activate(context) {
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (!e.affectsConfiguration('flowc.path')) return;
      if (client) await client.stop();
      await start();
    }),
  );
  try {
    await start();
  } catch (e) {
    vscode.window.showErrorMessage(
      `flowc: cannot start \`${serverOptions().command} lsp\` (${e.message}); set \`flowc.path\` to the flowc binary`,
    );
  }
}

async function deactivate() {
  if (client) await client.stop();
}

module.exports = { activate, deactivate, serverOptions };
