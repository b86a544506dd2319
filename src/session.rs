//! The orchestrator: load → compile → (restore | instantiate) → run in slices, checkpointing when
//! the trigger says so → outcome.

use crate::checkpoint::dir::LockError;
use crate::checkpoint::format::parse_checkpoint;
use crate::checkpoint::{hash, CheckpointDir};
use crate::error::Error;
use crate::guest::{Entry, Guest, Outcome, Step};
use crate::journal::{self, Journal, Resume};
use crate::migrate::send::Progress;
use crate::parse::Module;
use crate::runtime::store::Limits;
use crate::snapshot;
use crate::trigger::{Policy, Trigger};
use crate::wasi::{WasiConfig, WasiCtx};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Everything `chiwawa run` needs to know.
#[derive(Clone, Debug)]
pub struct RunConfig {
    pub module_path: PathBuf,
    pub wasi: WasiConfig,
    pub entry: EntrySpec,
    pub limits: Limits,
    /// Checkpointing, when any checkpoint option was given.
    pub checkpoint: Option<CheckpointOptions>,
    /// Memories a migration receiver assembled for the generation it committed
    /// (`receive --run`): that generation's restore takes them instead of reading its packs.
    pub preloaded: Option<Arc<Mutex<Option<crate::migrate::Preloaded>>>>,
}

/// Where and when to checkpoint, and how to start.
#[derive(Clone, Debug)]
pub struct CheckpointOptions {
    pub dir: PathBuf,
    pub keep: u32,
    pub policy: Policy,
    /// Ignore existing generations and start from the beginning.
    pub fresh: bool,
    /// Resume from this one file instead of scanning the directory.
    pub restore: Option<PathBuf>,
    /// Archive the generations when the guest finishes, instead of deleting them.
    pub keep_on_exit: bool,
    /// When another run holds the directory's lock, wait for it instead of refusing.
    pub wait_lock: bool,
    /// Incremental generations (changed pages only, in shared page packs); otherwise every
    /// generation is one self-contained file.
    pub incremental: bool,
}

/// The entry as given on the command line (arguments still text).
#[derive(Clone, Debug)]
pub enum EntrySpec {
    Command,
    Invoke { name: String, args: Vec<String> },
}

/// Reads a module file: binary Wasm, or the text format (`.wat`).
pub fn load_module_bytes(path: &std::path::Path) -> Result<Vec<u8>, Error> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::Other(format!("cannot read {}: {e}", path.display())))?;
    if bytes.starts_with(b"\0asm") {
        return Ok(bytes);
    }
    let text = String::from_utf8(bytes).map_err(|_| Error::Invalid {
        offset: Some(0),
        message: format!("{} is neither a binary module (no \\0asm magic) nor UTF-8 text", path.display()),
    })?;
    let buf = wast::parser::ParseBuffer::new(&text).map_err(|e| text_error(e, &text, path))?;
    let mut wat = wast::parser::parse::<wast::Wat>(&buf).map_err(|e| text_error(e, &text, path))?;
    wat.encode().map_err(|e| text_error(e, &text, path))
}

fn text_error(mut e: wast::Error, text: &str, path: &std::path::Path) -> Error {
    e.set_text(text);
    e.set_path(path);
    Error::Invalid { offset: None, message: e.to_string() }
}

/// Resolves the entry: for `--invoke`, the export must exist and the arguments must parse.
fn resolve_entry(module: &Module, spec: &EntrySpec) -> Result<Entry, Error> {
    match spec {
        EntrySpec::Command => Ok(Entry::Command),
        EntrySpec::Invoke { name, args } => {
            let export = module.export(name).filter(|e| e.kind == crate::parse::ExportKind::Func);
            let Some(export) = export else {
                return Err(crate::guest::no_such_export(module, name));
            };
            let ty = module.func_type(export.index);
            if args.len() != ty.params.len() {
                return Err(Error::Other(format!(
                    "`{name}` takes {} argument(s) {ty}, {} given",
                    ty.params.len(),
                    args.len()
                )));
            }
            let vals = args
                .iter()
                .zip(&ty.params)
                .map(|(a, t)| crate::cli::invoke::parse_val(*t, a))
                .collect::<Result<Vec<_>, _>>()
                .map_err(Error::Other)?;
            Ok(Entry::Invoke { name: name.clone(), args: crate::runtime::value::Val::slots(&vals) })
        }
    }
}

fn fresh_guest(cfg: &RunConfig, module: Arc<Module>) -> Result<Guest, Error> {
    let entry = resolve_entry(&module, &cfg.entry)?;
    let wasi = WasiCtx::new(&cfg.wasi).map_err(|e| Error::Other(e.to_string()))?;
    Guest::instantiate(module, wasi, cfg.limits, entry)
}

