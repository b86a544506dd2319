//! Loads and stores, and the address computations they take over.

use super::{Opnd, T};
use crate::compile::ir::{
    Bin, BinImm, Instr, Lane, Load, LoadAt, LoadIdx, LoadMem, Slot, Store, StoreAt, StoreIdx, StoreK,
    StoreMem, Tern,
};
use crate::compile::isa::Lower;
use crate::error::Error;
use wasmparser::MemArgTarget;

impl T<'_> {
    /// The `i32.add` with a constant that computed the address operand `addr` (at the current
    /// height), for a load or store to take over.
    pub(super) fn address_add(&self, addr: Opnd) -> Option<(u32, BinImm)> {
        let Opnd::Slot(t) = addr else { return None };
        match self.just_wrote(t, self.height())? {
            (li, Instr::I32AddImm(x)) => Some((li, x)),
            _ => None,
        }
    }

    /// The `i32.add` of a base and an `i32.shl` by a constant that computed the address
    /// operand `addr` (at the current height), both just emitted and both results temporaries
    /// used only here: (index of the shift, base, index, shift count) for an indexed access.
    ///
    /// Without such a shift, the `i32.add` of two slots alone is an indexed address with
    /// shift 0 (the index of the add is returned then).
    pub(super) fn address_index(&self, addr: Opnd) -> Option<(u32, Slot, Slot, u16)> {
        let Opnd::Slot(t) = addr else { return None };
        let (li, Instr::I32Add(add)) = self.just_wrote(t, self.height())? else { return None };
        let plain = Some((li, add.a, add.b, 0));
        let Some(&Instr::I32ShlImm(shl)) = self.code.get((li as usize).wrapping_sub(1)) else { return plain };
        // A branch may land on the add (then the shift may not have run just before).
        if self.label_pos == li {
            return plain;
        }
        let h = self.height();
        let temp = |s: Slot| s == self.canon(h) || s == self.canon(h + 1);
        let base = match (add.a == shl.dst, add.b == shl.dst) {
            (true, false) => add.b,
            (false, true) => add.a,
            _ => return plain,
        };
        if temp(shl.dst) {
            Some((li - 1, base, shl.a, (shl.imm & 31) as u16))
        } else {
            plain
        }
    }

    /// Replaces the shift and the add found by [`T::address_index`] (from `at` on) with `ins`.
    pub(super) fn take_over_two(&mut self, at: u32, ins: Instr) {
        self.code.truncate(at as usize + 1);
        self.offsets.truncate(at as usize + 1);
        self.take_over(at, ins);
    }

    /// The memory a load or store accesses (an access to a GC array is refused).
    fn memory_index(&self, memarg: wasmparser::MemArg) -> Result<u16, Error> {
        match memarg.target {
            MemArgTarget::Memory(i) => Ok(i as u16),
            MemArgTarget::Array(_) => Err(Error::Invalid {
                offset: Some(self.offset as u64),
                message: "a load or store of a GC array needs garbage collection (GC), which chiwawa does not support"
                    .into(),
            }),
        }
    }

    /// Whether memory `mem` of the module is 64-bit (memory64).
    pub(super) fn memory64(&self, mem: u32) -> bool {
        self.m.memories.get(mem as usize).is_some_and(|t| t.is64)
    }

    /// Whether an access goes to a 32-bit memory 0 (the forms with the cached memory).
    fn plain_memory(&self, memarg: wasmparser::MemArg) -> bool {
        memarg.target == MemArgTarget::Memory(0) && !self.memory64(0)
    }

    /// The memory index of an access not to a 32-bit memory 0, and which of the three forms
    /// for such accesses it takes: another 32-bit memory, a 64-bit memory 0, another 64-bit
    /// memory.
    fn memory_form(&self, memarg: wasmparser::MemArg) -> Result<(u16, usize), Error> {
        let mem = self.memory_index(memarg)?;
        Ok((
            mem,
            if !self.memory64(mem as u32) {
                0
            } else if mem == 0 {
                1
            } else {
                2
            },
        ))
    }

    /// Lowers an operator of the instruction-set table as it says.
    pub(super) fn lower(&mut self, l: Lower) -> Result<(), Error> {
        match l {
            Lower::Unary(f) => self.unary(f),
            Lower::Binary(f) => self.binary(f),
            Lower::BinaryImm(f, k, flip) => self.binary_k(f, k, flip),
            Lower::Sub(f, k, wide) => self.sub_k(f, k, wide),
            Lower::F64(f, m, mr) => self.f64_binary(f, m, mr, false),
            Lower::Load(memarg, _, _, _, forms) if !self.plain_memory(memarg) => {
                self.load_mem(memarg, forms, 1)
            }
            Lower::VLoad(memarg, _, _, _, forms) if !self.plain_memory(memarg) => {
                self.load_mem(memarg, forms, 2)
            }
            Lower::Store(memarg, .., forms) | Lower::VStore(memarg, .., forms)
                if !self.plain_memory(memarg) =>
            {
                let (mem, form) = self.memory_form(memarg)?;
                let val = self.pop();
                let addr = self.pop();
                let offset = memarg.offset.min(1 << 63);
                self.emit(forms[form](StoreMem { addr, val, mem, offset }));
                Ok(())
            }
            Lower::Load(memarg, f, at, idx, _) => self.load_idx(memarg, f, at, idx, 1),
            Lower::VLoad(memarg, f, at, idx, _) => self.load_idx(memarg, f, at, idx, 2),
            Lower::Store(memarg, f, at, k, idx, wide, _) => self.store_idx(memarg, f, at, Some(k), idx, wide),
            Lower::VStore(memarg, f, at, idx, _) => self.store_idx(memarg, f, at, None, idx, false),
            Lower::VBin(f) => self.binary_w(f, 2),
            Lower::VBinM(f, m, mr) => self.f64_binary(f, m, mr, true),
            Lower::VUn(f) | Lower::VSplat(f) => self.unary_w(f, 2),
            Lower::VTest(f) => self.unary(f),
            Lower::VTern(f) => {
                let c = self.pop();
                let b = self.pop();
                let a = self.pop();
                let dst = self.push_v()?;
                self.result(f(Tern { dst, a, b, c }));
                Ok(())
            }
            Lower::VShift(f, k) => {
                let n = self.pop_any();
                let a = self.pop();
                if let Opnd::K(v, _) = n {
                    let dst = self.push_v()?;
                    self.result(k(BinImm { dst, a, imm: v as i32 }));
                    return Ok(());
                }
                let b = self.slot_at(n, self.height() + 1);
                let dst = self.push_v()?;
                self.result(f(Bin { dst, a, b }));
                Ok(())
            }
            Lower::VExtract(f, lane) => {
                let a = self.pop();
                let dst = self.push()?;
                self.result(f(Lane { dst, a, b: a, lane: lane.into() }));
                Ok(())
            }
            Lower::VReplace(f, lane) => {
                let b = self.pop();
                let a = self.pop();
                let dst = self.push_v()?;
                self.result(f(Lane { dst, a, b, lane: lane.into() }));
                Ok(())
            }
        }
    }

    /// A load from another memory than a 32-bit memory 0 (result of `w` slots).
    fn load_mem(
        &mut self,
        memarg: wasmparser::MemArg,
        forms: [fn(LoadMem) -> Instr; 3],
        w: u32,
    ) -> Result<(), Error> {
        let (mem, form) = self.memory_form(memarg)?;
        let addr = self.pop();
        let dst = self.push_w(w)?;
        let offset = memarg.offset.min(1 << 63);
        self.result(forms[form](LoadMem { dst, addr, mem, offset }));
        Ok(())
    }

    /// A load, which may take over the address computation: `i32.add` of a constant
    /// (`at`), or of a base and a shifted index (`idx`, when the load has an indexed form).
    pub(super) fn load_idx(
        &mut self,
        memarg: wasmparser::MemArg,
        f: fn(Load) -> Instr,
        at: fn(LoadAt) -> Instr,
        idx: Option<fn(LoadIdx) -> Instr>,
        w: u32,
    ) -> Result<(), Error> {
        let offset = memarg.offset as u32;
        let o = self.pop_any();
        if let (Some(g), Some((si, base, index, shift))) = (idx, self.address_index(o)) {
            let dst = self.push_w(w)?;
            self.take_over_two(si, g(LoadIdx { dst, base, idx: index, shift, offset }));
            return Ok(());
        }
        if let Some((li, x)) = self.address_add(o) {
            let dst = self.push_w(w)?;
            self.take_over(li, at(LoadAt { dst, a: x.a, imm: x.imm as u32, offset }));
            return Ok(());
        }
        let addr = self.slot_at(o, self.height());
        let dst = self.push_w(w)?;
        self.result(f(Load { dst, addr, offset }));
        Ok(())
    }

    /// A store, which may take over the address computation as [`T::load_idx`] does. `wide`:
    /// a 64-bit store, whose constant value must fit a sign-extended `i32` to become an
    /// immediate (narrower stores truncate it anyway).
    pub(super) fn store_idx(
        &mut self,
        memarg: wasmparser::MemArg,
        f: fn(Store) -> Instr,
        at: fn(StoreAt) -> Instr,
        k: Option<fn(StoreK) -> Instr>,
        idx: Option<fn(StoreIdx) -> Instr>,
        wide: bool,
    ) -> Result<(), Error> {
        let offset = memarg.offset as u32;
        let vo = self.pop_any();
        let ao = self.pop_any();
        let h = self.height();
        if let (Opnd::K(v, _), Some(k)) = (vo, k) {
            if !wide || v as i64 == v as i32 as i64 {
                let addr = self.slot_at(ao, h);
                self.emit(k(StoreK { addr, imm: v as i32, offset }));
                return Ok(());
            }
        }
        let val = self.slot_at(vo, h + 1);
        if let (Some(g), Some((si, base, index, shift))) = (idx, self.address_index(ao)) {
            self.take_over_two(si, g(StoreIdx { base, idx: index, val, shift, offset }));
            self.last_result = None;
            return Ok(());
        }
        if let Some((li, x)) = self.address_add(ao) {
            self.take_over(li, at(StoreAt { addr: x.a, val, imm: x.imm as u32, offset }));
            return Ok(());
        }
        let addr = self.slot_at(ao, h);
        self.emit(f(Store { addr, val, offset }));
        Ok(())
    }
}
