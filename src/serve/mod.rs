//! `flowc serve` (docs/service.md): the flows of the given files served over
//! HTTP — an API to start, watch, answer, cancel and resume runs, event
//! streams, `/metrics` — each run run by the driver exactly as `flowc run`
//! runs it, in the same store.

pub mod api;
pub mod auth;
pub mod catalog;
pub mod console;
pub mod mcp;
pub mod metrics;
pub mod openapi;
pub mod pool;
pub mod reply;
pub mod runs;
pub mod schedules;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use auth::Tokens;
use catalog::Catalog;
use runs::Runs;

/// What `flowc serve` was asked.
pub struct Options {
    /// `127.0.0.1:7070`; port 0 takes a free one.
    pub listen: String,
    /// The store's folder.
    pub store: PathBuf,
    /// `--tokens FILE`: else one random operator token.
    pub tokens: Option<PathBuf>,
    /// The `.flow` files and folders to serve.
    pub paths: Vec<String>,
}

/// What every request handler shares.
pub struct App {
    pub tokens: Tokens,
    pub catalog: Catalog,
    pub runs: Arc<Runs>,
    pub schedules: Arc<schedules::Schedules>,
}

/// Where the server listens and how to reach it, once it does.
pub struct Started {
    pub addr: SocketAddr,
    /// The random token made at start (none with `--tokens`).
    pub token: Option<String>,
    pub catalog_flows: usize,
    pub refused: Vec<(String, String)>,
}

/// Serves until the process ends; `ready` is told where, once it listens.
/// `Err` in words when it cannot start.
pub fn serve(o: &Options, ready: impl FnOnce(&Started)) -> Result<(), String> {
    let addr: SocketAddr = o.listen.parse().map_err(|_| {
        format!(
            "`--listen {}`: write an address and port, such as `127.0.0.1:7070`",
            o.listen
        )
    })?;
    let (tokens, token) = match &o.tokens {
        Some(path) => (Tokens::read(path)?, None),
        None if addr.ip().is_loopback() => {
            let (t, token) = Tokens::random()?;
            (t, Some(token))
        }
        None => {
            return Err(format!(
                "`--listen {addr}` is reachable from other machines: give `--tokens FILE` (one `ROLE TOKEN [NAME]` a line), or listen on 127.0.0.1"
            ));
        }
    };
    let catalog = Catalog::load(&o.paths, &o.store)?;
    let served: Vec<String> = catalog
        .flows
        .iter()
        .map(|f| f.file.clone())
        .chain(catalog.refused.iter().map(|(f, _)| f.clone()))
        .collect();
    let runs = Runs::new(o.store.clone(), &served)?;
    runs.watch()?;
    let schedules = Arc::new(schedules::Schedules::of(&catalog));
    schedules.start(runs.clone())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the server's runtime: {e}"))?;
    let listener =
        std::net::TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    ready(&Started {
        addr,
        token,
        catalog_flows: catalog.flows.len(),
        refused: catalog.refused.clone(),
    });
    let app = Arc::new(App {
        tokens,
        catalog,
        runs,
        schedules,
    });
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        axum::serve(listener, api::router(app))
            .await
            .map_err(|e| format!("the server stopped: {e}"))
    })
}
