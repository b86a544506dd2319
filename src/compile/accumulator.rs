//! Accumulator forwarding: a pass over a lowered function that lets results skip the round
//! trip through their slot.
//!
//! The executor keeps two registers besides the frame's slots, both handler arguments (see
//! `exec::handlers`): `ia`, the value last written to a slot by a handler with a single
//! result (all of them but the f64 ones and `TableGet`), and `fa`, the result of the last
//! f64-producing instruction (arithmetic, square root, conversions, `f64.load`). Each writer
//! also writes its slot. An instruction that reads a slot while a register still mirrors it
//! may read the register instead. Chains of dependent instructions are bound by latency, and
//! the slot round trip (a store and a dependent load, forwarded by the CPU in several cycles)
//! is much of it.
//!
//! The pass rewrites such readers to their register forms (`I32AddA`: operand `a` from `ia`;
//! `I64SubB`; `BrI32LtSA`; `I32LoadA`: the address; `I32StoreV`: the value; `F64MulA`,
//! `F64StoreV`, …). They have the same operands, so positions, branch targets and the program
//! counters in checkpoints are unaffected; commutative operations and comparisons (mirrored)
//! move the register's operand to `a`. The pass walks the code in order, following only
//! fall-through, and forgets what the registers hold
//! - where control may arrive other than by falling through: branch targets, the instruction
//!   after a call (the callee used the registers) or after a `Poll` (backward branches continue
//!   there, and so does a run resumed from a checkpoint, with the registers unset), the entry;
//! - when an instruction writes the mirrored slot without setting the register, or is one it
//!   does not know.
//!
//! Since every writer also writes its slot, an instruction that is not rewritten still reads
//! the right value, and nothing about the registers needs saving in a checkpoint: they are
//! never relied on across a safe point. Which handlers set which register is checked against
//! `exec::handlers` by a unit test there.

use super::ir::{Bin, CmpBr, Instr, Op, Slot};

/// Rewrites the readers of the registers in `code` (branch targets still absolute).
pub fn forward(code: &mut [Instr]) {
    let entry = entries(code);
    // The slots whose values the registers hold.
    let (mut fa, mut ia) = (Mirror::default(), Mirror::default());
    for (i, ins) in code.iter_mut().enumerate() {
        if entry[i] {
            (fa, ia) = (Mirror::default(), Mirror::default());
        }
        // At most one rewrite per register (an instruction may read both: `F64AddMAF`).
        let before = *ins;
        for x in fa.slots() {
            if *ins == before {
                *ins = reading(*ins, x);
            }
        }
        let before = *ins;
        for x in ia.slots() {
            if *ins == before {
                *ins = int_reading(*ins, x);
            }
        }
        let op = ins.op();
        let result = ins.result_slot_mut().copied();
        match (*ins, result) {
            // The copy's value is in both slots, and (`wr!`) in the integer register.
            (Instr::Copy { dst, src } | Instr::CopyA { dst, src }, _) => {
                ia = Mirror::one(src);
                ia.add(dst);
                if fa.contains(src) {
                    fa.add(dst);
                } else {
                    fa.remove(dst);
                }
            }
            (_, Some(d)) if sets_f64_register(op) => {
                fa = Mirror::one(d);
                ia.remove(d);
            }
            (_, Some(d)) if sets_int_register(op) => {
                ia = Mirror::one(d);
                fa.remove(d);
            }
            _ if keeps_registers(ins) => {}
            _ => (fa, ia) = (Mirror::default(), Mirror::default()),
        }
    }
}

/// The slots (at most three) whose value a register holds.
#[derive(Clone, Copy, Default)]
struct Mirror([Option<Slot>; 3]);

impl Mirror {
    fn one(s: Slot) -> Self {
        Mirror([Some(s), None, None])
    }

    fn slots(self) -> impl Iterator<Item = Slot> {
        self.0.into_iter().flatten()
    }

    fn contains(&self, s: Slot) -> bool {
        self.0.contains(&Some(s))
    }

    fn remove(&mut self, s: Slot) {
        for e in &mut self.0 {
            if *e == Some(s) {
                *e = None;
            }
        }
    }

    /// Adds `s` (when full, in place of the last one).
    fn add(&mut self, s: Slot) {
        if self.contains(s) {
            return;
        }
        let free = self.0.iter().position(|e| e.is_none()).unwrap_or(self.0.len() - 1);
        self.0[free] = Some(s);
    }
}

/// Positions control may reach other than by falling through from the instruction before.
fn entries(code: &[Instr]) -> Vec<bool> {
    let mut entry = vec![false; code.len() + 1];
    entry[0] = true;
    for (i, ins) in code.iter().enumerate() {
        let mut ins = *ins;
        ins.map_branch_target(|t| {
            if let Some(e) = entry.get_mut(t as usize) {
                *e = true;
            }
            t
        });
        if matches!(ins, Instr::Call { .. } | Instr::CallIndirect { .. } | Instr::Poll { .. }) {
            entry[i + 1] = true;
        }
    }
    entry
}

