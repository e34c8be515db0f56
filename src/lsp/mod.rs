//! `flowc lsp`: the language server over stdio. A thin adapter: the session
//! thread ([`session`]) checks documents with the driver's `check_source`,
//! the same checker as `flowc check`, and the answers ([`features`],
//! [`complete`]) read the checker's index; formatting is `flowc fmt`'s
//! [`crate::fmt::format_source`]. Between stdio and the server, [`frames`]
//! answers the messages the server could not read and keeps the session going.

mod complete;
mod features;
mod frames;
mod mcp;
mod session;
mod text;

use std::sync::mpsc;

use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer, LspService, Server};

use session::{Doc, Job, Publish};

struct Backend {
    jobs: mpsc::Sender<Job>,
    client: Client,
    /// The client registers file watchers on the server's request.
    watch: std::sync::atomic::AtomicBool,
}

impl Backend {
    fn send(&self, job: Job) {
        // The session thread ends only when the server does.
        let _ = self.jobs.send(job);
    }

    /// Asks the session a question about a document; `None` when it is not open.
    async fn ask<R: Send + 'static>(
        &self,
        uri: Uri,
        f: impl FnOnce(&Doc) -> R + Send + 'static,
    ) -> Option<R> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Job::Ask(
            uri,
            Box::new(move |doc| {
                let _ = tx.send(doc.map(f));
            }),
        ));
        rx.await.ok().flatten()
    }
}

impl LanguageServer for Backend {
    async fn initialize(&self, p: InitializeParams) -> Result<InitializeResult> {
        let watch = p
            .capabilities
            .workspace
            .as_ref()
            .and_then(|w| w.did_change_watched_files.as_ref())
            .and_then(|w| w.dynamic_registration)
            .unwrap_or(false);
        self.watch
            .store(watch, std::sync::atomic::Ordering::Relaxed);
        Ok(InitializeResult {
            server_info: Some(ServerInfo {
                name: "flowc".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
            capabilities: ServerCapabilities {
                text_document_sync: Some(TextDocumentSyncCapability::Kind(
                    TextDocumentSyncKind::INCREMENTAL,
                )),
                hover_provider: Some(HoverProviderCapability::Simple(true)),
                definition_provider: Some(OneOf::Left(true)),
                signature_help_provider: Some(SignatureHelpOptions {
                    trigger_characters: Some(vec!["(".into(), ",".into()]),
                    retrigger_characters: Some(vec![":".into()]),
                    ..Default::default()
                }),
                completion_provider: Some(CompletionOptions {
                    trigger_characters: Some(vec![".".into(), "(".into(), "\"".into()]),
                    ..Default::default()
                }),
                document_symbol_provider: Some(OneOf::Left(true)),
                references_provider: Some(OneOf::Left(true)),
                document_highlight_provider: Some(OneOf::Left(true)),
                rename_provider: Some(OneOf::Left(true)),
                code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
                document_formatting_provider: Some(OneOf::Left(true)),
                ..Default::default()
            },
            ..Default::default()
        })
    }

    /// Asks the client to watch the `.flow` files: an imported file changed on
    /// disk (by `git checkout`, another editor, a generator) re-checks the
    /// open documents that import it.
    async fn initialized(&self, _: InitializedParams) {
        if !self.watch.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let options = DidChangeWatchedFilesRegistrationOptions {
            watchers: vec![FileSystemWatcher {
                glob_pattern: GlobPattern::String("**/*.flow".into()),
                kind: None,
            }],
        };
        let registration = Registration {
            id: "flowc-watch-flow-files".into(),
            method: "workspace/didChangeWatchedFiles".into(),
            register_options: serde_json::to_value(options).ok(),
        };
        // A client that refuses it keeps the server working on open files.
        let _ = self.client.register_capability(vec![registration]).await;
    }

    async fn did_change_watched_files(&self, p: DidChangeWatchedFilesParams) {
        self.send(Job::FilesChanged(
            p.changes.into_iter().map(|c| c.uri).collect(),
        ));
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }

    async fn did_open(&self, p: DidOpenTextDocumentParams) {
        self.send(Job::Open {
            uri: p.text_document.uri,
            text: p.text_document.text,
            version: p.text_document.version,
        });
    }

    async fn did_change(&self, p: DidChangeTextDocumentParams) {
        self.send(Job::Change {
            uri: p.text_document.uri,
            changes: p.content_changes,
            version: p.text_document.version,
        });
    }

    async fn did_close(&self, p: DidCloseTextDocumentParams) {
        self.send(Job::Close {
            uri: p.text_document.uri,
        });
    }

    async fn hover(&self, p: HoverParams) -> Result<Option<Hover>> {
        let pos = p.text_document_position_params;
        Ok(self
            .ask(pos.text_document.uri, move |d| {
                features::hover(d, pos.position)
            })
            .await
            .flatten())
    }

    async fn goto_definition(
        &self,
        p: GotoDefinitionParams,
    ) -> Result<Option<GotoDefinitionResponse>> {
        let pos = p.text_document_position_params;
        Ok(self
            .ask(pos.text_document.uri, move |d| {
                features::definition(d, pos.position)
            })
            .await
            .flatten()
            .map(GotoDefinitionResponse::Scalar))
    }

    async fn completion(&self, p: CompletionParams) -> Result<Option<CompletionResponse>> {
        let pos = p.text_document_position;
        Ok(self
            .ask(pos.text_document.uri, move |d| {
                complete::complete(d, pos.position)
            })
            .await
            .map(CompletionResponse::Array))
    }

    async fn document_symbol(
        &self,
        p: DocumentSymbolParams,
    ) -> Result<Option<DocumentSymbolResponse>> {
        // A document with nothing to show (unknown, or over the size limit)
        // has no symbols.
        Ok(Some(DocumentSymbolResponse::Nested(
            self.ask(p.text_document.uri, features::symbols)
                .await
                .unwrap_or_default(),
        )))
    }

    async fn signature_help(&self, p: SignatureHelpParams) -> Result<Option<SignatureHelp>> {
        let pos = p.text_document_position_params;
        Ok(self
            .ask(pos.text_document.uri, move |d| {
                complete::signature_help(d, pos.position)
            })
            .await
            .flatten())
    }

    async fn references(&self, p: ReferenceParams) -> Result<Option<Vec<Location>>> {
        let pos = p.text_document_position;
        let with_decl = p.context.include_declaration;
        Ok(self
            .ask(pos.text_document.uri, move |d| {
                features::references(d, pos.position, with_decl)
            })
            .await)
    }

    async fn document_highlight(
        &self,
        p: DocumentHighlightParams,
    ) -> Result<Option<Vec<DocumentHighlight>>> {
        let pos = p.text_document_position_params;
        Ok(self
            .ask(pos.text_document.uri, move |d| {
                features::highlights(d, pos.position)
            })
            .await)
    }

    async fn rename(&self, p: RenameParams) -> Result<Option<WorkspaceEdit>> {
        let pos = p.text_document_position;
        let name = p.new_name;
        match self
            .ask(pos.text_document.uri, move |d| {
                features::rename(d, pos.position, &name)
            })
            .await
        {
            Some(features::Renamed::Edit(e)) => Ok(Some(e)),
            Some(features::Renamed::Bad(why)) => Err(Error::invalid_params(why)),
            Some(features::Renamed::Stale) => Err(Error {
                code: tower_lsp_server::jsonrpc::ErrorCode::ContentModified,
                message: "the document changed since it was last checked: rename again once \
                          its diagnostics are shown"
                    .into(),
                data: None,
            }),
            Some(features::Renamed::Nothing) | None => Ok(None),
        }
    }

    /// Formats the newest text (not the last checked one), off the runtime's thread.
    async fn formatting(&self, p: DocumentFormattingParams) -> Result<Option<Vec<TextEdit>>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Job::Text(p.text_document.uri, tx));
        let Some(text) = rx.await.ok().flatten() else {
            return Ok(None);
        };
        match tokio::task::spawn_blocking(move || features::format(&text)).await {
            Ok(Ok(edits)) => Ok(Some(edits)),
            Ok(Err(why)) => Err(Error::invalid_params(why)),
            Err(_) => Ok(None),
        }
    }

