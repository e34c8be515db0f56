//! `mcp` tools: calls of tools on MCP servers with the official Rust SDK
//! (`rmcp`). A stdio server is a child process that leads its own process
//! group, started at the first call of a run (`Pool`) and killed with its
//! group when the run's pool is dropped (the run ended or was cancelled), or
//! by the watcher (`watch.rs`) when flowc dies; its stderr keeps its last
//! 8 KB for the message of a failure. A server that dies mid-run fails the
//! calls in flight as `tool_error` and is started again for the next call, at
//! most `MAX_RESTARTS` times a run. An HTTP server is reached with the
//! streamable HTTP transport, its bearer token read from the environment
//! variable its item names.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, MetaObject, RequestMetaObject};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;

use super::exec::{GroupGuard, die_with_flowc};
use super::{Limits, STDERR_TAIL, ToolFailure, ToolResult, read_tail_into, tail};
use crate::check::mcp::{McpServer, McpTool, McpTransport};

/// How many times a run starts a server again after it died.
pub const MAX_RESTARTS: u32 = 3;

/// How long starting a server (its `initialize`) may take.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A started server: the SDK's client service, the process group of a stdio
/// server (killed when dropped), the tail of its stderr.
pub struct Conn {
    service: RunningService<RoleClient, ()>,
    /// Its transport closed under a call: started again for the next one.
    dead: std::sync::atomic::AtomicBool,
    _group: Option<GroupGuard>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Conn {
    fn stderr_tail(&self) -> String {
        let e = self.stderr.lock().map(|e| e.clone()).unwrap_or_default();
        tail(&String::from_utf8_lossy(&e), 800)
    }

    /// The tools it lists, every page.
    pub async fn list_tools(&self) -> Result<Vec<McpTool>, String> {
        let tools = self
            .service
            .list_all_tools()
            .await
            .map_err(|e| format!("`tools/list` failed: {e}"))?;
        Ok(tools
            .into_iter()
            .map(|t| McpTool {
                name: t.name.into_owned(),
                description: t.description.map(|d| d.into_owned()),
                input_schema: Value::Object((*t.input_schema).clone()),
                output_schema: t.output_schema.map(|o| Value::Object((*o).clone())),
            })
            .collect())
    }
}

/// Starts `server` (a stdio server in `dir`) and makes the MCP handshake.
pub async fn connect(server: &McpServer, dir: &Path) -> Result<Conn, ToolFailure> {
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let start = async {
        match &server.transport {
            McpTransport::Stdio { argv } => {
                let Some(prog) = argv.first() else {
                    return Err(ToolFailure::new("the server's `stdio` has no program").permanent());
                };
                let program = if prog.contains('/') && !prog.starts_with('/') {
                    dir.join(prog).to_string_lossy().into_owned()
                } else {
                    prog.clone()
                };
                let mut cmd = tokio::process::Command::new(&program);
                cmd.args(&argv[1..])
                    .current_dir(dir)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .process_group(0)
                    .kill_on_drop(true);
                die_with_flowc(&mut cmd);
                let mut child = cmd.spawn().map_err(|e| {
                    ToolFailure::new(format!(
                        "cannot start MCP server `{}` (`{prog}`): {e}",
                        server.name
                    ))
                    .permanent()
                })?;
                let group = GroupGuard {
                    pgid: child.id().map(|p| p as i32),
                };
                let stdin = child.stdin.take().expect("stdin is piped");
                let stdout = child.stdout.take().expect("stdout is piped");
                let mut err = child.stderr.take().expect("stderr is piped");
                let keep = stderr.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = Vec::new();
                    loop {
                        chunk.clear();
                        // Read in pieces so what was written is kept as it comes.
                        let r = tokio::time::timeout(
                            Duration::from_millis(50),
                            read_tail_into(&mut err, STDERR_TAIL, &mut chunk),
                        )
                        .await;
                        if !chunk.is_empty() {
                            buf.extend_from_slice(&chunk);
                            if buf.len() > STDERR_TAIL {
                                buf.drain(..buf.len() - STDERR_TAIL);
                            }
                            if let Ok(mut k) = keep.lock() {
                                k.clone_from(&buf);
                            }
                        }
                        if r.is_ok() {
                            break;
                        }
                    }
                });
                // The child is reaped by tokio; its group is the guard's.
                tokio::spawn(async move {
                    let _ = child.wait().await;
                });
                let service = ().serve((stdout, stdin)).await.map_err(|e| {
                    ToolFailure::new(format!(
                        "MCP server `{}` did not complete its handshake: {e}",
                        server.name
                    ))
                })?;
                Ok((service, Some(group)))
            }
            McpTransport::Http { url, auth_env } => {
                use rmcp::transport::StreamableHttpClientTransport;
                use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
                let mut config = StreamableHttpClientTransportConfig::with_uri(url.as_str());
                if let Some(var) = auth_env {
                    let token = std::env::var(var).map_err(|_| {
                        ToolFailure::new(format!(
                            "MCP server `{}`: the environment variable `{var}` (its token) is not set",
                            server.name
                        ))
                        .permanent()
                    })?;
                    let token = token.strip_prefix("Bearer ").unwrap_or(&token).to_string();
                    config.auth_header = Some(token);
                }
                let transport = StreamableHttpClientTransport::from_config(config);
                let service = ().serve(transport).await.map_err(|e| {
                    ToolFailure::new(format!(
                        "MCP server `{}` at {} did not complete its handshake: {e}",
                        server.name,
                        crate::run::redact::redact(url)
                    ))
                })?;
                Ok((service, None))
            }
        }
    };
    let (service, group) = tokio::time::timeout(START_TIMEOUT, start)
        .await
        .map_err(|_| {
            ToolFailure::new(format!(
                "MCP server `{}` did not start within {}s",
                server.name,
                START_TIMEOUT.as_secs()
            ))
        })??;
    Ok(Conn {
        service,
        dead: Default::default(),
        _group: group,
        stderr,
    })
}

