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
    let mut hex = [0u8; 64];
    sha256_hex_into(&[bytes], &mut hex);
    // Hex digits are ASCII.
    hex.iter().map(|&b| char::from(b)).collect()
}

/// The SHA-256 of `parts` one after the other, in lower-case hex, written
/// into `out` (the journal's writer fills a row's hash in place).
pub fn sha256_hex_into(parts: &[&[u8]], out: &mut [u8; 64]) {
    use sha2::Digest;
    // By table: `write!` with `{:02x}` cost more than the hash itself
    // (one journal row per step hashes its arguments).
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p);
    }
    for (k, b) in h.finalize().into_iter().enumerate() {
        out[2 * k] = HEX[usize::from(b >> 4)];
        out[2 * k + 1] = HEX[usize::from(b & 15)];
    }
}

/// The cache's key: the SHA-256 of the binding and the canonical arguments
/// (a NUL between them). A tool call's `args_sha256` in the journal too.
pub fn cache_key(binding: &str, canonical_args: &str) -> String {
    let mut hex = [0u8; 64];
    sha256_hex_into(
        &[binding.as_bytes(), b"\0", canonical_args.as_bytes()],
        &mut hex,
    );
    hex.iter().map(|&b| char::from(b)).collect()
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
