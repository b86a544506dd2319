//! The operator visitor: one Wasm operator at a time.

use super::{too_complex, Ctrl, Kind, Opnd, KONST, T};
use crate::compile::ir::{Bin, Handler, Instr, Slot, Un};
use crate::compile::isa::{self, Lower};
use crate::error::Error;
use crate::runtime::value::{FuncType, ValType};
use wasmparser::Operator;

impl<'a> T<'a> {
    pub(super) fn unary(&mut self, f: fn(Un) -> Instr) -> Result<(), Error> {
        self.unary_w(f, 1)
    }

    /// A unary operation whose result takes `w` slots.
    pub(super) fn unary_w(&mut self, f: fn(Un) -> Instr, w: u32) -> Result<(), Error> {
        let a = self.pop();
        let dst = self.push_w(w)?;
        self.result(f(Un { dst, a }));
        Ok(())
    }

    pub(super) fn binary(&mut self, f: fn(Bin) -> Instr) -> Result<(), Error> {
        self.binary_w(f, 1)
    }

    /// A binary operation whose result takes `w` slots.
    pub(super) fn binary_w(&mut self, f: fn(Bin) -> Instr, w: u32) -> Result<(), Error> {
        let b = self.pop();
        let a = self.pop();
        let dst = self.push_w(w)?;
        self.result(f(Bin { dst, a, b }));
        Ok(())
    }

    /// Records the stack-map point of the call at `pc`: its arguments (at `args`, their first
    /// slots), then the table index of an indirect call.
    fn record_call(&mut self, pc: u32, mut args: Vec<Slot>, index: Option<Slot>) {
        args.extend(index);
        self.record_point(pc, crate::compile::stackmap::PointKind::Call, &args);
    }

    /// After a call: its results (of `ft`) pushed, or for a tail call (which keeps its frame
    /// only when the callee cannot take its place) the return of its results from `base`.
    fn after_call(&mut self, tail: bool, base: Slot, ft: &FuncType) -> Result<(), Error> {
        if tail {
            self.emit(Instr::Return { from: base, n: ft.result_slots() as u16 });
            self.unreachable = true;
            Ok(())
        } else {
            self.push_types(&ft.results)
        }
    }

    /// A branch to the label at `depth` taken when slot `cond` is non-zero (`when_true`) or
    /// zero: the label's values are on top of the stack.
    fn cond_branch(&mut self, cond: Slot, when_true: bool, depth: u32) {
        let (i, fwd) = self.branch_instr(depth);
        match i {
            Instr::Br { target } => {
                let idx = self.emit_cond_jump(cond, when_true, target);
                if let Some(ci) = fwd {
                    self.ctrl[ci].patches.push(idx);
                }
            }
            other => {
                // Values must move (or it is a return): skip over an unconditional branch.
                let skip = self.emit_cond_jump(cond, !when_true, 0);
                let idx = self.emit(other);
                if let Some(ci) = fwd {
                    self.ctrl[ci].patches.push(idx);
                }
                let here = self.pc();
                self.bind_label();
                self.patch(skip, here);
            }
        }
    }

    /// The canonical slot at height `h`, above the operand stack, for a value the lowering
    /// needs for a moment (the frame is made large enough for it).
    fn scratch(&mut self, h: u32) -> Result<Slot, Error> {
        self.scratch_slots(self.base_at(h), 1)?;
        Ok(self.canon(h))
    }

    /// Makes the frame large enough for `n` slots from operand slot `from` on (above the
    /// operand stack, for values the lowering needs for a moment).
    fn scratch_slots(&mut self, from: u32, n: u32) -> Result<(), Error> {
        if self.num_locals + from + n > u16::MAX as u32 {
            return Err(too_complex(self.offset));
        }
        self.max_height = self.max_height.max(from + n);
        Ok(())
    }

    /// The number of payload values of tag `t` (module index).
    fn tag_arity(&self, t: u32) -> u32 {
        self.m.types[self.m.tags[t as usize] as usize].params.len() as u32
    }

