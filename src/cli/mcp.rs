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
}

pub fn mcp(a: &McpArgs) -> u8 {
    let paths = if a.paths.is_empty() {
        vec![".".to_string()]
    } else {
        a.paths.clone()
    };
    let catalog = match crate::serve::catalog::Catalog::load(&paths) {
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
    match crate::serve::mcp::serve_stdio(catalog, store_dir(a.store.as_deref())) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            FAILED
        }
    }
}
