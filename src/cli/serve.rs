//! `flowc serve`.

use crate::driver::store_dir;
use crate::term::{FAILED, USAGE};

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The `.flow` files to serve; a folder serves every `.flow` file in it
    /// (default: the current folder)
    pub paths: Vec<String>,
    /// The address to listen on (port 0: any free port)
    #[arg(long, default_value = "127.0.0.1:7070", value_name = "ADDR")]
    pub listen: String,
    /// The folder of the store (default: FLOWC_STORE, or `.flowc`)
    #[arg(long, value_name = "DIR")]
    pub store: Option<String>,
    /// The tokens the API takes: one `ROLE TOKEN [NAME]` a line (ROLE:
    /// `viewer` or `operator`); without it, one random operator token is made
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<String>,
}

pub fn serve(a: &ServeArgs) -> u8 {
    let paths = if a.paths.is_empty() {
        vec![".".to_string()]
    } else {
        a.paths.clone()
    };
    let options = crate::serve::Options {
        listen: a.listen.clone(),
        store: store_dir(a.store.as_deref()),
        tokens: a.tokens.as_ref().map(Into::into),
        paths,
    };
    let served = crate::serve::serve(&options, |s| {
        for (file, shown) in &s.refused {
            eprintln!("{shown}");
            eprintln!("warning: `{file}` has errors; its flows are not served");
        }
        eprintln!(
            "flowc serve: {} flow{} on http://{}/api/v1 (store {})",
            s.catalog_flows,
            if s.catalog_flows == 1 { "" } else { "s" },
            s.addr,
            options.store.display()
        );
        match &s.token {
            Some(t) => {
                eprintln!("token (operator, for this process only): {t}");
                eprintln!("console: http://{}/?token={t}", s.addr);
            }
            None => eprintln!(
                "console: http://{}/?token=TOKEN (a token of the tokens file)",
                s.addr
            ),
        }
    });
    match served {
        Ok(()) => crate::term::OK,
        Err(e) => {
            eprintln!("error: {e}");
            if e.contains("--listen") || e.contains("tokens") {
                USAGE
            } else {
                FAILED
            }
        }
    }
}
