//! When is a checkpoint due?
//!
//! The interpreter runs with a countdown of *instruction units* and yields
//! when it reaches zero; the hot path is one decrement at each safe point.
//! On every yield the driver asks the [`Trigger`]:
//!
//! ```text
//! let mut trigger = Trigger::new(policy);
//! loop {
//!     match machine.run(trigger.budget(executed)) {            // runs ≤ budget units
//!         Yielded => if let Some(reason) = trigger.due(executed) {
//!             capture + commit ...;
//!             trigger.checkpointed(executed, reason);          // or checkpoint_failed
//!         },
//!         ...
//!     }
//! }
//! ```
//!
//! * **Instructions** (`every_instructions`): purely a function of the
//!   `executed` counter, so instruction-driven checkpoints land at the same
//!   points on every host. [`Trigger::budget`] never lets the interpreter run
//!   past the next one.
//! * **Interval** (`every`) and **trigger file**: wall-clock and file-system
//!   observations. Natively (and on wasm hosts with threads) a small watcher
//!   thread reads the clock and `stat`s the file and sets atomic flags, so
//!   `due()` costs two atomic loads. Without threads (`wasm32-wasip1`),
//!   `due()` itself probes, but only every N-th call, with N adapted so a
//!   probe happens about every 10 ms.
//!
//! Every counter restarts after each checkpoint, whatever its reason. The
//! trigger file is a one-shot request: it is deleted after the checkpoint it
//! caused is durable (so a crash during that checkpoint leaves the request
//! in place, and a trigger file present at start causes a checkpoint at the
//! first yield).

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Upper bound of [`Trigger::budget`]: how many instruction units may run
/// between two yields (about 0.1–1 ms of guest work), so time and file
/// triggers are noticed promptly.
pub const POLL_QUANTUM: u64 = 1 << 16;

/// How often the watcher thread `stat`s the trigger file.
const FILE_POLL_PERIOD: Duration = Duration::from_millis(10);
/// Longest the watcher sleeps when it has nothing time-bound to watch.
const IDLE_SLEEP: Duration = Duration::from_secs(1);
/// Target spacing of probes in polling mode.
const POLL_TARGET: Duration = Duration::from_millis(10);
/// Initial and maximum N of "probe every N-th `due()` call".
const INITIAL_STRIDE: u32 = 64;
const MAX_STRIDE: u32 = 1 << 16;
/// After a failed checkpoint, ignore a still-present trigger file this long.
const FILE_RETRY_DELAY: Duration = Duration::from_secs(1);
/// Whether this target can run a watcher thread at all.
const THREADS_POSSIBLE: bool = cfg!(any(not(target_os = "wasi"), target_feature = "atomics"));

/// What makes a checkpoint due. Fields that are `None` (or zero) are off.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Wall-clock interval (`--every`).
    pub every: Option<Duration>,
    /// Instruction units between checkpoints (deterministic).
    pub every_instructions: Option<u64>,
    /// A checkpoint is due whenever this file exists; it is removed after
    /// the checkpoint is durable (`--trigger-file`, e.g. touched by
    /// `systemctl reload`).
    pub trigger_file: Option<PathBuf>,
    /// A live migration is requested whenever this file exists (`chiwawa migrate` writes it;
    /// the run removes it when it takes the request). Not a checkpoint reason: see
    /// [`Trigger::migration_requested`].
    pub migrate_file: Option<PathBuf>,
}

impl Policy {
    /// Whether no trigger is configured.
    pub fn is_empty(&self) -> bool {
        self.every.is_none() && self.every_instructions.is_none() && self.trigger_file.is_none()
    }
}

/// Why a checkpoint is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    Interval,
    Instructions,
    TriggerFile,
}

