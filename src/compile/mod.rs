//! Lowering: each validated function body becomes a [`ir::CompiledFunc`] once, at load time.
//!
//! See [`ir`] for the instruction set and [`translate`] for the lowering itself.

pub mod accumulator;
pub mod ir;
pub(crate) mod isa;
pub(crate) mod pairs;
pub mod stackmap;
pub(crate) mod translate;
pub(crate) mod validate;

pub(crate) use translate::{translate, Context};

/// Which lowering turns Wasm into internal code. Both run every program identically and
/// record stack maps ([`stackmap`]), so a checkpoint taken under one resumes under the other.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lowering {
    /// Fusion, register forms, immediates, deferred `local.get`s and constants.
    #[default]
    Optimized,
    /// One internal instruction per Wasm operator where possible: no fusion, no register
    /// forms, no superinstructions, every operand in its canonical slot (`CHIWAWA_LOWERING=plain`,
    /// for tests and debugging).
    Plain,
}

impl Lowering {
    /// The lowering `CHIWAWA_LOWERING` names: unset, empty or `optimized` for the default,
    /// `plain` for [`Lowering::Plain`]; anything else is an error.
    pub fn from_env() -> Result<Lowering, String> {
        match std::env::var("CHIWAWA_LOWERING") {
            Err(std::env::VarError::NotPresent) => Ok(Lowering::Optimized),
            Ok(v) if v.is_empty() || v == "optimized" => Ok(Lowering::Optimized),
            Ok(v) if v == "plain" => Ok(Lowering::Plain),
            Ok(v) => Err(format!("CHIWAWA_LOWERING={v:?}: expected `optimized` or `plain`")),
            Err(_) => Err("CHIWAWA_LOWERING is not valid Unicode: expected `optimized` or `plain`".into()),
        }
    }
}