/// The checkpoint directory should not be reachable by the guest: chiwawa writes its generations
/// and undo journal there by host path, and a guest could replace them (or put symlinks in their
/// place). Only a warning: this is the user's configuration. Returns whether it is reachable (a
/// run takes no migration request there: a request names a command to start).
fn warn_if_inside_a_preopen(ck: &std::path::Path, preopens: &[crate::wasi::Preopen]) -> bool {
    let Ok(ck) = ck.canonicalize() else { return false };
    let mut inside = false;
    for p in preopens {
        if p.host.canonicalize().is_ok_and(|h| ck.starts_with(&h)) {
            log::warn!(
                "the checkpoint directory {} is inside the preopened directory {} (guest '{}'): \
                 the guest can read and replace its checkpoints and undo journal",
                ck.display(),
                p.host.display(),
                p.guest
            );
            inside = true;
        }
    }
    inside
}

/// How a run ended.
#[derive(Debug)]
pub enum Ended {
    /// The guest finished (exit, return, trap).
    Guest(Outcome),
    /// A stop signal arrived: a checkpoint was taken at the next safe point (see
    /// [`crate::stop`]); the next run resumes from it.
    Stopped { signal: i32, checkpointed: bool },
    /// The guest migrated to another host (`chiwawa migrate`): it goes on there.
    Migrated { generation: u64, instructions: u64 },
    /// The final part of a migration was sent but not acknowledged: the guest may go on on the
    /// destination, so it does not here (the message says how to find out).
    MigrationUnknown { message: String },
}