impl Reason {
    /// Stable lower-case name (for logs and JSON events).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Interval => "interval",
            Reason::Instructions => "instructions",
            Reason::TriggerFile => "trigger-file",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// State shared with the watcher thread and with [`InterruptProbe`]s.
#[derive(Debug)]
struct Shared {
    base: Instant,
    trigger_file: Option<PathBuf>,
    /// Interval deadline in nanoseconds since `base`; `u64::MAX` = none.
    deadline: AtomicU64,
    /// Ignore the trigger file until this many nanoseconds since `base`.
    file_quiet_until: AtomicU64,
    time_due: AtomicBool,
    file_due: AtomicBool,
    migrate_file: Option<PathBuf>,
    migrate_due: AtomicBool,
    interrupt: Arc<AtomicBool>,
    stop: AtomicBool,
    /// A watcher thread exists (flags are kept fresh asynchronously).
    watched: AtomicBool,
}

impl Shared {
    fn now_nanos(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Read the clock and `stat` the trigger file; raise flags. Returns "now".
    fn probe(&self) -> u64 {
        let now = self.now_nanos();
        if now >= self.deadline.load(Ordering::Acquire) {
            self.time_due.store(true, Ordering::Release);
            self.interrupt.store(true, Ordering::Release);
        }
        if let Some(file) = &self.trigger_file {
            if now >= self.file_quiet_until.load(Ordering::Acquire) && std::fs::metadata(file).is_ok() {
                self.file_due.store(true, Ordering::Release);
                self.interrupt.store(true, Ordering::Release);
            }
        }
        if let Some(file) = &self.migrate_file {
            if !self.migrate_due.load(Ordering::Acquire) && std::fs::metadata(file).is_ok() {
                self.migrate_due.store(true, Ordering::Release);
                self.interrupt.store(true, Ordering::Release);
            }
        }
        now
    }

    fn watch(&self) {
        while !self.stop.load(Ordering::Acquire) {
            let now = self.probe();
            let files = self.trigger_file.is_some() || self.migrate_file.is_some();
            let mut sleep = if files { FILE_POLL_PERIOD } else { IDLE_SLEEP };
            let deadline = self.deadline.load(Ordering::Acquire);
            if deadline != u64::MAX && !self.time_due.load(Ordering::Acquire) {
                sleep = sleep.min(Duration::from_nanos(deadline.saturating_sub(now)));
            }
            // Woken early by `checkpointed` (new deadline) and by drop.
            std::thread::park_timeout(sleep);
        }
    }
}

/// Decides when a checkpoint is due; see the module docs.
pub struct Trigger {
    every: Option<Duration>,
    every_instructions: Option<u64>,
    shared: Arc<Shared>,
    /// `executed` at the start or at the last checkpoint.
    last_executed: u64,
    watcher: Option<JoinHandle<()>>,
    /// Polling mode: probe when `calls >= stride`.
    calls: u32,
    stride: u32,
    last_probe: u64,
}

impl fmt::Debug for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trigger")
            .field("every", &self.every)
            .field("every_instructions", &self.every_instructions)
            .field("trigger_file", &self.shared.trigger_file)
            .field("last_executed", &self.last_executed)
            .field("watcher_thread", &self.watcher.is_some())
            .field("stride", &self.stride)
            .finish()
    }
}

impl Trigger {
    /// Start the clock for `policy`. If a time or file trigger is configured
    /// and the target supports threads, a watcher thread is started; if that
    /// is impossible (e.g. `wasm32-wasip1`) `due()` polls instead.
    /// Zero durations and zero instruction counts are treated as "off".
    pub fn new(policy: Policy) -> Trigger {
        Self::build(policy, THREADS_POSSIBLE)
    }

