//! The checkpoint container: header, CRC-protected sections, end section.
//!
//! This module knows bytes, not WebAssembly. The byte-level specification is
//! `docs/FORMAT.md`; the constants below are the normative values and the
//! layout comments mirror the tables there.
//!
//! ```text
//! file    = header section* end
//! header  = magic[8] version:u32 flags:u32 module_hash[32] module_len:u64
//!           generation:u64 created_unix_nanos:u64 instructions:u64
//!           producer_kind:u8 producer_len:u8 reserved:u16 producer_name[64]
//!           header_crc:u32                                   (152 bytes)
//! section = kind:u32 flags:u32 len:u64 payload[len] crc:u32  (crc over kind..payload)
//! end     = section with kind 0, len 8, payload = count:u32 chain_crc:u32
//! ```
//!
//! All integers are little-endian and fixed-width; nothing depends on the
//! host's pointer width or endianness, so x86_64 and wasm32 produce and accept
//! identical bytes.

use std::fmt;
use std::io::{self, Write};

use super::codec;
pub use crate::runtime::memory::Bytes;

/// PNG-style magic: a non-ASCII byte (catches 7-bit transports), "CHW",
/// CR LF (catches line-ending conversion), ^Z (stops `type` on DOS), LF.
pub const MAGIC: [u8; 8] = *b"\x89CHW\r\n\x1a\n";
/// The format version this code writes (and the newest it reads).
pub const FORMAT_VERSION: u32 = 2;

/// The oldest format version this chiwawa reads (version 1 files are converted on restore,
/// see `snapshot::v1`).
pub const OLDEST_READABLE_VERSION: u32 = 1;
/// Header flag bit 0: the checkpoint holds the final state of a guest that
/// trapped or exited ("postmortem"); it is for inspection, not for resuming.
pub const FLAG_POSTMORTEM: u32 = 1;
/// Header flag bits defined by this version; any other bit is an error.
pub const KNOWN_HEADER_FLAGS: u32 = FLAG_POSTMORTEM;
/// Size of the fixed header, including its trailing CRC.
pub const HEADER_LEN: usize = 152;
/// Maximum length of the producer string in bytes.
pub const PRODUCER_NAME_MAX: usize = 64;
/// Size of a section's fixed prefix (kind, flags, payload length).
pub const SECTION_HEADER_LEN: usize = 16;
/// Size of a section's CRC trailer.
pub const SECTION_TRAILER_LEN: usize = 4;
/// Section kind code of the end section.
pub const END_KIND: u32 = 0;
/// Payload length of the end section.
pub const END_PAYLOAD_LEN: u64 = 8;
/// WebAssembly page size; the unit of the sparse memory encoding.
pub const PAGE_SIZE: usize = 65536;
/// Largest memory (in pages) the memory section decoder accepts: 2^48 pages, the limit of a
/// 64-bit linear memory (the restore then checks the size against the module's own limits
/// before anything is allocated).
pub const MAX_MEMORY_PAGES: u64 = 1 << 48;
/// Fixed prefix of a memory section payload (index, size, max, count).
pub const MEMORY_PREFIX_LEN: usize = 28;
/// Size of one stored page in a memory section (page index + contents).
pub const MEMORY_PAGE_ENTRY_LEN: usize = 8 + PAGE_SIZE;

// Header field offsets (see docs/FORMAT.md, "Header").
const OFF_VERSION: usize = 8;
const OFF_FLAGS: usize = 12;
const OFF_HASH: usize = 16;
const OFF_MODULE_LEN: usize = 48;
const OFF_GENERATION: usize = 56;
const OFF_CREATED: usize = 64;
const OFF_INSTRUCTIONS: usize = 72;
const OFF_PRODUCER_KIND: usize = 80;
const OFF_PRODUCER_LEN: usize = 81;
const OFF_RESERVED: usize = 82;
const OFF_PRODUCER_NAME: usize = 84;
const OFF_HEADER_CRC: usize = 148;

// ---------------------------------------------------------------------------
// Header
// ---------------------------------------------------------------------------

/// What produced a checkpoint: native build or the interpreter itself
/// compiled to wasm32 and hosted by another runtime. Informational only; a
/// checkpoint from either kind restores on the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProducerKind {
    /// Code 1: a native build (x86_64 or any other native target).
    Native,
    /// Code 2: chiwawa compiled to `wasm32-wasip1`, hosted by e.g. Wasmtime or Node.
    Wasm32Hosted,
    /// Any other code, preserved as read.
    Unknown(u8),
}

impl ProducerKind {
    /// The on-disk code.
    pub fn code(self) -> u8 {
        match self {
            ProducerKind::Native => 1,
            ProducerKind::Wasm32Hosted => 2,
            ProducerKind::Unknown(c) => c,
        }
    }

    /// The kind for an on-disk code (1 and 2 map to the named variants).
    pub fn from_code(code: u8) -> Self {
        match code {
            1 => ProducerKind::Native,
            2 => ProducerKind::Wasm32Hosted,
            c => ProducerKind::Unknown(c),
        }
    }

    /// The kind of the running build.
    pub fn current() -> Self {
        if cfg!(target_family = "wasm") {
            ProducerKind::Wasm32Hosted
        } else {
            ProducerKind::Native
        }
    }
}

impl fmt::Display for ProducerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProducerKind::Native => f.write_str("native"),
            ProducerKind::Wasm32Hosted => f.write_str("wasm32-hosted"),
            ProducerKind::Unknown(c) => write!(f, "unknown({c})"),
        }
    }
}

/// The program that wrote a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Producer {
    /// Native or wasm32-hosted.
    pub kind: ProducerKind,
    /// Free-form UTF-8, at most [`PRODUCER_NAME_MAX`] bytes,
    /// e.g. "chiwawa 0.1.0 x86_64-linux".
    pub name: String,
}

impl Producer {
    /// This build: "chiwawa <version> <arch>-<os>".
    pub fn current() -> Self {
        let mut name = format!(
            "chiwawa {} {}-{}",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::ARCH,
            std::env::consts::OS
        );
        truncate_utf8(&mut name, PRODUCER_NAME_MAX);
        Producer { kind: ProducerKind::current(), name }
    }
}

impl fmt::Display for Producer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.kind)
    }
}

fn truncate_utf8(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// The fixed header at the start of every checkpoint file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// Always [`FORMAT_VERSION`] for files this code writes or accepts.
    pub format_version: u32,
    /// Bit set of `FLAG_*`; unknown bits are rejected.
    pub flags: u32,
    /// SHA-256 of the module's bytes (see [`super::hash::sha256`]).
    pub module_hash: [u8; 32],
    /// Length of the module in bytes.
    pub module_len: u64,
    /// Generation number; equals the number in the file name.
    pub generation: u64,
    /// Wall-clock time of the capture, nanoseconds since the Unix epoch.
    pub created_unix_nanos: u64,
    /// Instruction units executed by the guest up to the capture.
    pub instructions: u64,
    /// Who wrote the file.
    pub producer: Producer,
}

