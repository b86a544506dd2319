//! Live migration: a running guest moves to another host over any byte stream, with pre-copy
//! rounds while it runs and a short stop at the end (docs/MIGRATION.md has the protocol and
//! its failure analysis).
//!
//! * [`send`]: the running `chiwawa run` side. `chiwawa migrate --checkpoint-dir DIR -- CMD...`
//!   leaves a request file in the run's checkpoint directory; at its next safe point the run
//!   starts `CMD` (the transport: `ssh host chiwawa receive ...`, a local pipe, ...), writes the
//!   stream to its stdin and reads the receiver's replies from its stdout.
//! * [`recv`]: `chiwawa receive`, which reads the stream on stdin, writes each round as a page
//!   pack into its checkpoint directory, commits the final state as a generation with the same
//!   commit protocol as every generation, and acknowledges on stdout.
//!
//! Exactly one side continues: before the final part is sent, any failure leaves the guest
//! running on the source; the source records durably that it is sending the final part
//! ([`Marker`]) before it does, and from then on never resumes on its own.

pub mod recv;
pub mod send;

use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// First bytes of a migration stream, in both directions: `\x89CHM\r\n\x1a\n` (the checkpoint
/// magic's pattern, `M` for migration), then [`VERSION`] as a little-endian u32.
pub const MAGIC: [u8; 8] = [0x89, b'C', b'H', b'M', b'\r', b'\n', 0x1a, b'\n'];
/// Protocol version.
pub const VERSION: u32 = 1;
/// Largest frame payload accepted (a `Pages` frame holds at most [`PAGES_PER_FRAME`] pages).
pub const MAX_FRAME: usize = 64 << 20;
/// Pages per `Pages` frame.
pub const PAGES_PER_FRAME: usize = 64;
/// Bytes of one page entry in a `Pages` frame: memory (u32), page (u64), fingerprint (u128).
pub const PAGE_ENTRY_LEN: usize = 28;

/// Exit status of a run whose guest migrated away: it goes on elsewhere (the supervisor and the
/// systemd unit treat it as done).
pub const EXIT_MIGRATED: i32 = 90;
/// Exit status of a run that sent the final part of a migration but got no answer: the guest
/// may be running on the destination, so it does not go on here (see the message).
pub const EXIT_MIGRATION_UNKNOWN: i32 = 91;

/// In the source's checkpoint directory: the migration request of `chiwawa migrate`.
pub const REQUEST_FILE: &str = "migrate.request";
/// In the source's checkpoint directory: the outcome, for `chiwawa migrate`.
pub const RESULT_FILE: &str = "migrate.result";
/// In the source's checkpoint directory: the guest left (or may have left) for another host.
pub const MARKER_FILE: &str = "migrated";

/// Frame kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Sender → receiver, first: [`Hello`] (JSON).
    Hello = 1,
    /// Receiver → sender: [`Ready`] (JSON), the module and preopens are acceptable.
    Ready = 2,
    /// Receiver → sender: [`Refused`] (JSON); nothing was committed.
    Refused = 3,
    /// Sender → receiver: pages of a round (binary, see [`encode_pages`]).
    Pages = 4,
    /// Sender → receiver: [`RoundEnd`] (JSON), the round's pages are all sent.
    RoundEnd = 5,
    /// Sender → receiver, last: the final state, a checkpoint file whose `Pages` manifests
    /// name rounds as packs.
    State = 6,
    /// Receiver → sender: [`Committed`] (JSON), the state is a durable generation.
    Committed = 7,
    /// Sender → receiver: [`Refused`] (JSON), the sender gives up; nothing is to be committed.
    Abort = 8,
    /// Receiver → sender: [`RoundEnd`] (JSON), the round's pack is durable. The sender starts
    /// the next round (or stops the guest) only then, so that the stop does not wait for the
    /// transport or the receiver's disk to catch up.
    RoundDone = 9,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::Hello,
            2 => Kind::Ready,
            3 => Kind::Refused,
            4 => Kind::Pages,
            5 => Kind::RoundEnd,
            6 => Kind::State,
            7 => Kind::Committed,
            8 => Kind::Abort,
            9 => Kind::RoundDone,
            _ => return None,
        })
    }
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Hello {
    pub version: u32,
    /// SHA-256 of the module, hex.
    pub module_sha256: String,
    pub module_len: u64,
    /// The guest paths of the source's preopens: the receiver must have each.
    pub preopens: Vec<String>,
    /// Instructions executed when the migration started.
    pub instructions: u64,
    /// Who sends (chiwawa version and host kind).
    pub producer: String,
    /// The size of each linear memory when the migration started, in 64 KiB pages (a
    /// receiver that keeps the memory image allocates it once).
    #[serde(default)]
    pub memory_pages: Vec<u64>,
}

