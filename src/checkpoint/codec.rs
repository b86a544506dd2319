//! Serialization of structured section payloads (Machine, Store, Wasi, Meta).
//!
//! This module is the **only** user of `bincode` in chiwawa. The crate is
//! pinned to exactly 1.3.3 and configured as
//!
//! ```text
//! bincode::DefaultOptions::new()
//!     .with_fixint_encoding()
//!     .with_little_endian()
//!     .reject_trailing_bytes()
//!     .with_limit(payload length)      // decode only
//! ```
//!
//! so the byte layout is fully specified by `docs/FORMAT.md` ("Structured
//! section payloads") without reference to the crate: fixed-width
//! little-endian integers, `u64` lengths, `u32` enum variant indices,
//! `u8` option tags, fields in declaration order.
//!
//! Decoding is bounded by the payload length: bincode checks the limit before
//! every read and before allocating a length-prefixed `String`/`Vec<u8>`, so a
//! corrupt length prefix fails cleanly instead of allocating gigabytes.

use std::fmt;
use std::io::Write;

use bincode::Options;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Encoding or decoding a structured payload failed.
///
/// The message is human-readable (e.g. "io error: unexpected end of file",
/// "the size limit has been reached", "invalid value: integer `7`, expected
/// variant index 0 <= i < 3").
#[derive(Debug)]
pub struct CodecError {
    inner: bincode::Error,
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.inner {
            bincode::ErrorKind::SizeLimit => {
                f.write_str("payload is shorter than its contents claim (size limit reached)")
            }
            bincode::ErrorKind::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                f.write_str("unexpected end of payload (truncated, or a length prefix is corrupt)")
            }
            other => write!(f, "{other}"),
        }
    }
}

impl std::error::Error for CodecError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.inner)
    }
}

impl From<bincode::Error> for CodecError {
    fn from(inner: bincode::Error) -> Self {
        CodecError { inner }
    }
}

impl From<CodecError> for std::io::Error {
    fn from(e: CodecError) -> Self {
        match *e.inner {
            bincode::ErrorKind::Io(io) => io,
            _ => std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        }
    }
}

/// The one bincode configuration used for writing (no size limit).
fn options() -> impl Options {
    bincode::DefaultOptions::new().with_fixint_encoding().with_little_endian().reject_trailing_bytes()
}

/// Encode `v` into a fresh buffer.
pub fn encode<T: Serialize + ?Sized>(v: &T) -> Result<Vec<u8>, CodecError> {
    Ok(options().serialize(v)?)
}

/// Exact number of bytes [`encode`] produces for `v` (walks the value once,
/// writes nothing). Use with
/// [`CheckpointWriter::section_with`](super::format::CheckpointWriter::section_with)
/// and [`encode_into`] to stream a large structure into a section without an
/// intermediate buffer.
pub fn encoded_len<T: Serialize + ?Sized>(v: &T) -> Result<u64, CodecError> {
    Ok(options().serialized_size(v)?)
}

/// Encode `v` straight into `w`.
pub fn encode_into<W: Write, T: Serialize + ?Sized>(w: W, v: &T) -> Result<(), CodecError> {
    Ok(options().serialize_into(w, v)?)
}

/// Decode a `T` that must occupy *all* of `bytes` (trailing bytes are an
/// error). Reads and allocations are limited to `bytes.len()`.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    Ok(options().with_limit(bytes.len() as u64).deserialize(bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    enum Kind {
        A,
        B(u16),
        C { x: i32 },
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Small {
        a: u8,
        b: u16,
        c: u32,
        d: u64,
        e: i32,
        f: i64,
        g: bool,
        s: String,
        v: Vec<u16>,
        none: Option<u32>,
        some: Option<u32>,
        k: Vec<Kind>,
        t: (u8, u32),
        arr: [u8; 3],
    }

    fn small() -> Small {
        Small {
            a: 0xAB,
            b: 0x0102,
            c: 0x0304_0506,
            d: 0x0708_090A_0B0C_0D0E,
            e: -2,
            f: -3,
            g: true,
            s: "hé".to_string(),
            v: vec![1, 0xFFFF],
            none: None,
            some: Some(9),
            k: vec![Kind::A, Kind::B(5), Kind::C { x: -1 }],
            t: (7, 8),
            arr: [1, 2, 3],
        }
    }

    #[rustfmt::skip]
    fn small_bytes() -> Vec<u8> {
        vec![
            0xAB,                                           // a: u8
            0x02, 0x01,                                     // b: u16 LE
            0x06, 0x05, 0x04, 0x03,                         // c: u32 LE
            0x0E, 0x0D, 0x0C, 0x0B, 0x0A, 0x09, 0x08, 0x07, // d: u64 LE
            0xFE, 0xFF, 0xFF, 0xFF,                         // e: i32 -2
            0xFD, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, // f: i64 -3
            0x01,                                           // g: true
            3, 0, 0, 0, 0, 0, 0, 0, b'h', 0xC3, 0xA9,       // s: u64 byte len + UTF-8
            2, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 0xFF, 0xFF, // v: u64 count + elements
            0x00,                                           // none
            0x01, 9, 0, 0, 0,                               // some(9)
            3, 0, 0, 0, 0, 0, 0, 0,                         // k: count 3
            0, 0, 0, 0,                                     //   A: variant 0
            1, 0, 0, 0, 5, 0,                               //   B(5): variant 1 + u16
            2, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,             //   C{x:-1}: variant 2 + i32
            7, 8, 0, 0, 0,                                  // t: (u8, u32), no length
            1, 2, 3,                                        // arr: [u8; 3], no length
        ]
    }

    #[test]
    fn exact_bytes_of_a_small_struct() {
        let bytes = encode(&small()).unwrap();
        assert_eq!(bytes, small_bytes());
        assert_eq!(encoded_len(&small()).unwrap(), bytes.len() as u64);
        let mut streamed = Vec::new();
        encode_into(&mut streamed, &small()).unwrap();
        assert_eq!(streamed, bytes);
        assert_eq!(decode::<Small>(&bytes).unwrap(), small());
    }

    #[test]
    fn rejects_trailing_bytes_and_truncation() {
        let mut bytes = small_bytes();
        bytes.push(0);
        assert!(decode::<Small>(&bytes).is_err());
        let bytes = small_bytes();
        for cut in 0..bytes.len() {
            assert!(decode::<Small>(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn huge_length_prefix_does_not_allocate() {
        // A Vec<u8> claiming 2^62 elements inside a 16-byte payload.
        let mut bytes = (1u64 << 62).to_le_bytes().to_vec();
        bytes.extend_from_slice(&[0; 8]);
        // Vec<u8> is read element-wise: serde caps the pre-allocation, the
        // payload runs out after 8 elements.
        assert!(decode::<Vec<u8>>(&bytes).is_err());
        // String from a slice: the length is checked against what remains
        // (on 32-bit hosts it is first rejected as not fitting in a usize).
        let err = decode::<String>(&bytes).unwrap_err().to_string();
        assert!(err.contains("unexpected end of payload") || err.contains("usize"), "{err}");
        let err = decode::<Vec<u64>>(&bytes).unwrap_err();
        assert!(!err.to_string().is_empty());
    }

    #[test]
    fn invalid_values_are_errors() {
        assert!(decode::<bool>(&[2]).is_err());
        assert!(decode::<Option<u8>>(&[2, 0]).is_err());
        assert!(decode::<Kind>(&[3, 0, 0, 0]).is_err());
        assert!(decode::<String>(&[1, 0, 0, 0, 0, 0, 0, 0, 0xFF]).is_err());
    }
}