impl Header {
    /// A version-1 header for `module` (hashes it) stamped with the current
    /// time and [`Producer::current`]; `flags` = 0.
    pub fn new(module: &[u8], generation: u64, instructions: u64) -> Self {
        Header {
            format_version: FORMAT_VERSION,
            flags: 0,
            module_hash: super::hash::sha256(module),
            module_len: module.len() as u64,
            generation,
            created_unix_nanos: unix_nanos_now(),
            instructions,
            producer: Producer::current(),
        }
    }

    /// Whether [`FLAG_POSTMORTEM`] is set.
    pub fn is_postmortem(&self) -> bool {
        self.flags & FLAG_POSTMORTEM != 0
    }

    /// Serialize to the 152 on-disk bytes (including the header CRC). Versions 1 and 2 share
    /// the container layout: a version-1 header is written only when `chiwawa export` copies a
    /// version-1 generation's payloads unchanged.
    pub fn to_bytes(&self) -> io::Result<[u8; HEADER_LEN]> {
        if !(OLDEST_READABLE_VERSION..=FORMAT_VERSION).contains(&self.format_version) {
            return Err(invalid_input(format!(
                "cannot write format version {} (this chiwawa writes versions {OLDEST_READABLE_VERSION} to {FORMAT_VERSION})",
                self.format_version
            )));
        }
        if self.flags & !KNOWN_HEADER_FLAGS != 0 {
            return Err(invalid_input(format!(
                "unknown header flags {:#x}",
                self.flags & !KNOWN_HEADER_FLAGS
            )));
        }
        let name = self.producer.name.as_bytes();
        if name.len() > PRODUCER_NAME_MAX {
            return Err(invalid_input(format!(
                "producer name is {} bytes, at most {PRODUCER_NAME_MAX} allowed",
                name.len()
            )));
        }
        let mut b = [0u8; HEADER_LEN];
        b[..8].copy_from_slice(&MAGIC);
        b[OFF_VERSION..OFF_VERSION + 4].copy_from_slice(&self.format_version.to_le_bytes());
        b[OFF_FLAGS..OFF_FLAGS + 4].copy_from_slice(&self.flags.to_le_bytes());
        b[OFF_HASH..OFF_HASH + 32].copy_from_slice(&self.module_hash);
        b[OFF_MODULE_LEN..OFF_MODULE_LEN + 8].copy_from_slice(&self.module_len.to_le_bytes());
        b[OFF_GENERATION..OFF_GENERATION + 8].copy_from_slice(&self.generation.to_le_bytes());
        b[OFF_CREATED..OFF_CREATED + 8].copy_from_slice(&self.created_unix_nanos.to_le_bytes());
        b[OFF_INSTRUCTIONS..OFF_INSTRUCTIONS + 8].copy_from_slice(&self.instructions.to_le_bytes());
        b[OFF_PRODUCER_KIND] = self.producer.kind.code();
        b[OFF_PRODUCER_LEN] = name.len() as u8;
        // OFF_RESERVED..+2 stays zero.
        b[OFF_PRODUCER_NAME..OFF_PRODUCER_NAME + name.len()].copy_from_slice(name);
        let crc = crc32fast::hash(&b[..OFF_HEADER_CRC]);
        b[OFF_HEADER_CRC..].copy_from_slice(&crc.to_le_bytes());
        Ok(b)
    }
}

/// Current wall-clock time in nanoseconds since the Unix epoch (0 if the
/// clock is before 1970, saturating far in the future).
pub fn unix_nanos_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------

/// What a section holds. Codes are stable forever; new kinds get new codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SectionKind {
    /// Code 1: interpreter state (value stack, frames, counters), bincode.
    Machine,
    /// Code 2: globals, tables, dropped segments, memory limits, bincode.
    Store,
    /// Code 3: one linear memory, sparse page encoding (see [`decode_memory`]).
    Memory,
    /// Code 4: WASI state (args, env, preopens, fd table), bincode.
    Wasi,
    /// Code 5: free-form key/value pairs for `inspect` (see [`encode_meta`]).
    Meta,
    /// Code 6: clock readings at capture (bincode). The only section whose bytes depend on
    /// *when* the capture happened; every other section is a function of the execution position.
    Clock,
    /// Code 7: one linear memory of an incremental generation: a manifest naming, for every
    /// non-zero page, the pack file and slot that hold it and its XXH3-128 fingerprint (see
    /// [`super::pages`]).
    Pages,
    /// Code 8: the exceptions the guest holds references to (Wasm 3.0 exception handling),
    /// bincode; only written when there is one.
    Exceptions,
    /// Any other code (never 0, which is the end section), preserved as read.
    Other(u32),
}

impl SectionKind {
    /// The on-disk code.
    pub fn code(self) -> u32 {
        match self {
            SectionKind::Machine => 1,
            SectionKind::Store => 2,
            SectionKind::Memory => 3,
            SectionKind::Wasi => 4,
            SectionKind::Meta => 5,
            SectionKind::Clock => 6,
            SectionKind::Pages => 7,
            SectionKind::Exceptions => 8,
            SectionKind::Other(c) => c,
        }
    }

    /// The kind for an on-disk code; codes 1..=8 always map to the named
    /// variants, so `from_code(k.code())` is canonical.
    pub fn from_code(code: u32) -> Self {
        match code {
            1 => SectionKind::Machine,
            2 => SectionKind::Store,
            3 => SectionKind::Memory,
            4 => SectionKind::Wasi,
            5 => SectionKind::Meta,
            6 => SectionKind::Clock,
            7 => SectionKind::Pages,
            8 => SectionKind::Exceptions,
            c => SectionKind::Other(c),
        }
    }
}

impl fmt::Display for SectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match SectionKind::from_code(self.code()) {
            SectionKind::Machine => f.write_str("Machine"),
            SectionKind::Store => f.write_str("Store"),
            SectionKind::Memory => f.write_str("Memory"),
            SectionKind::Wasi => f.write_str("Wasi"),
            SectionKind::Meta => f.write_str("Meta"),
            SectionKind::Clock => f.write_str("Clock"),
            SectionKind::Pages => f.write_str("Pages"),
            SectionKind::Exceptions => f.write_str("Exceptions"),
            SectionKind::Other(0) => f.write_str("End"),
            SectionKind::Other(c) => write!(f, "kind {c:#x}"),
        }
    }
}

/// One section of a checkpoint, payload owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub kind: SectionKind,
    /// Reserved; always 0 in format version 1.
    pub flags: u32,
    pub payload: Vec<u8>,
}

/// One section borrowed from the file bytes (see [`parse_checkpoint`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SectionRef<'a> {
    pub kind: SectionKind,
    pub flags: u32,
    pub payload: &'a [u8],
    /// Byte offset of the section (its kind field) in the file.
    pub offset: u64,
}

/// A fully verified checkpoint, sections in file order (end section excluded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub header: Header,
    pub sections: Vec<Section>,
}

