//! Secrets in URLs never reach a message, a record or a trace: wherever a URL
//! is shown, the password of its user info and the values of well-known
//! secret query parameters are replaced by `***`:
//! `http://user:secret@host/v1?api_key=k&q=1` is shown as
//! `http://user:***@host/v1?api_key=***&q=1`.

use std::sync::LazyLock;

use regex::Regex;

/// `scheme://user:password@`: the password.
static USER_INFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s/?#@:]*):[^\s/?#@]*@")
        .expect("the user-info pattern compiles")
});

/// `?name=value` / `&name=value` / `;name=value` where the name says it is a secret.
static SECRET_PARAM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)([?&;](?:api[_\-]?key|key|token|access[_\-]?token|refresh[_\-]?token|id[_\-]?token|auth|auth[_\-]?token|password|passwd|pwd|secret|client[_\-]?secret|sig|signature|session[_\-]?token|x-amz-signature|x-amz-credential|x-amz-security-token)=)[^&#;\s`'\x22<>)]*",
    )
    .expect("the secret-parameter pattern compiles")
});

/// `text` (a URL, or a message that holds URLs) with its secrets replaced by `***`.
pub fn redact(text: &str) -> String {
    let step = USER_INFO.replace_all(text, "$1:***@");
    SECRET_PARAM.replace_all(&step, "$1***").into_owned()
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn the_password_of_the_user_info_is_hidden() {
        assert_eq!(
            redact("http://user:secret@host/v1/chat"),
            "http://user:***@host/v1/chat"
        );
        assert_eq!(
            redact("https://me:p%40ss@127.0.0.1:8080"),
            "https://me:***@127.0.0.1:8080"
        );
        // An empty user name, and a password with a colon.
        assert_eq!(redact("http://:tok:en@h/"), "http://:***@h/");
    }

    #[test]
    fn secret_query_parameters_are_hidden_and_others_kept() {
        assert_eq!(
            redact("http://h/x?api_key=abc&q=1&token=t0k#frag"),
            "http://h/x?api_key=***&q=1&token=***#frag"
        );
        assert_eq!(
            redact("http://h/?APIKEY=A&Access_Token=B&keyword=c"),
            "http://h/?APIKEY=***&Access_Token=***&keyword=c"
        );
        assert_eq!(
            redact("http://h/?X-Amz-Signature=s&X-Amz-Credential=c"),
            "http://h/?X-Amz-Signature=***&X-Amz-Credential=***"
        );
    }

    #[test]
    fn urls_inside_messages_are_redacted_and_the_rest_kept() {
        assert_eq!(
            redact(
                "request to http://u:pw@127.0.0.1:9/a?token=z failed: error sending request for url (http://u:pw@127.0.0.1:9/a?token=z)"
            ),
            "request to http://u:***@127.0.0.1:9/a?token=*** failed: error sending request for url (http://u:***@127.0.0.1:9/a?token=***)"
        );
        assert_eq!(
            redact("`openai:http://a:b@h/v1` (gpt)"),
            "`openai:http://a:***@h/v1` (gpt)"
        );
    }

    #[test]
    fn text_without_secrets_is_unchanged() {
        for t in [
            "http://127.0.0.1:8080/v1/chat/completions",
            "http://user@host/path",
            "http://h/?q=a:b@c",
            "a time like 12:30 and mail me@example.com",
            "step `x` failed: `python3` exited with status 1",
        ] {
            assert_eq!(redact(t), t);
        }
    }
}
