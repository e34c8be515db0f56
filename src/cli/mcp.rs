//! `flowc mcp [--store DIR] [FILE|DIR…]`: the flows of the files served as
//! MCP tools over stdin and stdout (docs/mcp.md); what is refused is said on
//! stderr, which the client shows or logs.

use crate::driver::store_dir;
use crate::term::{FAILED, USAGE};

#[derive(clap::Args, Debug)]
pub struct McpArgs {
    /// The `.flow` files to serve; a folder serves every `.flow` file in it
    /// (default: the current folder)
    pub paths: Vec<String>,
    /// The folder of the store that keeps the runs (default: FLOWC_STORE, or `.flowc`)
    #[arg(long, value_name = "DIR")]
    pub store: Option<String>,
    /// Serve streamable HTTP at `http://ADDR/mcp` rather than stdio (port 0:
    /// any free port), with bearer tokens as `flowc serve` takes them
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// The tokens (`ROLE TOKEN [NAME]` a line, as for `flowc serve`; an
    /// operator's calls flows); without it, one random token is made and printed
    #[arg(long, value_name = "FILE", requires = "listen")]
    pub tokens: Option<String>,
}

pub fn mcp(a: &McpArgs) -> u8 {
    let paths = if a.paths.is_empty() {
        vec![".".to_string()]
    } else {
        a.paths.clone()
    };
    let store = store_dir(a.store.as_deref());
    let catalog = match crate::serve::catalog::Catalog::load(&paths, &store) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return USAGE;
        }
    };
    for (file, shown) in &catalog.refused {
        eprintln!("{shown}");
        eprintln!("flowc mcp: `{file}` has errors; its flows are not served");
    }
    let served = match &a.listen {
        None => crate::serve::mcp::serve_stdio(catalog, store),
        Some(listen) => {
            let (tokens, made) = match &a.tokens {
                Some(f) => match crate::serve::auth::Tokens::read(std::path::Path::new(f)) {
                    Ok(t) => (t, None),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return USAGE;
                    }
                },
                None => match crate::serve::auth::Tokens::random() {
                    Ok((t, made)) => (t, Some(made)),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return FAILED;
                    }
                },
            };
            crate::serve::mcp::serve_http(catalog, store, listen, tokens, |addr| {
                eprintln!("flowc mcp: listening on http://{addr}/mcp");
                if let Some(t) = made {
                    eprintln!("flowc mcp: token (operator): {t}");
                }
            })
        }
    };
    match served {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            FAILED
        }
    }
}