impl Checkpoint {
    /// The first section of `kind`.
    pub fn section(&self, kind: SectionKind) -> Option<&Section> {
        self.sections.iter().find(|s| s.kind == kind)
    }

    /// Every section of `kind`, in file order.
    pub fn sections_of(&self, kind: SectionKind) -> impl Iterator<Item = &Section> + '_ {
        self.sections.iter().filter(move |s| s.kind == kind)
    }
}

/// A fully verified checkpoint whose payloads borrow from the file bytes;
/// avoids copying large memory payloads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointRef<'a> {
    pub header: Header,
    pub sections: Vec<SectionRef<'a>>,
    /// Total length of the file (offset just past the end section).
    pub file_len: u64,
}

impl CheckpointRef<'_> {
    /// Copy the payloads into an owned [`Checkpoint`].
    pub fn to_owned_checkpoint(&self) -> Checkpoint {
        Checkpoint {
            header: self.header.clone(),
            sections: self
                .sections
                .iter()
                .map(|s| Section { kind: s.kind, flags: s.flags, payload: s.payload.to_vec() })
                .collect(),
        }
    }

    /// The first section of `kind`.
    pub fn section(&self, kind: SectionKind) -> Option<&SectionRef<'_>> {
        self.sections.iter().find(|s| s.kind == kind)
    }

    /// Every section of `kind`, in file order.
    pub fn sections_of(&self, kind: SectionKind) -> impl Iterator<Item = &SectionRef<'_>> + '_ {
        self.sections.iter().filter(move |s| s.kind == kind)
    }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Where in the file a problem was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    Header,
    /// Section number (0-based, file order) and its kind as read.
    Section(u32, SectionKind),
    /// The end section (its position is the number of sections before it).
    End,
    /// Section number whose kind could not be read (fewer than 4 bytes left).
    SectionStart(u32),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Header => f.write_str("header"),
            Place::Section(i, k) => write!(f, "section {i} ({k})"),
            Place::End => f.write_str("end section"),
            Place::SectionStart(i) => write!(f, "section {i}"),
        }
    }
}

/// Why a checkpoint (or a payload inside it) was rejected. `Display` gives a
/// one-line human-readable reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormatError {
    /// The file is empty.
    Empty,
    /// The first 8 bytes are not [`MAGIC`].
    BadMagic,
    /// A version other than [`FORMAT_VERSION`].
    UnsupportedVersion { found: u32 },
    /// The file ends inside `place`; `at` is the file length, `needed` the
    /// length the structure requires.
    Truncated { place: Place, at: u64, needed: u64 },
    /// The header's CRC does not match its contents.
    HeaderCrc { stored: u32, computed: u32 },
    /// A section's (or the end section's) CRC trailer does not match.
    SectionCrc { place: Place, offset: u64, stored: u32, computed: u32 },
    /// The file ends exactly after a complete section: no end section.
    MissingEnd { sections: u32, at: u64 },
    /// The end section disagrees with the sections actually present.
    EndMismatch { reason: String },
    /// Bytes after the end section.
    TrailingData { at: u64, count: u64 },
    /// A field holds a value this version does not allow.
    Invalid { place: Place, reason: String },
    /// A memory section payload is malformed.
    Memory { reason: String },
    /// A pages section (an incremental generation's memory manifest) is malformed.
    Pages { reason: String },
    /// A structured payload failed to decode.
    Payload { what: String, reason: String },
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::Empty => f.write_str("empty file (not a chiwawa checkpoint)"),
            FormatError::BadMagic => f.write_str("not a chiwawa checkpoint (bad magic)"),
            FormatError::UnsupportedVersion { found } => write!(
                f,
                "unsupported format version {found} (this chiwawa reads versions {OLDEST_READABLE_VERSION} to {FORMAT_VERSION})"
            ),
            FormatError::Truncated { place, at, needed } => write!(
                f,
                "truncated in {place} at byte {at} (needs {needed} bytes; file truncated or a length field is corrupt)"
            ),
            FormatError::HeaderCrc { stored, computed } => write!(
                f,
                "CRC mismatch in header: stored {stored:#010x} computed {computed:#010x}"
            ),
            FormatError::SectionCrc {
                place,
                offset,
                stored,
                computed,
            } => write!(
                f,
                "CRC mismatch in {place} at byte {offset}: stored {stored:#010x} computed {computed:#010x}"
            ),
            FormatError::MissingEnd { sections, at } => write!(
                f,
                "missing end section (file truncated?) after {sections} complete sections at byte {at}"
            ),
            FormatError::EndMismatch { reason } => write!(f, "end section mismatch: {reason}"),
            FormatError::TrailingData { at, count } => {
                write!(f, "{count} unexpected bytes after the end section at byte {at}")
            }
            FormatError::Invalid { place, reason } => write!(f, "invalid {place}: {reason}"),
            FormatError::Memory { reason } => write!(f, "invalid memory section: {reason}"),
            FormatError::Pages { reason } => write!(f, "invalid pages section: {reason}"),
            FormatError::Payload { what, reason } => {
                write!(f, "cannot decode {what} payload: {reason}")
            }
        }
    }
}

impl std::error::Error for FormatError {}

impl From<FormatError> for io::Error {
    fn from(e: FormatError) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

fn invalid_input(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

// ---------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------

/// Streams a checkpoint into `W`: header on [`new`](Self::new), then
/// sections, then the end section on [`finish`](Self::finish).
///
/// Payloads are never buffered by the writer: the CRC is a trailer, so
/// [`memory_section`](Self::memory_section) and
/// [`section_with`](Self::section_with) stream straight into `W`. Wrap a file
/// in a `BufWriter` (large writes bypass its buffer).
///
/// After any I/O error the writer is poisoned and every further call fails;
/// discard the output.
pub struct CheckpointWriter<W: Write> {
    w: W,
    offset: u64,
    count: u32,
    /// Running CRC over the header CRC and every section CRC (4 LE bytes each).
    chain: crc32fast::Hasher,
    poisoned: bool,
}

impl<W: Write> fmt::Debug for CheckpointWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointWriter")
            .field("offset", &self.offset)
            .field("sections", &self.count)
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

/// Writes through to `W` while feeding a CRC and counting bytes.
struct CrcWriter<'a, W: Write> {
    w: &'a mut W,
    crc: crc32fast::Hasher,
    written: u64,
}

impl<W: Write> Write for CrcWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.w.write(buf)?;
        self.crc.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.w.write_all(buf)?;
        self.crc.update(buf);
        self.written += buf.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

impl<W: Write> CheckpointWriter<W> {
    /// Write the header. Fails with `InvalidInput` if the header cannot be
    /// represented (wrong version, unknown flags, producer name > 64 bytes).
    pub fn new(mut w: W, header: &Header) -> io::Result<Self> {
        let bytes = header.to_bytes()?;
        w.write_all(&bytes)?;
        let mut chain = crc32fast::Hasher::new();
        chain.update(&bytes[OFF_HEADER_CRC..]);
        Ok(CheckpointWriter { w, offset: HEADER_LEN as u64, count: 0, chain, poisoned: false })
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.offset
    }