/// The accumulator form of `ins` when the register mirrors slot `x`, or `ins` itself.
fn reading(ins: Instr, x: Slot) -> Instr {
    use Instr as I;
    let swap = |b: Bin| Bin { dst: b.dst, a: b.b, b: b.a };
    match ins {
        I::F64Add(b) if b.a == x => I::F64AddA(b),
        I::F64Add(b) if b.b == x => I::F64AddA(swap(b)),
        I::F64Mul(b) if b.a == x && b.b == x => I::F64MulAA(b),
        I::F64Mul(b) if b.a == x => I::F64MulA(b),
        I::F64Mul(b) if b.b == x => I::F64MulA(swap(b)),
        I::F64Sub(b) if b.a == x => I::F64SubA(b),
        I::F64Sub(b) if b.b == x => I::F64SubB(b),
        I::F64Div(b) if b.a == x => I::F64DivA(b),
        I::F64Div(b) if b.b == x => I::F64DivB(b),
        I::F64Sqrt(u) if u.a == x => I::F64SqrtA(u),
        I::I64Store(s) if s.val == x => I::F64StoreV(s),
        I::I64StoreAt(s) if s.val == x => I::F64StoreAtV(s),
        I::F64AddU(m) if m.val == x => I::F64AddUV(m),
        I::F64AddUA(m) if m.val == x => I::F64AddUAV(m),
        I::F64SubU(m) if m.val == x => I::F64SubUV(m),
        I::F64SubUA(m) if m.val == x => I::F64SubUAV(m),
        I::F64SubRU(m) if m.val == x => I::F64SubRUV(m),
        I::F64SubRUA(m) if m.val == x => I::F64SubRUAV(m),
        I::F64MulU(m) if m.val == x => I::F64MulUV(m),
        I::F64MulUA(m) if m.val == x => I::F64MulUAV(m),
        I::F64DivU(m) if m.val == x => I::F64DivUV(m),
        I::F64DivUA(m) if m.val == x => I::F64DivUAV(m),
        I::F64DivRU(m) if m.val == x => I::F64DivRUV(m),
        I::F64DivRUA(m) if m.val == x => I::F64DivRUAV(m),
        I::F64AddM(m) if m.b == x => I::F64AddMF(m),
        I::F64AddMA(m) if m.b == x => I::F64AddMAF(m),
        I::F64SubM(m) if m.b == x => I::F64SubMF(m),
        I::F64SubMA(m) if m.b == x => I::F64SubMAF(m),
        I::F64SubMR(m) if m.b == x => I::F64SubMRF(m),
        I::F64SubMRA(m) if m.b == x => I::F64SubMRAF(m),
        I::F64MulM(m) if m.b == x => I::F64MulMF(m),
        I::F64MulMA(m) if m.b == x => I::F64MulMAF(m),
        I::F64DivM(m) if m.b == x => I::F64DivMF(m),
        I::F64DivMA(m) if m.b == x => I::F64DivMAF(m),
        I::F64DivMR(m) if m.b == x => I::F64DivMRF(m),
        I::F64DivMRA(m) if m.b == x => I::F64DivMRAF(m),
        other => other,
    }
}

