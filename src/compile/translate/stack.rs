//! The operand stack: where each value of the Wasm stack lives (its canonical slot, a
//! local's slot, or a pending constant), and materializing it.

use super::{too_complex, Opnd, KONST, T};
use crate::compile::ir::{Instr, Slot};
use crate::error::Error;

impl T<'_> {
    pub(super) fn pc(&self) -> u32 {
        self.code.len() as u32
    }

    /// The slots below height `h` in the operand area (past the values ever pushed: as if
    /// all above were of one slot).
    pub(super) fn base_at(&self, h: u32) -> u32 {
        match self.base.get(h as usize) {
            Some(&b) => b,
            None => {
                let last = self.base.len() - 1;
                self.base[last] + (h - last as u32)
            }
        }
    }

    /// The canonical slot of height `h`: where a value at that height lives when it is not a
    /// deferred local or constant (for a value just popped: where it lived).
    pub(super) fn canon(&self, h: u32) -> Slot {
        (self.num_locals + self.base_at(h)).min(u16::MAX as u32) as Slot
    }

    /// The slots the value at height `h` takes (1, or 2 for a `v128`).
    pub(super) fn width(&self, h: u32) -> u32 {
        self.base_at(h + 1) - self.base_at(h)
    }

    /// The slots the top `n` values take.
    pub(super) fn top_slots(&self, n: u32) -> u32 {
        let h = self.height();
        self.base_at(h) - self.base_at(h - n)
    }

    pub(super) fn height(&self) -> u32 {
        self.stack.len() as u32
    }

    /// Pushes a value living in its canonical slot and returns that slot.
    pub(super) fn push(&mut self) -> Result<Slot, Error> {
        self.push_w(1)
    }

    /// Pushes a `v128` living in its canonical slots and returns the first.
    pub(super) fn push_v(&mut self) -> Result<Slot, Error> {
        self.push_w(2)
    }

    /// Pushes a value of `w` slots living in its canonical slots and returns the first.
    pub(super) fn push_w(&mut self, w: u32) -> Result<Slot, Error> {
        let s = self.grow(w)?;
        self.stack.push(s);
        Ok(s)
    }

    /// Pushes a value of `w` slots living in slot `at` (a deferred `local.get`).
    pub(super) fn push_at(&mut self, at: Slot, w: u32) -> Result<(), Error> {
        self.grow(w)?;
        self.stack.push(at);
        Ok(())
    }

    /// Makes room for a value of `w` slots at the current height; its canonical slot.
    fn grow(&mut self, w: u32) -> Result<Slot, Error> {
        let h = self.height();
        let b = self.base_at(h);
        if self.num_locals + b + w > u16::MAX as u32 {
            return Err(too_complex(self.offset));
        }
        self.max_height = self.max_height.max(b + w);
        // (`base` always reaches the height: it grows with every push and never shrinks below.)
        debug_assert!(self.base.len() > h as usize);
        self.base.truncate(h as usize + 1);
        self.base.push(b + w);
        Ok(self.canon(h))
    }

    /// Pushes values of `types` in their canonical slots.
    pub(super) fn push_types(&mut self, types: &[crate::runtime::value::ValType]) -> Result<(), Error> {
        for t in types {
            self.push_w(t.slots() as u32)?;
        }
        Ok(())
    }

    /// Pops an operand, materializing a pending constant into its canonical slot.
    pub(super) fn pop(&mut self) -> Slot {
        match self.pop_any() {
            Opnd::Slot(s) => s,
            Opnd::K(v, wide) => self.write_const(self.canon(self.height()), v, wide),
        }
    }

    /// Pops an operand, leaving a pending constant pending. For an operator that reads its
    /// i32 operands truncated (`narrow`), an operand computed by the `i32.wrap_i64` just
    /// emitted is read from the wrap's operand instead, and the wrap is dropped: a no-op then.
    pub(super) fn pop_any(&mut self) -> Opnd {
        let s = self.stack.pop().expect("validated: operand stack underflow");
        if s == KONST {
            let (v, wide) = self.konst[self.stack.len()];
            return Opnd::K(v, wide);
        }
        if self.narrow {
            // (Only a wrap of a slot at or below its own: the consumer may write the slots
            // above it — a pending constant operand — before it reads. An `extract_lane` of a
            // vector's third 32-bit lane wraps the slot above.)
            if let Some((li, Instr::I32WrapI64(u))) = self.just_wrote(s, self.height()) {
                if li as usize + 1 == self.code.len() && u.a <= s {
                    self.code.pop();
                    self.offsets.pop();
                    self.last_result = None;
                    return Opnd::Slot(u.a);
                }
            }
        }
        Opnd::Slot(s)
    }

    /// After `pop_any`: the slot of an operand (materialized at height `h` if constant).
    pub(super) fn slot_at(&mut self, o: Opnd, h: u32) -> Slot {
        match o {
            Opnd::Slot(s) => s,
            Opnd::K(v, wide) => self.write_const(self.canon(h), v, wide),
        }
    }

    pub(super) fn write_const(&mut self, dst: Slot, v: u64, wide: bool) -> Slot {
        if wide {
            self.emit(Instr::Const64 { dst, val: v });
        } else {
            self.emit(Instr::Const32 { dst, val: v as u32 });
        }
        dst
    }

    pub(super) fn push_const(&mut self, v: u64, wide: bool) -> Result<(), Error> {
        if self.plain {
            let dst = self.push()?;
            self.write_const(dst, v, wide);
            return Ok(());
        }
        let h = self.height() as usize;
        self.push()?;
        self.stack[h] = KONST;
        if self.konst.len() <= h {
            self.konst.resize(h + 1, (0, false));
        }
        self.konst[h] = (v, wide);
        Ok(())
    }

    /// Emits a value-producing instruction whose result is pushed. The plain lowering never
    /// remembers it as [`T::last_result`], which is what keeps every fusion that takes over the
    /// instruction just emitted (compare-and-branch, address folding, f64 operations on a load,
    /// `select` on a bit test, dropped wraps, results written into locals) out of it.
    pub(super) fn result(&mut self, i: Instr) {
        let idx = self.emit(i);
        self.last_result = (!self.plain).then_some(idx);
    }

    pub(super) fn materialize_at(&mut self, h: usize) {
        let canon = self.canon(h as u32);
        let src = self.stack[h];
        if src == KONST {
            let (v, wide) = self.konst[h];
            self.write_const(canon, v, wide);
            self.stack[h] = canon;
        } else if src != canon {
            self.emit(self.copy(canon, src, self.width(h as u32)));
            self.stack[h] = canon;
        }
    }

    /// The copy of a value of `w` slots.
    pub(super) fn copy(&self, dst: Slot, src: Slot, w: u32) -> Instr {
        match w {
            2 => Instr::Copy128 { dst, src },
            _ => Instr::Copy { dst, src },
        }
    }

    pub(super) fn materialize_all(&mut self) {
        for h in 0..self.stack.len() {
            self.materialize_at(h);
        }
    }

    pub(super) fn materialize_top(&mut self, n: u32) {
        let len = self.stack.len();
        for h in len - n as usize..len {
            self.materialize_at(h);
        }
    }

    /// Materializes deferred reads of local `l` in the stack below the top `skip_top` entries.
    pub(super) fn materialize_local(&mut self, l: Slot, skip_top: usize) -> bool {
        let mut any = false;
        let end = self.stack.len() - skip_top;
        for h in 0..end {
            if self.stack[h] == l {
                self.materialize_at(h);
                any = true;
            }
        }
        any
    }

    /// `local.set`/`local.tee` of the result of instruction `li` when the deferred reads of
    /// the local were just materialized by copies emitted after it: moves the instruction behind
    /// the copies and lets it write local `l` directly (one `Copy` less). Sound because the
    /// copies only write canonical slots below the result's height, which it does not read,
    /// and read the local's old value, which it then overwrites.
    pub(super) fn result_after_copies(&mut self, li: usize, l: Slot) {
        self.code[li..].rotate_left(1);
        self.offsets[li..].rotate_left(1);
        let last = self.code.len() - 1;
        *self.code[last].result_slot_mut().expect("result instruction") = l;
        self.last_result = None;
    }

    pub(super) fn const32(&mut self, val: u32) -> Result<(), Error> {
        self.push_const(val as u64, false)
    }

    pub(super) fn const64(&mut self, val: u64) -> Result<(), Error> {
        self.push_const(val, true)
    }

    /// Pops `n` call arguments into canonical slots and returns the base slot.
    pub(super) fn call_args(&mut self, n: u32) -> Slot {
        self.materialize_top(n);
        let base = self.canon(self.height() - n);
        self.stack.truncate((self.height() - n) as usize);
        base
    }

    /// The first slots of the `n` values from height `h` on.
    pub(super) fn slots_from(&self, h: u32, n: u32) -> Vec<Slot> {
        (h..h + n).map(|h| self.canon(h)).collect()
    }

    /// Pushes `n` values of one slot, or of `types` when given (non-empty).
    pub(super) fn push_results(
        &mut self,
        n: u32,
        types: &[crate::runtime::value::ValType],
    ) -> Result<(), Error> {
        if !types.is_empty() {
            return self.push_types(types);
        }
        for _ in 0..n {
            self.push()?;
        }
        Ok(())
    }
}
