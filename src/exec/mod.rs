//! Execution: the [`Machine`] (value stack, frames, program counters — all plain data) and its
//! dispatch loop, numeric semantics in [`ops`], and [`Trap`]s with Wasm backtraces.

mod handlers;
pub mod machine;
pub mod ops;
pub mod trap;

pub use machine::{Frame, Machine, RunResult};
pub use trap::{BacktraceFrame, Trap, TrapKind};