    /// The payload types of tag `t` (module index).
    fn tag_types(&self, t: u32) -> &'a [ValType] {
        let m = self.m;
        &m.types[m.tags[t as usize] as usize].params
    }

    /// `try_table`: a block whose body is covered by handlers. Each catch clause gets a landing
    /// pad, placed before the body (which the code entering the block jumps over): the
    /// exception's payload (and reference) arrive in the canonical slots from the block's base
    /// on, and the pad carries them to the clause's label as a branch would.
    fn try_table(&mut self, tt: wasmparser::TryTable) -> Result<(), Error> {
        use crate::compile::ir::{Catch, CatchKind};
        let (p, _) = self.block_arity(tt.ty);
        self.materialize_all();
        let base = self.height() - p;
        let skip = self.emit(Instr::Br { target: 0 });
        let mut catches = Vec::with_capacity(tt.catches.len());
        for c in tt.catches {
            let (kind, depth) = match c {
                wasmparser::Catch::One { tag, label } => (CatchKind::Tag(tag), label),
                wasmparser::Catch::OneRef { tag, label } => (CatchKind::TagRef(tag), label),
                wasmparser::Catch::All { label } => (CatchKind::All, label),
                wasmparser::Catch::AllRef { label } => (CatchKind::AllRef, label),
            };
            // The slots of the clause's values.
            let payload = |t: u32| crate::runtime::value::slots_of(self.tag_types(t)) as u32;
            let n = match kind {
                CatchKind::Tag(t) => payload(t),
                CatchKind::TagRef(t) => payload(t) + 1,
                CatchKind::All | CatchKind::Legacy(_) | CatchKind::LegacyAll => 0,
                CatchKind::AllRef => 1,
            };
            self.scratch_slots(self.base_at(base), n)?;
            // The pad: a branch to the clause's label carrying its `n` values from `base` on.
            let pad = self.pc();
            let (_, ci) = self.label_arity(depth);
            let b = self.branch_to(ci, self.canon(base), n);
            self.emit_patched(b);
            catches.push(Catch { kind, pad });
        }
        let start = self.pc();
        self.bind_label();
        self.patch(skip, start);
        let base_slot = self.canon(base);
        self.open_handlers.push(Handler {
            start,
            end: start,
            base: base_slot,
            catches: catches.into(),
            delegate: None,
        });
        let c = self.ctrl_of(Kind::Block, tt.ty, base, true);
        self.ctrl.push(c);
        Ok(())
    }

    /// Legacy `try`: a block whose body is covered by a handler; its `catch` clauses follow the
    /// body (see [`T::legacy_catch`]).
    fn legacy_try(&mut self, bt: wasmparser::BlockType) -> Result<(), Error> {
        let (p, _) = self.block_arity(bt);
        self.materialize_all();
        let base = self.height() - p;
        // The caught exception's slot.
        self.scratch(base)?;
        let start = self.pc();
        self.bind_label();
        let base_slot = self.canon(base);
        self.open_handlers.push(Handler {
            start,
            end: start,
            base: base_slot,
            catches: Box::new([]),
            delegate: None,
        });
        let c = self.ctrl_of(Kind::Try, bt, base, true);
        self.ctrl.push(c);
        Ok(())
    }

    /// Legacy `catch` (`tag`: `Some`) or `catch_all`: ends the `try` body or the previous clause
    /// (its results go to the block's base, then to the end), and starts a clause, whose pad is
    /// its first instruction: the exception reference arrives at the block's base (hidden from
    /// the Wasm operand stack), the payload above it.
    fn legacy_catch(&mut self, tag: Option<u32>) -> Result<(), Error> {
        use crate::compile::ir::{Catch, CatchKind};
        let ci = self.ctrl.len() - 1;
        if !self.unreachable {
            let r = self.ctrl[ci].results;
            self.materialize_top(r);
            let b = self.branch_to(ci, self.canon(self.height() - r), self.top_slots(r));
            self.emit_patched(b);
        }
        let (base, kind) = (self.ctrl[ci].base, self.ctrl[ci].kind);
        let here = self.pc();
        let h = self.open_handlers.last_mut().expect("legacy try handler");
        if kind == Kind::Try {
            h.end = here;
            self.ctrl[ci].kind = Kind::Catch;
            self.hidden.push(base);
        }
        let kind = tag.map_or(CatchKind::LegacyAll, CatchKind::Legacy);
        let mut catches = std::mem::take(&mut h.catches).into_vec();
        catches.push(Catch { kind, pad: here });
        h.catches = catches.into();
        self.bind_label();
        self.stack.truncate(base as usize);
        self.push()?;
        if let Some(t) = tag {
            self.push_types(self.tag_types(t))?;
        }
        self.unreachable = false;
        Ok(())
    }

    /// Legacy `try … delegate depth`: the `try` ends; an exception its body raises is handed,
    /// unmatched, to the handlers of the block at `depth` (counted from outside the `try`) and
    /// those around it.
    fn legacy_delegate(&mut self, depth: u32) -> Result<(), Error> {
        let at = self.handlers.len();
        self.end_block()?;
        if self.handlers.len() == at + 1 {
            self.handlers[at].delegate = Some(u32::MAX);
            let target = self.ctrl.len() - 1 - depth as usize;
            self.delegates.push((target, at));
        }
        Ok(())
    }

    /// Lowers one operator. The operators are split by concern into a chain of visitors, each
    /// passing on what it does not lower.
    pub(super) fn op(&mut self, op: Operator<'_>) -> Result<(), Error> {
        self.narrow = isa::narrow(&op);
        // Control structure is tracked even in unreachable code.
        if self.unreachable {
            if let Some(done) = self.unreachable_op(&op) {
                return done;
            }
        }
        self.count_op();
        self.block_op(op)
    }

    /// An operator in unreachable code: only the control structure is tracked. `None` for the
    /// `else` of an `if` entered in reachable code, which is lowered as usual.
    fn unreachable_op(&mut self, op: &Operator<'_>) -> Option<Result<(), Error>> {
        use Operator as O;
        match op {
            O::Block { .. } | O::Loop { .. } | O::If { .. } | O::TryTable { .. } | O::Try { .. } => {
                let mut c = Ctrl::block(0, 0, 0, false);
                c.dead = true;
                self.ctrl.push(c);
                Some(Ok(()))
            }
            O::Else | O::Catch { .. } | O::CatchAll => {
                let c = self.ctrl.last_mut().unwrap();
                if c.dead {
                    return Some(Ok(()));
                }
                None
            }
            O::Delegate { .. } if self.ctrl.last().is_some_and(|c| c.dead) => Some(self.end_block()),
            O::Delegate { .. } => None,
            O::End => Some(self.end_block()),
            _ => Some(Ok(())),
        }
    }

    /// Blocks: `block`, `loop`, `if`, `else`, `end` (and `nop`, `unreachable`).
    fn block_op(&mut self, op: Operator<'_>) -> Result<(), Error> {
        use Operator as O;
        match op {
            O::Nop => {}
            O::Unreachable => {
                self.emit(Instr::Unreachable);
                self.unreachable = true;
            }
            O::Block { blockty } => {
                let (p, _) = self.block_arity(blockty);
                self.materialize_all();
                let base = self.height() - p;
                let c = self.ctrl_of(Kind::Block, blockty, base, false);
                self.ctrl.push(c);
            }
            O::Loop { blockty } => {
                let (p, _) = self.block_arity(blockty);
                self.materialize_all();
                let base = self.height() - p;
                let label = self.pc();
                self.bind_label();
                self.emit_poll();
                let mut c = self.ctrl_of(Kind::Loop, blockty, base, false);
                c.label = label;
                self.ctrl.push(c);
            }
            O::If { blockty } => {
                let (p, _) = self.block_arity(blockty);
                let cond = self.pop();
                self.materialize_all();
                let base = self.height() - p;
                let j = self.emit_cond_jump(cond, false, 0);
                let mut c = self.ctrl_of(Kind::If, blockty, base, false);
                c.else_patch = Some(j);
                self.ctrl.push(c);
            }
            O::Else => {
                let reachable = !self.unreachable;
                if reachable {
                    let r = self.ctrl.last().unwrap().results;
                    self.materialize_top(r);
                    let j = self.emit(Instr::Br { target: 0 });
                    self.ctrl.last_mut().unwrap().patches.push(j);
                }
                let here = self.pc();
                self.bind_label();
                let c = self.ctrl.last_mut().unwrap();
                c.kind = Kind::Else;
                let e = c.else_patch.take().expect("if without pending else jump");
                let (base, params, ptys) = (c.base, c.params, std::mem::take(&mut c.ptys));
                self.patch(e, here);
                self.stack.truncate(base as usize);
                self.push_results(params, &ptys)?;
                self.ctrl.last_mut().unwrap().ptys = ptys;
                self.unreachable = false;
            }
            O::End => self.end_block()?,
            other => return self.branch_op(other),
        }
        Ok(())
    }

    /// Branches, returns and calls.
    fn branch_op(&mut self, op: Operator<'_>) -> Result<(), Error> {
        use Operator as O;
        match op {
            O::Br { relative_depth } => {
                self.emit_branch(relative_depth);
                self.unreachable = true;
            }
            O::BrIf { relative_depth } => {
                let cond = self.pop();
                self.cond_branch(cond, true, relative_depth);
            }
            O::BrTable { targets } => {
                let index = self.pop();
                let (arity, _) = self.label_arity(targets.default());
                self.materialize_top(arity);
                let len = targets.len();
                self.emit(Instr::BrTable { index, len });
                let mut depths = Vec::with_capacity(len as usize + 1);
                for d in targets.targets() {
                    depths.push(d.map_err(Error::from_parser)?);
                }
                depths.push(targets.default());
                for d in depths {
                    self.emit_branch(d);
                }
                self.unreachable = true;
            }
            O::Return => {
                let depth = self.ctrl.len() as u32 - 1;
                self.emit_branch(depth);
                self.unreachable = true;
            }
            O::TryTable { try_table } => self.try_table(try_table)?,
            O::Try { blockty } => self.legacy_try(blockty)?,
            O::Catch { tag_index } => self.legacy_catch(Some(tag_index))?,
            O::CatchAll => self.legacy_catch(None)?,
            O::Delegate { relative_depth } => self.legacy_delegate(relative_depth)?,
            O::Rethrow { relative_depth } => {
                // The caught exception of the `catch` clause at that depth.
                let ci = self.ctrl.len() - 1 - relative_depth as usize;
                let src = self.canon(self.ctrl[ci].base);
                self.emit(Instr::ThrowRef { src });
                self.unreachable = true;
            }
            O::Throw { tag_index } => {
                let n = self.tag_arity(tag_index);
                let slots = self.top_slots(n);
                let base = self.call_args(n);
                self.emit(Instr::Throw { tag: tag_index, base, n: slots as u16 });
                self.unreachable = true;
            }
            O::ThrowRef => {
                let src = self.pop();
                self.emit(Instr::ThrowRef { src });
                self.unreachable = true;
            }
            O::Call { function_index } | O::ReturnCall { function_index } => {
                let tail = matches!(op, O::ReturnCall { .. });
                let ft = self.m.func_type(function_index);
                let np = ft.params.len() as u32;
                let args = self.slots_from(self.height() - np, np);
                let base = self.call_args(np);
                let pc = self.emit(if tail {
                    Instr::ReturnCall { func: function_index, base }
                } else {
                    Instr::Call { func: function_index, base }
                });
                self.record_call(pc, args, None);
                self.after_call(tail, base, ft)?;
            }
            O::CallIndirect { type_index, table_index }
            | O::ReturnCallIndirect { type_index, table_index } => {
                let tail = matches!(op, O::ReturnCallIndirect { .. });
                let ft = &self.m.types[type_index as usize];
                let np = ft.params.len() as u32;
                let index = self.pop_index(self.table64(table_index));
                // The index may live in a slot the callee frame will reuse: it is read before the call.
                let args = self.slots_from(self.height() - np, np);
                let base = self.call_args(np);
                let (type_idx, table) = (type_index, table_index as u16);
                let pc = self.emit(if tail {
                    Instr::ReturnCallIndirect { type_idx, table, index, base }
                } else {
                    Instr::CallIndirect { type_idx, table, index, base }
                });
                self.record_call(pc, args, Some(index));
                self.after_call(tail, base, ft)?;
            }
            O::CallRef { type_index } | O::ReturnCallRef { type_index } => {
                let tail = matches!(op, O::ReturnCallRef { .. });
                let ft = &self.m.types[type_index as usize];
                let np = ft.params.len() as u32;
                // Read before the call, as `call_indirect`'s index.
                let func = self.pop();
                let args = self.slots_from(self.height() - np, np);
                let base = self.call_args(np);
                let pc = self.emit(if tail {
                    Instr::ReturnCallRef { type_idx: type_index, func, base }
                } else {
                    Instr::CallRef { type_idx: type_index, func, base }
                });
                self.record_call(pc, args, Some(func));
                self.after_call(tail, base, ft)?;
            }
            O::BrOnNull { relative_depth } => {
                // The reference stays on the stack when it is not null; its test goes above it.
                let r = self.pop();
                let h = self.height();
                let is_null = self.scratch(h + 1)?;
                self.emit(Instr::RefIsNull { dst: is_null, src: r });
                self.cond_branch(is_null, true, relative_depth);
                self.stack.push(r);
            }
            O::BrOnNonNull { relative_depth } => {
                // The branch carries the reference; falling through drops it.
                if *self.stack.last().expect("validated: operand stack underflow") == KONST {
                    self.materialize_top(1);
                }
                let r = *self.stack.last().unwrap();
                let is_null = self.scratch(self.height())?;
                self.emit(Instr::RefIsNull { dst: is_null, src: r });
                self.cond_branch(is_null, false, relative_depth);
                self.pop_any();
            }
            other => return self.variable_op(other),
        }
        Ok(())
    }

    /// Parametric operators, locals and globals.
    fn variable_op(&mut self, op: Operator<'_>) -> Result<(), Error> {
        use Operator as O;
        match op {
            O::Drop => {
                self.pop_any();
            }
            O::Select | O::TypedSelect { .. } if self.width(self.height() - 2) == 2 => {
                let cond = self.pop();
                let b = self.pop();
                let a = self.pop();
                let dst = self.push_v()?;
                self.result(Instr::Select128 { dst, a, b, cond });
            }
            O::Select | O::TypedSelect { .. } => {
                let cond = self.pop();
                let b = self.pop();
                let a = self.pop();
                // `cond` was at height + 2; `select(a, b, eqz(c))` is `select(b, a, c)`.
                let eqz = self.just_wrote(cond, self.height() + 2);
                let dst = self.push()?;
                if let Some((at, sel)) = self.select_and(cond, a, b, dst, eqz) {
                    self.take_over_two(at, sel);
                    return Ok(());
                }
                match eqz {
                    Some((li, Instr::I32Eqz(u))) => {
                        self.take_over(li, Instr::Select { dst, a: b, b: a, cond: u.a })
                    }
                    Some((li, Instr::I64Eqz(u))) => {
                        self.take_over(li, Instr::Select64 { dst, a: b, b: a, cond: u.a })
                    }
                    _ => self.result(Instr::Select { dst, a, b, cond }),
                }
            }
            O::LocalGet { local_index } if self.plain => {
                let (l, w) = self.local(local_index);
                let dst = self.push_w(w)?;
                self.emit(self.copy(dst, l, w));
            }
            O::LocalGet { local_index } => {
                let (l, w) = self.local(local_index);
                self.push_at(l, w)?;
            }
            O::LocalSet { local_index } => {
                let (l, w) = self.local(local_index);
                let (result_before, len_before) = (self.last_result, self.code.len());
                let had_refs = self.materialize_local(l, 1);
                let v = match self.pop_any() {
                    Opnd::K(v, wide) => {
                        self.write_const(l, v, wide);
                        return Ok(());
                    }
                    Opnd::Slot(s) => s,
                };
                if v == l {
                    return Ok(());
                }
                match (had_refs, self.last_result, result_before) {
                    (false, Some(li), _) if v == self.canon(self.height()) => {
                        *self.code[li as usize].result_slot_mut().expect("result instruction") = l;
                        self.last_result = None;
                    }
                    (true, _, Some(li))
                        if li as usize + 1 == len_before && v == self.canon(self.height()) =>
                    {
                        self.result_after_copies(li as usize, l);
                    }
                    _ => {
                        self.emit(self.copy(l, v, w));
                    }
                }
            }
            O::LocalTee { local_index } => {
                let (l, w) = self.local(local_index);
                let (result_before, len_before) = (self.last_result, self.code.len());
                let had_refs = self.materialize_local(l, 1);
                let v = *self.stack.last().unwrap();
                if v == KONST {
                    // The stack keeps the pending constant; the local gets a copy of it.
                    let (k, wide) = self.konst[self.stack.len() - 1];
                    self.write_const(l, k, wide);
                    return Ok(());
                }
                if v == l {
                    return Ok(());
                }
                match (had_refs, self.last_result, result_before) {
                    (false, Some(li), _) if v == self.canon(self.height() - 1) => {
                        *self.code[li as usize].result_slot_mut().expect("result instruction") = l;
                        *self.stack.last_mut().unwrap() = l;
                        self.last_result = None;
                    }
                    (true, _, Some(li))
                        if li as usize + 1 == len_before && v == self.canon(self.height() - 1) =>
                    {
                        // As for `local.set`: the result instruction goes behind the copies.
                        self.result_after_copies(li as usize, l);
                        *self.stack.last_mut().unwrap() = l;
                    }
                    _ => {
                        self.emit(self.copy(l, v, w));
                    }
                }
            }
            O::GlobalGet { global_index } if self.v128_global(global_index) => {
                let dst = self.push_v()?;
                self.result(Instr::GlobalGet128 { dst, global: global_index });
            }
            O::GlobalGet { global_index } => {
                let dst = self.push()?;
                self.result(Instr::GlobalGet { dst, global: global_index });
            }
            O::GlobalSet { global_index } if self.v128_global(global_index) => {
                let src = self.pop();
                self.emit(Instr::GlobalSet128 { src, global: global_index });
            }
            O::GlobalSet { global_index } => {
                let src = self.pop();
                self.emit(Instr::GlobalSet { src, global: global_index });
            }
            other => return self.memory_op(other),
        }
        Ok(())
    }

    /// The slot of local `l` and the slots its value takes.
    fn local(&self, l: u32) -> (Slot, u32) {
        let (a, b) = (self.local_slot[l as usize], self.local_slot[l as usize + 1]);
        (a, u32::from(b - a))
    }

    /// Whether global `g` is a `v128`.
    fn v128_global(&self, g: u32) -> bool {
        self.m.globals.get(g as usize).is_some_and(|g| g.ty == ValType::V128)
    }

    /// Whether memory `mem` is a 32-bit memory 0 (its instructions have the plain forms).
    fn plain(&self, mem: u32) -> bool {
        mem == 0 && !self.memory64(0)
    }

    /// Whether table `t` of the module is 64-bit (table64).
    fn table64(&self, t: u32) -> bool {
        self.m.tables.get(t as usize).is_some_and(|t| t.is64)
    }

    /// Pops an index or size operand of a table instruction: of a 64-bit table (`wide`), its
    /// value saturated to 32 bits in the operand's canonical slot, which the instructions
    /// read (see [`Instr::SatU32`]).
    fn pop_index(&mut self, wide: bool) -> Slot {
        let a = self.pop();
        if !wide {
            return a;
        }
        let dst = self.canon(self.height());
        self.emit(Instr::SatU32 { dst, a });
        dst
    }

    /// Loads, stores and the other memory operators.
    fn memory_op(&mut self, op: Operator<'_>) -> Result<(), Error> {
        use Operator as O;
        match op {
            O::F64Store { memarg } | O::V128Store { memarg } if self.f64_update(memarg) => {}
            // The plain forms are of a 32-bit memory 0; the `…Mem` forms read their operands
            // at each memory's index type.
            O::MemorySize { mem } => {
                let dst = self.push()?;
                self.result(match self.plain(mem) {
                    true => Instr::MemorySize { dst },
                    false => Instr::MemorySizeMem { dst, mem: mem as u16 },
                });
            }
            O::MemoryGrow { mem } => {
                let delta = self.pop();
                let dst = self.push()?;
                self.emit(match self.plain(mem) {
                    true => Instr::MemoryGrow { dst, delta },
                    false => Instr::MemoryGrowMem { dst, delta, mem: mem as u16 },
                });
            }
            O::MemoryInit { data_index, mem } => {
                let n = self.pop();
                let src = self.pop();
                let dst = self.pop();
                self.emit(match self.plain(mem) {
                    true => Instr::MemoryInit { seg: data_index, dst, src, n },
                    false => Instr::MemoryInitMem { seg: data_index, dst, src, n, mem: mem as u16 },
                });
            }
            O::DataDrop { data_index } => {
                self.emit(Instr::DataDrop { seg: data_index });
            }
            O::MemoryCopy { dst_mem, src_mem } => {
                let n = self.pop();
                let src = self.pop();
                let dst = self.pop();
                self.emit(match self.plain(dst_mem) && self.plain(src_mem) {
                    true => Instr::MemoryCopy { dst, src, n },
                    false => {
                        Instr::MemoryCopyMem { dst, src, n, dst_mem: dst_mem as u16, src_mem: src_mem as u16 }
                    }
                });
            }
            O::MemoryFill { mem } => {
                let n = self.pop();
                let val = self.pop();
                let dst = self.pop();
                self.emit(match self.plain(mem) {
                    true => Instr::MemoryFill { dst, val, n },
                    false => Instr::MemoryFillMem { dst, val, n, mem: mem as u16 },
                });
            }
            other => return self.table_op(other),
        }
        Ok(())
    }

    /// Constants, references and table operators.
    fn table_op(&mut self, op: Operator<'_>) -> Result<(), Error> {
        use Operator as O;
        match op {
            O::I32Const { value } => self.const32(value as u32)?,
            O::I64Const { value } => self.const64(value as u64)?,
            O::F32Const { value } => self.const32(value.bits())?,
            O::F64Const { value } => self.const64(value.bits())?,
            O::RefNull { .. } => self.const32(0)?,
            O::RefIsNull => self.unary(|u| Instr::RefIsNull { dst: u.dst, src: u.a })?,
            O::RefAsNonNull => {
                let src = self.pop();
                let dst = self.push()?;
                self.result(Instr::RefAsNonNull { dst, src });
            }
            O::RefFunc { function_index } => {
                let dst = self.push()?;
                self.result(Instr::RefFunc { dst, func: function_index });
            }
            O::TableGet { table } => {
                let index = self.pop_index(self.table64(table));
                let dst = self.push()?;
                self.result(Instr::TableGet { dst, index, table });
            }
            O::TableSet { table } => {
                let val = self.pop();
                let index = self.pop_index(self.table64(table));
                self.emit(Instr::TableSet { table, index, val });
            }
            O::TableSize { table } => {
                let dst = self.push()?;
                self.result(Instr::TableSize { dst, table });
            }
            O::TableGrow { table } => {
                let delta = self.pop_index(self.table64(table));
                let init = self.pop();
                let dst = self.push()?;
                self.emit(Instr::TableGrow { table, dst, init, delta });
                if self.table64(table) {
                    // The old size (below 2^31) or -1, as an i64.
                    self.emit(Instr::I64ExtendI32S(crate::compile::ir::Un { dst, a: dst }));
                }
            }
            O::TableFill { table } => {
                let wide = self.table64(table);
                let n = self.pop_index(wide);
                let val = self.pop();
                let index = self.pop_index(wide);
                self.emit(Instr::TableFill { table, index, val, n });
            }
            O::TableCopy { dst_table, src_table } => {
                let (d64, s64) = (self.table64(dst_table), self.table64(src_table));
                let n = self.pop_index(d64 && s64);
                let src = self.pop_index(s64);
                let dst = self.pop_index(d64);
                self.emit(Instr::TableCopy {
                    dst_table: dst_table as u16,
                    src_table: src_table as u16,
                    dst,
                    src,
                    n,
                });
            }
            O::TableInit { elem_index, table } => {
                let n = self.pop();
                let src = self.pop();
                let dst = self.pop_index(self.table64(table));
                self.emit(Instr::TableInit { table: table as u16, seg: elem_index, dst, src, n });
            }
            O::ElemDrop { elem_index } => {
                self.emit(Instr::ElemDrop { seg: elem_index });
            }
            other => return self.unary_op(other),
        }
        Ok(())
    }

    /// Reinterpretations, conversions and the other unary numeric operators.
    fn unary_op(&mut self, op: Operator<'_>) -> Result<(), Error> {
        use Operator as O;
        match op {
            // Reinterpretations and zero-extension do not change the slot's bits.
            O::I32ReinterpretF32 | O::F32ReinterpretI32 | O::I64ReinterpretF64 | O::F64ReinterpretI64 => {}
            O::I64ExtendI32U => {
                // A pending constant becomes an i64 one: its bits are already the zero-extended
                // value, but as an i32 constant an immediate would sign-extend it.
                let top = self.stack.len() - 1;
                if self.stack[top] == KONST {
                    self.konst[top].1 = true;
                }
                // The value is read in full from now on: an `i32.wrap_i64` that computed it
                // is what zero-extends it, and must not look droppable to a narrow reader
                // (`i64.store` of it pops it as its value).
                if let Some(li) = self.last_result {
                    if matches!(self.code[li as usize], Instr::I32WrapI64(_)) {
                        self.last_result = None;
                    }
                }
            }
            other => return self.simd_op(other),
        }
        Ok(())
    }

    /// The SIMD operators the table does not lower alone: constants and shuffles (their 16
    /// bytes go to the module's pool), lane loads and stores (a scalar load or store of the
    /// table and a lane operation).
    fn simd_op(&mut self, op: Operator<'_>) -> Result<(), Error> {
        use Operator as O;
        let lane_load = |memarg| match op {
            O::V128Load8Lane { lane, .. } => Some((O::I32Load8U { memarg }, O::I8x16ReplaceLane { lane })),
            O::V128Load16Lane { lane, .. } => Some((O::I32Load16U { memarg }, O::I16x8ReplaceLane { lane })),
            O::V128Load32Lane { lane, .. } => Some((O::I32Load { memarg }, O::I32x4ReplaceLane { lane })),
            O::V128Load64Lane { lane, .. } => Some((O::I64Load { memarg }, O::I64x2ReplaceLane { lane })),
            _ => None,
        };
        let lane_store = |memarg| match op {
            O::V128Store8Lane { lane, .. } => Some((O::I8x16ExtractLaneU { lane }, O::I32Store8 { memarg })),
            O::V128Store16Lane { lane, .. } => {
                Some((O::I16x8ExtractLaneU { lane }, O::I32Store16 { memarg }))
            }
            O::V128Store32Lane { lane, .. } => Some((O::I32x4ExtractLane { lane }, O::I32Store { memarg })),
            O::V128Store64Lane { lane, .. } => Some((O::I64x2ExtractLane { lane }, O::I64Store { memarg })),
            _ => None,
        };
        let memarg = match op {
            O::V128Load8Lane { memarg, .. }
            | O::V128Load16Lane { memarg, .. }
            | O::V128Load32Lane { memarg, .. }
            | O::V128Load64Lane { memarg, .. }
            | O::V128Store8Lane { memarg, .. }
            | O::V128Store16Lane { memarg, .. }
            | O::V128Store32Lane { memarg, .. }
            | O::V128Store64Lane { memarg, .. } => Some(memarg),
            _ => None,
        };
        let table = |op: &Operator<'_>| isa::lowering(op).expect("a table operation");
        match op {
            O::V128Const { value } => {
                let idx = self.intern(*value.bytes());
                let dst = self.push_v()?;
                self.result(Instr::V128Const { dst, idx });
            }
            // A 32- or 64-bit lane is (part of) one of the vector's slots: read it there (no
            // lane index at run time). Not in the plain lowering, which keeps one instruction
            // per operator.
            O::I64x2ExtractLane { lane } | O::F64x2ExtractLane { lane } if !self.plain => {
                let h = self.height() - 1;
                let a = self.pop();
                if lane & 1 == 0 && (a == self.canon(h) || a < self.num_locals as Slot) {
                    // Lane 0 is the vector's first slot: no code. Below the operand area it
                    // is a deferred read of the local's first slot, which the lowering
                    // materializes before the local changes, as any other.
                    self.push_at(a, 1)?;
                    self.last_result = None;
                    return Ok(());
                }
                let dst = self.push()?;
                self.result(Instr::Copy { dst, src: a + Slot::from(lane & 1) });
            }
            O::I32x4ExtractLane { lane } | O::F32x4ExtractLane { lane } if !self.plain => {
                let a = self.pop() + Slot::from((lane / 2) & 1);
                let dst = self.push()?;
                self.result(match lane & 1 {
                    0 => Instr::I32WrapI64(crate::compile::ir::Un { dst, a }),
                    _ => Instr::I64ShrUImm(crate::compile::ir::BinImm { dst, a, imm: 32 }),
                });
            }
            O::I8x16Shuffle { lanes } => {
                let idx = self.intern(lanes);
                let b = self.pop();
                let a = self.pop();
                let dst = self.push_v()?;
                self.result(Instr::I8x16Shuffle { dst, a, b, idx });
            }
            _ => match memarg.map(|m| (lane_load(m), lane_store(m))) {
                // The vector stays where it is while the scalar load takes the address's
                // place below it; then the lane is replaced there.
                Some((Some((load, replace)), _)) => {
                    let v = self.pop();
                    self.lower(table(&load))?;
                    let Lower::VReplace(f, lane) = table(&replace) else {
                        unreachable!("a lane replacement")
                    };
                    let x = self.pop();
                    let dst = self.push_v()?;
                    self.result(f(crate::compile::ir::Lane { dst, a: v, b: x, lane: lane.into() }));
                }
                // The lane goes to the vector's first slot, then is stored as a scalar.
                Some((_, Some((extract, store)))) => {
                    self.lower(table(&extract))?;
                    self.lower(table(&store))?;
                }
                _ => return self.isa_op(op),
            },
        }
        Ok(())
    }

    /// The index of `bytes` in the pool (added if new to it).
    fn intern(&mut self, bytes: [u8; 16]) -> u32 {
        // (A constant repeats mostly nearby: only the last few of this function are looked
        // at — not earlier functions', so that the code does not depend on how the functions
        // were split between lowering threads.)
        let from = self.pool.len().saturating_sub(64).max(self.pool_start);
        match self.pool[from..].iter().rposition(|p| *p == bytes) {
            Some(i) => (from + i) as u32,
            None => {
                self.pool.push(bytes);
                (self.pool.len() - 1) as u32
            }
        }
    }

    /// The operators of the instruction-set table (`build/isa.rs`), lowered as the table says
    /// (the last of the chain: anything else is unsupported).
    fn isa_op(&mut self, op: Operator<'_>) -> Result<(), Error> {
        match isa::lowering(&op) {
            Some(l) => self.lower(l),
            None => Err(Error::Invalid {
                offset: Some(self.offset as u64),
                message: format!("unsupported instruction {op:?}"),
            }),
        }
    }
}
