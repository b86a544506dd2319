//! The host-function interface: how imported functions implemented in Rust (WASI, `spectest`)
//! are called by the interpreter.

use super::memory::Memory;

/// Why a host function did not return normally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostError {
    /// Trap with this message.
    Trap(String),
    /// The guest asked to exit with this code (`proc_exit`).
    Exit(i32),
    /// Pause before this call; it will be executed again (with the same arguments) on resume.
    /// Used to let a checkpoint land during a long sleep.
    Suspend,
}

/// Implemented by whoever provides host functions.
pub trait Host {
    /// Calls host function `id` with `args`, writing `results`. `memory` is memory 0 of the
    /// calling instance, if it has one.
    fn call(
        &mut self,
        id: u32,
        memory: Option<&mut Memory>,
        args: &[u64],
        results: &mut [u64],
    ) -> Result<(), HostError>;
}

/// A host without functions (for modules that import none).
pub struct NoHost;

impl Host for NoHost {
    fn call(&mut self, id: u32, _: Option<&mut Memory>, _: &[u64], _: &mut [u64]) -> Result<(), HostError> {
        Err(HostError::Trap(format!("no host function {id}")))
    }
}
