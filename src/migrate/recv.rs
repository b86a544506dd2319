//! `chiwawa receive`: the receiving side of a live migration (like `zfs recv`).
//!
//! Reads the stream on `input`, answers on `output`. Each pre-copy round becomes a page pack in
//! the checkpoint directory as it arrives (every page's fingerprint checked against the one the
//! sender computed), numbered after the directory's newest generation; the final state's
//! manifests are renumbered accordingly and the state is committed as the next generation with
//! [`CheckpointDir::commit`], the protocol of every generation. Only then is `Committed`
//! sent. Anything short of that (a refusal, a damaged or cut stream, the sender's `Abort`)
//! removes the packs this receiver wrote and commits nothing.

use super::{
    from_json, json_frame, read_frame, read_magic, write_magic, Committed, Hello, Kind, Ready, Refused,
    RoundEnd,
};
use crate::checkpoint::dir::{failpoint, PackWriter};
use crate::checkpoint::format::{parse_checkpoint, CheckpointWriter, SectionKind, PAGE_SIZE};
use crate::checkpoint::pages::{fingerprint, pack_file_name, Manifest};
use crate::checkpoint::{hash, CheckpointDir};
use crate::error::Error;
use crate::runtime::memory::Bytes;
use crate::session::{load_module_bytes, RunConfig};
use std::io::{self, Read, Write};

/// What a successful receive committed.
#[derive(Debug)]
pub struct Received {
    pub committed: Committed,
    /// Bytes read from the stream.
    pub bytes: u64,
    /// The guest's memories as received, when asked for (`receive --run`) and they could be
    /// kept.
    pub preloaded: Option<super::Preloaded>,
}

/// The memories as received so far, kept in RAM for `receive --run`: the latest contents of
/// each page and which (round, slot) they came from.
struct Image {
    mems: Vec<Bytes>,
    from: std::collections::HashMap<(u32, u64), (u64, u64)>,
    limit_pages: u64,
}

impl Image {
    /// Memories of the sizes the sender announced (at most `limit_pages` each, at most
    /// [`MAX_MEMORIES`]); `None` if they cannot be had (the receiver then reads the packs back,
    /// as a new run does).
    fn new(sizes: &[u64], limit_pages: u64) -> Option<Image> {
        if sizes.len() > MAX_MEMORIES || sizes.iter().any(|&p| p > limit_pages) {
            return None;
        }
        let mut mems = Vec::with_capacity(sizes.len());
        for &p in sizes {
            mems.push(Bytes::zeroed(usize::try_from(p).ok()?.checked_mul(PAGE_SIZE)?)?);
        }
        Some(Image { mems, from: Default::default(), limit_pages })
    }

    /// Stores a received page; `false` if it is out of bounds or memory cannot grow.
    fn put(&mut self, m: u32, p: u64, round: u64, slot: u64, page: &[u8]) -> bool {
        let (mi, Ok(pu)) = (m as usize, usize::try_from(p)) else { return false };
        if mi >= MAX_MEMORIES || p >= self.limit_pages {
            return false;
        }
        if mi >= self.mems.len() {
            self.mems.resize_with(mi + 1, Bytes::new);
        }
        let Some(need) = pu.checked_add(1).and_then(|n| n.checked_mul(PAGE_SIZE)) else { return false };
        if self.mems[mi].len() < need && !self.mems[mi].grow_to(need) {
            return false;
        }
        self.mems[mi][pu * PAGE_SIZE..need].copy_from_slice(page);
        self.from.insert((m, p), (round, slot));
        true
    }

