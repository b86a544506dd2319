//! Execution: the [`Machine`] (value stack, frames, program counters — all plain data), the
//! instruction handlers that run on it (`handlers`: threaded code chained by tail calls, or one
//! `loop { match }` where tail calls are not guaranteed), numeric semantics in [`ops`], and
//! [`Trap`]s with Wasm backtraces.

mod handlers;
pub mod machine;
pub mod ops;
pub mod simd;
pub mod trap;
mod unchecked;

#[cfg(test)]
pub(crate) use handlers::EXN_COLLECT_AT;
pub use machine::{Frame, Machine, RunResult};
pub use trap::{BacktraceFrame, Trap, TrapKind};
