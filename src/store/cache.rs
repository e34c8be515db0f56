//! The cross-run result cache (docs/store.md, `cache`: `with { cache: D }`): a pure tool's
//! result kept under its tool binding and canonical arguments. Callers give
//! the binding (`name` and argv, URL or builtin) and the arguments already in
//! canonical JSON (`value::canonical`, key order irrelevant); failures
//! are never put here.

use std::time::Duration;

use rusqlite::{OptionalExtension, params};
use serde_json::Value;

use super::{CacheHit, Store, StoreError, cache_key, now_ms};

impl crate::run::host::Cache for Store {
    fn get(
        &self,
        binding: &str,
        canonical_args: &str,
        ttl: Duration,
    ) -> Result<Option<CacheHit>, StoreError> {
        self.cache_get(binding, canonical_args, ttl)
    }

    fn put(
        &self,
        tool: &str,
        binding: &str,
        canonical_args: &str,
        result: &Value,
    ) -> Result<(), StoreError> {
        self.cache_put(tool, binding, canonical_args, result)
    }
}

impl Store {
    /// The result kept for `binding` and `canonical_args` when it is at most
    /// `ttl` old.
    pub fn cache_get(
        &self,
        binding: &str,
        canonical_args: &str,
        ttl: Duration,
    ) -> Result<Option<CacheHit>, StoreError> {
        let key = cache_key(binding, canonical_args);
        let found: Option<(String, i64)> = self
            .conn
            .query_row(
                "SELECT result, created_ms FROM cache WHERE key = ?1",
                [&key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.error(&e))?;
        let Some((text, created)) = found else {
            return Ok(None);
        };
        // A clock set back makes an entry look new: count it as 0 old.
        let age = Duration::from_millis(now_ms().saturating_sub(created).max(0) as u64);
        if age > ttl {
            return Ok(None);
        }
        // An entry that does not parse (edited by hand) is a miss.
        Ok(serde_json::from_str(&text)
            .ok()
            .map(|value| CacheHit { value, age }))
    }

    /// Keeps `result` for `binding` and `canonical_args`, replacing an older
    /// entry. `tool` is the name `flowc cache clear TOOL` matches.
    pub fn cache_put(
        &self,
        tool: &str,
        binding: &str,
        canonical_args: &str,
        result: &Value,
    ) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO cache (key, tool, binding, args, result, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    cache_key(binding, canonical_args),
                    tool,
                    binding,
                    canonical_args,
                    result.to_string(),
                    now_ms()
                ],
            )
            .map(drop)
            .map_err(|e| self.error(&e))
    }

    /// Empties the cache, or only `tool`'s entries; returns how many went.
    pub fn cache_clear(&self, tool: Option<&str>) -> Result<usize, StoreError> {
        self.conn
            .execute("DELETE FROM cache WHERE ?1 IS NULL OR tool = ?1", [tool])
            .map_err(|e| self.error(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn store(tag: &str) -> (Store, std::path::PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("flowc-store-cache-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        (Store::open(&dir).expect("a new store opens"), dir)
    }

    #[test]
    fn a_result_is_found_by_binding_and_arguments_within_its_ttl() {
        let (s, dir) = store("hit");
        let ttl = Duration::from_secs(60);
        s.cache_put(
            "add",
            "exec:[\"add\"]",
            "{\"a\":1,\"b\":2}",
            &json!({"sum": 3}),
        )
        .expect("put");
        let hit = s
            .cache_get("exec:[\"add\"]", "{\"a\":1,\"b\":2}", ttl)
            .expect("get")
            .expect("a hit");
        assert_eq!(hit.value, json!({"sum": 3}));
        assert!(hit.age < ttl);
        // Other arguments, another binding: misses.
        assert_eq!(
            s.cache_get("exec:[\"add\"]", "{\"a\":2,\"b\":2}", ttl),
            Ok(None)
        );
        assert_eq!(
            s.cache_get("exec:[\"sub\"]", "{\"a\":1,\"b\":2}", ttl),
            Ok(None)
        );
        // Seen from a second connection (another run) too.
        let other = Store::open(&dir).expect("opens again");
        assert!(
            other
                .cache_get("exec:[\"add\"]", "{\"a\":1,\"b\":2}", ttl)
                .expect("get")
                .is_some()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_entry_older_than_the_ttl_is_a_miss_and_a_new_put_replaces_it() {
        let (s, dir) = store("ttl");
        s.cache_put("t", "builtin:t", "{}", &json!(1)).expect("put");
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(
            s.cache_get("builtin:t", "{}", Duration::from_millis(10)),
            Ok(None)
        );
        s.cache_put("t", "builtin:t", "{}", &json!(2)).expect("put");
        let hit = s
            .cache_get("builtin:t", "{}", Duration::from_secs(1))
            .expect("get")
            .expect("hit");
        assert_eq!(hit.value, json!(2));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn clear_empties_one_tool_or_all() {
        let (s, dir) = store("clear");
        s.cache_put("a", "builtin:a", "{}", &json!(1)).expect("put");
        s.cache_put("a", "builtin:a", "{\"x\":1}", &json!(1))
            .expect("put");
        s.cache_put("b", "builtin:b", "{}", &json!(2)).expect("put");
        assert_eq!(s.cache_clear(Some("a")), Ok(2));
        assert_eq!(s.cache_get("builtin:a", "{}", Duration::MAX), Ok(None));
        assert!(
            s.cache_get("builtin:b", "{}", Duration::MAX)
                .expect("get")
                .is_some()
        );
        assert_eq!(s.cache_clear(None), Ok(1));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn keys_separate_binding_from_arguments() {
        assert_ne!(cache_key("ab", "c"), cache_key("a", "bc"));
        assert_eq!(cache_key("a", "{}").len(), 64);
    }
}