/// Runs a guest to completion (or until a stop signal, when checkpointing).
pub fn run(cfg: &RunConfig) -> Result<Ended, Error> {
    let bytes = Arc::new(load_module_bytes(&cfg.module_path)?);
    let module = Arc::new(Module::new_shared(bytes.clone())?);
    let Some(ck) = &cfg.checkpoint else {
        let mut guest = fresh_guest(cfg, module)?;
        loop {
            match guest.step(u64::MAX)? {
                Step::Paused => continue,
                Step::Finished(o) => return Ok(Ended::Guest(o)),
            }
        }
    };
    let module_hash = hash::sha256(&bytes);
    let dir = CheckpointDir::open(&ck.dir, ck.keep)
        .map_err(|e| Error::Other(format!("cannot open checkpoint directory {}: {e}", ck.dir.display())))?;
    // One writer per checkpoint directory, for the whole run.
    let lock = dir.lock(ck.wait_lock).map_err(|e| match e {
        LockError::Held { pid } => Error::Other(format!(
            "checkpoint directory {} is in use by another chiwawa run{}; refusing to run a second \
             copy of the guest on it (wait for it to end, or give --wait-lock)",
            ck.dir.display(),
            pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
        )),
        LockError::Io(e) => {
            Error::Other(format!("cannot lock checkpoint directory {}: {e}", ck.dir.display()))
        }
    })?;
    let guest_reachable = warn_if_inside_a_preopen(dir.path(), &cfg.wasi.preopens);
    // A guest that migrated away (or may have) is not resumed here a second time.
    if let Some(m) = crate::migrate::Marker::read(dir.path()) {
        // A generation newer than the one the guest left from, and at or past the instruction
        // count it left at, can only be a receiver's: the guest came back (and the receiver
        // died before it removed the marker). A generation the source itself was still
        // writing when it stopped is older than that count.
        let newest = dir.list().ok().and_then(|l| l.into_iter().next());
        let came_back = !m.unreadable
            && newest.is_some_and(|g| {
                m.local_generation.is_none_or(|l| g.generation > l)
                    && g.header().is_ok_and(|h| h.instructions >= m.instructions)
            });
        if came_back {
            log::info!(
                "the guest migrated back into {}: its old migration marker goes",
                dir.path().display()
            );
        } else if !ck.fresh {
            return Err(Error::Other(m.refusal(dir.path())));
        }
        crate::migrate::remove_marker(dir.path())
            .map_err(|e| Error::Other(format!("cannot remove the migration marker: {e}")))?;
    }
    // A request left by a `chiwawa migrate` that gave up is not for this run.
    let _ = std::fs::remove_file(crate::migrate::request_path(dir.path()));
    // Stop signals are handled from here on: one arriving while the guest is being restored
    // or started is acted on at its first safe point.
    let mut trigger = Trigger::new(ck.policy.clone());
    let stop = crate::stop::StopRequest::install(trigger.interrupt_flag()).unwrap_or_else(|e| {
        log::warn!("cannot handle stop signals ({e}): SIGTERM will end the run without a checkpoint");
        Default::default()
    });
    let (mut guest, restored, tracker) = start_guest(cfg, ck, &dir, module, &module_hash)?;
    // Incremental generations start from the restored generation of this directory (its pages
    // are in this directory's packs); otherwise (fresh, `--restore FILE`) the first generation
    // writes every page.
    let tracker = ck.incremental.then(|| {
        let mut t = tracker.unwrap_or_default();
        // Memory is what the tracker knows (or it knows nothing): track writes from here.
        let mems = memories(&guest);
        t.track_writes(&mems);
        t
    });
    // The undo journal starts at the restored generation, or at 0 ("the start", with the sizes
    // of a regular-file stdout/stderr) for a fresh run.
    let (base, stdio) = match restored {
        Some(generation) => (generation, Vec::new()),
        None => (0, crate::wasi::stdio_sizes()),
    };
    let journal = Journal::reset(dir.path(), base, &module_hash, &stdio).map_err(|e| {
        Error::Other(format!("cannot start the undo journal in {}: {e}", dir.path().display()))
    })?;
    let journal = Arc::new(Mutex::new(journal));
    let hook = journal.clone();
    guest.wasi.set_write_open_hook(move |w| hook.lock().unwrap_or_else(|p| p.into_inner()).record(w));
    trigger.resume_from(guest.machine.executed());
    // Long WASI sleeps are sliced and ask between slices whether a checkpoint is due. With a
    // watcher thread that is one atomic load; without threads (wasm32) the probe reads the
    // clock and looks for the trigger file itself.
    let probe = trigger.interrupt_probe();
    // A migration has a wake-up flag of its own (its threads set it when there is work at the
    // next safe point), apart from the one stop signals and checkpoints set.
    let migration_wake = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // A pending stop signal wakes the guest whoever cleared the interrupt flag since.
    let (wake, stopping) = (migration_wake.clone(), stop.clone());
    guest.wasi.set_interrupt_probe(move || {
        probe.check() || wake.load(std::sync::atomic::Ordering::SeqCst) || stopping.signal().is_some()
    });
    let mut w = Writer {
        dir: &dir,
        module_hash,
        tracker,
        journal,
        in_flight: None,
        spare: Vec::new(),
        memory_bytes: 0,
        retrack: false,
        lent: false,
        warming: None,
    };
    let mut migration: Option<crate::migrate::send::Sender> = None;
    let mut migration_id: Option<u64> = None;
    log::debug!(
        "first instruction at {} instructions (unix ns {})",
        guest.machine.executed(),
        crate::checkpoint::format::unix_nanos_now()
    );
    let outcome = loop {
        let budget = trigger.budget(guest.machine.executed());
        match guest.step(budget)? {
            Step::Finished(o) => break o,
            Step::Paused => {
                let executed = guest.machine.executed();
                // A wake-up a migration's thread gave after the migration ended is for nobody
                // (left set, a guest sleeping in a WASI call would come back at once, forever).
                if migration.is_none() && migration_wake.load(std::sync::atomic::Ordering::Relaxed) {
                    migration_wake.store(false, std::sync::atomic::Ordering::SeqCst);
                }
                if w.in_flight.as_ref().is_some_and(|f| f.gen.is_finished()) {
                    if let Err(failed_at) = w.settle() {
                        trigger.checkpoint_failed(failed_at);
                    }
                }
                if let Some(signal) = stop.signal() {
                    if let Some(m) = migration.take() {
                        let why = format!("stopped by {}", crate::stop::signal_name(signal));
                        end_migration(m, &why, dir.path(), &mut w, &guest, &mut migration_id);
                    }
                    // A planned stop: save everything up to this safe point, then exit.
                    let name = crate::stop::signal_name(signal);
                    let checkpointed = match w.commit(&mut guest) {
                        Ok((generation, path, _)) => {
                            log::info!(
                                "{name}: stopped after a checkpoint at {executed} instructions (generation \
                                 {generation}, {}); the next run resumes from it",
                                path.display()
                            );
                            true
                        }
                        Err(e) => {
                            log::error!(
                                "{name}: the stop checkpoint failed ({e}); stopping anyway, the next run \
                                 resumes from the previous generation"
                            );
                            false
                        }
                    };
                    return Ok(Ended::Stopped { signal, checkpointed });
                }
                if let Some(m) = migration.as_mut() {
                    match m.poll(&mut guest) {
                        Progress::Running => {}
                        Progress::Failed(why) => {
                            if let Some(m) = migration.take() {
                                end_migration(m, &why, dir.path(), &mut w, &guest, &mut migration_id);
                            }
                        }
                        Progress::Migrated { committed, bytes, rounds, downtime_start_unix_nanos } => {
                            let message = format!(
                                "migrated: the receiver committed generation {} ({}) at {} instructions; \
                                 {bytes} bytes in {rounds} round(s), {:.1} ms after the guest stopped here",
                                committed.generation,
                                committed.path,
                                committed.instructions,
                                committed.unix_nanos.saturating_sub(downtime_start_unix_nanos) as f64 / 1e6
                            );
                            log::info!("{message}");
                            migrate_outcome(dir.path(), &mut migration_id, "migrated", &message);
                            drop(lock);
                            return Ok(Ended::Migrated {
                                generation: committed.generation,
                                instructions: committed.instructions,
                            });
                        }
                        Progress::Unknown(message) => {
                            log::error!("migration outcome unknown: {message}");
                            migrate_outcome(dir.path(), &mut migration_id, "unknown", &message);
                            drop(lock);
                            return Ok(Ended::MigrationUnknown { message });
                        }
                    }
                }
                if trigger.migration_requested() {
                    let request = crate::migrate::take_request(dir.path());
                    trigger.migration_taken();
                    let request = match request {
                        Ok(r) if migration.is_some() => {
                            Err((r.id, "a migration is already in progress".into()))
                        }
                        Ok(r) if guest_reachable => Err((
                            r.id,
                            format!(
                                "the checkpoint directory {} is inside a preopened directory: the guest \
                                 could write migration requests there, so none is taken",
                                dir.path().display()
                            ),
                        )),
                        r => r,
                    };
                    match request {
                        Ok(req) => {
                            migration_id = Some(req.id);
                            // One write tracker per process: the run's stops while the migration's runs.
                            let _ = w.settle();
                            if let Some(t) = w.tracker.as_mut() {
                                *t = crate::checkpoint::pages::PageTracker::new();
                            }
                            w.lent = true;
                            let wake = migration_wake.clone();
                            match crate::migrate::send::Sender::start(
                                req,
                                dir.path(),
                                module_hash,
                                &guest,
                                wake,
                            ) {
                                Ok(s) => migration = Some(s),
                                Err(why) => {
                                    log::error!("migration failed: {why}; the guest keeps running here");
                                    w.lent = false;
                                    w.forget_pages(Some(&memories(&guest)));
                                    migrate_outcome(dir.path(), &mut migration_id, "failed", &why);
                                }
                            }
                        }
                        Err((id, why)) => {
                            log::error!("migration request refused: {why}");
                            migrate_outcome(dir.path(), &mut Some(id), "failed", &why);
                        }
                    }
                    continue;
                }
                if let Some(reason) = trigger.due(executed) {
                    let t0 = Instant::now();
                    // Wall-clock generations of incremental runs are written while the guest runs
                    // on; the others (a trigger file, an instruction count) are durable before it
                    // does, as their users expect.
                    // Not while migrating: a generation still being written when the guest
                    // stops for the migration could land after the migration's marker.
                    let background = ck.incremental
                        && reason == crate::trigger::Reason::Interval
                        && !trigger.trigger_file_due()
                        && migration.is_none();
                    if background && w.in_flight.as_ref().is_some_and(|f| !f.gen.is_finished()) {
                        // The disk is behind (the last generation is still being written): the
                        // guest runs on, and this one is taken once that one is done.
                        continue;
                    }
                    let result = if background {
                        w.begin(&mut guest, executed, reason, t0)
                    } else {
                        w.commit(&mut guest).map(Some)
                    };
                    match result {
                        Ok(done) => {
                            if let Some((generation, path, bytes)) = done {
                                log_generation(generation, &path, bytes, executed, t0, None, reason);
                            }
                            trigger.checkpointed(executed, reason);
                        }
                        Err(e) => {
                            log::warn!(
                                "checkpoint failed (the run continues, older generations are intact): {e}"
                            );
                            trigger.checkpoint_failed(executed);
                        }
                    }
                }
            }
        }
    };
    // A generation still being written is waited for: none may appear after the clean up.
    let _ = w.settle();
    // The guest is done: its generations must not resurrect it on the next run.
    journal::remove(dir.path());
    let done = if ck.keep_on_exit {
        dir.archive().map(|p| log::info!("guest finished; generations archived in {}", p.display()))
    } else {
        dir.clear()
    };
    if let Err(e) = done {
        log::warn!("cannot clear the checkpoint directory {}: {e}", dir.path().display());
    }
    lock.remove();
    Ok(Ended::Guest(outcome))
}

