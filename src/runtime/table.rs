//! Tables: vectors of reference slots (`0` = null, `addr + 1` otherwise).

use super::value::{FullType, ValType};

/// Tables may hold at most this many elements (the embedder's resource limit).
pub const MAX_TABLE_ELEMS: u32 = 10_000_000;

#[derive(Clone, Debug)]
pub struct Table {
    pub(crate) elems: Vec<u64>,
    /// The declared maximum (up to 2^64 - 1 for a 64-bit table).
    pub(crate) max: Option<u64>,
    /// A 64-bit table (table64): indices and sizes are `i64`.
    pub(crate) is64: bool,
    pub(crate) ty: ValType,
    /// The element type in full (concrete references name store type ids), for linking.
    pub(crate) elem: FullType,
}

impl Table {
    /// A table of `min` elements set to `init`, holding references of type `elem`.
    pub fn new(elem: FullType, min: u64, max: Option<u64>, is64: bool, init: u64) -> Result<Table, String> {
        if min > MAX_TABLE_ELEMS as u64 {
            return Err(format!("table of {min} elements exceeds the limit of {MAX_TABLE_ELEMS}"));
        }
        let mut elems = Vec::new();
        elems
            .try_reserve_exact(min as usize)
            .map_err(|_| format!("cannot allocate a table of {min} elements"))?;
        elems.resize(min as usize, init);
        Ok(Table { elems, max, is64, ty: elem.repr(), elem })
    }

    /// The elements: `0` for null, `addr + 1` for a reference to the function at `addr`.
    pub fn elems(&self) -> &[u64] {
        &self.elems
    }

    /// The declared maximum, if any.
    pub fn max(&self) -> Option<u64> {
        self.max
    }

    /// Whether indices are 64-bit (table64).
    pub fn is64(&self) -> bool {
        self.is64
    }

    /// The most elements the table may have: its declared maximum and the resource limit.
    pub fn cap(&self) -> u32 {
        self.max.unwrap_or(u64::MAX).min(MAX_TABLE_ELEMS as u64) as u32
    }

    /// The element type.
    pub fn ty(&self) -> ValType {
        self.ty
    }

    pub fn size(&self) -> u32 {
        self.elems.len() as u32
    }

    /// Grows by `delta` elements set to `init`; returns the old size or `None`.
    pub fn grow(&mut self, delta: u32, init: u64) -> Option<u32> {
        let old = self.size();
        let new = old.checked_add(delta)?;
        if new > self.cap() {
            return None;
        }
        self.elems.try_reserve(delta as usize).ok()?;
        self.elems.resize(new as usize, init);
        Some(old)
    }
}