    fn build(policy: Policy, allow_thread: bool) -> Trigger {
        let every = policy.every.filter(|d| !d.is_zero());
        let every_instructions = policy.every_instructions.filter(|&n| n > 0);
        let shared = Arc::new(Shared {
            base: Instant::now(),
            trigger_file: policy.trigger_file,
            deadline: AtomicU64::new(u64::MAX),
            file_quiet_until: AtomicU64::new(0),
            time_due: AtomicBool::new(false),
            file_due: AtomicBool::new(false),
            migrate_file: policy.migrate_file,
            migrate_due: AtomicBool::new(false),
            interrupt: Arc::new(AtomicBool::new(false)),
            stop: AtomicBool::new(false),
            watched: AtomicBool::new(false),
        });
        let mut trigger = Trigger {
            every,
            every_instructions,
            shared,
            last_executed: 0,
            watcher: None,
            calls: INITIAL_STRIDE, // probe on the first `due()`
            stride: INITIAL_STRIDE,
            last_probe: 0,
        };
        trigger.restart_interval();
        let needs_watch =
            every.is_some() || trigger.shared.trigger_file.is_some() || trigger.shared.migrate_file.is_some();
        if needs_watch && allow_thread {
            let shared = Arc::clone(&trigger.shared);
            match std::thread::Builder::new()
                .name("chiwawa-trigger".into())
                .stack_size(64 * 1024)
                .spawn(move || shared.watch())
            {
                Ok(handle) => {
                    trigger.shared.watched.store(true, Ordering::Release);
                    trigger.watcher = Some(handle);
                }
                Err(e) => log::debug!("no trigger watcher thread ({e}); polling instead"),
            }
        }
        trigger
    }

    /// Start counting from `executed` instead of 0: call once after restoring
    /// from a checkpoint taken at `executed`, so instruction-driven
    /// checkpoints land exactly where an uninterrupted run puts them. Also
    /// restarts the interval.
    pub fn resume_from(&mut self, executed: u64) {
        self.last_executed = executed;
        self.restart_interval();
        self.wake_watcher();
    }

    /// Whether a watcher thread keeps the time/file flags fresh.
    pub fn has_watcher_thread(&self) -> bool {
        self.watcher.is_some()
    }

    fn restart_interval(&mut self) {
        let deadline = match self.every {
            Some(every) => self
                .shared
                .now_nanos()
                .saturating_add(u64::try_from(every.as_nanos()).unwrap_or(u64::MAX))
                .min(u64::MAX - 1),
            None => u64::MAX,
        };
        self.shared.deadline.store(deadline, Ordering::Release);
        self.shared.time_due.store(false, Ordering::Release);
    }

    /// Polling mode: probe every `stride`-th call, adapting `stride` so that
    /// probes are about [`POLL_TARGET`] apart.
    fn maybe_probe(&mut self) {
        self.calls += 1;
        if self.calls < self.stride {
            return;
        }
        self.calls = 0;
        let now = self.shared.probe();
        let dt = now.saturating_sub(self.last_probe);
        self.last_probe = now;
        self.stride = next_stride(self.stride, dt);
    }

    /// Called at each yield with the total instruction units executed so far.
    /// Returns why a checkpoint is due, if one is. Precedence when several
    /// are due: trigger file, then interval, then instructions (all counters
    /// restart after the checkpoint anyway).
    pub fn due(&mut self, executed: u64) -> Option<Reason> {
        let watches_time =
            self.every.is_some() || self.shared.trigger_file.is_some() || self.shared.migrate_file.is_some();
        if watches_time && self.watcher.is_none() {
            self.maybe_probe();
        }
        if self.shared.file_due.load(Ordering::Acquire) {
            // Confirm: the watcher may have seen the file just before
            // `checkpointed` removed it.
            let exists = self.shared.trigger_file.as_ref().is_some_and(|f| std::fs::metadata(f).is_ok());
            if exists {
                return Some(Reason::TriggerFile);
            }
            self.shared.file_due.store(false, Ordering::Release);
        }
        if self.shared.time_due.load(Ordering::Acquire) {
            return Some(Reason::Interval);
        }
        if let Some(n) = self.every_instructions {
            if executed.saturating_sub(self.last_executed) >= n {
                return Some(Reason::Instructions);
            }
        }
        None
    }

