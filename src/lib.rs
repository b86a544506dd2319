//! chiwawa: a WebAssembly interpreter whose complete execution state is plain data, so a running
//! WASI program can be checkpointed at any safe point and resumed after a crash or on another host.
//!
//! The modules follow the data flow:
//!
//! ```text
//! parse ─► compile ─► runtime (store, instance) ─► exec (machine) ─► wasi
//! (.wasm)  (internal    (memories, tables,          (stack, frames,   (preview1 host)
//!           code)        globals, linker)            dispatch loop)
//! ```

pub mod checkpoint;
pub mod cli;
pub mod compile;
pub mod error;
pub mod exec;
pub mod guest;
pub mod journal;
pub mod migrate;
pub mod parse;
pub mod runtime;
pub mod session;
pub mod snapshot;
pub mod spectest;
pub mod stop;
#[cfg(test)]
mod test_util;
pub mod trigger;
pub mod wasi;
pub mod wast;

pub use error::Error;
pub use exec::{Machine, RunResult, Trap};
pub use parse::Module;
pub use runtime::{Extern, Linker, Store, Val};
