// The VS Code client of the policyengine language server (`policyengine lsp`).
//
// It only starts the server and passes it the settings: every feature
// (diagnostics, hover, definition, references, completion, formatting,
// outline, semantic tokens, quick fixes, rename) is the server's, so other
// editors get the same ones (docs/tools.md).
"use strict";

const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function settings() {
  const config = vscode.workspace.getConfiguration("policyengine");
  return {
    command: config.get("server.path", "policyengine"),
    args: config.get("server.args", ["lsp"]),
    initializationOptions: {
      policies: config.get("policies", []),
      debounceMs: config.get("debounceMs", 150),
      lint: config.get("lint", true),
    },
  };
}

function substitute(value) {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? "";
  return value.replace(/\$\{workspaceFolder\}/g, folder);
}

async function start(context) {
  const { command, args, initializationOptions } = settings();
  const server = { command: substitute(command), args: args.map(substitute) };
  client = new LanguageClient(
    "policyengine",
    "Policy language server",
    { run: server, debug: server },
    {
      documentSelector: [{ language: "policy" }],
      initializationOptions,
      // Changes to these settings reach the server as didChangeConfiguration;
      // the server watches `**/*.policy` itself (dynamic registration).
      synchronize: { configurationSection: "policyengine" },
    },
  );
  try {
    await client.start();
  } catch (error) {
    vscode.window.showErrorMessage(
      `Could not start the policyengine language server (${server.command} ${server.args.join(" ")}): ${error.message}. ` +
        "Install it with `pip install 'policyengine[lsp]'` or set `policyengine.server.path`.",
    );
  }
  context.subscriptions.push(client);
}

async function restart(context) {
  if (client) {
    await client.stop();
    client = undefined;
  }
  await start(context);
}

async function activate(context) {
  context.subscriptions.push(vscode.commands.registerCommand("policyengine.restartServer", () => restart(context)));
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("policyengine.server")) {
        restart(context);
      }
    }),
  );
  await start(context);
}

async function deactivate() {
  if (client) {
    await client.stop();
  }
}

module.exports = { activate, deactivate };
