//! Unchecked operations that are checked in debug builds (the model is wasmi's debug-checked
//! `unreachable_unchecked!`): the interpreter's hot paths index and match on invariants the
//! lowering and [`super::Machine::run`] establish; with `debug_assertions` (every test build)
//! a broken invariant panics at the faulty access instead of reading out of bounds, and a
//! release build compiles to the bare unchecked operation.

/// [`std::hint::unreachable_unchecked`], a panic under `debug_assertions`.
///
/// Only in an `unsafe` context whose caller guarantees that the point is unreachable.
macro_rules! unreachable_unchecked {
    ($($arg:tt)*) => {{
        #[cfg(debug_assertions)]
        {
            ::core::unreachable!($($arg)*)
        }
        #[cfg(not(debug_assertions))]
        {
            ::core::hint::unreachable_unchecked()
        }
    }};
}
pub(crate) use unreachable_unchecked;

/// Debug-checked counterparts of `get_unchecked` and `unwrap_unchecked`.
pub(crate) trait DebugChecked {
    type Item;
    /// `get_unchecked(i)`, bounds-checked under `debug_assertions`.
    ///
    /// # Safety
    /// `i` must be in bounds (as for `get_unchecked`).
    unsafe fn get_debug_checked(&self, i: usize) -> &Self::Item;
}

impl<T> DebugChecked for [T] {
    type Item = T;
    #[inline(always)]
    unsafe fn get_debug_checked(&self, i: usize) -> &T {
        debug_assert!(i < self.len(), "index {i} out of bounds (length {})", self.len());
        // SAFETY: the caller guarantees `i < self.len()` (checked above in debug builds).
        unsafe { self.get_unchecked(i) }
    }
}