/// The integer register form of `ins` when the register mirrors slot `x`, or `ins` itself.
/// Commutative operations and comparisons (mirrored) move the operand to `a`.
fn int_reading(mut ins: Instr, x: Slot) -> Instr {
    use Instr as I;
    let swap = |b: Bin| Bin { dst: b.dst, a: b.b, b: b.a };
    // An indexed access with shift 0 adds base and index: either may be the register's.
    if let Some((base, idx, 0)) = ins.index_operands_mut() {
        if *base == x {
            std::mem::swap(base, idx);
        }
    }
    match ins {
        I::I32Add(b) if b.a == x => I::I32AddA(b),
        I::I32Add(b) if b.b == x => I::I32AddA(swap(b)),
        I::I32Sub(b) if b.a == x => I::I32SubA(b),
        I::I32Sub(b) if b.b == x => I::I32SubB(b),
        I::I32Mul(b) if b.a == x => I::I32MulA(b),
        I::I32Mul(b) if b.b == x => I::I32MulA(swap(b)),
        I::I32And(b) if b.a == x => I::I32AndA(b),
        I::I32And(b) if b.b == x => I::I32AndA(swap(b)),
        I::I32Or(b) if b.a == x => I::I32OrA(b),
        I::I32Or(b) if b.b == x => I::I32OrA(swap(b)),
        I::I32Xor(b) if b.a == x => I::I32XorA(b),
        I::I32Xor(b) if b.b == x => I::I32XorA(swap(b)),
        I::I32Shl(b) if b.a == x => I::I32ShlA(b),
        I::I32Shl(b) if b.b == x => I::I32ShlB(b),
        I::I32ShrS(b) if b.a == x => I::I32ShrSA(b),
        I::I32ShrS(b) if b.b == x => I::I32ShrSB(b),
        I::I32ShrU(b) if b.a == x => I::I32ShrUA(b),
        I::I32ShrU(b) if b.b == x => I::I32ShrUB(b),
        I::I32Rotl(b) if b.a == x => I::I32RotlA(b),
        I::I32Rotr(b) if b.a == x => I::I32RotrA(b),
        I::I32Eq(b) if b.a == x => I::I32EqA(b),
        I::I32Eq(b) if b.b == x => I::I32EqA(swap(b)),
        I::I32Ne(b) if b.a == x => I::I32NeA(b),
        I::I32Ne(b) if b.b == x => I::I32NeA(swap(b)),
        I::I32LtS(b) if b.a == x => I::I32LtSA(b),
        I::I32LtS(b) if b.b == x => I::I32GtSA(swap(b)),
        I::I32LtU(b) if b.a == x => I::I32LtUA(b),
        I::I32LtU(b) if b.b == x => I::I32GtUA(swap(b)),
        I::I32GtS(b) if b.a == x => I::I32GtSA(b),
        I::I32GtS(b) if b.b == x => I::I32LtSA(swap(b)),
        I::I32GtU(b) if b.a == x => I::I32GtUA(b),
        I::I32GtU(b) if b.b == x => I::I32LtUA(swap(b)),
        I::I32LeS(b) if b.a == x => I::I32LeSA(b),
        I::I32LeS(b) if b.b == x => I::I32GeSA(swap(b)),
        I::I32LeU(b) if b.a == x => I::I32LeUA(b),
        I::I32LeU(b) if b.b == x => I::I32GeUA(swap(b)),
        I::I32GeS(b) if b.a == x => I::I32GeSA(b),
        I::I32GeS(b) if b.b == x => I::I32LeSA(swap(b)),
        I::I32GeU(b) if b.a == x => I::I32GeUA(b),
        I::I32GeU(b) if b.b == x => I::I32LeUA(swap(b)),
        I::I64Add(b) if b.a == x => I::I64AddA(b),
        I::I64Add(b) if b.b == x => I::I64AddA(swap(b)),
        I::I64Sub(b) if b.a == x => I::I64SubA(b),
        I::I64Sub(b) if b.b == x => I::I64SubB(b),
        I::I64Mul(b) if b.a == x => I::I64MulA(b),
        I::I64Mul(b) if b.b == x => I::I64MulA(swap(b)),
        I::I64And(b) if b.a == x => I::I64AndA(b),
        I::I64And(b) if b.b == x => I::I64AndA(swap(b)),
        I::I64Or(b) if b.a == x => I::I64OrA(b),
        I::I64Or(b) if b.b == x => I::I64OrA(swap(b)),
        I::I64Xor(b) if b.a == x => I::I64XorA(b),
        I::I64Xor(b) if b.b == x => I::I64XorA(swap(b)),
        I::I64Shl(b) if b.a == x => I::I64ShlA(b),
        I::I64Shl(b) if b.b == x => I::I64ShlB(b),
        I::I64ShrS(b) if b.a == x => I::I64ShrSA(b),
        I::I64ShrS(b) if b.b == x => I::I64ShrSB(b),
        I::I64ShrU(b) if b.a == x => I::I64ShrUA(b),
        I::I64ShrU(b) if b.b == x => I::I64ShrUB(b),
        I::I64Rotl(b) if b.a == x => I::I64RotlA(b),
        I::I64Rotr(b) if b.a == x => I::I64RotrA(b),
        I::I64Eq(b) if b.a == x => I::I64EqA(b),
        I::I64Eq(b) if b.b == x => I::I64EqA(swap(b)),
        I::I64Ne(b) if b.a == x => I::I64NeA(b),
        I::I64Ne(b) if b.b == x => I::I64NeA(swap(b)),
        I::I64LtS(b) if b.a == x => I::I64LtSA(b),
        I::I64LtS(b) if b.b == x => I::I64GtSA(swap(b)),
        I::I64LtU(b) if b.a == x => I::I64LtUA(b),
        I::I64LtU(b) if b.b == x => I::I64GtUA(swap(b)),
        I::I64GtS(b) if b.a == x => I::I64GtSA(b),
        I::I64GtS(b) if b.b == x => I::I64LtSA(swap(b)),
        I::I64GtU(b) if b.a == x => I::I64GtUA(b),
        I::I64GtU(b) if b.b == x => I::I64LtUA(swap(b)),
        I::I64LeS(b) if b.a == x => I::I64LeSA(b),
        I::I64LeS(b) if b.b == x => I::I64GeSA(swap(b)),
        I::I64LeU(b) if b.a == x => I::I64LeUA(b),
        I::I64LeU(b) if b.b == x => I::I64GeUA(swap(b)),
        I::I64GeS(b) if b.a == x => I::I64GeSA(b),
        I::I64GeS(b) if b.b == x => I::I64LeSA(swap(b)),
        I::I64GeU(b) if b.a == x => I::I64GeUA(b),
        I::I64GeU(b) if b.b == x => I::I64LeUA(swap(b)),
        I::I32AddImm(k) if k.a == x => I::I32AddImmA(k),
        I::I32MulImm(k) if k.a == x => I::I32MulImmA(k),
        I::I32AndImm(k) if k.a == x => I::I32AndImmA(k),
        I::I32OrImm(k) if k.a == x => I::I32OrImmA(k),
        I::I32XorImm(k) if k.a == x => I::I32XorImmA(k),
        I::I32ShlImm(k) if k.a == x => I::I32ShlImmA(k),
        I::I32ShrSImm(k) if k.a == x => I::I32ShrSImmA(k),
        I::I32ShrUImm(k) if k.a == x => I::I32ShrUImmA(k),
        I::I32EqImm(k) if k.a == x => I::I32EqImmA(k),
        I::I32NeImm(k) if k.a == x => I::I32NeImmA(k),
        I::I32LtSImm(k) if k.a == x => I::I32LtSImmA(k),
        I::I32LtUImm(k) if k.a == x => I::I32LtUImmA(k),
        I::I32GtSImm(k) if k.a == x => I::I32GtSImmA(k),
        I::I32GtUImm(k) if k.a == x => I::I32GtUImmA(k),
        I::I32LeSImm(k) if k.a == x => I::I32LeSImmA(k),
        I::I32LeUImm(k) if k.a == x => I::I32LeUImmA(k),
        I::I32GeSImm(k) if k.a == x => I::I32GeSImmA(k),
        I::I32GeUImm(k) if k.a == x => I::I32GeUImmA(k),
        I::I64AddImm(k) if k.a == x => I::I64AddImmA(k),
        I::I64MulImm(k) if k.a == x => I::I64MulImmA(k),
        I::I64AndImm(k) if k.a == x => I::I64AndImmA(k),
        I::I64OrImm(k) if k.a == x => I::I64OrImmA(k),
        I::I64XorImm(k) if k.a == x => I::I64XorImmA(k),
        I::I64ShlImm(k) if k.a == x => I::I64ShlImmA(k),
        I::I64ShrSImm(k) if k.a == x => I::I64ShrSImmA(k),
        I::I64ShrUImm(k) if k.a == x => I::I64ShrUImmA(k),
        I::I64EqImm(k) if k.a == x => I::I64EqImmA(k),
        I::I64NeImm(k) if k.a == x => I::I64NeImmA(k),
        I::I64LtSImm(k) if k.a == x => I::I64LtSImmA(k),
        I::I64LtUImm(k) if k.a == x => I::I64LtUImmA(k),
        I::I64GtSImm(k) if k.a == x => I::I64GtSImmA(k),
        I::I64GtUImm(k) if k.a == x => I::I64GtUImmA(k),
        I::I64LeSImm(k) if k.a == x => I::I64LeSImmA(k),
        I::I64LeUImm(k) if k.a == x => I::I64LeUImmA(k),
        I::I64GeSImm(k) if k.a == x => I::I64GeSImmA(k),
        I::I64GeUImm(k) if k.a == x => I::I64GeUImmA(k),
        I::BrI32Eq(c) if c.a == x => I::BrI32EqA(c),
        I::BrI32Eq(c) if c.b == x => I::BrI32EqA(CmpBr { a: c.b, b: c.a, target: c.target }),
        I::BrI32Ne(c) if c.a == x => I::BrI32NeA(c),
        I::BrI32Ne(c) if c.b == x => I::BrI32NeA(CmpBr { a: c.b, b: c.a, target: c.target }),
        I::BrI32LtS(c) if c.a == x => I::BrI32LtSA(c),
        I::BrI32LtS(c) if c.b == x => I::BrI32GtSA(CmpBr { a: c.b, b: c.a, target: c.target }),
        I::BrI32LtU(c) if c.a == x => I::BrI32LtUA(c),
        I::BrI32LtU(c) if c.b == x => I::BrI32GtUA(CmpBr { a: c.b, b: c.a, target: c.target }),
        I::BrI32GtS(c) if c.a == x => I::BrI32GtSA(c),
        I::BrI32GtS(c) if c.b == x => I::BrI32LtSA(CmpBr { a: c.b, b: c.a, target: c.target }),
        I::BrI32GtU(c) if c.a == x => I::BrI32GtUA(c),
        I::BrI32GtU(c) if c.b == x => I::BrI32LtUA(CmpBr { a: c.b, b: c.a, target: c.target }),
        I::BrI32LeS(c) if c.a == x => I::BrI32LeSA(c),
        I::BrI32LeS(c) if c.b == x => I::BrI32GeSA(CmpBr { a: c.b, b: c.a, target: c.target }),
        I::BrI32LeU(c) if c.a == x => I::BrI32LeUA(c),
        I::BrI32LeU(c) if c.b == x => I::BrI32GeUA(CmpBr { a: c.b, b: c.a, target: c.target }),
        I::BrI32GeS(c) if c.a == x => I::BrI32GeSA(c),
        I::BrI32GeS(c) if c.b == x => I::BrI32LeSA(CmpBr { a: c.b, b: c.a, target: c.target }),
        I::BrI32GeU(c) if c.a == x => I::BrI32GeUA(c),
        I::BrI32GeU(c) if c.b == x => I::BrI32LeUA(CmpBr { a: c.b, b: c.a, target: c.target }),
        I::BrI64Eq(c) if c.a == x => I::BrI64EqA(c),
        I::BrI64Eq(c) if c.b == x => I::BrI64EqA(CmpBr { a: c.b, b: c.a, target: c.target }),
        I::BrI64Ne(c) if c.a == x => I::BrI64NeA(c),
        I::BrI64Ne(c) if c.b == x => I::BrI64NeA(CmpBr { a: c.b, b: c.a, target: c.target }),
        I::BrI64LtS(c) if c.a == x => I::BrI64LtSA(c),
        I::BrI64LtS(c) if c.b == x => I::BrI64GtSA(CmpBr { a: c.b, b: c.a, target: c.target }),
        I::BrI64LtU(c) if c.a == x => I::BrI64LtUA(c),
        I::BrI64LtU(c) if c.b == x => I::BrI64GtUA(CmpBr { a: c.b, b: c.a, target: c.target }),
        I::BrI64GtS(c) if c.a == x => I::BrI64GtSA(c),
        I::BrI64GtS(c) if c.b == x => I::BrI64LtSA(CmpBr { a: c.b, b: c.a, target: c.target }),
        I::BrI64GtU(c) if c.a == x => I::BrI64GtUA(c),
        I::BrI64GtU(c) if c.b == x => I::BrI64LtUA(CmpBr { a: c.b, b: c.a, target: c.target }),
        I::BrI64LeS(c) if c.a == x => I::BrI64LeSA(c),
        I::BrI64LeS(c) if c.b == x => I::BrI64GeSA(CmpBr { a: c.b, b: c.a, target: c.target }),
        I::BrI64LeU(c) if c.a == x => I::BrI64LeUA(c),
        I::BrI64LeU(c) if c.b == x => I::BrI64GeUA(CmpBr { a: c.b, b: c.a, target: c.target }),
        I::BrI64GeS(c) if c.a == x => I::BrI64GeSA(c),
        I::BrI64GeS(c) if c.b == x => I::BrI64LeSA(CmpBr { a: c.b, b: c.a, target: c.target }),
        I::BrI64GeU(c) if c.a == x => I::BrI64GeUA(c),
        I::BrI64GeU(c) if c.b == x => I::BrI64LeUA(CmpBr { a: c.b, b: c.a, target: c.target }),
        I::BrI32EqImm(c) if c.a == x => I::BrI32EqImmA(c),
        I::BrI32NeImm(c) if c.a == x => I::BrI32NeImmA(c),
        I::BrI32LtSImm(c) if c.a == x => I::BrI32LtSImmA(c),
        I::BrI32LtUImm(c) if c.a == x => I::BrI32LtUImmA(c),
        I::BrI32GtSImm(c) if c.a == x => I::BrI32GtSImmA(c),
        I::BrI32GtUImm(c) if c.a == x => I::BrI32GtUImmA(c),
        I::BrI32LeSImm(c) if c.a == x => I::BrI32LeSImmA(c),
        I::BrI32LeUImm(c) if c.a == x => I::BrI32LeUImmA(c),
        I::BrI32GeSImm(c) if c.a == x => I::BrI32GeSImmA(c),
        I::BrI32GeUImm(c) if c.a == x => I::BrI32GeUImmA(c),
        I::BrI64EqImm(c) if c.a == x => I::BrI64EqImmA(c),
        I::BrI64NeImm(c) if c.a == x => I::BrI64NeImmA(c),
        I::BrI64LtSImm(c) if c.a == x => I::BrI64LtSImmA(c),
        I::BrI64LtUImm(c) if c.a == x => I::BrI64LtUImmA(c),
        I::BrI64GtSImm(c) if c.a == x => I::BrI64GtSImmA(c),
        I::BrI64GtUImm(c) if c.a == x => I::BrI64GtUImmA(c),
        I::BrI64LeSImm(c) if c.a == x => I::BrI64LeSImmA(c),
        I::BrI64LeUImm(c) if c.a == x => I::BrI64LeUImmA(c),
        I::BrI64GeSImm(c) if c.a == x => I::BrI64GeSImmA(c),
        I::BrI64GeUImm(c) if c.a == x => I::BrI64GeUImmA(c),
        I::I32Load(l) if l.addr == x => I::I32LoadA(l),
        I::I64Load(l) if l.addr == x => I::I64LoadA(l),
        I::I32Load8S(l) if l.addr == x => I::I32Load8SA(l),
        I::I32Load8U(l) if l.addr == x => I::I32Load8UA(l),
        I::I32Load16S(l) if l.addr == x => I::I32Load16SA(l),
        I::I32Load16U(l) if l.addr == x => I::I32Load16UA(l),
        I::I64Load8S(l) if l.addr == x => I::I64Load8SA(l),
        I::I64Load8U(l) if l.addr == x => I::I64Load8UA(l),
        I::I64Load16S(l) if l.addr == x => I::I64Load16SA(l),
        I::I64Load16U(l) if l.addr == x => I::I64Load16UA(l),
        I::I64Load32S(l) if l.addr == x => I::I64Load32SA(l),
        I::I64Load32U(l) if l.addr == x => I::I64Load32UA(l),
        I::F64Load(l) if l.addr == x => I::F64LoadA(l),
        I::I32LoadAt(l) if l.a == x => I::I32LoadAtA(l),
        I::I64LoadAt(l) if l.a == x => I::I64LoadAtA(l),
        I::I32Load8SAt(l) if l.a == x => I::I32Load8SAtA(l),
        I::I32Load8UAt(l) if l.a == x => I::I32Load8UAtA(l),
        I::I32Load16SAt(l) if l.a == x => I::I32Load16SAtA(l),
        I::I32Load16UAt(l) if l.a == x => I::I32Load16UAtA(l),
        I::I64Load8SAt(l) if l.a == x => I::I64Load8SAtA(l),
        I::I64Load8UAt(l) if l.a == x => I::I64Load8UAtA(l),
        I::I64Load16SAt(l) if l.a == x => I::I64Load16SAtA(l),
        I::I64Load16UAt(l) if l.a == x => I::I64Load16UAtA(l),
        I::I64Load32SAt(l) if l.a == x => I::I64Load32SAtA(l),
        I::I64Load32UAt(l) if l.a == x => I::I64Load32UAtA(l),
        I::F64LoadAt(l) if l.a == x => I::F64LoadAtA(l),
        I::I32Store(m) if m.addr == x => I::I32StoreA(m),
        I::I32Store(m) if m.val == x => I::I32StoreV(m),
        I::I64Store(m) if m.addr == x => I::I64StoreA(m),
        I::I64Store(m) if m.val == x => I::I64StoreV(m),
        I::I32Store8(m) if m.addr == x => I::I32Store8A(m),
        I::I32Store8(m) if m.val == x => I::I32Store8V(m),
        I::I32Store16(m) if m.addr == x => I::I32Store16A(m),
        I::I32Store16(m) if m.val == x => I::I32Store16V(m),
        I::I64Store8(m) if m.addr == x => I::I64Store8A(m),
        I::I64Store8(m) if m.val == x => I::I64Store8V(m),
        I::I64Store16(m) if m.addr == x => I::I64Store16A(m),
        I::I64Store16(m) if m.val == x => I::I64Store16V(m),
        I::I64Store32(m) if m.addr == x => I::I64Store32A(m),
        I::I64Store32(m) if m.val == x => I::I64Store32V(m),
        I::I32StoreAt(m) if m.addr == x => I::I32StoreAtA(m),
        I::I32StoreAt(m) if m.val == x => I::I32StoreAtV(m),
        I::I64StoreAt(m) if m.addr == x => I::I64StoreAtA(m),
        I::I64StoreAt(m) if m.val == x => I::I64StoreAtV(m),
        I::I32Store8At(m) if m.addr == x => I::I32Store8AtA(m),
        I::I32Store8At(m) if m.val == x => I::I32Store8AtV(m),
        I::I32Store16At(m) if m.addr == x => I::I32Store16AtA(m),
        I::I32Store16At(m) if m.val == x => I::I32Store16AtV(m),
        I::I64Store32At(m) if m.addr == x => I::I64Store32AtA(m),
        I::I64Store32At(m) if m.val == x => I::I64Store32AtV(m),
        I::I32StoreK(m) if m.addr == x => I::I32StoreKA(m),
        I::I64StoreK(m) if m.addr == x => I::I64StoreKA(m),
        I::I32Store8K(m) if m.addr == x => I::I32Store8KA(m),
        I::I32Store16K(m) if m.addr == x => I::I32Store16KA(m),
        I::I64Store32K(m) if m.addr == x => I::I64Store32KA(m),
        I::I32Eqz(v) if v.a == x => I::I32EqzA(v),
        I::I32Clz(v) if v.a == x => I::I32ClzA(v),
        I::I32Ctz(v) if v.a == x => I::I32CtzA(v),
        I::I32Popcnt(v) if v.a == x => I::I32PopcntA(v),
        I::I64Eqz(v) if v.a == x => I::I64EqzA(v),
        I::I64Clz(v) if v.a == x => I::I64ClzA(v),
        I::I64Ctz(v) if v.a == x => I::I64CtzA(v),
        I::I64Popcnt(v) if v.a == x => I::I64PopcntA(v),
        I::I32WrapI64(v) if v.a == x => I::I32WrapI64A(v),
        I::I64ExtendI32S(v) if v.a == x => I::I64ExtendI32SA(v),
        I::I64ExtendI32U(v) if v.a == x => I::I64ExtendI32UA(v),
        I::I32Extend8S(v) if v.a == x => I::I32Extend8SA(v),
        I::I32Extend16S(v) if v.a == x => I::I32Extend16SA(v),
        I::I64Extend8S(v) if v.a == x => I::I64Extend8SA(v),
        I::I64Extend16S(v) if v.a == x => I::I64Extend16SA(v),
        I::I64Extend32S(v) if v.a == x => I::I64Extend32SA(v),
        I::Copy { dst, src } if src == x => I::CopyA { dst, src },
        I::I32LoadIdx(l) if l.idx == x && l.base != x => I::I32LoadIdxA(l),
        I::I64LoadIdx(l) if l.idx == x && l.base != x => I::I64LoadIdxA(l),
        I::F64LoadIdx(l) if l.idx == x && l.base != x => I::F64LoadIdxA(l),
        I::I32Load8SIdx(l) if l.idx == x && l.base != x => I::I32Load8SIdxA(l),
        I::I32Load8UIdx(l) if l.idx == x && l.base != x => I::I32Load8UIdxA(l),
        I::I32Load16SIdx(l) if l.idx == x && l.base != x => I::I32Load16SIdxA(l),
        I::I32Load16UIdx(l) if l.idx == x && l.base != x => I::I32Load16UIdxA(l),
        I::I64Load32SIdx(l) if l.idx == x && l.base != x => I::I64Load32SIdxA(l),
        I::I64Load32UIdx(l) if l.idx == x && l.base != x => I::I64Load32UIdxA(l),
        I::I32StoreIdx(m) if m.idx == x && m.base != x && m.val != x => I::I32StoreIdxA(m),
        I::I64StoreIdx(m) if m.idx == x && m.base != x && m.val != x => I::I64StoreIdxA(m),
        I::I32Store8Idx(m) if m.idx == x && m.base != x && m.val != x => I::I32Store8IdxA(m),
        I::I32Store16Idx(m) if m.idx == x && m.base != x && m.val != x => I::I32Store16IdxA(m),
        I::BrIfNez { cond, target } if cond == x => I::BrIfNezA { cond, target },
        I::BrIfEqz { cond, target } if cond == x => I::BrIfEqzA { cond, target },
        I::Select { dst, a, b, cond } if cond == x => I::SelectC { dst, a, b, cond },
        I::Select64 { dst, a, b, cond } if cond == x => I::Select64C { dst, a, b, cond },
        I::SelectAnd { dst, a, b, c, mask } if a == x && b != x => I::SelectAndA { dst, a, b, c, mask },
        I::SelectAnd { dst, a, b, c, mask } if b == x && a != x => I::SelectAndB { dst, a, b, c, mask },
        I::SelectAnd64 { dst, a, b, c, mask } if a == x && b != x => I::SelectAnd64A { dst, a, b, c, mask },
        I::SelectAnd64 { dst, a, b, c, mask } if b == x && a != x => I::SelectAnd64B { dst, a, b, c, mask },
        I::F64AddU(m) if m.addr == x => I::F64AddUA(m),
        I::F64AddUV(m) if m.addr == x => I::F64AddUAV(m),
        I::F64SubU(m) if m.addr == x => I::F64SubUA(m),
        I::F64SubUV(m) if m.addr == x => I::F64SubUAV(m),
        I::F64SubRU(m) if m.addr == x => I::F64SubRUA(m),
        I::F64SubRUV(m) if m.addr == x => I::F64SubRUAV(m),
        I::F64MulU(m) if m.addr == x => I::F64MulUA(m),
        I::F64MulUV(m) if m.addr == x => I::F64MulUAV(m),
        I::F64DivU(m) if m.addr == x => I::F64DivUA(m),
        I::F64DivUV(m) if m.addr == x => I::F64DivUAV(m),
        I::F64DivRU(m) if m.addr == x => I::F64DivRUA(m),
        I::F64DivRUV(m) if m.addr == x => I::F64DivRUAV(m),
        I::F64AddM(m) if m.a == x => I::F64AddMA(m),
        I::F64AddMF(m) if m.a == x => I::F64AddMAF(m),
        I::F64SubM(m) if m.a == x => I::F64SubMA(m),
        I::F64SubMF(m) if m.a == x => I::F64SubMAF(m),
        I::F64SubMR(m) if m.a == x => I::F64SubMRA(m),
        I::F64SubMRF(m) if m.a == x => I::F64SubMRAF(m),
        I::F64MulM(m) if m.a == x => I::F64MulMA(m),
        I::F64MulMF(m) if m.a == x => I::F64MulMAF(m),
        I::F64DivM(m) if m.a == x => I::F64DivMA(m),
        I::F64DivMF(m) if m.a == x => I::F64DivMAF(m),
        I::F64DivMR(m) if m.a == x => I::F64DivMRA(m),
        I::F64DivMRF(m) if m.a == x => I::F64DivMRAF(m),
        other => other,
    }
}