    /// The memories as `manifests` (stream numbering, one per memory index) describe them:
    /// each listed page must be the last one received for it, pages not listed are zeroed.
    /// `None` if they do not match.
    fn finish(mut self, manifests: &[Manifest]) -> Option<Vec<(u32, Bytes)>> {
        let mut out = Vec::new();
        let mut listed = std::collections::HashSet::new();
        for m in manifests {
            for (p, r) in &m.entries {
                if self.from.get(&(m.index, *p)) != Some(&(r.pack, r.slot)) {
                    return None;
                }
                listed.insert((m.index, *p));
            }
        }
        for (&(m, p), _) in self.from.iter().filter(|(k, _)| !listed.contains(k)) {
            let mem = self.mems.get_mut(m as usize)?;
            let start = usize::try_from(p).ok()?.checked_mul(PAGE_SIZE)?;
            mem.get_mut(start..start.checked_add(PAGE_SIZE)?)?.fill(0);
        }
        for m in manifests {
            let size = usize::try_from(m.size_pages).ok()?.checked_mul(PAGE_SIZE)?;
            let mut mem = std::mem::take(self.mems.get_mut(m.index as usize)?);
            if mem.len() > size || (mem.len() < size && !mem.grow_to(size)) {
                return None;
            }
            out.push((m.index, mem));
        }
        Some(out)
    }
}

/// Most memories an image is kept for (the module's own count is checked at restore).
const MAX_MEMORIES: usize = 256;

/// Counts what is read.
struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// Waits out `WouldBlock` (Node's WASI gives a non-blocking pipe as stdin and stdout): the
/// stream is read and written as if it blocked.
struct Patient<T>(T);

impl<R: Read> Read for Patient<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.0.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => crate::wasi::fs::stdio_backoff(),
                r => return r,
            }
        }
    }
}

impl<W: Write> Write for Patient<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match self.0.write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => crate::wasi::fs::stdio_backoff(),
                r => return r,
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        loop {
            match self.0.flush() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => crate::wasi::fs::stdio_backoff(),
                r => return r,
            }
        }
    }
}

/// A refusal: sent to the sender (best effort) and returned.
fn refuse(output: &mut dyn Write, message: String) -> Error {
    let _ = output.write_all(&json_frame(Kind::Refused, &Refused { message: message.clone() }));
    let _ = output.flush();
    Error::Other(format!("refused the migration: {message}"))
}

