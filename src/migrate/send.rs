//! The sending side of a live migration, driven by the run's loop at its safe points.
//!
//! Pre-copy: round 1 offers every page, each later round the pages written since the previous
//! round began (the kernel's soft-dirty bits or page protection, see
//! [`crate::checkpoint::softdirty`]; without either, every page, and the fingerprint decides).
//! A round's pages are copied out of the guest a frame at a time at safe points and written to
//! the transport by a thread, so the guest runs on meanwhile; the bounded queue between them
//! makes the guest pay for the copies only as fast as the transport takes them. A page is
//! fingerprinted when it is copied; one whose fingerprint is what the receiver already holds
//! is not sent again. Pre-copy ends when a round would send at most the request's remainder,
//! or after the request's maximum of rounds; when the remainder stops shrinking, the guest is
//! held back (30 %, 60 %, 90 % of its time, as QEMU's auto-converge does) and pre-copy ends only
//! if that does not help either. Then the guest stops, the last changed pages and the rest of the state follow, and the run waits for the
//! receiver's answer.

use super::{
    frame, from_json, json_frame, read_frame_max, read_magic, write_magic, Committed, Hello, Kind, Marker,
    Refused, Request, RoundEnd, PAGES_PER_FRAME,
};
use crate::checkpoint::dir::failpoint;
use crate::checkpoint::format::{self, is_zero, Header, PAGE_SIZE};
use crate::checkpoint::pages::{fingerprint, Manifest, PageRef};
use crate::checkpoint::softdirty::{best_tracker, clear_or_drop, states_or_drop, PageState, WriteTracker};

/// What pre-copy does once write tracking has failed.
const EVERY_PAGE: &str = "examining every page from now on";
use crate::guest::Guest;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Frames queued between the guest's thread and the transport writer (each up to
/// [`PAGES_PER_FRAME`] pages: 4 MiB).
const QUEUE_FRAMES: usize = 8;
/// How much more the guest is held back each time a round does not shrink the remainder, and
/// at most.
const THROTTLE_STEP: f64 = 0.3;
const MAX_THROTTLE: f64 = 0.9;
/// Pages examined (fingerprinted) per frame at most, so that a safe point pauses the guest
/// briefly even where most pages turn out unchanged.
const EXAMINE_PER_FRAME: usize = 1024;

/// What the receiver holds of guest memory, and which pages to look at in the current round.
struct Precopy {
    writes: Option<Box<dyn WriteTracker>>,
    /// Per memory, per page: where the receiver has the page (round = pack, slot) and its
    /// fingerprint; `None`: a zero page.
    known: Vec<Vec<Option<PageRef>>>,
    /// Address and length of each memory when write tracking last started.
    layout: Vec<(usize, usize)>,
    round: u64,
    /// Pages still to examine in this round (popped from the end).
    todo: Vec<(u32, u64)>,
    /// Next slot of this round's pack.
    slot: u64,
}

fn guest_mems(g: &Guest) -> Vec<&[u8]> {
    g.store.memories.iter().map(|m| &m.data[..]).collect()
}

impl Precopy {
    fn new(writes: Option<Box<dyn WriteTracker>>) -> Precopy {
        Precopy { writes, known: Vec::new(), layout: Vec::new(), round: 0, todo: Vec::new(), slot: 0 }
    }

    /// The pages to examine next round: every page in round 1, then those written since the
    /// last round began (all of a memory that moved or grew, or without write tracking).
    fn dirty(&mut self, mems: &[&[u8]]) -> Vec<(u32, u64)> {
        let mut out = Vec::new();
        for (i, data) in mems.iter().enumerate() {
            let pages = data.len() / PAGE_SIZE;
            let known = self.known.get(i).map(Vec::as_slice).unwrap_or(&[]);
            let same_layout = self.layout.get(i) == Some(&(data.as_ptr() as usize, data.len()));
            let states = states_or_drop(&mut self.writes, i, data, "migration: ", EVERY_PAGE);
            for p in 0..pages {
                let state = states.as_ref().and_then(|s| s.get(p)).copied();
                let before = known.get(p).copied().flatten();
                let skip = match state {
                    // Never backed: zero, as the receiver has it if it has nothing.
                    Some(PageState::Absent) => before.is_none(),
                    Some(PageState::Clean) => self.round > 0 && same_layout && p < known.len(),
                    _ => false,
                };
                if !skip {
                    out.push((i as u32, p as u64));
                }
            }
        }
        out
    }