    /// Sections written so far (end section not counted).
    pub fn sections_written(&self) -> u32 {
        self.count
    }

    /// Write a section whose payload is already in memory.
    pub fn section(&mut self, kind: SectionKind, payload: &[u8]) -> io::Result<()> {
        self.section_with(kind, payload.len() as u64, |w| w.write_all(payload))
    }

    /// Write a section of exactly `len` payload bytes produced by `fill`
    /// (e.g. [`codec::encode_into`] after [`codec::encoded_len`]). Fails
    /// with `InvalidData` if `fill` writes a different number of bytes.
    pub fn section_with(
        &mut self,
        kind: SectionKind,
        len: u64,
        fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<()> {
        let code = kind.code();
        if code == END_KIND {
            return Err(invalid_input("section kind 0 is reserved for the end section".into()));
        }
        self.raw_section(code, len, fill)
    }

    /// Write one linear memory in the sparse page encoding, streaming pages
    /// straight from `mem` (no copy). `mem.len()` must be a multiple of 64 KiB.
    pub fn memory_section(&mut self, index: u32, mem: &[u8], max_pages: Option<u64>) -> io::Result<()> {
        if !mem.len().is_multiple_of(PAGE_SIZE) {
            return Err(invalid_input(format!(
                "memory {index} is {} bytes, not a multiple of the 64 KiB page size",
                mem.len()
            )));
        }
        let size_pages = (mem.len() / PAGE_SIZE) as u64;
        if max_pages == Some(u64::MAX) {
            return Err(invalid_input(format!(
                "memory {index}: max of u64::MAX pages is reserved for 'no maximum'"
            )));
        }
        if let Some(max) = max_pages {
            if size_pages > max {
                return Err(invalid_input(format!(
                    "memory {index}: size {size_pages} pages exceeds its maximum {max}"
                )));
            }
        }
        // Pass 1: which pages are non-zero (so the length is known up front).
        let nonzero: Vec<u32> = mem
            .chunks_exact(PAGE_SIZE)
            .enumerate()
            .filter(|(_, page)| !is_zero(page))
            .map(|(i, _)| i as u32)
            .collect();
        let len = MEMORY_PREFIX_LEN as u64 + nonzero.len() as u64 * MEMORY_PAGE_ENTRY_LEN as u64;
        // Pass 2: stream.
        self.raw_section(SectionKind::Memory.code(), len, |w| {
            let mut prefix = [0u8; MEMORY_PREFIX_LEN];
            prefix[0..4].copy_from_slice(&index.to_le_bytes());
            prefix[4..12].copy_from_slice(&size_pages.to_le_bytes());
            prefix[12..20].copy_from_slice(&max_pages.unwrap_or(u64::MAX).to_le_bytes());
            prefix[20..28].copy_from_slice(&(nonzero.len() as u64).to_le_bytes());
            w.write_all(&prefix)?;
            for &page in &nonzero {
                let start = page as usize * PAGE_SIZE;
                w.write_all(&u64::from(page).to_le_bytes())?;
                w.write_all(&mem[start..start + PAGE_SIZE])?;
            }
            Ok(())
        })
    }

    /// Write the end section and flush; returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        let chain = self.chain.clone().finalize();
        let mut payload = [0u8; END_PAYLOAD_LEN as usize];
        payload[..4].copy_from_slice(&self.count.to_le_bytes());
        payload[4..].copy_from_slice(&chain.to_le_bytes());
        self.raw_section(END_KIND, END_PAYLOAD_LEN, |w| w.write_all(&payload))?;
        self.w.flush()?;
        Ok(self.w)
    }

    fn raw_section(
        &mut self,
        code: u32,
        len: u64,
        fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<()> {
        if self.poisoned {
            return Err(io::Error::other("checkpoint writer is unusable after an earlier error"));
        }
        if code != END_KIND && self.count == u32::MAX {
            return Err(invalid_input("too many sections".into()));
        }
        self.poisoned = true;
        let mut head = [0u8; SECTION_HEADER_LEN];
        head[0..4].copy_from_slice(&code.to_le_bytes());
        head[4..8].copy_from_slice(&0u32.to_le_bytes());
        head[8..16].copy_from_slice(&len.to_le_bytes());
        let mut cw = CrcWriter { w: &mut self.w, crc: crc32fast::Hasher::new(), written: 0 };
        cw.write_all(&head)?;
        fill(&mut cw)?;
        let payload_written = cw.written - SECTION_HEADER_LEN as u64;
        if payload_written != len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "section kind {code}: declared {len} payload bytes but {payload_written} were written"
                ),
            ));
        }
        let crc = cw.crc.finalize();
        self.w.write_all(&crc.to_le_bytes())?;
        self.poisoned = false;
        self.offset += SECTION_HEADER_LEN as u64 + len + SECTION_TRAILER_LEN as u64;
        self.chain.update(&crc.to_le_bytes());
        if code != END_KIND {
            self.count += 1;
        }
        Ok(())
    }
}

/// Whether `page` is all zero bytes. Word-wise OR over 256-byte blocks,
/// which the compiler vectorises, with an early exit per block.
pub(crate) fn is_zero(page: &[u8]) -> bool {
    let mut blocks = page.chunks_exact(256);
    for block in &mut blocks {
        let acc = block
            .chunks_exact(8)
            .fold(0u64, |acc, w| acc | u64::from_ne_bytes(w.try_into().unwrap_or([1; 8])));
        if acc != 0 {
            return false;
        }
    }
    blocks.remainder().iter().all(|&b| b == 0)
}

// ---------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------

pub(crate) fn le_u32(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_le_bytes(a)
}

pub(crate) fn le_u64(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(a)
}