/// Receives one migration into `cfg`'s checkpoint directory. The directory's lock is held
/// while receiving and released on return.
/// With `keep_memory`, the pages are also assembled in RAM ([`Received::preloaded`]).
pub fn receive(
    cfg: &RunConfig,
    input: &mut dyn Read,
    output: &mut dyn Write,
    keep_memory: bool,
) -> Result<Received, Error> {
    let mut output = Patient(output);
    let output: &mut dyn Write = &mut output;
    let input = Patient(input);
    let ck =
        cfg.checkpoint.as_ref().ok_or_else(|| Error::Other("receive needs a checkpoint directory".into()))?;
    write_magic(output)
        .and_then(|_| output.flush())
        .map_err(|e| Error::Other(format!("cannot answer: {e}")))?;
    let mut input = Counting { inner: input, count: 0 };
    let bytes = match load_module_bytes(&cfg.module_path) {
        Ok(b) => b,
        Err(e) => return Err(refuse(output, e.to_string())),
    };
    let module_hash = hash::sha256(&bytes);
    let module_len = bytes.len() as u64;
    let module = match crate::parse::Module::new(&bytes) {
        Ok(m) => std::sync::Arc::new(m),
        Err(e) => return Err(refuse(output, format!("{}: {e}", cfg.module_path.display()))),
    };
    drop(bytes);
    read_magic(&mut input, "the sender").map_err(|e| Error::Other(e.to_string()))?;
    let hello: Hello = match read_frame(&mut input) {
        Ok(Some((Kind::Hello, p))) => {
            from_json(Kind::Hello, &p).map_err(|e| refuse(output, e.to_string()))?
        }
        Ok(Some((k, _))) => return Err(refuse(output, format!("expected Hello, got {k:?}"))),
        Ok(None) => return Err(Error::Other("the sender closed the stream before its Hello".into())),
        Err(e) => return Err(Error::Other(format!("cannot read the sender's Hello: {e}"))),
    };
    if hello.module_sha256 != hash::to_hex(&module_hash) || hello.module_len != module_len {
        return Err(refuse(
            output,
            format!(
                "the guest runs another module (sha256 {}, {} bytes) than {} (sha256 {}, {module_len} bytes)",
                hello.module_sha256,
                hello.module_len,
                cfg.module_path.display(),
                hash::to_hex(&module_hash)
            ),
        ));
    }
    for guest in &hello.preopens {
        match cfg.wasi.preopens.iter().find(|p| &p.guest == guest) {
            None => {
                return Err(refuse(
                    output,
                    format!("the guest has the preopen '{guest}', which this receiver lacks (give --dir HOST::{guest})"),
                ))
            }
            Some(p) if !p.host.is_dir() => {
                return Err(refuse(
                    output,
                    format!("the preopen '{guest}' is '{}' here, which is not a directory", p.host.display()),
                ))
            }
            Some(_) => {}
        }
    }
    let dir = CheckpointDir::open(&ck.dir, ck.keep)
        .map_err(|e| refuse(output, format!("cannot open checkpoint directory {}: {e}", ck.dir.display())))?;
    let lock = dir.lock(false).map_err(|e| {
        let why = match e {
            crate::checkpoint::dir::LockError::Held { pid } => format!(
                "{} is in use by a chiwawa run{}",
                ck.dir.display(),
                pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
            ),
            crate::checkpoint::dir::LockError::Io(e) => format!("cannot lock {}: {e}", ck.dir.display()),
        };
        refuse(output, why)
    })?;
    let gens = dir.list().map_err(|e| refuse(output, format!("cannot list {}: {e}", ck.dir.display())))?;
    if gens.iter().filter_map(|g| g.header().ok()).any(|h| h.module_hash != module_hash) {
        return Err(refuse(output, format!("{} holds checkpoints of another module", ck.dir.display())));
    }
    let base = gens.first().map_or(0, |g| g.generation);
    output
        .write_all(&json_frame(Kind::Ready, &Ready { producer: super::producer() }))
        .and_then(|_| output.flush())
        .map_err(|e| Error::Other(format!("cannot answer the sender: {e}")))?;
    log::debug!("receive: ready; generations from {} on", base + 1);
    let image = keep_memory.then(|| Image::new(&hello.memory_pages, cfg.limits.max_memory_pages)).flatten();
    if keep_memory && image.is_none() {
        log::warn!("receive: cannot keep the guest's memory in RAM; it is read back from the packs");
    }
    let mut r = Rounds {
        dir: &dir,
        base,
        module_hash,
        hashes: Vec::new(),
        writer: None,
        written: Vec::new(),
        image,
        preloaded: None,
        module,
    };
    let result = r.run(&mut input, output, cfg, module_len);
    let committed = match result {
        Ok(c) => c,
        Err(e) => {
            r.discard();
            drop(lock);
            return Err(e);
        }
    };
    drop(lock);
    Ok(Received { committed, bytes: input.count, preloaded: r.preloaded.take() })
}

/// The rounds received so far.
struct Rounds<'a> {
    dir: &'a CheckpointDir,
    /// Packs are numbered `base + round`.
    base: u64,
    module_hash: [u8; 32],
    /// Per round (index round - 1): the fingerprint of each slot.
    hashes: Vec<Vec<u128>>,
    writer: Option<PackWriter>,
    /// Packs made durable by this receiver.
    written: Vec<u64>,
    image: Option<Image>,
    preloaded: Option<super::Preloaded>,
    /// The module, compiled (for the dry run).
    module: std::sync::Arc<crate::parse::Module>,
}

