//! Lowering: each validated function body becomes a [`ir::CompiledFunc`] once, at load time.
//!
//! See [`ir`] for the instruction set and [`translate`] for the lowering itself.

pub mod accumulator;
pub mod ir;
pub(crate) mod isa;
pub(crate) mod translate;

pub(crate) use translate::{translate, Context};