/// Parse and verify only the header (magic, version, CRC, flags, producer).
/// Needs just the first [`HEADER_LEN`] bytes; cheap enough for listings.
pub fn read_header(bytes: &[u8]) -> Result<Header, FormatError> {
    if bytes.is_empty() {
        return Err(FormatError::Empty);
    }
    let m = bytes.len().min(MAGIC.len());
    if bytes[..m] != MAGIC[..m] {
        return Err(FormatError::BadMagic);
    }
    if bytes.len() >= OFF_VERSION + 4 {
        let version = le_u32(bytes, OFF_VERSION);
        if !(OLDEST_READABLE_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err(FormatError::UnsupportedVersion { found: version });
        }
    }
    if bytes.len() < HEADER_LEN {
        return Err(FormatError::Truncated {
            place: Place::Header,
            at: bytes.len() as u64,
            needed: HEADER_LEN as u64,
        });
    }
    let b = &bytes[..HEADER_LEN];
    let stored = le_u32(b, OFF_HEADER_CRC);
    let computed = crc32fast::hash(&b[..OFF_HEADER_CRC]);
    if stored != computed {
        return Err(FormatError::HeaderCrc { stored, computed });
    }
    let invalid = |reason: String| FormatError::Invalid { place: Place::Header, reason };
    let flags = le_u32(b, OFF_FLAGS);
    if flags & !KNOWN_HEADER_FLAGS != 0 {
        return Err(invalid(format!(
            "unknown flags {:#x} (written by a newer chiwawa?)",
            flags & !KNOWN_HEADER_FLAGS
        )));
    }
    if b[OFF_RESERVED] != 0 || b[OFF_RESERVED + 1] != 0 {
        return Err(invalid("reserved bytes 82..84 are not zero".into()));
    }
    let name_len = b[OFF_PRODUCER_LEN] as usize;
    if name_len > PRODUCER_NAME_MAX {
        return Err(invalid(format!("producer name length {name_len} exceeds {PRODUCER_NAME_MAX}")));
    }
    let name_field = &b[OFF_PRODUCER_NAME..OFF_PRODUCER_NAME + PRODUCER_NAME_MAX];
    if name_field[name_len..].iter().any(|&c| c != 0) {
        return Err(invalid("producer name padding is not zero".into()));
    }
    let name = std::str::from_utf8(&name_field[..name_len])
        .map_err(|e| invalid(format!("producer name is not UTF-8: {e}")))?
        .to_string();
    let mut module_hash = [0u8; 32];
    module_hash.copy_from_slice(&b[OFF_HASH..OFF_HASH + 32]);
    Ok(Header {
        format_version: le_u32(b, OFF_VERSION),
        flags,
        module_hash,
        module_len: le_u64(b, OFF_MODULE_LEN),
        generation: le_u64(b, OFF_GENERATION),
        created_unix_nanos: le_u64(b, OFF_CREATED),
        instructions: le_u64(b, OFF_INSTRUCTIONS),
        producer: Producer { kind: ProducerKind::from_code(b[OFF_PRODUCER_KIND]), name },
    })
}

/// Parse and fully verify a checkpoint (magic, version, header CRC, every
/// section CRC, end section, nothing after it), borrowing payloads from
/// `bytes`. Never panics, whatever the input.
pub fn parse_checkpoint(bytes: &[u8]) -> Result<CheckpointRef<'_>, FormatError> {
    let header = read_header(bytes)?;
    let mut chain = crc32fast::Hasher::new();
    chain.update(&bytes[OFF_HEADER_CRC..HEADER_LEN]);
    let mut sections = Vec::new();
    let mut pos = HEADER_LEN;
    let total = bytes.len();
    loop {
        let index = u32::try_from(sections.len()).unwrap_or(u32::MAX);
        let rest = total - pos;
        if rest == 0 {
            return Err(FormatError::MissingEnd { sections: index, at: pos as u64 });
        }
        if rest < SECTION_HEADER_LEN {
            let place = if rest < 4 {
                Place::SectionStart(index)
            } else if le_u32(bytes, pos) == END_KIND {
                Place::End
            } else {
                Place::Section(index, SectionKind::from_code(le_u32(bytes, pos)))
            };
            return Err(FormatError::Truncated {
                place,
                at: total as u64,
                needed: (pos + SECTION_HEADER_LEN) as u64,
            });
        }
        let code = le_u32(bytes, pos);
        let flags = le_u32(bytes, pos + 4);
        let len = le_u64(bytes, pos + 8);
        let kind = SectionKind::from_code(code);
        let place = if code == END_KIND { Place::End } else { Place::Section(index, kind) };
        let payload_start = pos + SECTION_HEADER_LEN;
        let avail = (total - payload_start) as u64;
        let needed_after_header = len.checked_add(SECTION_TRAILER_LEN as u64);
        match needed_after_header {
            Some(n) if n <= avail => {}
            _ => {
                return Err(FormatError::Truncated {
                    place,
                    at: total as u64,
                    needed: (payload_start as u64)
                        .saturating_add(len)
                        .saturating_add(SECTION_TRAILER_LEN as u64),
                })
            }
        }
        // `len <= avail` was checked above, so it fits in usize.
        let len = len as usize;
        let payload_end = payload_start + len;
        let stored = le_u32(bytes, payload_end);
        let computed = crc32fast::hash(&bytes[pos..payload_end]);
        if stored != computed {
            return Err(FormatError::SectionCrc { place, offset: pos as u64, stored, computed });
        }
        let payload = &bytes[payload_start..payload_end];
        let next = payload_end + SECTION_TRAILER_LEN;
        if flags != 0 {
            return Err(FormatError::Invalid {
                place,
                reason: format!("reserved section flags {flags:#x} are set"),
            });
        }
        if code == END_KIND {
            if payload.len() as u64 != END_PAYLOAD_LEN {
                return Err(FormatError::EndMismatch {
                    reason: format!("payload is {} bytes, expected {END_PAYLOAD_LEN}", payload.len()),
                });
            }
            let count = le_u32(payload, 0);
            let chain_stored = le_u32(payload, 4);
            if count != index {
                return Err(FormatError::EndMismatch {
                    reason: format!("it records {count} sections but {index} precede it"),
                });
            }
            let chain_computed = chain.finalize();
            if chain_stored != chain_computed {
                return Err(FormatError::EndMismatch {
                    reason: format!(
                        "section CRC chain stored {chain_stored:#010x} computed {chain_computed:#010x} (sections reordered or replaced?)"
                    ),
                });
            }
            if next != total {
                return Err(FormatError::TrailingData { at: next as u64, count: (total - next) as u64 });
            }
            return Ok(CheckpointRef { header, sections, file_len: total as u64 });
        }
        if index == u32::MAX {
            return Err(FormatError::Invalid { place, reason: "too many sections".into() });
        }
        chain.update(&stored.to_le_bytes());
        sections.push(SectionRef { kind, flags, payload, offset: pos as u64 });
        pos = next;
    }
}

/// [`parse_checkpoint`], then copy the payloads into an owned [`Checkpoint`].
pub fn read_checkpoint(bytes: &[u8]) -> Result<Checkpoint, FormatError> {
    parse_checkpoint(bytes).map(|c| c.to_owned_checkpoint())
}

// ---------------------------------------------------------------------------
// Memory sections
// ---------------------------------------------------------------------------

/// Decoded fixed prefix of a memory section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryInfo {
    pub index: u32,
    /// Current size in 64 KiB pages.
    pub size_pages: u64,
    /// Maximum in pages; `None` when the memory has no maximum.
    pub max_pages: Option<u64>,
    /// Number of stored (non-zero) pages.
    pub stored_pages: u64,
}