    /// How many instruction units the interpreter may run before it must
    /// yield next: the distance to the next instruction checkpoint, capped
    /// at [`POLL_QUANTUM`], and at least 1. Depends only on `executed` and
    /// the last checkpoint, never on the clock.
    pub fn budget(&self, executed: u64) -> u64 {
        let mut budget = POLL_QUANTUM;
        if let Some(n) = self.every_instructions {
            let next = self.last_executed.saturating_add(n);
            budget = budget.min(next.saturating_sub(executed));
        }
        budget.max(1)
    }

    /// After a checkpoint at `executed` (durable, or captured and being written in the
    /// background, which only wall-clock ones are): restart every counter and
    /// consume the trigger file if it was (one of) the reason(s).
    pub fn checkpointed(&mut self, executed: u64, reason: Reason) {
        self.last_executed = executed;
        self.restart_interval();
        if reason == Reason::TriggerFile || self.shared.file_due.load(Ordering::Acquire) {
            self.consume_trigger_file();
        }
        self.shared.interrupt.store(false, Ordering::Release);
        self.wake_watcher();
    }

    /// Whether the migration request file has appeared (natively seen by the watcher thread,
    /// in polling mode by the probes of [`due`](Self::due)). Stays set until
    /// [`migration_taken`](Self::migration_taken).
    pub fn migration_requested(&self) -> bool {
        self.shared.migrate_due.load(Ordering::Acquire)
    }

    /// The migration request was taken (its file removed): watch for the next one.
    pub fn migration_taken(&mut self) {
        self.shared.migrate_due.store(false, Ordering::Release);
        self.shared.interrupt.store(false, Ordering::Release);
        self.wake_watcher();
    }

    /// Whether the trigger file asks for a checkpoint (its users expect it durable once the
    /// file is gone).
    pub fn trigger_file_due(&self) -> bool {
        self.shared.file_due.load(Ordering::Acquire)
    }

    /// After a checkpoint attempt failed (e.g. disk full): restart the
    /// interval and instruction counters so the next attempt is one period
    /// later, and leave the trigger file in place but ignore it for a second
    /// so a persistent failure does not turn into a busy retry loop.
    pub fn checkpoint_failed(&mut self, executed: u64) {
        self.last_executed = executed;
        self.restart_interval();
        let quiet = self.shared.now_nanos().saturating_add(FILE_RETRY_DELAY.as_nanos() as u64);
        self.shared.file_quiet_until.store(quiet, Ordering::Release);
        self.shared.file_due.store(false, Ordering::Release);
        self.shared.interrupt.store(false, Ordering::Release);
        self.wake_watcher();
    }

    fn consume_trigger_file(&mut self) {
        if let Some(file) = &self.shared.trigger_file {
            match std::fs::remove_file(file) {
                Ok(()) => log::debug!("consumed trigger file {}", file.display()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    // Cannot consume it: ignore it for a while instead of
                    // checkpointing at every yield.
                    log::warn!(
                        "cannot remove trigger file {}: {e}; ignoring it for {:?}",
                        file.display(),
                        FILE_RETRY_DELAY
                    );
                    let quiet = self.shared.now_nanos().saturating_add(FILE_RETRY_DELAY.as_nanos() as u64);
                    self.shared.file_quiet_until.store(quiet, Ordering::Release);
                }
            }
        }
        self.shared.file_due.store(false, Ordering::Release);
    }

    fn wake_watcher(&self) {
        if let Some(handle) = &self.watcher {
            handle.thread().unpark();
        }
    }