    /// Starts the next round with `dirty` (from [`dirty`](Self::dirty)): write tracking starts
    /// a new interval now, so a page written after this is examined again next round.
    fn begin_round(&mut self, mems: &[&[u8]], mut dirty: Vec<(u32, u64)>) {
        clear_or_drop(&mut self.writes, mems, "migration: ", EVERY_PAGE);
        self.layout = mems.iter().map(|m| (m.as_ptr() as usize, m.len())).collect();
        self.known.resize(mems.len(), Vec::new());
        for (k, m) in self.known.iter_mut().zip(mems) {
            k.resize(m.len() / PAGE_SIZE, None);
        }
        dirty.reverse();
        self.todo = dirty;
        self.round += 1;
        self.slot = 0;
    }

    /// The next `Pages` frame of this round (`None`: the round is done).
    fn step(&mut self, mems: &[&[u8]]) -> Option<Vec<u8>> {
        let mut entries = Vec::new();
        let mut bytes = Vec::new();
        let mut examined = 0;
        while entries.len() < PAGES_PER_FRAME && examined < EXAMINE_PER_FRAME {
            let Some((m, p)) = self.todo.pop() else { break };
            examined += 1;
            let start = p as usize * PAGE_SIZE;
            let Some(page) = mems.get(m as usize).and_then(|d| d.get(start..start + PAGE_SIZE)) else {
                continue;
            };
            let slot = &mut self.known[m as usize][p as usize];
            if is_zero(page) {
                *slot = None;
                continue;
            }
            let hash = fingerprint(page);
            if slot.is_some_and(|r| r.hash == hash) {
                continue;
            }
            *slot = Some(PageRef { pack: self.round, slot: self.slot, hash });
            self.slot += 1;
            entries.push((m, p, hash));
            bytes.extend_from_slice(page);
        }
        if entries.is_empty() && self.todo.is_empty() {
            return None;
        }
        Some(frame(Kind::Pages, &super::encode_pages(self.round, &entries, &bytes)))
    }

    /// The `Pages` manifests of the memories as the receiver holds them.
    fn manifests(&self, g: &Guest) -> Vec<Manifest> {
        g.store
            .memories
            .iter()
            .enumerate()
            .map(|(i, m)| Manifest {
                index: i as u32,
                size_pages: (m.data.len() / PAGE_SIZE) as u64,
                max_pages: m.max_pages,
                entries: self
                    .known
                    .get(i)
                    .map(|k| k.iter().enumerate().filter_map(|(p, r)| r.map(|r| (p as u64, r))).collect())
                    .unwrap_or_default(),
            })
            .collect()
    }
}

/// What the reader thread saw on the transport's stdout.
enum Reply {
    Frame(Kind, Vec<u8>),
    Closed(String),
}

/// How the transport writer ended.
struct Written {
    bytes: u64,
    error: Option<String>,
    /// The `State` frame was written in full.
    state_sent: bool,
}

/// Where a migration stands after a safe point.
pub enum Progress {
    /// Still going: the guest runs on.
    Running,
    /// The receiver committed the state: the guest must not run here any more.
    Migrated { committed: Committed, bytes: u64, rounds: u64, downtime_start_unix_nanos: u64 },
    /// It failed before the receiver could commit anything: the guest runs on here.
    Failed(String),
    /// The final part was sent and no answer came: the guest may run on the destination.
    Unknown(String),
}

