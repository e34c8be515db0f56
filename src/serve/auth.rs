//! Who may do what: the bearer tokens of `flowc serve` (`--tokens FILE`, one
//! `ROLE TOKEN [NAME]` per line; without it, one random operator token made
//! at start). Tokens are compared in constant time and never logged.

use std::path::Path;

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads runs, flows, events and metrics.
    Viewer,
    /// Also starts, cancels, resumes, retries and approves.
    Operator,
}

impl Role {
    fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            _ => None,
        }
    }
}

/// Who made a request: the role and name of the token it carried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub role: Role,
    /// The token's name in the tokens file (recorded as an approval's
    /// approver), else `operator`/`viewer`.
    pub name: String,
}

struct Token {
    secret: Vec<u8>,
    caller: Caller,
}

/// The tokens a server accepts.
pub struct Tokens {
    tokens: Vec<Token>,
}

/// Shortest token a tokens file may hold: a guessable token is refused.
const MIN_LEN: usize = 16;

impl Tokens {
    /// One operator token, 32 random bytes from the system (`/dev/urandom`)
    /// as hex; the token is returned to be shown once.
    pub fn random() -> Result<(Tokens, String), String> {
        use std::io::Read;
        let mut bytes = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut bytes))
            .map_err(|e| format!("cannot read random bytes for a token: {e}"))?;
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let tokens = Tokens {
            tokens: vec![Token {
                secret: token.clone().into_bytes(),
                caller: Caller {
                    role: Role::Operator,
                    name: "operator".into(),
                },
            }],
        };
        Ok((tokens, token))
    }

    /// The tokens of a file: `ROLE TOKEN [NAME]` per line, `#` comments and
    /// blank lines skipped. Errors name the file and the line.
    pub fn read(path: &Path) -> Result<Tokens, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        Tokens::parse(&text).map_err(|e| format!("`{}`: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Tokens, String> {
        let mut tokens = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = i + 1;
            let mut words = line.split_whitespace();
            let (Some(role), Some(secret)) = (words.next(), words.next()) else {
                return Err(format!(
                    "line {at}: write `ROLE TOKEN [NAME]` (ROLE is `viewer` or `operator`)"
                ));
            };
            let role = Role::parse(role).ok_or_else(|| {
                format!("line {at}: `{role}` is no role; the roles: viewer, operator")
            })?;
            if secret.len() < MIN_LEN {
                return Err(format!(
                    "line {at}: a token has at least {MIN_LEN} characters (make one with `openssl rand -hex 32`)"
                ));
            }
            let name = words.collect::<Vec<_>>().join(" ");
            let name = if name.is_empty() {
                match role {
                    Role::Viewer => "viewer".to_string(),
                    Role::Operator => "operator".to_string(),
                }
            } else {
                name
            };
            tokens.push(Token {
                secret: secret.as_bytes().to_vec(),
                caller: Caller { role, name },
            });
        }
        if tokens.is_empty() {
            return Err("no token in the file".into());
        }
        Ok(Tokens { tokens })
    }

    /// Who `given` belongs to. Every token is compared, each in time that
    /// does not depend on where the bytes differ.
    pub fn caller(&self, given: &str) -> Option<Caller> {
        let mut found = None;
        for t in &self.tokens {
            if same(&t.secret, given.as_bytes()) {
                found = Some(t.caller.clone());
            }
        }
        found
    }
}

/// Equal bytes, compared without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tokens_file_gives_roles_and_names() {
        let t = Tokens::parse(
            "# ops\nviewer 0123456789abcdef0123\noperator fedcba9876543210fedc Ada Lovelace\n",
        )
        .unwrap();
        assert_eq!(
            t.caller("0123456789abcdef0123"),
            Some(Caller {
                role: Role::Viewer,
                name: "viewer".into()
            })
        );
        let op = t.caller("fedcba9876543210fedc").unwrap();
        assert_eq!(
            (op.role, op.name.as_str()),
            (Role::Operator, "Ada Lovelace")
        );
        assert_eq!(t.caller("fedcba9876543210fedd"), None);
        assert_eq!(t.caller(""), None);
    }

    #[test]
    fn a_bad_tokens_file_says_which_line() {
        let e = Tokens::parse("viewer\n").err().unwrap();
        assert!(e.contains("line 1"), "{e}");
        let e = Tokens::parse("admin 0123456789abcdef0123\n").err().unwrap();
        assert!(e.contains("`admin` is no role"), "{e}");
        let e = Tokens::parse("viewer short\n").err().unwrap();
        assert!(e.contains("at least 16"), "{e}");
        assert!(Tokens::parse("# nothing\n").is_err());
    }

    #[test]
    fn random_tokens_differ() {
        let (_, a) = Tokens::random().unwrap();
        let (t, b) = Tokens::random().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(t.caller(&b).map(|c| c.role), Some(Role::Operator));
    }
}