/// The 28-byte prefix that Memory and Pages sections share (index, size, max, entry count),
/// validated: the size within [`MAX_MEMORY_PAGES`] and the maximum, no more entries than pages,
/// and the payload exactly `28 + count × entry_len` bytes (computed without overflow).
pub(crate) fn memory_prefix(
    payload: &[u8],
    entry_len: usize,
    err: &dyn Fn(String) -> FormatError,
) -> Result<MemoryInfo, FormatError> {
    if payload.len() < MEMORY_PREFIX_LEN {
        return Err(err(format!(
            "payload is {} bytes, shorter than the {MEMORY_PREFIX_LEN}-byte prefix",
            payload.len()
        )));
    }
    let index = le_u32(payload, 0);
    let size_pages = le_u64(payload, 4);
    let max_raw = le_u64(payload, 12);
    let stored_pages = le_u64(payload, 20);
    let max_pages = (max_raw != u64::MAX).then_some(max_raw);
    if size_pages > MAX_MEMORY_PAGES {
        return Err(err(format!(
            "memory {index} claims {size_pages} pages, more than the {MAX_MEMORY_PAGES}-page limit"
        )));
    }
    if let Some(max) = max_pages.filter(|m| size_pages > *m) {
        return Err(err(format!("memory {index}: size {size_pages} pages exceeds its maximum {max}")));
    }
    if stored_pages > size_pages {
        return Err(err(format!(
            "memory {index}: {stored_pages} stored pages but only {size_pages} pages in size"
        )));
    }
    let expected =
        (entry_len as u64).checked_mul(stored_pages).and_then(|n| n.checked_add(MEMORY_PREFIX_LEN as u64));
    if expected != Some(payload.len() as u64) {
        return Err(err(format!(
            "memory {index}: payload is {} bytes but {stored_pages} stored pages need {}",
            payload.len(),
            expected.map_or_else(|| "more than 2^64".to_string(), |n| n.to_string())
        )));
    }
    Ok(MemoryInfo { index, size_pages, max_pages, stored_pages })
}

/// Validate a memory section payload without materialising the memory:
/// sizes sane, length exact, page indices strictly ascending and in range.
/// Returns the prefix and an iterator over `(page index, page bytes)`.
pub fn memory_pages(
    payload: &[u8],
) -> Result<(MemoryInfo, impl Iterator<Item = (u64, &[u8])> + '_), FormatError> {
    let err = |reason: String| FormatError::Memory { reason };
    let info = memory_prefix(payload, MEMORY_PAGE_ENTRY_LEN, &err)?;
    let (index, size_pages) = (info.index, info.size_pages);
    let entries = &payload[MEMORY_PREFIX_LEN..];
    let mut prev: Option<u64> = None;
    for entry in entries.chunks_exact(MEMORY_PAGE_ENTRY_LEN) {
        let page = le_u64(entry, 0);
        if page >= size_pages {
            return Err(err(format!(
                "memory {index}: page index {page} is beyond the size of {size_pages} pages"
            )));
        }
        if prev.is_some_and(|p| page <= p) {
            return Err(err(format!(
                "memory {index}: page indices not strictly ascending ({} then {page})",
                prev.unwrap_or(0)
            )));
        }
        prev = Some(page);
    }
    let iter = entries.chunks_exact(MEMORY_PAGE_ENTRY_LEN).map(|e| (le_u64(e, 0), &e[8..]));
    Ok((info, iter))
}

/// Decode a memory section payload into `(index, contents, max pages)`;
/// `contents.len()` is `size_pages * 65536`, pages not stored are zero.
/// The zeroed buffer comes from the allocator's zeroed path (lazy pages on
/// most hosts), and an allocation failure is an error, not an abort.
pub fn decode_memory(payload: &[u8]) -> Result<(u32, Bytes, Option<u64>), FormatError> {
    let (info, pages) = memory_pages(payload)?;
    let bytes = usize::try_from(info.size_pages)
        .ok()
        .and_then(|p| p.checked_mul(PAGE_SIZE))
        .filter(|&n| n <= isize::MAX as usize)
        .ok_or_else(|| FormatError::Memory {
            reason: format!(
                "memory {} of {} pages does not fit in this host's address space",
                info.index, info.size_pages
            ),
        })?;
    let mut mem = try_zeroed_vec(bytes).ok_or_else(|| FormatError::Memory {
        reason: format!(
            "cannot allocate {bytes} bytes for memory {} ({} pages)",
            info.index, info.size_pages
        ),
    })?;
    for (page, data) in pages {
        // Validated: page < size_pages, so the range is in bounds.
        let start = page as usize * PAGE_SIZE;
        mem[start..start + PAGE_SIZE].copy_from_slice(data);
    }
    Ok((info.index, mem, info.max_pages))
}

/// `len` zero bytes, or `None` if the host refuses them. Untouched pages stay unmapped on
/// most hosts (see [`Bytes`]).
pub(crate) fn try_zeroed_vec(len: usize) -> Option<Bytes> {
    Bytes::zeroed(len)
}

// ---------------------------------------------------------------------------
// Meta sections
// ---------------------------------------------------------------------------

/// Encode key/value pairs for a [`SectionKind::Meta`] section
/// (bincode `Vec<(String, String)>`: u64 count, then per pair u64 length +
/// UTF-8 key, u64 length + UTF-8 value).
pub fn encode_meta<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Vec<u8> {
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
    // Encoding strings into a Vec cannot fail.
    codec::encode(&pairs).unwrap_or_default()
}