/// Guest memories assembled in RAM by a receiver as the pages arrived, for the generation it
/// committed: `receive --run` resumes from them instead of reading the packs back.
pub struct Preloaded {
    pub generation: u64,
    /// (memory index, contents), exactly as the generation's manifests describe them.
    pub memories: Vec<(u32, crate::runtime::memory::Bytes)>,
}

impl std::fmt::Debug for Preloaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Preloaded")
            .field("generation", &self.generation)
            .field("memories", &self.memories.len())
            .finish()
    }
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Ready {
    pub producer: String,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Refused {
    pub message: String,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct RoundEnd {
    pub round: u64,
    pub pages: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Committed {
    /// The generation number in the receiver's checkpoint directory.
    pub generation: u64,
    pub instructions: u64,
    /// The generation file, as the receiver names it.
    pub path: String,
    /// Unix nanoseconds when it was durable.
    pub unix_nanos: u64,
}

/// Writes the stream's magic and version.
pub fn write_magic(w: &mut dyn Write) -> io::Result<()> {
    w.write_all(&MAGIC)?;
    w.write_all(&VERSION.to_le_bytes())
}

/// Reads and checks the stream's magic and version (`who`: the other side, for messages).
pub fn read_magic(r: &mut dyn Read, who: &str) -> io::Result<()> {
    let mut b = [0u8; 12];
    let mut got = 0;
    while got < b.len() {
        match r.read(&mut b[got..])? {
            0 => break,
            n => got += n,
        }
    }
    if got == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("{who} closed the stream at once")));
    }
    if got < b.len() || b[..8] != MAGIC {
        let text = String::from_utf8_lossy(&b[..got]).into_owned();
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{who} does not speak the chiwawa migration protocol (it began with {text:?}; the \
                 transport must carry the bytes unchanged, and its remote command must be `chiwawa receive`)"
            ),
        ));
    }
    let v = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
    if v != VERSION {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{who} speaks migration protocol version {v}, this chiwawa version {VERSION}"),
        ));
    }
    Ok(())
}

/// One frame: kind (u8), payload length (u32 LE), payload, CRC-32 of the three (u32 LE).
pub fn frame(kind: Kind, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 9);
    out.push(kind as u8);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// A frame with a JSON payload.
pub fn json_frame<T: Serialize>(kind: Kind, v: &T) -> Vec<u8> {
    frame(kind, &serde_json::to_vec(v).unwrap_or_default())
}

/// Decodes a JSON payload.
pub fn from_json<'a, T: Deserialize<'a>>(kind: Kind, payload: &'a [u8]) -> io::Result<T> {
    serde_json::from_slice(payload)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("malformed {kind:?} frame: {e}")))
}

/// Reads one frame; `Ok(None)` at a clean end of the stream (between frames).
pub fn read_frame(r: &mut dyn Read) -> io::Result<Option<(Kind, Vec<u8>)>> {
    read_frame_max(r, MAX_FRAME)
}

/// Largest answer frame a sender accepts (answers are small JSON objects).
pub const MAX_REPLY: usize = 64 << 10;

/// [`read_frame`] with a smaller limit on the payload.
pub fn read_frame_max(r: &mut dyn Read, max: usize) -> io::Result<Option<(Kind, Vec<u8>)>> {
    let mut head = [0u8; 5];
    let mut got = 0;
    while got < head.len() {
        match r.read(&mut head[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the stream ended inside a frame"))
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let kind = Kind::from_u8(head[0]).ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidData, format!("unknown frame kind {}", head[0]))
    })?;
    let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > max {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("a {kind:?} frame of {len} bytes")));
    }
    let mut payload = vec![0u8; len + 4];
    r.read_exact(&mut payload).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            io::Error::new(io::ErrorKind::UnexpectedEof, "the stream ended inside a frame")
        } else {
            e
        }
    })?;
    let crc = u32::from_le_bytes([payload[len], payload[len + 1], payload[len + 2], payload[len + 3]]);
    payload.truncate(len);
    let mut h = crc32fast::Hasher::new();
    h.update(&head);
    h.update(&payload);
    if h.finalize() != crc {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("a {kind:?} frame fails its CRC")));
    }
    Ok(Some((kind, payload)))
}

