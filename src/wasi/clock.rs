//! Clocks.
//!
//! * `realtime`: `SystemTime` since the Unix epoch.
//! * `monotonic`: nanoseconds since the context was created, like Wasmtime
//!   (which counts from its `WasiCtx` creation). The value at checkpoint time
//!   is stored in the checkpoint and a restored context *continues* from it,
//!   so the guest never sees monotonic time go backwards across a restore
//!   (the time the program was not running is simply not counted).
//! * `process_cputime_id` / `thread_cputime_id`: there is no portable,
//!   dependency-free CPU clock in `std`, so they report the monotonic value
//!   (an upper bound of the CPU time of a single-threaded guest). Wasmtime
//!   answers BADF for these two; chiwawa answers instead of failing.
//!
//! Every clock reports a resolution of 1 ns (Linux's `clock_getres`, which is
//! what Wasmtime forwards on Linux).

use super::abi::clockid;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug)]
pub(crate) struct Clock {
    start: Instant,
    base_ns: u64,
}

impl Clock {
    /// A monotonic clock starting at `base_ns` now.
    pub fn starting_at(base_ns: u64) -> Clock {
        Clock { start: Instant::now(), base_ns }
    }

    pub fn monotonic(&self) -> u64 {
        let elapsed = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.base_ns.saturating_add(elapsed)
    }

    pub fn realtime() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }

    /// Current value of clock `id` (already validated by `dec_clockid`).
    pub fn now(&self, id: u32) -> u64 {
        match id {
            clockid::REALTIME => Self::realtime(),
            _ => self.monotonic(),
        }
    }

    pub fn resolution(_id: u32) -> u64 {
        1
    }
}