/// The debug line of a committed generation (`paused`: how long the guest waited for one
/// written in the background; otherwise it waited for all of it).
fn log_generation(
    generation: u64,
    path: &std::path::Path,
    bytes: u64,
    executed: u64,
    t0: Instant,
    paused: Option<std::time::Duration>,
    reason: crate::trigger::Reason,
) {
    let ms = paused.unwrap_or_else(|| t0.elapsed()).as_secs_f64() * 1e3;
    let durable = paused.map(|_| {
        format!(" (written in the background: durable after {:.1} ms)", t0.elapsed().as_secs_f64() * 1e3)
    });
    log::debug!(
        "checkpoint: generation {generation} ({}), {bytes} bytes, {executed} instructions, {ms:.1} ms, reason {}{}",
        path.display(),
        reason.as_str(),
        durable.unwrap_or_default()
    );
}

/// A migration that failed before its final part: the guest goes on here, with a page tracker
/// that knows nothing (the next generation writes every page).
fn end_migration(
    m: crate::migrate::send::Sender,
    why: &str,
    dir: &std::path::Path,
    w: &mut Writer<'_>,
    guest: &Guest,
    id: &mut Option<u64>,
) {
    m.abort(why);
    log::error!("migration failed: {why}; the guest keeps running here");
    w.lent = false;
    w.forget_pages(Some(&memories(guest)));
    migrate_outcome(dir, id, "failed", why);
}