/// A migration in progress.
pub struct Sender {
    req: Request,
    dir: PathBuf,
    module_hash: [u8; 32],
    child: Child,
    tx: Option<SyncSender<Vec<u8>>>,
    writer: Option<JoinHandle<Written>>,
    replies: Receiver<Reply>,
    /// See [`start`](Self::start).
    wake: Arc<AtomicBool>,
    ready: bool,
    pre: Precopy,
    /// A frame the queue had no room for yet.
    pending: Option<Vec<u8>>,
    started: Instant,
    /// Changed pages of the rounds so far (to see whether the remainder still shrinks).
    last_dirty: Option<usize>,
    /// The round whose end was queued and whose pack the receiver has not yet reported
    /// durable: the next round (or the stop) waits for it.
    awaiting: Option<u64>,
    /// The current round's end is queued.
    ended: bool,
    /// Since when the round's acknowledgement is awaited / the queue has had no room.
    awaiting_since: Instant,
    stalled_since: Option<Instant>,
    /// The share of time the guest is held back (0 = full speed), raised when pre-copy does not
    /// converge.
    throttle: f64,
    /// When the last safe point's migration work ended (for the throttle).
    last_poll: Instant,
}

fn unix_nanos() -> u64 {
    format::unix_nanos_now()
}

impl Sender {
    /// Starts the transport and sends `Hello`. The run must have stopped its own write
    /// tracking first (there is one per process).
    /// `wake` is set whenever there is migration work to do at the next safe point (a frame
    /// went out, an answer came in): the run's interrupt flag, so that a guest sleeping in a
    /// WASI call comes back to a safe point for it.
    pub fn start(
        req: Request,
        dir: &Path,
        module_hash: [u8; 32],
        g: &Guest,
        wake: Arc<AtomicBool>,
    ) -> Result<Sender, String> {
        let cmd = req.transport.join(" ");
        if cfg!(target_os = "wasi") {
            return Err(format!(
                "cannot start the transport `{cmd}`: this host (WASI preview 1) cannot start processes; \
                 migrate from a native chiwawa"
            ));
        }
        let mut command = Command::new(&req.transport[0]);
        command
            .args(&req.transport[1..])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // A process group of its own: ending the transport ends what it started too (an `sh -c
        // ssh ...` keeps the pipes in its child), and a terminal's Ctrl-C reaches only the run,
        // which ends the migration itself.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn().map_err(|e| format!("cannot start the transport `{cmd}`: {e}"))?;
        let (stdin, stdout) = match (child.stdin.take(), child.stdout.take()) {
            (Some(i), Some(o)) => (i, o),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("the transport has no stdin/stdout pipes".into());
            }
        };
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(QUEUE_FRAMES);
        let w = wake.clone();
        let writer = std::thread::Builder::new()
            .name("chiwawa-migrate-tx".into())
            .spawn(move || write_frames(stdin, rx, &w))
            .map_err(|e| format!("cannot start the migration writer: {e}"))?;
        // Bounded: a receiver that floods answers only blocks its own reader.
        let (rtx, replies) = mpsc::sync_channel(16);
        let w = wake.clone();
        let reply = move |r: Reply| {
            let ok = rtx.send(r).is_ok();
            w.store(true, Ordering::SeqCst);
            ok
        };
        std::thread::Builder::new()
            .name("chiwawa-migrate-rx".into())
            .spawn(move || {
                let mut out = stdout;
                if let Err(e) = read_magic(&mut out, "the receiver") {
                    reply(Reply::Closed(e.to_string()));
                    return;
                }
                loop {
                    match read_frame_max(&mut out, super::MAX_REPLY) {
                        Ok(Some((k, p))) => {
                            if !reply(Reply::Frame(k, p)) {
                                return;
                            }
                        }
                        Ok(None) => {
                            reply(Reply::Closed("the receiver closed the stream".into()));
                            return;
                        }
                        Err(e) => {
                            reply(Reply::Closed(e.to_string()));
                            return;
                        }
                    }
                }
            })
            .map_err(|e| format!("cannot start the migration reader: {e}"))?;
        let hello = Hello {
            version: super::VERSION,
            module_sha256: crate::checkpoint::hash::to_hex(&module_hash),
            module_len: g.module.byte_len,
            preopens: g.wasi.preopen_guest_paths(),
            instructions: g.machine.executed(),
            producer: super::producer(),
            memory_pages: g.store.memories.iter().map(|m| (m.data.len() / PAGE_SIZE) as u64).collect(),
        };
        let _ = tx.send(json_frame(Kind::Hello, &hello));
        log::info!("migration: started the transport `{cmd}` (pid {}, unix ns {})", child.id(), unix_nanos());
        Ok(Sender {
            req,
            dir: dir.to_path_buf(),
            module_hash,
            child,
            tx: Some(tx),
            writer: Some(writer),
            replies,
            wake,
            ready: false,
            pre: Precopy::new(best_tracker()),
            pending: None,
            started: Instant::now(),
            last_dirty: None,
            awaiting: None,
            ended: false,
            awaiting_since: Instant::now(),
            stalled_since: None,
            throttle: 0.0,
            last_poll: Instant::now(),
        })
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.req.timeout_ms.max(1))
    }

    /// The transport's exit status, if it has ended (for messages).
    fn transport_status(&mut self) -> String {
        match self.child.try_wait() {
            Ok(Some(s)) => format!(" (transport {s})"),
            _ => String::new(),
        }
    }

    /// Queues a frame without blocking; `Ok(false)`: the queue is full (kept pending).
    fn offer(&mut self, f: Vec<u8>) -> Result<bool, String> {
        let Some(tx) = &self.tx else { return Err("the stream is closed".into()) };
        match tx.try_send(f) {
            Ok(()) => {
                self.stalled_since = None;
                Ok(true)
            }
            Err(TrySendError::Full(f)) => {
                self.pending = Some(f);
                let since = *self.stalled_since.get_or_insert_with(Instant::now);
                if since.elapsed() > self.timeout() {
                    return Err(format!("the transport took nothing for {:?}", self.timeout()));
                }
                Ok(false)
            }
            Err(TrySendError::Disconnected(_)) => Err(self.writer_error()),
        }
    }

    /// Queues a frame, waiting for room until `deadline`.
    fn send_until(&mut self, mut f: Vec<u8>, deadline: Instant) -> Result<(), String> {
        loop {
            let Some(tx) = &self.tx else { return Err("the stream is closed".into()) };
            match tx.try_send(f) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Full(back)) => {
                    if Instant::now() > deadline {
                        return Err(format!("the transport took nothing for {:?}", self.timeout()));
                    }
                    f = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(TrySendError::Disconnected(_)) => return Err(self.writer_error()),
            }
        }
    }

    fn writer_error(&mut self) -> String {
        self.tx = None;
        let w = self.writer.take().and_then(|h| h.join().ok());
        let why = w.and_then(|w| w.error).unwrap_or_else(|| "the transport writer stopped".into());
        format!("cannot write to the transport: {why}{}", self.transport_status())
    }

    /// One safe point's worth of migration work; see [`Progress`].
    pub fn poll(&mut self, g: &mut Guest) -> Progress {
        if self.throttle > 0.0 {
            // Hold the guest back for its share of the time it ran since the last safe point.
            let ran = self.last_poll.elapsed();
            let pause = ran.mul_f64(self.throttle / (1.0 - self.throttle)).min(Duration::from_millis(50));
            std::thread::sleep(pause);
        }
        let p = self.poll_inner(g);
        self.last_poll = Instant::now();
        p
    }

    fn poll_inner(&mut self, g: &mut Guest) -> Progress {
        // Consumed here; set again by the writer, the reader, or below when there is more to do.
        self.wake.store(false, Ordering::SeqCst);
        loop {
            match self.replies.try_recv() {
                Ok(Reply::Frame(Kind::Ready, _)) if !self.ready => {
                    self.ready = true;
                    failpoint("migrate-after-hello");
                    log::debug!(
                        "migration: the receiver is ready after {:.1} ms",
                        self.started.elapsed().as_secs_f64() * 1e3
                    );
                    let mems = guest_mems(g);
                    let dirty = self.pre.dirty(&mems);
                    self.pre.begin_round(&mems, dirty);
                }
                Ok(Reply::Frame(Kind::Refused, p)) => {
                    let why = from_json::<Refused>(Kind::Refused, &p).map(|r| r.message).unwrap_or_default();
                    return Progress::Failed(format!("the receiver refused: {why}"));
                }
                Ok(Reply::Frame(Kind::RoundDone, p)) => {
                    let done: Option<RoundEnd> = from_json(Kind::RoundDone, &p).ok();
                    if done.as_ref().is_none_or(|d| Some(d.round) != self.awaiting) {
                        return Progress::Failed(
                            "an unexpected round acknowledgement from the receiver".into(),
                        );
                    }
                    if let Some(d) = done {
                        log::debug!(
                            "migration: round {} ({} pages) durable at the receiver after {:.1} ms",
                            d.round,
                            d.pages,
                            self.started.elapsed().as_secs_f64() * 1e3
                        );
                        self.awaiting = None;
                    }
                }
                Ok(Reply::Frame(k, _)) => {
                    return Progress::Failed(format!("unexpected {k:?} frame from the receiver"))
                }
                Ok(Reply::Closed(why)) => {
                    let status = self.transport_status();
                    return Progress::Failed(format!("{why}{status}"));
                }
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    return Progress::Failed("the transport reader stopped".into());
                }
            }
        }
        if !self.ready {
            if self.started.elapsed() > self.timeout() {
                return Progress::Failed(format!("no answer from the receiver within {:?}", self.timeout()));
            }
            return Progress::Running;
        }
        if let Some(f) = self.pending.take() {
            match self.offer(f) {
                Ok(true) => {}
                Ok(false) => return Progress::Running,
                Err(e) => return Progress::Failed(e),
            }
        }
        for _ in 0..2 {
            let mems = guest_mems(g);
            let next = self.pre.step(&mems);
            drop(mems);
            match next {
                Some(f) => {
                    // The first frame of round 1 that carries a page.
                    if self.pre.round == 1 && f.len() >= PAGE_SIZE {
                        failpoint("migrate-mid-precopy");
                    }
                    match self.offer(f) {
                        Ok(true) => {}
                        Ok(false) => return Progress::Running,
                        Err(e) => return Progress::Failed(e),
                    }
                }
                None => {
                    if !self.ended {
                        let end = json_frame(
                            Kind::RoundEnd,
                            &RoundEnd { round: self.pre.round, pages: self.pre.slot },
                        );
                        log::debug!(
                            "migration: round {} queued ({} pages) after {:.1} ms",
                            self.pre.round,
                            self.pre.slot,
                            self.started.elapsed().as_secs_f64() * 1e3
                        );
                        self.ended = true;
                        self.awaiting = Some(self.pre.round);
                        self.awaiting_since = Instant::now();
                        return match self.offer(end) {
                            Ok(_) => Progress::Running,
                            Err(e) => Progress::Failed(e),
                        };
                    }
                    if self.awaiting.is_some() {
                        // The receiver has not made the round durable yet.
                        if self.awaiting_since.elapsed() > self.timeout() {
                            return Progress::Failed(format!(
                                "the receiver did not acknowledge round {} within {:?}",
                                self.pre.round,
                                self.timeout()
                            ));
                        }
                        return Progress::Running;
                    }
                    let mems = guest_mems(g);
                    let dirty = self.pre.dirty(&mems);
                    // What the next round would send: the pages written since this one began;
                    // without write tracking, as many as this round sent.
                    let estimate =
                        if self.pre.writes.is_some() { dirty.len() } else { self.pre.slot as usize };
                    let bytes = estimate as u64 * PAGE_SIZE as u64;
                    // Converging: the remainder shrinks by a tenth a round at least.
                    let shrinking = self.last_dirty.is_none_or(|d| estimate * 10 < d * 9);
                    let mut give_up = !shrinking;
                    if !shrinking && self.throttle < MAX_THROTTLE {
                        // The guest writes about as fast as the transport carries (QEMU's
                        // auto-converge): it runs slower from now on, another round follows.
                        self.throttle = (self.throttle + THROTTLE_STEP).min(MAX_THROTTLE);
                        log::info!(
                            "migration: the guest writes {:.1} MB a round, too fast to converge; it runs at {:.0} % \
                             of its speed until the stop",
                            bytes as f64 / 1e6,
                            (1.0 - self.throttle) * 100.0
                        );
                        give_up = false;
                    }
                    if bytes <= self.req.remainder_bytes || give_up || self.pre.round >= self.req.max_rounds {
                        drop(mems);
                        return self.finish(g, dirty);
                    }
                    self.last_dirty = Some(estimate);
                    self.pre.begin_round(&mems, dirty);
                    self.ended = false;
                    self.wake.store(true, Ordering::SeqCst);
                    return Progress::Running;
                }
            }
        }
        // The queue has room and the round goes on: come back at the next chance.
        self.wake.store(true, Ordering::SeqCst);
        Progress::Running
    }

    /// The guest is stopped here for good unless this fails before the final part is out:
    /// the last changed pages, the state, then the receiver's answer.
    fn finish(&mut self, g: &mut Guest, dirty: Vec<(u32, u64)>) -> Progress {
        let stopped = unix_nanos();
        let t0 = Instant::now();
        let executed = g.machine.executed();
        log::info!(
            "migration: guest stopped at {executed} instructions (unix ns {stopped}) after {} pre-copy round(s); \
             sending the last {} page(s) and the state",
            self.pre.round,
            dirty.len()
        );
        // Everything up to the state goes out within the timeout, or the guest goes on here.
        let deadline = t0 + self.timeout();
        if let Some(f) = self.pending.take() {
            if let Err(e) = self.send_until(f, deadline) {
                return Progress::Failed(e);
            }
        }
        {
            let mems = guest_mems(g);
            self.pre.begin_round(&mems, dirty);
        }
        loop {
            let mems = guest_mems(g);
            let Some(f) = self.pre.step(&mems) else { break };
            drop(mems);
            if let Err(e) = self.send_until(f, deadline) {
                return Progress::Failed(e);
            }
        }
        let end = json_frame(Kind::RoundEnd, &RoundEnd { round: self.pre.round, pages: self.pre.slot });
        if let Err(e) = self.send_until(end, deadline) {
            return Progress::Failed(e);
        }
        // The state: a checkpoint file whose manifests name rounds as packs.
        let state = match self.state(g) {
            Ok(s) => s,
            Err(e) => return Progress::Failed(format!("cannot capture the guest: {e}")),
        };
        if state.len() > super::MAX_FRAME {
            return Progress::Failed(format!(
                "the guest's state without its memory is {} bytes, more than a migration frame holds ({})",
                state.len(),
                super::MAX_FRAME
            ));
        }
        // From here on the receiver may commit: record that first, durably.
        let listed = crate::checkpoint::CheckpointDir::open(&self.dir, 1).and_then(|d| d.list());
        let local_generation = match listed {
            Ok(l) => l.first().map(|g| g.generation),
            Err(e) => return Progress::Failed(format!("cannot list {}: {e}", self.dir.display())),
        };
        let mut marker = Marker {
            state: "sending".into(),
            transport: self.req.transport.clone(),
            instructions: executed,
            local_generation,
            destination_generation: None,
            unix_nanos: stopped,
            unreadable: false,
        };
        failpoint("migrate-before-final");
        if let Err(e) = marker.write(&self.dir) {
            return Progress::Failed(format!("cannot record the migration in {}: {e}", self.dir.display()));
        }
        let unknown = |why: String, m: &mut Marker, dir: &Path| {
            m.state = "unknown".into();
            if let Err(e) = m.write(dir) {
                log::warn!("cannot update {}: {e}", dir.join(super::MARKER_FILE).display());
            }
            Progress::Unknown(format!("{why}; {}", m.refusal(dir)))
        };
        // Not (all) out: the receiver cannot commit it, the guest goes on here.
        let not_out = |why: String, m: &mut Marker, dir: &Path| match super::remove_marker(dir) {
            Ok(()) => Progress::Failed(format!("the final part did not go out: {why}")),
            Err(e) => {
                unknown(format!("the final part did not go out ({why}), but the marker stays ({e})"), m, dir)
            }
        };
        let deadline = Instant::now() + self.timeout();
        if let Err(e) = self.send_until(frame(Kind::State, &state), deadline) {
            return not_out(e, &mut marker, &self.dir);
        }
        self.tx = None;
        // The writer ends when everything is written or the pipe breaks; one that stays blocked
        // (the transport reads no more) has not written the whole state.
        let Some(h) = self.writer.take() else { return not_out("no writer".into(), &mut marker, &self.dir) };
        if !self.writer_ends(&h, deadline) {
            // Still blocked after the transport's process group was killed: something outside
            // it holds the pipe and may yet pass the whole state on.
            return unknown(
                format!("the transport took nothing for {:?} and could not be ended", self.timeout()),
                &mut marker,
                &self.dir,
            );
        }
        let (bytes, state_sent, werr) = match h.join() {
            Ok(w) => (w.bytes, w.state_sent, w.error),
            Err(_) => (0, false, Some("the transport writer panicked".into())),
        };
        if !state_sent {
            let why = format!("{}{}", werr.unwrap_or_else(|| "closed".into()), self.transport_status());
            return not_out(why, &mut marker, &self.dir);
        }
        failpoint("migrate-after-final");
        log::debug!(
            "migration: final part sent ({} bytes in all) {:.1} ms after the stop",
            bytes,
            t0.elapsed().as_secs_f64() * 1e3
        );
        let deadline = Instant::now() + self.timeout();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.replies.recv_timeout(left) {
                Ok(Reply::Frame(Kind::Committed, p)) => {
                    let c: Committed = match from_json(Kind::Committed, &p) {
                        Ok(c) => c,
                        Err(e) => {
                            return unknown(
                                format!("the receiver's answer is malformed ({e})"),
                                &mut marker,
                                &self.dir,
                            )
                        }
                    };
                    marker.state = "migrated".into();
                    marker.destination_generation = Some(c.generation);
                    if let Err(e) = marker.write(&self.dir) {
                        log::warn!("cannot update {}: {e}", self.dir.join(super::MARKER_FILE).display());
                    }
                    // The transport may go on (`receive --run` runs the guest): not waited for.
                    return Progress::Migrated {
                        committed: c,
                        bytes,
                        rounds: self.pre.round,
                        downtime_start_unix_nanos: stopped,
                    };
                }
                Ok(Reply::Frame(Kind::Refused, p)) => {
                    let why = from_json::<Refused>(Kind::Refused, &p).map(|r| r.message).unwrap_or_default();
                    // The receiver committed nothing: the guest goes on here.
                    if let Err(e) = super::remove_marker(&self.dir) {
                        return unknown(
                            format!("the receiver refused ({why}) but the marker cannot be removed ({e})"),
                            &mut marker,
                            &self.dir,
                        );
                    }
                    return Progress::Failed(format!("the receiver refused the final state: {why}"));
                }
                Ok(Reply::Frame(Kind::RoundDone, p)) => {
                    // The final round's pack is durable; anything else is out of protocol.
                    let done: Option<RoundEnd> = from_json(Kind::RoundDone, &p).ok();
                    if done.is_some_and(|d| d.round == self.pre.round) {
                        continue;
                    }
                    return unknown("an unexpected round acknowledgement".into(), &mut marker, &self.dir);
                }
                Ok(Reply::Frame(k, _)) => {
                    return unknown(
                        format!("unexpected {k:?} frame from the receiver"),
                        &mut marker,
                        &self.dir,
                    )
                }
                Ok(Reply::Closed(why)) => {
                    let status = self.transport_status();
                    return unknown(format!("no acknowledgement: {why}{status}"), &mut marker, &self.dir);
                }
                Err(_) => {
                    return unknown(
                        format!("no acknowledgement within {:?}", self.timeout()),
                        &mut marker,
                        &self.dir,
                    )
                }
            }
        }
    }

    /// The final state: what a generation file holds, manifests naming rounds as packs, its
    /// generation the last round.
    fn state(&self, g: &mut Guest) -> Result<Vec<u8>, crate::Error> {
        let c = crate::snapshot::capture(g)?;
        let header = Header {
            format_version: format::FORMAT_VERSION,
            flags: 0,
            module_hash: self.module_hash,
            module_len: g.module.byte_len,
            generation: self.pre.round,
            created_unix_nanos: unix_nanos(),
            instructions: c.executed,
            producer: format::Producer::current(),
        };
        let manifests = self.pre.manifests(g);
        let mut out = Vec::new();
        crate::snapshot::write(g, &c, &header, Some(&manifests), &mut out)?;
        Ok(out)
    }

    /// Whether the writer `h` ends (the queue drained or the pipe broken) by `deadline`, or
    /// within 2 s of the transport's process group being killed after that.
    fn writer_ends(&mut self, h: &JoinHandle<Written>, deadline: Instant) -> bool {
        let wait = |until: Instant| {
            while !h.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(1));
            }
            h.is_finished()
        };
        if wait(deadline) {
            return true;
        }
        self.kill_transport();
        wait(Instant::now() + Duration::from_secs(2))
    }

    /// Ends the transport and what it started (its process group).
    fn kill_transport(&mut self) {
        #[cfg(unix)]
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        let _ = self.child.kill();
    }

    /// Waits briefly for the transport to end, then ends it.
    fn reap(&mut self) {
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.kill_transport();
        let _ = self.child.wait();
    }

    /// Gives up before the final part: tells the receiver (best effort), closes the stream and
    /// ends the transport. The guest goes on here.
    pub fn abort(mut self, why: &str) {
        if let Some(f) = self.pending.take() {
            drop(f);
        }
        if let Some(tx) = self.tx.take() {
            let _ = tx.try_send(json_frame(Kind::Abort, &Refused { message: why.to_string() }));
        }
        if let Some(h) = self.writer.take() {
            // A writer still blocked is left behind (its pipe's other end is gone with the
            // transport's process group; it ends with the process).
            if self.writer_ends(&h, Instant::now() + Duration::from_secs(2)) {
                let _ = h.join();
            }
        }
        self.reap();
    }
}

/// The transport writer: the magic, then every queued frame, then the end of the stream.
fn write_frames(mut stdin: ChildStdin, rx: Receiver<Vec<u8>>, wake: &AtomicBool) -> Written {
    let mut w = Written { bytes: 0, error: None, state_sent: false };
    if let Err(e) = write_magic(&mut stdin) {
        w.error = Some(e.to_string());
        return w;
    }
    for f in rx {
        let is_state = f.first() == Some(&(Kind::State as u8));
        if let Err(e) = stdin.write_all(&f) {
            w.error = Some(e.to_string());
            return w;
        }
        w.bytes += f.len() as u64;
        // The queue has room again.
        wake.store(true, Ordering::SeqCst);
        if is_state {
            if let Err(e) = stdin.flush() {
                w.error = Some(e.to_string());
                return w;
            }
            w.state_sent = true;
        }
    }
    if let Err(e) = stdin.flush() {
        w.error = Some(e.to_string());
    }
    w
}
