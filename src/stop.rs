//! Graceful stop: SIGTERM, SIGINT and SIGHUP (what `systemctl stop`, `docker stop`, an
//! eviction or Ctrl-C send) make a checkpointing run take one more checkpoint at the next safe
//! point, make it durable, and exit with `128 + signal` — "stopped, resumable": the next run
//! resumes from that generation, not a single instruction lost.
//!
//! The handlers only store to atomics (`signal-hook`'s flag registrations, async-signal-safe):
//! the signal's number for the session loop, which looks at it at every yield (at most
//! [`crate::trigger::POLL_QUANTUM`] instruction units apart), and the trigger's interrupt flag,
//! so that a guest blocked in a long `poll_oneoff` sleep or a read of stdin returns to a safe
//! point at once. A second signal while that checkpoint is being written ends the process
//! immediately (same status): the checkpoint in progress is a temporary file that is never
//! committed, and the previous generation stays valid.
//!
//! Hosts without signals (chiwawa.wasm under WASI preview 1) have none of this: there the
//! trigger file (`systemctl reload`) asks for a checkpoint before stopping.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// The signals that stop a run gracefully.
#[cfg(unix)]
pub const STOP_SIGNALS: [i32; 3] =
    [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT, signal_hook::consts::SIGHUP];

/// Which stop signal arrived, if any.
#[derive(Clone, Debug, Default)]
pub struct StopRequest {
    signal: Arc<AtomicUsize>,
    /// Set by the first signal: a second one then exits at once (unix only).
    #[cfg_attr(not(unix), allow(dead_code))]
    armed: Arc<AtomicBool>,
}

impl StopRequest {
    /// Installs the handlers. `interrupt` is set too when a signal arrives (the trigger's flag
    /// that long blocking WASI calls watch).
    #[cfg(unix)]
    pub fn install(interrupt: Arc<AtomicBool>) -> std::io::Result<StopRequest> {
        use signal_hook::flag;
        let r = StopRequest::default();
        for sig in STOP_SIGNALS {
            // The shutdown action must come first: it sees `armed` as it was before this signal.
            flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&r.armed))?;
            flag::register_usize(sig, Arc::clone(&r.signal), sig as usize)?;
            flag::register(sig, Arc::clone(&r.armed))?;
            flag::register(sig, Arc::clone(&interrupt))?;
        }
        Ok(r)
    }

    /// No signals on this host: never requested.
    #[cfg(not(unix))]
    pub fn install(_interrupt: Arc<AtomicBool>) -> std::io::Result<StopRequest> {
        Ok(StopRequest::default())
    }

    /// The signal that asked the run to stop, if one did.
    pub fn signal(&self) -> Option<i32> {
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s as i32),
        }
    }
}

/// The name of a stop signal, for messages.
pub fn signal_name(sig: i32) -> String {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        match sig {
            SIGTERM => return "SIGTERM".into(),
            SIGINT => return "SIGINT".into(),
            SIGHUP => return "SIGHUP".into(),
            _ => {}
        }
    }
    format!("signal {sig}")
}
