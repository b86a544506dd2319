//! Unchecked operations that are checked in debug builds (the model is wasmi's debug-checked
//! `unreachable_unchecked!`): the interpreter's hot paths index and match on invariants the
//! lowering and [`super::Machine::run`] establish; with `debug_assertions` (every test build)
//! a broken invariant panics at the faulty access instead of reading out of bounds, and a
//! release build compiles to the bare unchecked operation.
//!
//! The debug checks fail through cold functions that take their arguments by value: a
//! formatted panic in a handler would take the address of a local, which keeps LLVM from
//! turning the handler's dispatch into a tail call (see `exec::handlers`).

/// [`std::hint::unreachable_unchecked`], a panic under `debug_assertions`.
///
/// Only in an `unsafe` context whose caller guarantees that the point is unreachable. The
/// optional literal says why (for the reader: the debug panic does not format it).
macro_rules! unreachable_unchecked {
    ($($why:literal)?) => {{
        #[cfg(debug_assertions)]
        {
            $crate::exec::unchecked::reached_unreachable()
        }
        #[cfg(not(debug_assertions))]
        {
            ::core::hint::unreachable_unchecked()
        }
    }};
}
pub(crate) use unreachable_unchecked;

#[cold]
#[inline(never)]
#[cfg(debug_assertions)]
pub(crate) fn reached_unreachable() -> ! {
    panic!("internal error: an unreachable_unchecked point was reached")
}

#[cold]
#[inline(never)]
fn out_of_bounds(i: usize, len: usize) -> ! {
    panic!("internal error: unchecked index {i} out of bounds (length {len})")
}

/// Debug-checked counterpart of `get_unchecked`.
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
        if cfg!(debug_assertions) && i >= self.len() {
            out_of_bounds(i, self.len());
        }
        // SAFETY: the caller guarantees `i < self.len()` (checked above in debug builds).
        unsafe { self.get_unchecked(i) }
    }
}

#[cold]
#[inline(never)]
fn unwrapped_none() -> ! {
    panic!("internal error: unchecked unwrap of None")
}

/// Debug-checked counterpart of `Option::unwrap_unchecked`.
pub(crate) trait UnwrapDebugChecked<T> {
    /// `unwrap_unchecked()`, checked under `debug_assertions`.
    ///
    /// # Safety
    /// The value must be `Some` (as for `unwrap_unchecked`).
    unsafe fn unwrap_debug_checked(self) -> T;
}

impl<T> UnwrapDebugChecked<T> for Option<T> {
    #[inline(always)]
    unsafe fn unwrap_debug_checked(self) -> T {
        if cfg!(debug_assertions) && self.is_none() {
            unwrapped_none();
        }
        // SAFETY: the caller guarantees `Some` (checked above in debug builds).
        unsafe { self.unwrap_unchecked() }
    }
}

#[cold]
#[inline(never)]
fn slot_out_of_stack(at: usize, start: usize, end: usize) -> ! {
    panic!("internal error: slot address {at:#x} outside the value stack {start:#x}..{end:#x}")
}

/// Under `debug_assertions`, checks that `p` (a frame's `regs` plus a slot index) points into
/// the value stack `stack`: the lowering's slot indices stay below the function's `max_slots`
/// and `Machine::run` and every call check that `fp + max_slots` fits the stack, so this never
/// fails unless one of those invariants broke. Compiles to nothing in release builds.
#[inline(always)]
pub(crate) fn debug_check_slot(p: *const u64, stack: *const Vec<u64>) {
    if cfg!(debug_assertions) {
        // SAFETY: `stack` is the running machine's value stack, valid for the whole run.
        let (start, len) = unsafe { ((*stack).as_ptr() as usize, (*stack).len()) };
        let end = start + len * std::mem::size_of::<u64>();
        let at = p as usize;
        if at < start || at >= end {
            slot_out_of_stack(at, start, end);
        }
    }
}

#[cfg(all(test, debug_assertions))]
mod tests {
    use super::debug_check_slot;

    #[test]
    fn slots_inside_the_stack_pass() {
        let stack = vec![0u64; 4];
        for i in 0..4 {
            debug_check_slot(stack.as_ptr().wrapping_add(i), &stack);
        }
    }

    #[test]
    #[should_panic(expected = "outside the value stack")]
    fn a_slot_past_the_stack_panics_in_debug_builds() {
        let stack = vec![0u64; 4];
        debug_check_slot(stack.as_ptr().wrapping_add(4), &stack);
    }
}