/// A `Pages` payload: round (u64), count (u32), `count` entries of [`PAGE_ENTRY_LEN`] bytes,
/// then the pages, 65536 bytes each, in entry order (the pack's next slots).
pub fn encode_pages(round: u64, entries: &[(u32, u64, u128)], pages: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + entries.len() * PAGE_ENTRY_LEN + pages.len());
    out.extend_from_slice(&round.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for (m, p, h) in entries {
        out.extend_from_slice(&m.to_le_bytes());
        out.extend_from_slice(&p.to_le_bytes());
        out.extend_from_slice(&h.to_le_bytes());
    }
    out.extend_from_slice(pages);
    out
}

/// A decoded `Pages` payload: round, entries, and the pages' bytes.
pub type Pages<'a> = (u64, Vec<(u32, u64, u128)>, &'a [u8]);

/// Decodes a `Pages` payload, checking its lengths.
pub fn decode_pages(b: &[u8]) -> io::Result<Pages<'_>> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, format!("malformed Pages frame: {m}"));
    if b.len() < 12 {
        return Err(bad("too short"));
    }
    let round = u64::from_le_bytes(b[0..8].try_into().unwrap_or_default());
    let count = u32::from_le_bytes(b[8..12].try_into().unwrap_or_default()) as usize;
    let page = crate::checkpoint::format::PAGE_SIZE;
    if count > PAGES_PER_FRAME || b.len() != 12 + count * (PAGE_ENTRY_LEN + page) {
        return Err(bad("its length does not match its page count"));
    }
    let entries = b[12..12 + count * PAGE_ENTRY_LEN]
        .chunks_exact(PAGE_ENTRY_LEN)
        .map(|e| {
            (
                u32::from_le_bytes(e[0..4].try_into().unwrap_or_default()),
                u64::from_le_bytes(e[4..12].try_into().unwrap_or_default()),
                u128::from_le_bytes(e[12..28].try_into().unwrap_or_default()),
            )
        })
        .collect();
    Ok((round, entries, &b[12 + count * PAGE_ENTRY_LEN..]))
}

/// What the source's checkpoint directory records about a migration ([`MARKER_FILE`], JSON).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Marker {
    /// `sending`: the final part is being sent (the outcome is not known yet, or the run
    /// died meanwhile); `migrated`: the receiver acknowledged; `unknown`: no answer came.
    pub state: String,
    /// The transport command.
    pub transport: Vec<String>,
    /// Instructions executed when the guest stopped here.
    pub instructions: u64,
    /// The newest generation of this directory then (if any).
    pub local_generation: Option<u64>,
    /// The receiver's generation (when acknowledged).
    pub destination_generation: Option<u64>,
    pub unix_nanos: u64,
    /// The file could not be read or parsed (then nothing in it is to be relied on).
    #[serde(skip)]
    pub unreadable: bool,
}

impl Marker {
    /// Why a run on this directory must not resume the guest, and what to do.
    pub fn refusal(&self, dir: &Path) -> String {
        let cmd = self.transport.join(" ");
        match self.state.as_str() {
            "migrated" => format!(
                "the guest migrated away from {} (through `{cmd}`; destination generation {}, {} \
                 instructions); refusing to resume a second copy here (--fresh starts over)",
                dir.display(),
                self.destination_generation.map_or("?".into(), |g| g.to_string()),
                self.instructions
            ),
            _ => format!(
                "a migration from {} through `{cmd}` sent its final state ({} instructions) but its \
                 outcome is unknown; the guest may be running on the destination. Check there with \
                 `chiwawa inspect DIR`: if the destination has a generation of {} instructions, the \
                 migration happened; if not, remove {} to resume here from generation {}. Refusing to \
                 resume a possible second copy",
                dir.display(),
                self.instructions,
                self.instructions,
                dir.join(MARKER_FILE).display(),
                self.local_generation.map_or("(none)".into(), |g| g.to_string())
            ),
        }
    }

    /// Reads the marker of `dir`, if it has one (an unreadable one counts as `unknown`).
    pub fn read(dir: &Path) -> Option<Marker> {
        let bytes = match std::fs::read(dir.join(MARKER_FILE)) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
            Err(_) => Vec::new(),
        };
        Some(serde_json::from_slice(&bytes).unwrap_or(Marker {
            state: "unknown".into(),
            transport: vec!["?".into()],
            instructions: 0,
            local_generation: None,
            destination_generation: None,
            unix_nanos: 0,
            unreadable: true,
        }))
    }

    /// Writes the marker durably (temp file, fsync, rename, fsync the directory).
    pub fn write(&self, dir: &Path) -> io::Result<()> {
        write_durably(dir, MARKER_FILE, &serde_json::to_vec_pretty(self).unwrap_or_default())
    }
}