    /// Set when a time or file checkpoint is due (natively by the watcher
    /// thread, in polling mode only when a probe runs). Long WASI sleeps
    /// check it between slices; cleared by [`checkpointed`](Self::checkpointed).
    pub fn interrupt_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.shared.interrupt)
    }

    /// A handle that long blocking host calls (e.g. a sliced `poll_oneoff`
    /// sleep) can use to ask "should I return early for a checkpoint?". It
    /// works without a watcher thread too: in polling mode it probes the
    /// clock and the trigger file itself.
    pub fn interrupt_probe(&self) -> InterruptProbe {
        InterruptProbe { shared: Arc::clone(&self.shared) }
    }

    /// When the interval checkpoint is next due, if an interval is set.
    pub fn next_deadline(&self) -> Option<Instant> {
        let d = self.shared.deadline.load(Ordering::Acquire);
        (d != u64::MAX).then(|| self.shared.base + Duration::from_nanos(d))
    }
}

impl Drop for Trigger {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(handle) = self.watcher.take() {
            handle.thread().unpark();
            let _ = handle.join();
        }
    }
}

/// Polling-mode controller: the new "probe every N-th call" after `stride`
/// calls took `dt` nanoseconds. Aims at one probe per [`POLL_TARGET`]: grows
/// at most 2x per probe (calls got faster), shrinks proportionally at once
/// (calls got slower, so the next probe is not late by more than one period).
fn next_stride(stride: u32, dt: u64) -> u32 {
    let target = POLL_TARGET.as_nanos() as u64;
    if dt < target / 2 {
        stride.saturating_mul(2).min(MAX_STRIDE)
    } else if dt > target * 2 {
        let scaled = u64::from(stride) * target / dt;
        u32::try_from(scaled).unwrap_or(MAX_STRIDE).clamp(1, MAX_STRIDE)
    } else {
        stride
    }
}

/// See [`Trigger::interrupt_probe`].
#[derive(Clone, Debug)]
pub struct InterruptProbe {
    shared: Arc<Shared>,
}

impl InterruptProbe {
    /// Whether a time- or file-triggered checkpoint is due. Costs one atomic
    /// load with a watcher thread; a clock read and a `stat` without one.
    pub fn check(&self) -> bool {
        if !self.shared.watched.load(Ordering::Acquire) {
            self.shared.probe();
        }
        self.shared.interrupt.load(Ordering::Acquire)
    }
}