/// Decode a [`SectionKind::Meta`] payload.
pub fn decode_meta(payload: &[u8]) -> Result<Vec<(String, String)>, FormatError> {
    codec::decode(payload).map_err(|e| FormatError::Payload { what: "Meta".into(), reason: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            format_version: FORMAT_VERSION,
            flags: 0,
            module_hash: super::super::hash::sha256(b"\0asm\x01\0\0\0"),
            module_len: 8,
            generation: 7,
            created_unix_nanos: 1_700_000_000_123_456_789,
            instructions: 123_456,
            producer: Producer { kind: ProducerKind::Native, name: "chiwawa test".into() },
        }
    }

    fn memory() -> Vec<u8> {
        let mut mem = vec![0u8; 5 * PAGE_SIZE];
        mem[PAGE_SIZE + 17] = 0xAA; // page 1
        mem[4 * PAGE_SIZE - 1] = 0x55; // page 3 (last byte)
        mem
    }

    fn sample() -> Vec<u8> {
        let mut w = CheckpointWriter::new(Vec::new(), &header()).unwrap();
        w.section(SectionKind::Machine, b"machine-state").unwrap();
        w.section(SectionKind::Store, &[]).unwrap();
        w.memory_section(0, &memory(), Some(10)).unwrap();
        w.section(SectionKind::Wasi, b"wasi").unwrap();
        w.section(SectionKind::Meta, &encode_meta(&[("k", "v")])).unwrap();
        w.section(SectionKind::Other(0x1234), b"future").unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn header_layout() {
        let b = header().to_bytes().unwrap();
        assert_eq!(b.len(), HEADER_LEN);
        assert_eq!(&b[..8], b"\x89CHW\r\n\x1a\n");
        assert_eq!(&b[8..12], &[2, 0, 0, 0]);
        assert_eq!(&b[12..16], &[0, 0, 0, 0]);
        assert_eq!(&b[48..56], &8u64.to_le_bytes());
        assert_eq!(&b[56..64], &7u64.to_le_bytes());
        assert_eq!(b[80], 1);
        assert_eq!(b[81], 12);
        assert_eq!(&b[84..96], b"chiwawa test");
        assert!(b[96..148].iter().all(|&c| c == 0));
        assert_eq!(u32::from_le_bytes(b[148..152].try_into().unwrap()), crc32fast::hash(&b[..148]));
        assert_eq!(read_header(&b).unwrap(), header());
    }

    #[test]
    fn round_trip() {
        let bytes = sample();
        let c = read_checkpoint(&bytes).unwrap();
        assert_eq!(c.header, header());
        let kinds: Vec<_> = c.sections.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                SectionKind::Machine,
                SectionKind::Store,
                SectionKind::Memory,
                SectionKind::Wasi,
                SectionKind::Meta,
                SectionKind::Other(0x1234)
            ]
        );
        assert_eq!(c.section(SectionKind::Machine).unwrap().payload, b"machine-state");
        let mem = c.section(SectionKind::Memory).unwrap();
        // 2 non-zero pages out of 5.
        assert_eq!(mem.payload.len(), MEMORY_PREFIX_LEN + 2 * MEMORY_PAGE_ENTRY_LEN);
        let (index, contents, max) = decode_memory(&mem.payload).unwrap();
        assert_eq!((index, max), (0, Some(10)));
        assert_eq!(contents[..], memory()[..]);
        let meta = decode_meta(&c.section(SectionKind::Meta).unwrap().payload).unwrap();
        assert_eq!(meta, vec![("k".to_string(), "v".to_string())]);
        assert_eq!(parse_checkpoint(&bytes).unwrap().file_len, bytes.len() as u64);
    }

    #[test]
    fn golden_bytes_are_stable() {
        // A minimal file: header + one section + end. Pinned so that any
        // layout change (or a host-dependent difference, e.g. on wasm32) fails.
        let mut h = header();
        h.created_unix_nanos = 0;
        let mut w = CheckpointWriter::new(Vec::new(), &h).unwrap();
        w.section(SectionKind::Machine, b"hi").unwrap();
        let bytes = w.finish().unwrap();
        assert_eq!(bytes.len(), HEADER_LEN + (16 + 2 + 4) + (16 + 8 + 4));
        let sec = &bytes[HEADER_LEN..HEADER_LEN + 22];
        assert_eq!(&sec[..16], &[1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&sec[16..18], b"hi");
        let end = &bytes[HEADER_LEN + 22..];
        assert_eq!(&end[..16], &[0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&end[16..20], &[1, 0, 0, 0]);
        let header_crc = &bytes[148..152];
        let sec_crc = &sec[18..22];
        let chain = crc32fast::hash(&[header_crc, sec_crc].concat());
        assert_eq!(&end[20..24], &chain.to_le_bytes());
        assert_eq!(super::super::hash::to_hex(&super::super::hash::sha256(&bytes)), GOLDEN_SHA256);
    }

    /// SHA-256 of the golden file; independently reproduced from the
    /// docs/FORMAT.md tables with Python's `struct` + `zlib.crc32`.
    const GOLDEN_SHA256: &str = "8b1553f196975ec36fcdf2cc73c0db63b16d35009eae4adc89260d051919595f";

    #[test]
    fn memory_section_edge_cases() {
        for (mem, max) in
            [(Vec::new(), None), (vec![0u8; 3 * PAGE_SIZE], None), (vec![1u8; 2 * PAGE_SIZE], Some(2))]
        {
            let mut w = CheckpointWriter::new(Vec::new(), &header()).unwrap();
            w.memory_section(9, &mem, max).unwrap();
            let bytes = w.finish().unwrap();
            let c = read_checkpoint(&bytes).unwrap();
            let (i, back, m) = decode_memory(&c.sections[0].payload).unwrap();
            assert_eq!((i, m), (9, max));
            assert_eq!(back[..], mem[..]);
        }
        let mut w = CheckpointWriter::new(Vec::new(), &header()).unwrap();
        assert!(w.memory_section(0, &[0u8; 100], None).is_err());
        assert!(w.memory_section(0, &[], Some(u64::MAX)).is_err());
        assert!(w.memory_section(0, &vec![0u8; 2 * PAGE_SIZE], Some(1)).is_err());
    }

    fn memory_payload(size: u64, max: u64, pages: &[u64]) -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(&0u32.to_le_bytes());
        p.extend_from_slice(&size.to_le_bytes());
        p.extend_from_slice(&max.to_le_bytes());
        p.extend_from_slice(&(pages.len() as u64).to_le_bytes());
        for &i in pages {
            p.extend_from_slice(&i.to_le_bytes());
            p.extend_from_slice(&[7u8; PAGE_SIZE]);
        }
        p
    }

    #[test]
    fn decode_memory_validation() {
        assert!(decode_memory(&memory_payload(3, u64::MAX, &[0, 2])).is_ok());
        let cases: &[(Vec<u8>, &str)] = &[
            (memory_payload(3, u64::MAX, &[2, 0]), "ascending"),
            (memory_payload(3, u64::MAX, &[1, 1]), "ascending"),
            (memory_payload(3, u64::MAX, &[3]), "beyond"),
            (memory_payload(3, 2, &[]), "exceeds its maximum"),
            (memory_payload(1 << 49, u64::MAX, &[]), "limit"),
            // Within a 64-bit memory's limit, beyond what any host maps (2^56 bytes).
            (memory_payload(1 << 40, u64::MAX, &[]), "cannot allocate"),
            (memory_payload(1, u64::MAX, &[0, 1]), "stored pages"),
            (vec![0; 10], "prefix"),
        ];
        for (payload, want) in cases {
            let e = decode_memory(payload).unwrap_err().to_string();
            assert!(e.contains(want), "{e} should mention {want}");
        }
        let mut p = memory_payload(2, u64::MAX, &[0]);
        p.pop();
        assert!(decode_memory(&p).unwrap_err().to_string().contains("need"));
        // Count claiming more pages than could ever fit.
        let mut p = memory_payload(2, u64::MAX, &[]);
        p[20..28].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode_memory(&p).is_err());
    }

    #[test]
    fn error_messages() {
        let bytes = sample();
        let msg = |b: &[u8]| read_checkpoint(b).unwrap_err().to_string();
        assert_eq!(msg(&[]), "empty file (not a chiwawa checkpoint)");
        assert_eq!(msg(b"\x7fELF...."), "not a chiwawa checkpoint (bad magic)");
        let mut v7 = bytes.clone();
        v7[8] = 7;
        assert_eq!(msg(&v7), "unsupported format version 7 (this chiwawa reads versions 1 to 2)");
        assert!(msg(&bytes[..100]).starts_with("truncated in header at byte 100"));
        let mut bad = bytes.clone();
        bad[60] ^= 1;
        assert!(msg(&bad).starts_with("CRC mismatch in header: stored 0x"));
        // Locate the memory section (index 2) and cut inside it.
        let c = parse_checkpoint(&bytes).unwrap();
        let mem_off = c.sections[2].offset as usize;
        let cut = mem_off + 1000;
        let m = msg(&bytes[..cut]);
        assert!(m.starts_with(&format!("truncated in section 2 (Memory) at byte {cut}")), "{m}");
        let mut bad = bytes.clone();
        bad[mem_off + 100] ^= 0x10;
        let m = msg(&bad);
        assert!(m.starts_with("CRC mismatch in section 2 (Memory)"), "{m}");
        // Truncated exactly at a section boundary: the end section is missing.
        let end_off = bytes.len() - 28;
        let m = msg(&bytes[..end_off]);
        assert!(m.starts_with("missing end section (file truncated?)"), "{m}");
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(msg(&extra).contains("unexpected bytes after the end section"));
    }

    /// Splicing: drop a whole section (with its valid CRC) and fix up
    /// nothing else; the end section's count/chain must catch it.
    #[test]
    fn removed_or_swapped_sections_are_detected() {
        let bytes = sample();
        let c = parse_checkpoint(&bytes).unwrap();
        let s1 = c.sections[1].offset as usize;
        let s2 = c.sections[2].offset as usize;
        let s3 = c.sections[3].offset as usize;
        let mut removed = bytes[..s1].to_vec();
        removed.extend_from_slice(&bytes[s2..]);
        assert!(read_checkpoint(&removed).unwrap_err().to_string().contains("end section mismatch"));
        // Swap sections 1 and 2: same count, different chain.
        let mut swapped = bytes[..s1].to_vec();
        swapped.extend_from_slice(&bytes[s2..s3]);
        swapped.extend_from_slice(&bytes[s1..s2]);
        swapped.extend_from_slice(&bytes[s3..]);
        assert_eq!(swapped.len(), bytes.len());
        let m = read_checkpoint(&swapped).unwrap_err().to_string();
        assert!(m.contains("CRC chain"), "{m}");
    }

    #[test]
    fn writer_rejects_bad_input() {
        let mut h = header();
        h.flags = 2;
        assert!(CheckpointWriter::new(Vec::new(), &h).is_err());
        let mut h = header();
        h.format_version = FORMAT_VERSION + 1;
        assert!(CheckpointWriter::new(Vec::new(), &h).is_err());
        h.format_version = 0;
        assert!(CheckpointWriter::new(Vec::new(), &h).is_err());
        let mut h = header();
        h.producer.name = "x".repeat(65);
        assert!(CheckpointWriter::new(Vec::new(), &h).is_err());
        let mut w = CheckpointWriter::new(Vec::new(), &header()).unwrap();
        assert!(w.section(SectionKind::Other(0), b"").is_err());
        // Wrong streamed length poisons the writer.
        assert!(w.section_with(SectionKind::Store, 10, |w| w.write_all(b"short")).is_err());
        assert!(w.section(SectionKind::Store, b"").is_err());
    }

    #[test]
    fn section_with_streams_codec_output() {
        let value: Vec<(u32, String)> = (0..100).map(|i| (i, format!("v{i}"))).collect();
        let mut w = CheckpointWriter::new(Vec::new(), &header()).unwrap();
        let len = codec::encoded_len(&value).unwrap();
        w.section_with(SectionKind::Store, len, |out| {
            codec::encode_into(out, &value).map_err(io::Error::from)
        })
        .unwrap();
        let bytes = w.finish().unwrap();
        let c = read_checkpoint(&bytes).unwrap();
        let back: Vec<(u32, String)> = codec::decode(&c.sections[0].payload).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn postmortem_flag_and_producer() {
        let mut h = header();
        h.flags = FLAG_POSTMORTEM;
        h.producer = Producer::current();
        h.producer.kind = ProducerKind::Unknown(77);
        let bytes = CheckpointWriter::new(Vec::new(), &h).unwrap().finish().unwrap();
        let back = read_checkpoint(&bytes).unwrap();
        assert!(back.header.is_postmortem());
        assert_eq!(back.header.producer.kind, ProducerKind::Unknown(77));
        assert!(back.header.producer.name.starts_with("chiwawa "));
        assert!(back.sections.is_empty());
        let h = Header::new(b"module", 1, 0);
        assert_eq!(h.module_len, 6);
        assert!(h.created_unix_nanos > 0);
    }

    #[test]
    fn unknown_flags_in_a_valid_crc_header_are_rejected() {
        let mut b = header().to_bytes().unwrap();
        b[12] = 0x80;
        let crc = crc32fast::hash(&b[..148]);
        b[148..].copy_from_slice(&crc.to_le_bytes());
        assert!(read_header(&b).unwrap_err().to_string().contains("unknown flags"));
    }

    use crate::test_util::Rng;

    #[test]
    fn every_truncation_is_rejected_without_panic() {
        let bytes = sample();
        // Every cut in the small parts, sampled cuts through the big memory.
        let mut cuts: Vec<usize> = (0..600.min(bytes.len())).collect();
        cuts.extend((bytes.len().saturating_sub(600))..bytes.len());
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        cuts.extend((0..300).map(|_| rng.below(bytes.len())));
        for cut in cuts {
            assert!(read_checkpoint(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn random_corruption_never_panics_and_is_detected() {
        let bytes = sample();
        let mut rng = Rng(42);
        for round in 0..2000 {
            let mut b = bytes.clone();
            let flips = 1 + rng.below(3);
            for _ in 0..flips {
                let i = if round % 2 == 0 {
                    // Bias towards the structural bytes (header, section
                    // headers, end) where parsing decisions are made.
                    let structural = rng.below(400);
                    if structural < 200 {
                        structural
                    } else {
                        b.len() - 1 - (structural - 200)
                    }
                } else {
                    rng.below(b.len())
                };
                b[i] ^= 1 << rng.below(8);
            }
            // Also try random garbage lengths/truncations of corrupted files.
            let cut = if round % 5 == 0 { rng.below(b.len()) } else { b.len() };
            let r = read_checkpoint(&b[..cut]);
            if b[..cut] != bytes[..] {
                assert!(r.is_err(), "round {round}: corruption not detected");
            }
            if let Ok(c) = parse_checkpoint(&b) {
                for s in c.sections {
                    if s.kind == SectionKind::Memory {
                        let _ = decode_memory(s.payload);
                    }
                }
            }
        }
        // Pure garbage.
        for len in [1usize, 7, 8, 151, 152, 153, 400, 5000] {
            let mut g: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            assert!(read_checkpoint(&g).is_err());
            g[..len.min(8)].copy_from_slice(&MAGIC[..len.min(8)]);
            assert!(read_checkpoint(&g).is_err());
        }
    }

    #[test]
    fn is_zero_detects_any_byte() {
        let mut page = vec![0u8; PAGE_SIZE];
        assert!(is_zero(&page));
        for i in [0, 1, 255, 256, 4095, 65535] {
            page[i] = 1;
            assert!(!is_zero(&page), "byte {i}");
            page[i] = 0;
        }
    }
}