/// Tells `chiwawa migrate` how its request ended.
fn migrate_outcome(dir: &std::path::Path, id: &mut Option<u64>, status: &str, message: &str) {
    let o = crate::migrate::Outcome {
        id: id.take().unwrap_or(0),
        status: status.into(),
        message: message.into(),
    };
    crate::migrate::write_outcome(dir, &o);
}

/// The guest's linear memories, by index (what write tracking watches).
fn memories(guest: &Guest) -> Vec<&[u8]> {
    guest.store.memories.iter().map(|m| m.data()).collect()
}

/// The debug line of an incremental generation's pages.
fn log_pages(c: &snapshot::Committed) {
    log::debug!(
        "generation {}: {} pages written, {} referenced from earlier packs",
        c.generation,
        c.pages_written,
        c.pages_reused
    );
}

/// A generation being written while the guest runs on, and when it was captured.
struct Pending {
    gen: snapshot::InFlight,
    executed: u64,
    t0: Instant,
    paused: std::time::Duration,
    reason: crate::trigger::Reason,
}

/// Commits generations for the run: the page tracker of incremental runs, the undo journal, and
/// the generation written in the background, if one is.
struct Writer<'a> {
    dir: &'a CheckpointDir,
    module_hash: [u8; 32],
    tracker: Option<crate::checkpoint::pages::PageTracker>,
    journal: Arc<Mutex<Journal>>,
    in_flight: Option<Pending>,
    /// The buffer the last background generation copied its pages to, kept for the next.
    spare: Vec<u8>,
    /// Bytes of non-zero guest memory at the last generation ([`Writer::live_bytes`]).
    memory_bytes: usize,
    /// Write tracking is to start again (a background generation failed).
    retrack: bool,
    /// A migration has the process's write tracking (there is one per process): the run's
    /// generations fingerprint every page meanwhile.
    lent: bool,
    /// A copy buffer being allocated and touched for the first background generation.
    warming: Option<std::thread::JoinHandle<Vec<u8>>>,
}

