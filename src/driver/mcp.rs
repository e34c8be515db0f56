//! The schemas of MCP servers for the checker (`Loader::mcp_tools`): the
//! answer to `tools/list` cached in the store's folder (`mcp-tools.json`, one
//! entry per server item and folder), asked when nothing is cached or when
//! `flowc check --refresh-mcp` asks again. A server that cannot be reached
//! with nothing cached is the checker's warning (W0009).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::check::mcp::{McpServer, McpTool, McpTools};

/// The cache file in the store's folder.
pub const CACHE_FILE: &str = "mcp-tools.json";

#[derive(Default, Serialize, Deserialize)]
struct Cache {
    /// By key (`key`): the server as written, its folder, the tools it listed.
    servers: BTreeMap<String, Entry>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    server: String,
    dir: String,
    asked_ms: i64,
    tools: Vec<McpTool>,
}

/// What identifies a server's answer: its item as written and the folder
/// a stdio server starts in (a token is never part of it).
fn key(server: &McpServer, dir: &Path) -> String {
    format!("{}\u{0}{}", server.text(), dir.display())
}

fn read(store: &Path) -> Cache {
    std::fs::read_to_string(store.join(CACHE_FILE))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// The cached tools of `server`, if any (the language server's view: no server asked).
pub fn cached(store: &Path, server: &McpServer, dir: &Path) -> Option<Vec<McpTool>> {
    read(store)
        .servers
        .remove(&key(server, dir))
        .map(|e| e.tools)
}

/// The tools of `server`: from the cache in `store` unless `refresh`, else
/// asked (and cached). Asked on a thread of its own with its own runtime,
/// so that any caller (one inside a runtime too) may ask.
pub fn tools(store: &Path, server: &McpServer, dir: &Path, refresh: bool) -> McpTools {
    if !refresh && let Some(t) = cached(store, server, dir) {
        return McpTools::Listed(t);
    }
    let (s, d) = (server.clone(), dir.to_path_buf());
    let asked = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("no runtime: {e}"))?;
        rt.block_on(crate::run::tools::mcp::list_tools(&s, &d))
    })
    .join()
    .unwrap_or_else(|_| Err("asking the server failed".to_string()));
    match asked {
        Ok(tools) => {
            let _ = write(store, server, dir, &tools);
            McpTools::Listed(tools)
        }
        // A refresh that fails keeps what was cached.
        Err(why) => match cached(store, server, dir) {
            Some(t) => McpTools::Listed(t),
            None => McpTools::Unreachable(why),
        },
    }
}

fn write(store: &Path, server: &McpServer, dir: &Path, tools: &[McpTool]) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(store)?;
    let mut cache = read(store);
    cache.servers.insert(
        key(server, dir),
        Entry {
            server: server.text(),
            dir: dir.display().to_string(),
            asked_ms: crate::ids::now_ms(),
            tools: tools.to_vec(),
        },
    );
    let path: PathBuf = store.join(CACHE_FILE);
    let tmp = store.join(format!("{CACHE_FILE}.{}", std::process::id()));
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(&cache).expect("the cache serialises"),
    )?;
    std::fs::rename(tmp, path)
}