/// Whether the handler of `op` sets the f64 register to its result (`wrf!` in
/// `exec::handlers`; a test checks the two agree).
pub fn sets_f64_register(op: u16) -> bool {
    F64_WRITERS.iter().any(|&o| o as u16 == op)
}

/// The instruction kinds whose handlers set the f64 register.
pub const F64_WRITERS: &[Op] = &[
    Op::F64Add,
    Op::F64Sub,
    Op::F64Mul,
    Op::F64Div,
    Op::F64Min,
    Op::F64Max,
    Op::F64Copysign,
    Op::F64AddA,
    Op::F64SubA,
    Op::F64SubB,
    Op::F64MulA,
    Op::F64MulAA,
    Op::F64DivA,
    Op::F64DivB,
    Op::F64Sqrt,
    Op::F64SqrtA,
    Op::F64ConvertI32S,
    Op::F64ConvertI32U,
    Op::F64ConvertI64S,
    Op::F64ConvertI64U,
    Op::F64PromoteF32,
    Op::F64Load,
    Op::F64LoadA,
    Op::F64LoadAt,
    Op::F64LoadAtA,
    Op::F64LoadIdx,
    Op::F64LoadIdxA,
    Op::F64AddM,
    Op::F64SubM,
    Op::F64SubMR,
    Op::F64MulM,
    Op::F64DivM,
    Op::F64DivMR,
    Op::F64AddMA,
    Op::F64SubMA,
    Op::F64SubMRA,
    Op::F64MulMA,
    Op::F64DivMA,
    Op::F64DivMRA,
    Op::F64AddMF,
    Op::F64SubMF,
    Op::F64SubMRF,
    Op::F64MulMF,
    Op::F64DivMF,
    Op::F64DivMRF,
    Op::F64AddMAF,
    Op::F64SubMAF,
    Op::F64SubMRAF,
    Op::F64MulMAF,
    Op::F64DivMAF,
    Op::F64DivMRAF,
];