/// Parse a `--every` value: a bare number means seconds (`30`, `1.5`),
/// anything else is a humantime duration (`500ms`, `30s`, `5m`, `1h 30m`).
/// Zero is rejected.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration (examples: 30, 30s, 500ms, 5m, 1h30m)".into());
    }
    let d = if t.bytes().all(|c| c.is_ascii_digit()) {
        let secs: u64 = t.parse().map_err(|e| format!("invalid duration {s:?}: {e}"))?;
        Duration::from_secs(secs)
    } else if t.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        let secs: f64 = t.parse().map_err(|e| format!("invalid duration {s:?}: {e}"))?;
        Duration::try_from_secs_f64(secs).map_err(|e| format!("invalid duration {s:?}: {e}"))?
    } else {
        humantime::parse_duration(t)
            .map_err(|e| format!("invalid duration {s:?}: {e} (examples: 30, 30s, 500ms, 5m, 1h30m)"))?
    };
    if d.is_zero() {
        return Err(format!("invalid duration {s:?}: must be greater than zero"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_util::tempdir;

    fn instr(n: u64) -> Policy {
        Policy { every_instructions: Some(n), ..Policy::default() }
    }

    /// Simulate an interpreter that overshoots each budget by `overshoot`
    /// units (safe points are not every unit); return checkpoint positions.
    fn run(mut t: Trigger, total: u64, overshoot: u64) -> Vec<u64> {
        let mut executed = 0;
        let mut at = Vec::new();
        while executed < total {
            executed += t.budget(executed) + overshoot;
            if let Some(reason) = t.due(executed) {
                assert_eq!(reason, Reason::Instructions);
                at.push(executed);
                t.checkpointed(executed, reason);
            }
        }
        at
    }

    #[test]
    fn instruction_trigger_is_exact_and_deterministic() {
        let at = run(Trigger::new(instr(100_000)), 1_000_000, 0);
        assert_eq!(at, (1..=10).map(|i| i * 100_000).collect::<Vec<_>>());
        // Small periods: budget never exceeds the distance.
        let at = run(Trigger::new(instr(7)), 70, 0);
        assert_eq!(at, (1..=10).map(|i| i * 7).collect::<Vec<_>>());
        // With overshoot the counter restarts at the actual position.
        let a = run(Trigger::new(instr(1000)), 100_000, 3);
        let b = run(Trigger::build(instr(1000), false), 100_000, 3);
        assert_eq!(a, b);
        assert_eq!(a[0], 1003);
        assert_eq!(a[1], 2006);
    }

    #[test]
    fn resumed_run_matches_uninterrupted_run() {
        let whole = run(Trigger::new(instr(1000)), 10_000, 3);
        // "Crash" after the 4th checkpoint, restore from it, continue.
        let restart_at = whole[3];
        let mut t = Trigger::new(instr(1000));
        t.resume_from(restart_at);
        let mut executed = restart_at;
        let mut rest = Vec::new();
        while executed < 10_000 {
            executed += t.budget(executed) + 3;
            if let Some(reason) = t.due(executed) {
                rest.push(executed);
                t.checkpointed(executed, reason);
            }
        }
        assert_eq!(rest, whole[4..]);
    }

    #[test]
    fn budget_bounds() {
        let t = Trigger::new(Policy::default());
        assert_eq!(t.budget(0), POLL_QUANTUM);
        assert_eq!(t.budget(u64::MAX), POLL_QUANTUM);
        let mut t = Trigger::new(instr(10));
        assert_eq!(t.budget(0), 10);
        assert_eq!(t.budget(9), 1);
        assert_eq!(t.budget(10), 1, "never 0");
        assert_eq!(t.budget(50), 1);
        assert_eq!(t.due(3), None);
        assert_eq!(t.due(10), Some(Reason::Instructions));
        t.checkpointed(12, Reason::Instructions);
        assert_eq!(t.budget(12), 10);
        assert_eq!(t.due(21), None);
        assert_eq!(t.due(22), Some(Reason::Instructions));
        let t = Trigger::new(instr(1 << 40));
        assert_eq!(t.budget(0), POLL_QUANTUM);
        assert_eq!(t.budget((1 << 40) - 5), 5);
        // Zero means off.
        let mut t = Trigger::new(Policy {
            every_instructions: Some(0),
            every: Some(Duration::ZERO),
            trigger_file: None,
            migrate_file: None,
        });
        assert!(!t.has_watcher_thread());
        assert_eq!(t.due(u64::MAX), None);
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn no_policy_never_due() {
        let mut t = Trigger::new(Policy::default());
        assert!(!t.has_watcher_thread());
        for i in 0..1000 {
            assert_eq!(t.due(i * POLL_QUANTUM), None);
        }
    }

    fn wait_due(t: &mut Trigger, executed: u64, limit: Duration) -> Option<Reason> {
        let start = Instant::now();
        loop {
            if let Some(r) = t.due(executed) {
                return Some(r);
            }
            if start.elapsed() > limit {
                return None;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    fn interval_fires_and_restarts(allow_thread: bool) {
        let mut t = Trigger::build(
            Policy { every: Some(Duration::from_millis(150)), ..Policy::default() },
            allow_thread,
        );
        assert_eq!(t.has_watcher_thread(), allow_thread && THREADS_POSSIBLE);
        let flag = t.interrupt_flag();
        let start = Instant::now();
        assert_eq!(t.due(0), None);
        assert_eq!(wait_due(&mut t, 0, Duration::from_secs(5)), Some(Reason::Interval));
        assert!(start.elapsed() >= Duration::from_millis(150));
        assert!(flag.load(Ordering::Acquire));
        t.checkpointed(0, Reason::Interval);
        assert!(!flag.load(Ordering::Acquire));
        assert_eq!(t.due(0), None, "restarted after checkpoint");
        assert!(t.next_deadline().unwrap() > Instant::now());
        assert_eq!(wait_due(&mut t, 0, Duration::from_secs(5)), Some(Reason::Interval));
    }

    #[test]
    fn interval_with_thread() {
        interval_fires_and_restarts(true);
    }

    #[test]
    fn interval_polling() {
        interval_fires_and_restarts(false);
    }

    fn trigger_file_is_consumed(allow_thread: bool) {
        let dir = tempdir();
        let file = dir.path().join("checkpoint-now");
        let mut t = Trigger::build(
            Policy {
                trigger_file: Some(file.clone()),
                every_instructions: Some(1_000_000),
                ..Policy::default()
            },
            allow_thread,
        );
        let probe = t.interrupt_probe();
        assert_eq!(wait_due(&mut t, 0, Duration::from_millis(100)), None);
        assert!(!probe.check());
        std::fs::write(&file, b"").unwrap();
        assert_eq!(wait_due(&mut t, 10, Duration::from_secs(5)), Some(Reason::TriggerFile));
        assert!(probe.check());
        t.checkpointed(10, Reason::TriggerFile);
        assert!(!file.exists(), "trigger file consumed");
        assert!(!probe.check());
        assert_eq!(wait_due(&mut t, 20, Duration::from_millis(100)), None);
        // Instruction counter restarted at 10.
        assert_eq!(t.due(1_000_009), None);
        assert_eq!(t.due(1_000_010), Some(Reason::Instructions));
        // File noticed while an instruction checkpoint is also due: the file
        // takes precedence, and it is consumed whatever reason is passed.
        std::fs::write(&file, b"").unwrap();
        let start = Instant::now();
        while !probe.check() && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(t.due(1_000_010), Some(Reason::TriggerFile));
        t.checkpointed(1_000_010, Reason::Instructions);
        assert!(!file.exists());
        // A failed checkpoint keeps the file but quiets it for a while.
        std::fs::write(&file, b"").unwrap();
        assert_eq!(wait_due(&mut t, 1_000_010, Duration::from_secs(5)), Some(Reason::TriggerFile));
        t.checkpoint_failed(1_000_010);
        assert!(file.exists());
        assert_eq!(wait_due(&mut t, 1_000_010, Duration::from_millis(200)), None);
        assert_eq!(wait_due(&mut t, 1_000_010, Duration::from_secs(5)), Some(Reason::TriggerFile));
        t.checkpointed(1_000_010, Reason::TriggerFile);
        assert!(!file.exists());
    }

    #[test]
    fn trigger_file_with_thread() {
        trigger_file_is_consumed(true);
    }

    #[test]
    fn trigger_file_polling() {
        trigger_file_is_consumed(false);
    }

    #[test]
    fn polling_stride_adapts() {
        let ms = 1_000_000;
        assert_eq!(next_stride(64, ms), 128);
        assert_eq!(next_stride(MAX_STRIDE, ms), MAX_STRIDE);
        assert_eq!(next_stride(64, 10 * ms), 64);
        assert_eq!(next_stride(4096, 4000 * ms), 10);
        assert_eq!(next_stride(2, 1000 * ms), 1);
        assert_eq!(next_stride(1, 0), 2);
        // Calls in a tight loop: the stride grows so probes stay ~10 ms apart.
        let mut t =
            Trigger::build(Policy { every: Some(Duration::from_secs(3600)), ..Policy::default() }, false);
        for _ in 0..100_000 {
            t.due(0);
        }
        assert!(t.stride > INITIAL_STRIDE, "stride {}", t.stride);
    }

    #[test]
    fn parse_durations() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration(" 1.5 "), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        for bad in ["", "0", "0s", "abc", "1.2.3", "-5", "10 parsecs"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_duration("abc").unwrap_err().contains("examples"));
    }
}