    async fn code_action(&self, p: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let range = p.range;
        Ok(self
            .ask(p.text_document.uri, move |d| {
                features::code_actions(d, range.start, range.end)
            })
            .await)
    }
}

/// `flowc lsp`: serves stdin/stdout until the client exits. Returns the exit code.
pub fn main() -> u8 {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the language server's runtime: {e}");
            return crate::term::FAILED;
        }
    };
    let (jobs, jobs_rx) = mpsc::channel::<Job>();
    let me = jobs.clone();
    let (publish, mut published) = tokio::sync::mpsc::unbounded_channel::<Publish>();
    // The session thread only keeps texts and routes: checks run on threads of their own.
    let session = std::thread::Builder::new()
        .name("flowc-lsp-session".into())
        .spawn(move || session::run(jobs_rx, me, publish));
    if let Err(e) = session {
        eprintln!("error: cannot start the language server's session: {e}");
        return crate::term::FAILED;
    }
    rt.block_on(async move {
        let (service, socket) = LspService::new(|client: Client| {
            let c = client.clone();
            tokio::spawn(async move {
                while let Some((uri, diags, version)) = published.recv().await {
                    c.publish_diagnostics(uri, diags, version).await;
                }
            });
            Backend {
                jobs,
                client,
                watch: std::sync::atomic::AtomicBool::new(false),
            }
        });
        // The client's frames reach the server through `frames`, which answers
        // the ones it could not decode; the server's go out through it too.
        let out = std::sync::Arc::new(tokio::sync::Mutex::new(tokio::io::stdout()));
        let (to_server, server_in) = tokio::io::duplex(1 << 16);
        let (server_out, from_server) = tokio::io::duplex(1 << 16);
        let input = tokio::spawn(frames::client_to_server(
            tokio::io::stdin(),
            to_server,
            out.clone(),
        ));
        let output = tokio::spawn(frames::server_to_client(from_server, out));
        Server::new(server_in, server_out, socket)
            .serve(service)
            .await;
        // After `exit` the client may keep stdin open: stop reading it.
        input.abort();
        let _ = output.await;
    });
    // A read of stdin may still be in progress on a blocking thread.
    rt.shutdown_background();
    crate::term::OK
}