/// Whether the handler of `op`, an instruction with a single result slot that is not an f64
/// writer, sets the integer register to its result: all do (through `wr!`) except `TableGet`,
/// whose helper writes the slot.
pub fn sets_int_register(op: u16) -> bool {
    op != Op::TableGet as u16 && !sets_f64_register(op)
}

/// Whether `ins` (with no single result) leaves every slot and both registers as they are
/// and falls through when it does not branch.
fn keeps_registers(ins: &Instr) -> bool {
    ins.is_store() || ins.is_cond_branch() || matches!(ins, Instr::GlobalSet { .. } | Instr::Br { .. })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::ir::{Load, Store};

    fn bin(dst: Slot, a: Slot, b: Slot) -> Bin {
        Bin { dst, a, b }
    }

    #[test]
    fn readers_right_after_a_writer_use_the_register() {
        let mut code = vec![
            Instr::Poll { cost: 1, height: 0 },
            Instr::F64Load(Load { dst: 3, addr: 0, offset: 8 }),
            Instr::F64Mul(bin(4, 3, 3)),
            Instr::F64Sub(bin(5, 1, 4)),
            Instr::Const32 { dst: 6, val: 0 },
            Instr::I64Store(Store { addr: 6, val: 5, offset: 0 }),
            Instr::F64Add(bin(7, 2, 5)),
        ];
        forward(&mut code);
        assert_eq!(code[2], Instr::F64MulAA(bin(4, 3, 3)));
        assert_eq!(code[3], Instr::F64SubB(bin(5, 1, 4)));
        assert_eq!(code[5], Instr::F64StoreV(Store { addr: 6, val: 5, offset: 0 }));
        // Commutative: the register's operand moves to `a`.
        assert_eq!(code[6], Instr::F64AddA(bin(7, 5, 2)));
    }

    #[test]
    fn the_register_is_forgotten_where_it_may_be_stale() {
        let mut code = vec![
            Instr::Poll { cost: 1, height: 0 },
            Instr::F64Add(bin(3, 1, 2)),
            // Overwrites slot 3 without setting the register.
            Instr::Const64 { dst: 3, val: 0 },
            Instr::F64Add(bin(4, 3, 3)),
            Instr::Call { func: 0, base: 8 },
            Instr::F64Add(bin(5, 4, 4)),
            Instr::F64Add(bin(6, 1, 2)),
            // A branch target: reached from the branch below too.
            Instr::F64Add(bin(7, 6, 6)),
            Instr::BrIfNez { cond: 0, target: 7 },
            Instr::F64Sqrt(crate::compile::ir::Un { dst: 8, a: 6 }),
            Instr::Poll { cost: 1, height: 0 },
            Instr::F64Sqrt(crate::compile::ir::Un { dst: 9, a: 8 }),
        ];
        let before = code.clone();
        forward(&mut code);
        assert_eq!(code[3], before[3], "slot 3 was overwritten");
        assert_eq!(code[5], before[5], "after a call");
        assert_eq!(code[7], before[7], "at a branch target");
        assert_eq!(code[9], before[9], "slot 6 is not the register's");
        assert_eq!(code[11], before[11], "after a safe point");
    }

    #[test]
    fn integer_readers_use_the_integer_register() {
        use crate::compile::ir::{BinImm, CmpBr};
        let mut code = vec![
            Instr::Poll { cost: 1, height: 0 },
            Instr::I32ShlImm(BinImm { dst: 3, a: 0, imm: 2 }),
            Instr::I32Add(bin(4, 1, 3)),
            Instr::I32Load(Load { dst: 5, addr: 4, offset: 0 }),
            Instr::I32Sub(bin(6, 2, 5)),
            Instr::BrI32LtS(CmpBr { a: 2, b: 6, target: 0 }),
            Instr::I32Store(Store { addr: 4, val: 6, offset: 0 }),
            Instr::I32GtS(bin(7, 1, 2)),
            Instr::Select { dst: 8, a: 1, b: 2, cond: 7 },
            // An f64 result does not change the integer register, and vice versa.
            Instr::F64Add(bin(9, 10, 11)),
            Instr::I32Eqz(crate::compile::ir::Un { dst: 12, a: 8 }),
            Instr::F64Mul(bin(13, 9, 9)),
        ];
        forward(&mut code);
        assert_eq!(code[2], Instr::I32AddA(bin(4, 3, 1)), "commutative: swapped");
        assert_eq!(code[3], Instr::I32LoadA(Load { dst: 5, addr: 4, offset: 0 }));
        assert_eq!(code[4], Instr::I32SubB(bin(6, 2, 5)));
        assert_eq!(code[5], Instr::BrI32GtSA(CmpBr { a: 6, b: 2, target: 0 }), "mirrored");
        assert_eq!(code[6], Instr::I32StoreV(Store { addr: 4, val: 6, offset: 0 }));
        assert_eq!(code[8], Instr::SelectC { dst: 8, a: 1, b: 2, cond: 7 });
        assert_eq!(
            code[10],
            Instr::I32EqzA(crate::compile::ir::Un { dst: 12, a: 8 }),
            "across an f64 result"
        );
        assert_eq!(code[11], Instr::F64MulAA(bin(13, 9, 9)));
    }

    #[test]
    fn indexed_accesses_take_the_index_from_the_register() {
        use crate::compile::ir::{BinImm, LoadIdx};
        let ld = LoadIdx { dst: 5, base: 1, idx: 4, shift: 2, offset: 0 };
        let mut code = vec![
            Instr::Poll { cost: 1, height: 0 },
            Instr::I32AndImm(BinImm { dst: 4, a: 0, imm: 15 }),
            Instr::I32LoadIdx(ld),
            Instr::I32AndImm(BinImm { dst: 1, a: 0, imm: 15 }),
            Instr::I32LoadIdx(ld),
        ];
        forward(&mut code);
        assert_eq!(code[2], Instr::I32LoadIdxA(ld));
        assert_eq!(code[4], Instr::I32LoadIdx(ld), "the base has no register form");
    }

    #[test]
    fn copies_leave_the_value_in_both_slots() {
        use crate::compile::ir::BinImm;
        let mut code = vec![
            Instr::Poll { cost: 1, height: 0 },
            Instr::I32AddImm(BinImm { dst: 6, a: 0, imm: -4096 }),
            Instr::Copy { dst: 12, src: 6 },
            Instr::I32Load(Load { dst: 6, addr: 6, offset: 0 }),
            Instr::I32Store(Store { addr: 12, val: 7, offset: 0 }),
            Instr::F64Mul(bin(20, 21, 22)),
            Instr::Copy { dst: 23, src: 20 },
            Instr::F64Add(bin(24, 23, 25)),
            Instr::Copy { dst: 20, src: 1 },
            Instr::F64Add(bin(26, 20, 25)),
        ];
        forward(&mut code);
        assert_eq!(code[2], Instr::CopyA { dst: 12, src: 6 });
        assert_eq!(code[3], Instr::I32LoadA(Load { dst: 6, addr: 6, offset: 0 }), "slot 6 too");
        assert_eq!(
            code[4],
            Instr::I32Store(Store { addr: 12, val: 7, offset: 0 }),
            "the load replaced slot 12"
        );
        assert_eq!(code[7], Instr::F64AddA(bin(24, 23, 25)), "the f64 register holds slot 23 too");
        assert_eq!(code[9], Instr::F64Add(bin(26, 20, 25)), "slot 20 was overwritten by a copy");
    }

    #[test]
    fn the_register_survives_instructions_that_leave_it_alone() {
        let mut code = vec![
            Instr::Poll { cost: 1, height: 0 },
            Instr::F64Div(bin(3, 1, 2)),
            Instr::Const32 { dst: 4, val: 16 },
            Instr::I32Load(Load { dst: 5, addr: 4, offset: 0 }),
            Instr::I32Store(Store { addr: 4, val: 5, offset: 0 }),
            Instr::F64Div(bin(6, 1, 3)),
        ];
        forward(&mut code);
        assert_eq!(code[5], Instr::F64DivB(bin(6, 1, 3)));
    }
}
