//! Checkpoint files: the on-disk container, its codec and the generations
//! directory. Pure bytes and files; no WebAssembly knowledge lives here.
//!
//! * [`format`] — header, CRC-protected sections, sparse memory encoding,
//!   end section; the byte-level spec is `docs/FORMAT.md`.
//! * [`codec`] — the only bincode user: structured section payloads.
//! * [`hash`] — SHA-256 for the module identity.
//! * [`dir`] — `gen-XXXXXXXXXXXXXXXX.ckpt` generations with an atomic,
//!   durable commit protocol, pruning and fallback to older generations.
//! * [`pages`] — incremental generations: page packs shared between generations, manifests,
//!   the writer's change tracking and the verifying page reader.
//! * [`softdirty`] — which pages were written since the last generation, from the kernel's
//!   soft-dirty bits (Linux), so that only those are fingerprinted.

pub mod codec;
pub mod dir;
pub mod format;
pub mod hash;
pub mod pages;
pub mod softdirty;

pub use codec::CodecError;
pub use dir::{CheckpointDir, GenerationFile};
pub use format::{
    decode_memory, read_checkpoint, read_header, Checkpoint, CheckpointWriter, FormatError, Header, Producer,
    ProducerKind, Section, SectionKind,
};