impl Writer<'_> {
    /// The page tracker after a generation failed whose plan it had taken: it knows nothing
    /// any more (the next generation writes every page).
    fn forget_pages(&mut self, guest_mems: Option<&[&[u8]]>) {
        if let Some(t) = self.tracker.as_mut() {
            *t = crate::checkpoint::pages::PageTracker::new();
            match guest_mems {
                // Not while a migration has the process's write tracking (starting another
                // tracker would clear its record of written pages).
                Some(_) if self.lent => self.retrack = true,
                Some(m) => t.track_writes(m),
                // Write tracking starts again at the next generation (a fresh tracker may
                // start it at any time).
                None => self.retrack = true,
            }
        }
    }

    /// How big a copy buffer is kept between background generations.
    /// Bytes of guest memory a generation copies at most: the non-zero pages the last
    /// generation found (not the memories' size: a sparse 64-bit memory of many GiB may hold
    /// a few MiB), else the memories' size.
    fn live_bytes(&self, guest: &Guest) -> usize {
        match self.tracker.as_ref() {
            Some(t) => t.live_bytes(),
            None => memories(guest).iter().map(|m| m.len()).sum(),
        }
    }

    fn spare_keep(&self) -> usize {
        SPARE_KEEP_MIN.max(self.memory_bytes / 8)
    }

    /// Write tracking again after [`forget_pages`](Self::forget_pages) without the memories.
    fn retrack(&mut self, guest: &Guest) {
        if !self.lent && std::mem::take(&mut self.retrack) {
            if let Some(t) = self.tracker.as_mut() {
                let mems = memories(guest);
                t.track_writes(&mems);
            }
        }
    }

    fn journal(&self) -> std::sync::MutexGuard<'_, Journal> {
        self.journal.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for the generation in flight, if any. Durable: the undo journal starts at it.
    /// Failed: logged, the tracker forgets its pages, and `Err` carries the instruction count
    /// it was captured at.
    fn settle(&mut self) -> Result<(), u64> {
        let Some(p) = self.in_flight.take() else { return Ok(()) };
        let (result, spare) = p.gen.wait();
        // Kept only while small against the guest's memory.
        if spare.capacity() <= self.spare_keep() {
            self.spare = spare;
        }
        match result {
            Ok(c) => {
                log_pages(&c);
                log_generation(c.generation, &c.path, c.bytes, p.executed, p.t0, Some(p.paused), p.reason);
                let (dir, hash) = (self.dir.path(), self.module_hash);
                if let Err(e) = self.journal().rebase(dir, c.generation, &hash) {
                    log::warn!("cannot restart the undo journal: {e}");
                }
                Ok(())
            }
            Err(e) => {
                log::warn!("checkpoint failed (the run continues, older generations are intact): {e}");
                // The tracker starts over at the next generation (it has no memory to protect
                // here: tracking resumes after that generation).
                self.forget_pages(None);
                Err(p.executed)
            }
        }
    }

    /// Commits a generation now (after the one in flight, if any) and restarts the undo
    /// journal at it.
    fn commit(&mut self, guest: &mut Guest) -> Result<(u64, PathBuf, u64), Error> {
        let _ = self.settle();
        self.retrack(guest);
        match snapshot::checkpoint(guest, self.dir, self.module_hash, self.tracker.as_mut()) {
            Ok(c) => {
                self.memory_bytes = self.live_bytes(guest);
                self.warm_spare();
                Ok(self.committed(c))
            }
            Err(e) => Err(self.failed(guest, e)),
        }
    }

    /// Before the first background generation of an incremental run: a thread allocates and
    /// touches a copy buffer of half the kept size, so that the guest's thread does not pay its
    /// page faults at that generation's copy (taken if ready then, else left to finish).
    fn warm_spare(&mut self) {
        if self.tracker.is_none()
            || self.spare.capacity() > 0
            || self.warming.is_some()
            || cfg!(target_os = "wasi")
        {
            return;
        }
        let size = self.spare_keep() / 2;
        self.warming = std::thread::Builder::new()
            .name("chiwawa-warm".into())
            .spawn(move || {
                let mut v = Vec::new();
                if v.try_reserve_exact(size).is_ok() {
                    v.resize(size, 0u8);
                    v.clear();
                }
                v
            })
            .ok();
    }

    /// The warmed copy buffer, if it is ready.
    fn take_warm_spare(&mut self) {
        if self.spare.capacity() == 0 && self.warming.as_ref().is_some_and(|h| h.is_finished()) {
            if let Some(Ok(v)) = self.warming.take().map(|h| h.join()) {
                self.spare = v;
            }
        }
    }

    /// A generation committed before the guest went on: the undo journal starts at it.
    fn committed(&mut self, c: snapshot::Committed) -> (u64, PathBuf, u64) {
        if self.tracker.is_some() {
            log_pages(&c);
        }
        match Journal::reset(self.dir.path(), c.generation, &self.module_hash, &[]) {
            Ok(j) => *self.journal() = j,
            Err(e) => log::warn!("cannot restart the undo journal: {e}"),
        }
        (c.generation, c.path, c.bytes)
    }

    /// A generation failed after the tracker took its plan: the tracker starts over.
    fn failed(&mut self, guest: &Guest, e: Error) -> Error {
        if self.tracker.is_some() {
            let mems = memories(guest);
            self.forget_pages(Some(&mems));
        }
        e
    }

    /// Captures an incremental generation and has it written while the guest runs on
    /// (`snapshot::begin`); `Some` if it was committed at once instead.
    fn begin(
        &mut self,
        guest: &mut Guest,
        executed: u64,
        reason: crate::trigger::Reason,
        t0: Instant,
    ) -> Result<Option<(u64, PathBuf, u64)>, Error> {
        let _ = self.settle();
        self.retrack(guest);
        self.memory_bytes = self.live_bytes(guest);
        let keep = self.spare_keep();
        self.take_warm_spare();
        let Some(tracker) = self.tracker.as_mut() else { return self.commit(guest).map(Some) };
        let begun = snapshot::begin(
            guest,
            self.dir,
            self.module_hash,
            tracker,
            BACKGROUND_COPY_MAX,
            &mut self.spare,
            keep,
        );
        let gen = match begun {
            Ok(snapshot::Begun::InFlight(gen)) => gen,
            Ok(snapshot::Begun::Done(c)) => {
                self.warm_spare();
                return Ok(Some(self.committed(c)));
            }
            Err(e) => return Err(self.failed(guest, e)),
        };
        // Opens from here on happen after the generation: a resume from it undoes only those.
        let marked = self.journal().mark(gen.generation);
        let pending = Pending { executed, t0, paused: t0.elapsed(), reason, gen };
        self.in_flight = Some(pending);
        if let Err(e) = marked {
            // Without the mark, the journal can only start at the generation once it is
            // durable: wait for that before the guest opens anything.
            log::warn!("cannot mark generation in the undo journal ({e}); waiting for it to be written");
            let _ = self.settle();
        }
        Ok(None)
    }
}

