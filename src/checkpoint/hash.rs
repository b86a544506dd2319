//! SHA-256 (the `sha2` crate), the module identity stored in every checkpoint header, and the
//! one hexadecimal helper of the crate (digests in messages and the undo journal's fields).
//!
//! `sha2` is the RustCrypto implementation: audited, pure Rust on `wasm32-wasip1`, and with the
//! SHA extensions on x86_64/aarch64 it hashes a large module several times faster than the
//! hand-written version it replaces.

use sha2::{Digest, Sha256};

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Lower-case hexadecimal rendering of `bytes` (e.g. a digest).
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// The bytes of an even-length hexadecimal string (either case).
pub fn from_hex_bytes(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    s.chunks_exact(2).map(|p| Some((nibble(p[0])? << 4) | nibble(p[1])?)).collect()
}

/// Parse a 64-digit hexadecimal SHA-256 digest (either case).
pub fn from_hex(s: &str) -> Option<[u8; 32]> {
    from_hex_bytes(s)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fips_180_2_vectors() {
        let h = |b: &[u8]| to_hex(&sha256(b));
        assert_eq!(h(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(h(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(
            h(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        assert_eq!(
            h(&vec![b'a'; 1_000_000]),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
    }

    #[test]
    fn hex_round_trip() {
        let d = sha256(b"abc");
        assert_eq!(from_hex(&to_hex(&d)), Some(d));
        assert_eq!(from_hex(&to_hex(&d).to_uppercase()), Some(d));
        assert_eq!(from_hex("xyz"), None);
        assert_eq!(from_hex(&"g".repeat(64)), None);
        assert_eq!(from_hex(&"a".repeat(62)), None);
        assert_eq!(from_hex_bytes(""), Some(vec![]));
        assert_eq!(from_hex_bytes("0aFf"), Some(vec![10, 255]));
        assert_eq!(from_hex_bytes("abc"), None);
    }
}