/// Removes the marker of `dir` (durably).
pub fn remove_marker(dir: &Path) -> io::Result<()> {
    match std::fs::remove_file(dir.join(MARKER_FILE)) {
        Ok(()) => crate::checkpoint::dir::sync_dir(dir),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// `chiwawa migrate`'s request ([`REQUEST_FILE`], JSON).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Request {
    /// Matches the [`Outcome`] to the request.
    pub id: u64,
    pub transport: Vec<String>,
    /// How long to wait for the receiver's answers (ms).
    pub timeout_ms: u64,
    /// Pre-copy ends when a round's changed pages are at most this many bytes.
    pub remainder_bytes: u64,
    /// At most this many pre-copy rounds.
    pub max_rounds: u64,
}

/// The outcome for `chiwawa migrate` ([`RESULT_FILE`], JSON).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Outcome {
    pub id: u64,
    /// `migrated`, `failed` (the guest runs on here) or `unknown`.
    pub status: String,
    pub message: String,
}

/// Writes `dir/name` atomically and durably.
pub fn write_durably(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = tempfile::Builder::new().prefix(".migrate-").suffix(".tmp").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(dir.join(name)).map_err(|e| e.error)?;
    crate::checkpoint::dir::sync_dir(dir)
}

/// Writes the outcome for `chiwawa migrate` (best effort: a failure is logged).
pub fn write_outcome(dir: &Path, o: &Outcome) {
    if let Err(e) = write_durably(dir, RESULT_FILE, &serde_json::to_vec(o).unwrap_or_default()) {
        log::warn!("cannot write {}: {e}", dir.join(RESULT_FILE).display());
    }
}

/// The request file of `dir`.
pub fn request_path(dir: &Path) -> PathBuf {
    dir.join(REQUEST_FILE)
}

/// Reads and removes the request of `dir`: `Err((id, why))` (the id, when it can be read, to
/// answer the requester) if it is not one to act on. A request is only taken from a file this
/// user owns and nobody else may write (it names a command the run starts).
pub fn take_request(dir: &Path) -> Result<Request, (u64, String)> {
    let path = request_path(dir);
    let read = || -> io::Result<(Vec<u8>, std::fs::Metadata)> {
        let mut o = std::fs::OpenOptions::new();
        o.read(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut o, rustix::fs::OFlags::NOFOLLOW.bits() as i32);
        let mut f = o.open(&path)?;
        let meta = f.metadata()?;
        let mut bytes = Vec::new();
        Read::by_ref(&mut f).take(1 << 20).read_to_end(&mut bytes)?;
        Ok((bytes, meta))
    };
    let read = read();
    let _ = std::fs::remove_file(&path);
    let (bytes, meta) = read.map_err(|e| (0, format!("cannot read {}: {e}", path.display())))?;
    let owned = trusted_file(&path, &meta, &dir.join(crate::checkpoint::dir::LOCK_FILE_NAME));
    let id = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.get("id").and_then(|i| i.as_u64()))
        .unwrap_or(0);
    owned.map_err(|why| (id, why))?;
    let r: Request = serde_json::from_slice(&bytes)
        .map_err(|e| (id, format!("malformed migration request {}: {e}", path.display())))?;
    if r.transport.is_empty() {
        return Err((id, "the migration request names no transport command".into()));
    }
    Ok(r)
}

/// Whether `path` belongs to the owner of `ours` (a file this process made) and only they may
/// write it.
#[cfg(unix)]
fn trusted_file(path: &Path, f: &std::fs::Metadata, ours: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let Ok(o) = std::fs::metadata(ours) else {
        return Err(format!("cannot check the owner of {}", path.display()));
    };
    if !f.is_file() || f.uid() != o.uid() || f.mode() & 0o022 != 0 {
        return Err(format!(
            "{} is not a regular file of this user that only they can write: refusing to start the \
             transport it names",
            path.display()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn trusted_file(_: &Path, _: &std::fs::Metadata, _: &Path) -> Result<(), String> {
    Ok(())
}

/// Who we are, for `Hello`/`Ready`.
pub fn producer() -> String {
    crate::checkpoint::format::Producer::current().to_string()
}