/// The most a generation written in the background copies out of the guest (its new pages);
/// a bigger one is written before the guest goes on.
const BACKGROUND_COPY_MAX: usize = 256 << 20;
/// A copy buffer up to this size is kept for the next background generation whatever the
/// size of guest memory (a bigger one: up to an eighth of it).
const SPARE_KEEP_MIN: usize = 64 << 20;

/// Why a generation was not used.
enum Skip {
    /// Unusable (damaged, another version): try the next older one.
    Invalid(String),
    /// Made for another module: try the next older one, but never start over on top of it.
    Foreign(String),
    /// Valid, but this run's environment cannot take it (e.g. a missing `--dir`): stop, keep
    /// every generation, let the user fix the command.
    Fatal(String),
    /// It would make chiwawa act outside the guest's preopens (a descriptor or journal path
    /// that leads out), or its WASI state is inconsistent: stop, touch nothing, keep every
    /// generation (an older one is not a safe substitute).
    Refused(String),
}

/// A fresh guest, or one restored from `--restore FILE` or the newest restorable generation
/// (then also its generation number).
///
/// Restoring may truncate a regular-file stderr back to its checkpointed size, so the messages
/// about skipped generations are logged only after the restore.
fn start_guest(
    cfg: &RunConfig,
    ck: &CheckpointOptions,
    dir: &CheckpointDir,
    module: Arc<Module>,
    module_hash: &[u8; 32],
) -> Result<(Guest, Option<u64>, Option<crate::checkpoint::pages::PageTracker>), Error> {
    let module_len = module.byte_len;
    // On success: the guest and the message to log once the skipped generations are reported.
    let try_restore = |path: &std::path::Path,
                       expected_generation: Option<u64>|
     -> Result<(Guest, String, u64, crate::checkpoint::pages::PageTracker), Skip> {
        let t0 = Instant::now();
        let bytes = std::fs::read(path).map_err(|e| Skip::Invalid(format!("cannot read it: {e}")))?;
        // Borrowing parse: section payloads are not copied out of the file bytes.
        let c = parse_checkpoint(&bytes).map_err(|e| Skip::Invalid(e.to_string()))?;
        if let Some(g) = expected_generation.filter(|g| *g != c.header.generation) {
            return Err(Skip::Invalid(format!(
                "its header says generation {}, its name says {g} (renamed?)",
                c.header.generation
            )));
        }
        snapshot::accept(&c, module_hash, module_len).map_err(|why| {
            if c.header.module_hash != *module_hash {
                Skip::Foreign(why)
            } else {
                Skip::Invalid(why)
            }
        })?;
        // Files opened for writing after this checkpoint go back to what they were at it, once
        // its interpreter state has been validated in full (a damaged or hostile file leaves
        // them alone). Only for the directory's own generations: a `--restore` file may come
        // from elsewhere.
        let generation = c.header.generation;
        let mut undo = || -> Result<(), Error> {
            if expected_generation.is_none() {
                return Ok(());
            }
            let n =
                journal::undo(dir.path(), Resume::Generation(generation), module_hash, &cfg.wasi.preopens)
                    .map_err(|e| match e {
                        Error::Refused(m) => Error::Refused(m),
                        other => Error::Environment(other.to_string()),
                    })?;
            if n > 0 {
                log::debug!("rolled back {n} file(s) opened after generation {generation}");
            }
            Ok(())
        };
        // Pages of an incremental generation are in the packs beside its file.
        let pack_dir = crate::checkpoint::pages::pack_dir(path);
        let mut pages = crate::checkpoint::pages::PageStore::new(&pack_dir, *module_hash);
        let pre = cfg.preloaded.as_ref().and_then(|p| p.lock().ok()?.take_if(|p| p.generation == generation));
        if let Some(p) = pre {
            log::debug!("restore: {} memories as the migration receiver kept them in RAM", p.memories.len());
            pages.preload(p.memories);
        }
        let (g, tracker) =
            snapshot::restore_paged(module.clone(), &c, Some(&mut pages), &cfg.wasi, cfg.limits, &mut undo)
                .map_err(|e| match e {
                Error::Environment(m) => Skip::Fatal(m),
                Error::Refused(m) => Skip::Refused(m),
                other => Skip::Invalid(other.to_string()),
            })?;
        let msg = format!(
            "resuming from {} (generation {}, {} instructions; restored in {:.1} ms)",
            path.display(),
            c.header.generation,
            c.header.instructions,
            t0.elapsed().as_secs_f64() * 1e3
        );
        Ok((g, msg, c.header.generation, tracker))
    };
    if let Some(file) = &ck.restore {
        let (g, msg, generation, _) = try_restore(file, None).map_err(|s| match s {
            Skip::Invalid(e) | Skip::Foreign(e) => {
                Error::Other(format!("cannot restore from {}: {e}", file.display()))
            }
            Skip::Refused(e) => Error::Other(format!("cannot restore from {}: {e}", file.display())),
            Skip::Fatal(e) => Error::Other(format!(
                "cannot restore from {}: {e} (check the --dir options: preopens are matched by guest path)",
                file.display()
            )),
        })?;
        log::info!("{msg}");
        return Ok((g, Some(generation), None));
    }
    if !ck.fresh {
        let gens =
            dir.list().map_err(|e| Error::Other(format!("cannot list {}: {e}", dir.path().display())))?;
        // (path, reason), reported once the outcome is known (see above).
        let mut skipped: Vec<(String, String)> = Vec::new();
        let report = |skipped: &[(String, String)]| {
            for (path, why) in skipped {
                log::warn!("skipping checkpoint {path}: {why}");
            }
        };
        let mut foreign = 0;
        for g in &gens {
            match try_restore(&g.path, Some(g.generation)) {
                Ok((guest, msg, generation, tracker)) => {
                    report(&skipped);
                    log::info!("{msg}");
                    return Ok((guest, Some(generation), Some(tracker)));
                }
                Err(Skip::Fatal(why)) => {
                    report(&skipped);
                    return Err(Error::Other(format!(
                        "cannot resume from {}: {why}; the generations in {} are kept \
                         (give the same --dir options as the first run, or --fresh to start over)",
                        g.path.display(),
                        dir.path().display()
                    )));
                }
                Err(Skip::Refused(why)) => {
                    report(&skipped);
                    return Err(Error::Other(format!(
                        "cannot resume from {}: {why}; the generations in {} are kept (--fresh starts over)",
                        g.path.display(),
                        dir.path().display()
                    )));
                }
                Err(Skip::Foreign(why)) => {
                    foreign += 1;
                    skipped.push((g.path.display().to_string(), why));
                }
                Err(Skip::Invalid(why)) => skipped.push((g.path.display().to_string(), why)),
            }
        }
        if foreign > 0 {
            report(&skipped);
            return Err(Error::Other(format!(
                "{} holds checkpoints of another module; refusing to overwrite them \
                 (use --fresh to start over, or another --checkpoint-dir)",
                dir.path().display()
            )));
        }
        if !gens.is_empty() {
            // Generations exist but none can be used: never throw the work away silently.
            let list: Vec<String> = skipped.iter().map(|(p, why)| format!("  {p}: {why}")).collect();
            return Err(Error::Other(format!(
                "no usable checkpoint in {} ({} generation(s), every one unusable); refusing to start \
                 over on top of them (nothing was changed; run with --fresh to discard them and start \
                 from the beginning):\n{}",
                dir.path().display(),
                gens.len(),
                list.join("\n")
            )));
        }
        // A run that crashed before its first checkpoint: undo what it wrote.
        match journal::undo(dir.path(), Resume::Start, module_hash, &cfg.wasi.preopens) {
            Ok(0) => {}
            Ok(n) => log::info!("starting over: rolled back {n} file(s) written by the interrupted run"),
            Err(e) => {
                return Err(Error::Other(format!(
                "cannot roll back the files of the interrupted run: {e} (use --fresh to start over anyway)"
            )))
            }
        }
    }
    journal::remove(dir.path());
    Ok((fresh_guest(cfg, module)?, None, None))
}
