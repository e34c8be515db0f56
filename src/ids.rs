//! Ids, hashes and times, as the store keeps them and the interpreter
//! journals them: milliseconds since the epoch, SHA-256 in hex, the key of a
//! tool's binding and arguments, run ids. A leaf: `run` and `store` use it.

/// Milliseconds since the Unix epoch, as the store keeps times.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Milliseconds since the epoch as RFC 3339, in UTC to the second
/// (`2026-12-05T02:11:38Z`).
pub fn rfc3339_ms(ms: i64) -> String {
    use chrono::TimeZone;
    chrono::Utc
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// The SHA-256 of `bytes`, in lower-case hex: the source files' hashes and
/// the cache's keys.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    // By table: `write!` with `{:02x}` cost more than the hash itself
    // (one journal row per step hashes its arguments).
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = sha2::Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s
}

/// The cache's key: the SHA-256 of the binding and the canonical arguments.
pub fn cache_key(binding: &str, canonical_args: &str) -> String {
    let mut bytes = Vec::with_capacity(binding.len() + 1 + canonical_args.len());
    bytes.extend_from_slice(binding.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(canonical_args.as_bytes());
    sha256_hex(&bytes)
}

/// Crockford's base32 alphabet, lower case: no i, l, o, u.
pub const BASE32: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A new id for a run that starts now (see [`run_id`]): runs without a store
/// get one of the same form.
pub fn new_run_id() -> String {
    run_id(now_ms(), 0)
}

/// A short, time-ordered run id: the start in milliseconds (9 characters,
/// sorting as time does until the year 3084) and 3 random characters.
pub fn run_id(ms: i64, salt: u64) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(salt);
    h.write_u32(std::process::id());
    let random = h.finish();
    let mut s = String::with_capacity(12);
    let ms = ms.max(0) as u64;
    for i in (0..9).rev() {
        s.push(BASE32[((ms >> (5 * i)) & 31) as usize] as char);
    }
    for i in 0..3 {
        s.push(BASE32[((random >> (5 * i)) & 31) as usize] as char);
    }
    s
}