/// The tools `server` lists, asked now (the checker's schemas): the server
/// is started, asked and stopped.
pub async fn list_tools(server: &McpServer, dir: &Path) -> Result<Vec<McpTool>, String> {
    let conn = connect(server, dir).await.map_err(|f| f.message)?;
    let r = tokio::time::timeout(START_TIMEOUT, conn.list_tools())
        .await
        .map_err(|_| "`tools/list` timed out".to_string())?;
    drop(conn);
    r
}

/// One server's state in a run.
#[derive(Default)]
struct Slot {
    conn: Option<Arc<Conn>>,
    starts: u32,
}

/// The MCP servers of one run (of a worker, on Restate), started at their
/// first call, stopped (their process groups killed) when the pool is dropped.
#[derive(Default)]
pub struct Pool {
    servers: Mutex<HashMap<McpServer, Arc<tokio::sync::Mutex<Slot>>>>,
}

impl Pool {
    pub fn new() -> Pool {
        Pool::default()
    }

    /// The started server for `server`: started now when it is not, or when
    /// it died (at most `MAX_RESTARTS` times after the first start).
    async fn conn(&self, server: &McpServer, dir: &Path) -> Result<Arc<Conn>, ToolFailure> {
        let slot = self
            .servers
            .lock()
            .expect("the pool's lock is never poisoned")
            .entry(server.clone())
            .or_default()
            .clone();
        let mut slot = slot.lock().await;
        if let Some(c) = &slot.conn
            && !c.service.is_closed()
            && !c.dead.load(std::sync::atomic::Ordering::Relaxed)
        {
            return Ok(c.clone());
        }
        if slot.starts > MAX_RESTARTS {
            return Err(ToolFailure::new(format!(
                "MCP server `{}` died {} times in this run; not started again",
                server.name, slot.starts
            ))
            .permanent());
        }
        slot.conn = None;
        slot.starts += 1;
        let c = Arc::new(connect(server, dir).await?);
        slot.conn = Some(c.clone());
        Ok(c)
    }

    /// One attempt of a call of `tool` on `server` with `input` (a record):
    /// `tools/call`, its `structuredContent` or the JSON of its text content
    /// as the result; `isError` a failure. `key`: the idempotency key, sent
    /// in `_meta` as `flowc/idempotencyKey`.
    pub async fn call(
        &self,
        server: &McpServer,
        tool: &str,
        dir: &Path,
        input: &Value,
        limits: Limits,
        key: Option<&str>,
    ) -> ToolResult {
        let conn = self.conn(server, dir).await?;
        let mut params = CallToolRequestParams::new(tool.to_string());
        params.arguments = match input {
            Value::Object(m) => Some(m.clone()),
            Value::Null => None,
            other => {
                return Err(ToolFailure::new(format!(
                    "MCP tools take an object of arguments, not {other}"
                )));
            }
        };
        if let Some(k) = key {
            let mut m = serde_json::Map::new();
            m.insert("flowc/idempotencyKey".into(), Value::String(k.to_string()));
            params.meta = Some(RequestMetaObject(MetaObject(m)));
        }
        let r = conn.service.call_tool(params).await;
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                let mut msg = format!("MCP tool `{tool}` on server `{}` failed: {e}", server.name);
                let closed = matches!(
                    e,
                    rmcp::ServiceError::TransportClosed | rmcp::ServiceError::TransportSend(_)
                ) || conn.service.is_closed();
                if closed {
                    conn.dead.store(true, std::sync::atomic::Ordering::Relaxed);
                    msg = format!(
                        "MCP server `{}` stopped during the call of `{tool}` ({e})",
                        server.name
                    );
                    let t = conn.stderr_tail();
                    if !t.is_empty() {
                        msg.push_str(&format!("; stderr: {t}"));
                    }
                }
                return Err(ToolFailure::new(msg));
            }
        };
        let text = || {
            r.content
                .iter()
                .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
                .collect::<Vec<_>>()
                .join("")
        };
        if r.is_error == Some(true) {
            return Err(ToolFailure::new(format!(
                "MCP tool `{tool}` reported an error: {}",
                super::head(&text(), 800)
            )));
        }
        let value = match &r.structured_content {
            Some(v) => v.clone(),
            None => {
                let t = text();
                if t.len() as u64 > limits.max_output {
                    return Err(super::too_large(
                        &format!("the result of MCP tool `{tool}`"),
                        limits.max_output,
                    ));
                }
                serde_json::from_str(t.trim()).map_err(|e| {
                    ToolFailure::new(format!(
                        "MCP tool `{tool}` answered neither structured content nor JSON text ({e}): {}",
                        super::head(&t, 200)
                    ))
                })?
            }
        };
        let size = serde_json::to_vec(&value).map_or(0, |v| v.len()) as u64;
        if size > limits.max_output {
            return Err(super::too_large(
                &format!("the result of MCP tool `{tool}`"),
                limits.max_output,
            ));
        }
        Ok(value)
    }
}