impl Rounds<'_> {
    fn run(
        &mut self,
        input: &mut dyn Read,
        output: &mut dyn Write,
        cfg: &RunConfig,
        module_len: u64,
    ) -> Result<Committed, Error> {
        let io_err = |e: io::Error| Error::Other(format!("the migration stream failed: {e}"));
        let state = loop {
            let Some((kind, payload)) = read_frame(input).map_err(io_err)? else {
                return Err(Error::Other(
                    "the stream ended before the final state (nothing committed)".into(),
                ));
            };
            match kind {
                Kind::Pages => self.pages(&payload)?,
                Kind::RoundEnd => {
                    let end: RoundEnd = from_json(Kind::RoundEnd, &payload).map_err(io_err)?;
                    self.round_end(&end)?;
                    output
                        .write_all(&json_frame(Kind::RoundDone, &end))
                        .and_then(|_| output.flush())
                        .map_err(|e| Error::Other(format!("cannot answer the sender: {e}")))?;
                }
                Kind::State => break payload,
                Kind::Abort => {
                    let why =
                        from_json::<Refused>(Kind::Abort, &payload).map(|r| r.message).unwrap_or_default();
                    return Err(Error::Other(format!("the sender gave up: {why} (nothing committed)")));
                }
                k => return Err(Error::Other(format!("unexpected {k:?} frame"))),
            }
        };
        if self.writer.is_some() {
            return Err(refuse(output, "the final state came before its round ended".into()));
        }
        let rewritten = self.check_state(&state, cfg, module_len).map_err(|m| refuse(output, m))?;
        let (generation, instructions, file) = rewritten;
        failpoint("receive-before-commit");
        // The guest resumes from exactly this state: no file opened on the source is to be
        // rolled back here, and a journal of an older run in this directory must not be.
        crate::journal::remove(self.dir.path());
        let path = match self.dir.commit(generation, |w| w.write_all(&file)) {
            Ok((path, _)) => path,
            Err(e) => {
                // The commit may have failed after its rename (the directory's fsync): the
                // generation must be gone for sure before the sender is told it may go on.
                let gen_path = self.dir.path().join(crate::checkpoint::dir::generation_file_name(generation));
                let gone = match std::fs::remove_file(&gen_path) {
                    Ok(()) => crate::checkpoint::dir::sync_dir(self.dir.path()).is_ok(),
                    Err(e) => e.kind() == io::ErrorKind::NotFound,
                };
                let why = format!("cannot commit generation {generation}: {e}");
                if !gone {
                    // Say nothing: the sender does not know the outcome and does not go on.
                    return Err(Error::Other(format!("{why}; {} may be in place", gen_path.display())));
                }
                return Err(refuse(output, why));
            }
        };
        self.written.clear();
        failpoint("receive-after-commit");
        // This directory now holds the live guest: an earlier "migrated away" no longer holds.
        if let Err(e) = super::remove_marker(self.dir.path()) {
            log::warn!("cannot remove {}: {e}", self.dir.path().join(super::MARKER_FILE).display());
        }
        let c = Committed {
            generation,
            instructions,
            path: path.display().to_string(),
            unix_nanos: crate::checkpoint::format::unix_nanos_now(),
        };
        output
            .write_all(&json_frame(Kind::Committed, &c))
            .and_then(|_| output.flush())
            .map_err(|e| Error::Other(format!("committed {} but cannot acknowledge: {e}", path.display())))?;
        Ok(c)
    }

    fn round(&self) -> u64 {
        self.hashes.len() as u64
    }

    fn pages(&mut self, payload: &[u8]) -> Result<(), Error> {
        let bad = |m: String| Error::Other(format!("bad Pages frame: {m}"));
        let (round, entries, bytes) = super::decode_pages(payload).map_err(|e| bad(e.to_string()))?;
        if self.writer.is_none() {
            if round != self.round() + 1 {
                return Err(bad(format!("round {round} after round {}", self.round())));
            }
            let w = self
                .dir
                .pack_writer(self.base + round, self.module_hash)
                .map_err(|e| Error::Other(format!("cannot write a page pack: {e}")))?;
            self.writer = Some(w);
            self.hashes.push(Vec::new());
        } else if round != self.round() {
            return Err(bad(format!("round {round} inside round {}", self.round())));
        }
        let w = self.writer.as_mut().ok_or_else(|| bad("no pack".into()))?;
        let slots = self.hashes.last_mut().ok_or_else(|| bad("no round".into()))?;
        for ((m, p, h), page) in entries.iter().zip(bytes.chunks_exact(PAGE_SIZE)) {
            if fingerprint(page) != *h {
                return Err(bad(format!("memory {m} page {p} does not match its fingerprint")));
            }
            w.page(page).map_err(|e| Error::Other(format!("cannot write a page pack: {e}")))?;
            if let Some(img) = self.image.as_mut() {
                if !img.put(*m, *p, round, slots.len() as u64, page) {
                    log::warn!("receive: memory {m} page {p} is beyond what can be kept in RAM; reading back instead");
                    self.image = None;
                }
            }
            slots.push(*h);
        }
        if round == 1 && slots.len() == entries.len() {
            failpoint("receive-mid-round");
        }
        Ok(())
    }

    fn round_end(&mut self, end: &RoundEnd) -> Result<(), Error> {
        // A round without pages has no pack.
        if self.writer.is_none() {
            if end.round != self.round() + 1 || end.pages != 0 {
                return Err(Error::Other(format!("unexpected end of round {}", end.round)));
            }
            self.hashes.push(Vec::new());
            return Ok(());
        }
        if end.round != self.round() || end.pages != self.hashes.last().map_or(0, |h| h.len() as u64) {
            return Err(Error::Other(format!("round {} ended with another page count than sent", end.round)));
        }
        let w = self.writer.take().ok_or_else(|| Error::Other("no pack".into()))?;
        let pack = self.base + end.round;
        w.finish().map_err(|e| Error::Other(format!("cannot write page pack {pack}: {e}")))?;
        self.written.push(pack);
        log::debug!("receive: round {} durable ({} pages)", end.round, end.pages);
        Ok(())
    }

    /// Checks the final state against what was received and this host, and renumbers it:
    /// (generation, instructions, file bytes).
    fn check_state(
        &mut self,
        state: &[u8],
        cfg: &RunConfig,
        module_len: u64,
    ) -> Result<(u64, u64, Vec<u8>), String> {
        let c = parse_checkpoint(state).map_err(|e| format!("the final state is damaged: {e}"))?;
        crate::snapshot::accept(&c, &self.module_hash, module_len)?;
        let n = c.header.generation;
        if n != self.round() || n == 0 {
            return Err(format!("the final state names round {n}, {} rounds were received", self.round()));
        }
        let generation = self.base + n;
        let mut header = c.header.clone();
        header.generation = generation;
        let mut out = Vec::with_capacity(state.len());
        let mut stream_manifests = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut cw = CheckpointWriter::new(&mut out, &header).map_err(|e| e.to_string())?;
        for s in &c.sections {
            match s.kind {
                SectionKind::Pages => {
                    let mut m = Manifest::decode(s.payload, n).map_err(|e| e.to_string())?;
                    if !seen.insert(m.index) {
                        return Err(format!("the final state holds memory {} twice", m.index));
                    }
                    if self.image.is_some() {
                        stream_manifests.push(m.clone());
                    }
                    for (p, r) in &mut m.entries {
                        let held = self
                            .hashes
                            .get((r.pack as usize).wrapping_sub(1))
                            .and_then(|h| h.get(r.slot as usize));
                        if held != Some(&r.hash) {
                            return Err(format!(
                                "memory {} page {p} names round {} slot {}, which was not received as such",
                                m.index, r.pack, r.slot
                            ));
                        }
                        r.pack += self.base;
                    }
                    cw.section(SectionKind::Pages, &m.encode()).map_err(|e| e.to_string())?;
                }
                SectionKind::Memory => return Err("the final state holds a whole memory section".into()),
                SectionKind::Wasi => {
                    let mut ws: crate::wasi::WasiState = crate::checkpoint::codec::decode(s.payload)
                        .map_err(|e| format!("its WASI state: {e}"))?;
                    crate::wasi::WasiCtx::check_restorable(&cfg.wasi, &ws)
                        .map_err(|e| format!("the guest's files are not all here: {e}"))?;
                    // The source's stdout/stderr sizes say nothing about this host's: a restore
                    // must not cut a file here back to them.
                    for f in &mut ws.fds {
                        if matches!(f.kind, crate::wasi::FdKind::Stdout | crate::wasi::FdKind::Stderr) {
                            f.size = None;
                        }
                    }
                    let payload = crate::checkpoint::codec::encode(&ws).map_err(|e| e.to_string())?;
                    cw.section(s.kind, &payload).map_err(|e| e.to_string())?;
                }
                k => cw.section(k, s.payload).map_err(|e| e.to_string())?,
            }
        }
        cw.finish().map_err(|e| e.to_string())?;
        self.dry_run(&out, cfg)?;
        if let Some(img) = self.image.take() {
            match img.finish(&stream_manifests) {
                Some(memories) => self.preloaded = Some(super::Preloaded { generation, memories }),
                None => log::warn!(
                    "receive: the memory kept in RAM does not match the final state; reading back instead"
                ),
            }
        }
        Ok((generation, c.header.instructions, out))
    }

    /// Restores the state `file` (this receiver's numbering) as far as the guest's files,
    /// with zero memories of its sizes (allocated lazily, never touched) instead of its pages:
    /// what a later restore would refuse (a memory beyond this host's limits, machine or store
    /// data that does not fit the module) is refused now, before anything is committed. The
    /// pages themselves were checked as they arrived and against the manifests.
    fn dry_run(&self, file: &[u8], cfg: &RunConfig) -> Result<(), String> {
        const DRY: &str = "migration receiver: dry run complete";
        let c = parse_checkpoint(file).map_err(|e| e.to_string())?;
        let mut zero = Vec::new();
        for s in c.sections.iter().filter(|s| s.kind == SectionKind::Pages) {
            let m = Manifest::decode(s.payload, c.header.generation).map_err(|e| e.to_string())?;
            if m.size_pages > cfg.limits.max_memory_pages {
                return Err(format!(
                    "memory {} has {} pages, more than this receiver's limit of {} (--max-memory-pages)",
                    m.index, m.size_pages, cfg.limits.max_memory_pages
                ));
            }
            let len = usize::try_from(m.size_pages)
                .ok()
                .and_then(|p| p.checked_mul(PAGE_SIZE))
                .ok_or_else(|| format!("memory {} does not fit in this host's address space", m.index))?;
            let mem = Bytes::zeroed(len).ok_or_else(|| format!("cannot allocate memory {} here", m.index))?;
            zero.push((m.index, mem));
        }
        let mut store = crate::checkpoint::pages::PageStore::new(self.dir.path(), self.module_hash);
        store.preload(zero);
        let mut stop = || -> Result<(), Error> { Err(Error::Other(DRY.into())) };
        match crate::snapshot::restore_paged(
            self.module.clone(),
            &c,
            Some(&mut store),
            &cfg.wasi,
            cfg.limits,
            &mut stop,
        ) {
            Err(Error::Other(m)) if m == DRY => Ok(()),
            Err(e) => Err(format!("the final state would not restore here: {e}")),
            Ok(_) => Err("the dry run restored the guest's files".into()),
        }
    }

    /// Removes what this receiver wrote (nothing references it).
    fn discard(&mut self) {
        self.writer = None;
        for pack in self.written.drain(..) {
            let path = self.dir.path().join(pack_file_name(pack));
            if let Err(e) = std::fs::remove_file(&path) {
                log::warn!("cannot remove {}: {e}", path.display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::{encode_pages, frame, write_magic, Hello, Kind, RoundEnd, PAGES_PER_FRAME};
    use crate::session::{CheckpointOptions, EntrySpec};

    /// A receiver's configuration for a small module in a scratch directory.
    fn setup() -> (tempfile::TempDir, RunConfig, [u8; 32]) {
        let tmp = tempfile::tempdir().unwrap();
        let module = tmp.path().join("m.wasm");
        let bytes = wast::parser::parse::<wast::Wat>(
            &wast::parser::ParseBuffer::new("(module (memory 1) (func (export \"_start\")))").unwrap(),
        )
        .unwrap()
        .encode()
        .unwrap();
        std::fs::write(&module, &bytes).unwrap();
        let cfg = RunConfig {
            module_path: module,
            wasi: crate::wasi::WasiConfig { args: vec![], env: vec![], preopens: vec![] },
            entry: EntrySpec::Command,
            limits: Default::default(),
            checkpoint: Some(CheckpointOptions {
                dir: tmp.path().join("ck"),
                keep: 3,
                policy: Default::default(),
                fresh: false,
                restore: None,
                keep_on_exit: false,
                wait_lock: false,
                incremental: true,
            }),
            preloaded: None,
        };
        let hash = hash::sha256(&bytes);
        (tmp, cfg, hash)
    }

    fn hello(hash: &[u8; 32], len: u64) -> Vec<u8> {
        let h = Hello {
            version: super::super::VERSION,
            module_sha256: hash::to_hex(hash),
            module_len: len,
            preopens: vec![],
            instructions: 0,
            producer: "test".into(),
            memory_pages: vec![1],
        };
        let mut v = Vec::new();
        write_magic(&mut v).unwrap();
        v.extend(json_frame(Kind::Hello, &h));
        v
    }

    /// Feeds `input` to a receiver: its error, and what the checkpoint directory holds after.
    fn feed(cfg: &RunConfig, input: &[u8]) -> (String, Vec<String>) {
        let mut out = Vec::new();
        let e = receive(cfg, &mut &input[..], &mut out, true).expect_err("a bad stream must be refused");
        let dir = &cfg.checkpoint.as_ref().unwrap().dir;
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        names.retain(|n| n != "lock");
        (e.to_string(), names)
    }

    #[test]
    fn damaged_or_hostile_streams_commit_nothing() {
        let (_tmp, cfg, hash) = setup();
        let len = std::fs::metadata(&cfg.module_path).unwrap().len();
        let page = vec![7u8; PAGE_SIZE];
        let good_page = encode_pages(1, &[(0, 0, fingerprint(&page))], &page);
        let state = frame(Kind::State, b"not a checkpoint");
        let end1 = json_frame(Kind::RoundEnd, &RoundEnd { round: 1, pages: 1 });
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("empty", vec![], "closed the stream at once"),
            ("not the protocol", b"SSH-2.0-OpenSSH\r\n".to_vec(), "does not speak"),
            ("another module", hello(&[1; 32], len), "another module"),
            ("no final state", [hello(&hash, len), frame(Kind::Pages, &good_page)].concat(), "ended before"),
            (
                "a wrong fingerprint",
                [hello(&hash, len), frame(Kind::Pages, &encode_pages(1, &[(0, 0, 5)], &page))].concat(),
                "fingerprint",
            ),
            (
                "a round out of order",
                [hello(&hash, len), frame(Kind::Pages, &encode_pages(3, &[], &[]))].concat(),
                "round 3",
            ),
            (
                "a miscounted round",
                [
                    hello(&hash, len),
                    frame(Kind::Pages, &good_page),
                    json_frame(Kind::RoundEnd, &RoundEnd { round: 1, pages: 2 }),
                ]
                .concat(),
                "another page count",
            ),
            (
                "a damaged state",
                [hello(&hash, len), frame(Kind::Pages, &good_page), end1.clone(), state].concat(),
                "damaged",
            ),
            (
                "a frame that lies about its length",
                [hello(&hash, len), vec![Kind::Pages as u8, 0xff, 0xff, 0xff, 0x7f]].concat(),
                "Pages frame of",
            ),
            (
                "a torn frame",
                [hello(&hash, len), frame(Kind::Pages, &good_page)[..1000].to_vec()].concat(),
                "inside a frame",
            ),
            (
                "a bad CRC",
                {
                    let mut f = frame(Kind::Pages, &good_page);
                    f[100] ^= 1;
                    [hello(&hash, len), f].concat()
                },
                "CRC",
            ),
            (
                "an abort",
                [hello(&hash, len), json_frame(Kind::Abort, &Refused { message: "bye".into() })].concat(),
                "gave up",
            ),
        ];
        for (what, input, says) in cases {
            let (e, left) = feed(&cfg, &input);
            assert!(e.contains(says), "{what}: {e}");
            assert!(left.iter().all(|n| n.starts_with('.') && n.ends_with(".tmp")), "{what}: left {left:?}");
            assert!(
                !left.iter().any(|n| n.starts_with("gen-") || n.starts_with("pack-")),
                "{what}: {left:?}"
            );
        }
        // Random frames after a valid Hello: refused, never a panic or a commit.
        let mut x = 0x9E3779B97F4A7C15u64;
        for _ in 0..300 {
            let mut input = hello(&hash, len);
            for _ in 0..(x % 5) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let kind = (x % 10) as u8;
                let n = (x >> 8) as usize % (PAGES_PER_FRAME * 100);
                let payload: Vec<u8> = (0..n).map(|i| (x >> (i % 56)) as u8).collect();
                let mut f = vec![kind];
                f.extend((payload.len() as u32).to_le_bytes());
                f.extend(&payload);
                let crc = crc32fast::hash(&f);
                f.extend(crc.to_le_bytes());
                input.extend(f);
            }
            let (_, left) = feed(&cfg, &input);
            assert!(!left.iter().any(|n| n.starts_with("gen-") || n.starts_with("pack-")), "{left:?}");
        }
    }
}
