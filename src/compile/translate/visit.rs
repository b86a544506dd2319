//! The operator visitor: one Wasm operator at a time.

use super::fusion::reads_narrow;
use super::{too_complex, Ctrl, Kind, Opnd, KONST, T};
use crate::compile::ir::{Bin, Instr, Slot, Un};
use crate::error::Error;
use wasmparser::Operator;

impl T<'_> {
    pub(super) fn unary(&mut self, f: fn(Un) -> Instr) -> Result<(), Error> {
        let a = self.pop();
        let dst = self.push()?;
        self.result(f(Un { dst, a }));
        Ok(())
    }

    pub(super) fn binary(&mut self, f: fn(Bin) -> Instr) -> Result<(), Error> {
        let b = self.pop();
        let a = self.pop();
        let dst = self.push()?;
        self.result(f(Bin { dst, a, b }));
        Ok(())
    }

    /// Lowers one operator. The operators are split by concern into a chain of visitors, each
    /// passing on what it does not lower.
    pub(super) fn op(&mut self, op: Operator<'_>) -> Result<(), Error> {
        self.narrow = reads_narrow(&op);
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
            O::Block { .. } | O::Loop { .. } | O::If { .. } => {
                self.ctrl.push(Ctrl {
                    kind: Kind::Block,
                    base: 0,
                    params: 0,
                    results: 0,
                    label: 0,
                    patches: Vec::new(),
                    else_patch: None,
                    dead: true,
                });
                Some(Ok(()))
            }
            O::Else => {
                let c = self.ctrl.last_mut().unwrap();
                if c.dead {
                    return Some(Ok(()));
                }
                None
            }
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
                let (p, r) = self.block_arity(blockty);
                self.materialize_all();
                let base = self.height() - p;
                self.ctrl.push(Ctrl {
                    kind: Kind::Block,
                    base,
                    params: p,
                    results: r,
                    label: 0,
                    patches: Vec::new(),
                    else_patch: None,
                    dead: false,
                });
            }
            O::Loop { blockty } => {
                let (p, r) = self.block_arity(blockty);
                self.materialize_all();
                let base = self.height() - p;
                let label = self.pc();
                self.bind_label();
                self.emit_poll();
                self.ctrl.push(Ctrl {
                    kind: Kind::Loop,
                    base,
                    params: p,
                    results: r,
                    label,
                    patches: Vec::new(),
                    else_patch: None,
                    dead: false,
                });
            }
            O::If { blockty } => {
                let (p, r) = self.block_arity(blockty);
                let cond = self.pop();
                self.materialize_all();
                let base = self.height() - p;
                let j = self.emit_cond_jump(cond, false, 0);
                self.ctrl.push(Ctrl {
                    kind: Kind::If,
                    base,
                    params: p,
                    results: r,
                    label: 0,
                    patches: Vec::new(),
                    else_patch: Some(j),
                    dead: false,
                });
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
                let (base, params) = (c.base, c.params);
                self.patch(e, here);
                self.stack.truncate(base as usize);
                self.push_results(params)?;
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
                let (i, fwd) = self.branch_instr(relative_depth);
                match i {
                    Instr::Br { target } => {
                        let idx = self.emit_cond_jump(cond, true, target);
                        if let Some(ci) = fwd {
                            self.ctrl[ci].patches.push(idx);
                        }
                    }
                    other => {
                        // Values must move (or it is a return): skip over an unconditional branch.
                        let skip = self.emit_cond_jump(cond, false, 0);
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
            O::Call { function_index } => {
                let ft = self.m.func_type(function_index);
                let (np, nr) = (ft.params.len() as u32, ft.results.len() as u32);
                let base = self.call_args(np);
                self.emit(Instr::Call { func: function_index, base });
                self.push_results(nr)?;
            }
            O::CallIndirect { type_index, table_index } => {
                let ft = &self.m.types[type_index as usize];
                let (np, nr) = (ft.params.len() as u32, ft.results.len() as u32);
                let index = self.pop();
                // The index may live in a slot the callee frame will reuse: it is read before the call.
                let base = self.call_args(np);
                self.emit(Instr::CallIndirect {
                    type_idx: type_index,
                    table: table_index as u16,
                    index,
                    base,
                });
                self.push_results(nr)?;
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
            O::LocalGet { local_index } => {
                let h = self.height();
                if self.num_locals + h >= u16::MAX as u32 {
                    return Err(too_complex(self.offset));
                }
                self.max_height = self.max_height.max(h + 1);
                self.stack.push(local_index as Slot);
            }
            O::LocalSet { local_index } => {
                let l = local_index as Slot;
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
                        self.emit(Instr::Copy { dst: l, src: v });
                    }
                }
            }
            O::LocalTee { local_index } => {
                let l = local_index as Slot;
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
                        self.emit(Instr::Copy { dst: l, src: v });
                    }
                }
            }
            O::GlobalGet { global_index } => {
                let dst = self.push()?;
                self.result(Instr::GlobalGet { dst, global: global_index });
            }
            O::GlobalSet { global_index } => {
                let src = self.pop();
                self.emit(Instr::GlobalSet { src, global: global_index });
            }
            other => return self.memory_op(other),
        }
        Ok(())
    }

    /// Loads, stores and the other memory operators.
    fn memory_op(&mut self, op: Operator<'_>) -> Result<(), Error> {
        use Operator as O;
        match op {
            O::I32Load { memarg } | O::F32Load { memarg } => {
                self.load_idx(memarg, Instr::I32Load, Instr::I32LoadAt, Some(Instr::I32LoadIdx))?
            }
            O::I64Load { memarg } => {
                self.load_idx(memarg, Instr::I64Load, Instr::I64LoadAt, Some(Instr::I64LoadIdx))?
            }
            O::F64Load { memarg } => {
                self.load_idx(memarg, Instr::F64Load, Instr::F64LoadAt, Some(Instr::F64LoadIdx))?
            }
            O::I32Load8S { memarg } => {
                self.load_idx(memarg, Instr::I32Load8S, Instr::I32Load8SAt, Some(Instr::I32Load8SIdx))?
            }
            O::I32Load8U { memarg } => {
                self.load_idx(memarg, Instr::I32Load8U, Instr::I32Load8UAt, Some(Instr::I32Load8UIdx))?
            }
            O::I32Load16S { memarg } => {
                self.load_idx(memarg, Instr::I32Load16S, Instr::I32Load16SAt, Some(Instr::I32Load16SIdx))?
            }
            O::I32Load16U { memarg } => {
                self.load_idx(memarg, Instr::I32Load16U, Instr::I32Load16UAt, Some(Instr::I32Load16UIdx))?
            }
            O::I64Load8S { memarg } => self.load(memarg, Instr::I64Load8S, Instr::I64Load8SAt)?,
            O::I64Load8U { memarg } => self.load(memarg, Instr::I64Load8U, Instr::I64Load8UAt)?,
            O::I64Load16S { memarg } => self.load(memarg, Instr::I64Load16S, Instr::I64Load16SAt)?,
            O::I64Load16U { memarg } => self.load(memarg, Instr::I64Load16U, Instr::I64Load16UAt)?,
            O::I64Load32S { memarg } => {
                self.load_idx(memarg, Instr::I64Load32S, Instr::I64Load32SAt, Some(Instr::I64Load32SIdx))?
            }
            O::I64Load32U { memarg } => {
                self.load_idx(memarg, Instr::I64Load32U, Instr::I64Load32UAt, Some(Instr::I64Load32UIdx))?
            }
            O::I32Store { memarg } | O::F32Store { memarg } => self.store_idx(
                memarg,
                Instr::I32Store,
                Instr::I32StoreAt,
                Instr::I32StoreK,
                Some(Instr::I32StoreIdx),
                false,
            )?,
            O::F64Store { memarg } if self.f64_update(memarg) => {}
            O::I64Store { memarg } | O::F64Store { memarg } => self.store_idx(
                memarg,
                Instr::I64Store,
                Instr::I64StoreAt,
                Instr::I64StoreK,
                Some(Instr::I64StoreIdx),
                true,
            )?,
            O::I32Store8 { memarg } | O::I64Store8 { memarg } => self.store_idx(
                memarg,
                Instr::I32Store8,
                Instr::I32Store8At,
                Instr::I32Store8K,
                Some(Instr::I32Store8Idx),
                false,
            )?,
            O::I32Store16 { memarg } | O::I64Store16 { memarg } => self.store_idx(
                memarg,
                Instr::I32Store16,
                Instr::I32Store16At,
                Instr::I32Store16K,
                Some(Instr::I32Store16Idx),
                false,
            )?,
            O::I64Store32 { memarg } => {
                self.store(memarg, Instr::I64Store32, Instr::I64Store32At, Instr::I64Store32K, false)?
            }
            O::MemorySize { .. } => {
                let dst = self.push()?;
                self.result(Instr::MemorySize { dst });
            }
            O::MemoryGrow { .. } => {
                let delta = self.pop();
                let dst = self.push()?;
                self.emit(Instr::MemoryGrow { dst, delta });
            }
            O::MemoryInit { data_index, .. } => {
                let n = self.pop();
                let src = self.pop();
                let dst = self.pop();
                self.emit(Instr::MemoryInit { seg: data_index, dst, src, n });
            }
            O::DataDrop { data_index } => {
                self.emit(Instr::DataDrop { seg: data_index });
            }
            O::MemoryCopy { .. } => {
                let n = self.pop();
                let src = self.pop();
                let dst = self.pop();
                self.emit(Instr::MemoryCopy { dst, src, n });
            }
            O::MemoryFill { .. } => {
                let n = self.pop();
                let val = self.pop();
                let dst = self.pop();
                self.emit(Instr::MemoryFill { dst, val, n });
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
            O::RefFunc { function_index } => {
                let dst = self.push()?;
                self.result(Instr::RefFunc { dst, func: function_index });
            }
            O::TableGet { table } => {
                let index = self.pop();
                let dst = self.push()?;
                self.result(Instr::TableGet { dst, index, table });
            }
            O::TableSet { table } => {
                let val = self.pop();
                let index = self.pop();
                self.emit(Instr::TableSet { table, index, val });
            }
            O::TableSize { table } => {
                let dst = self.push()?;
                self.result(Instr::TableSize { dst, table });
            }
            O::TableGrow { table } => {
                let delta = self.pop();
                let init = self.pop();
                let dst = self.push()?;
                self.emit(Instr::TableGrow { table, dst, init, delta });
            }
            O::TableFill { table } => {
                let n = self.pop();
                let val = self.pop();
                let index = self.pop();
                self.emit(Instr::TableFill { table, index, val, n });
            }
            O::TableCopy { dst_table, src_table } => {
                let n = self.pop();
                let src = self.pop();
                let dst = self.pop();
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
                let dst = self.pop();
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
            O::I32Eqz => self.unary(Instr::I32Eqz)?,
            O::I32Clz => self.unary(Instr::I32Clz)?,
            O::I32Ctz => self.unary(Instr::I32Ctz)?,
            O::I32Popcnt => self.unary(Instr::I32Popcnt)?,
            O::I64Eqz => self.unary(Instr::I64Eqz)?,
            O::I64Clz => self.unary(Instr::I64Clz)?,
            O::I64Ctz => self.unary(Instr::I64Ctz)?,
            O::I64Popcnt => self.unary(Instr::I64Popcnt)?,
            O::F32Abs => self.unary(Instr::F32Abs)?,
            O::F32Neg => self.unary(Instr::F32Neg)?,
            O::F32Ceil => self.unary(Instr::F32Ceil)?,
            O::F32Floor => self.unary(Instr::F32Floor)?,
            O::F32Trunc => self.unary(Instr::F32Trunc)?,
            O::F32Nearest => self.unary(Instr::F32Nearest)?,
            O::F32Sqrt => self.unary(Instr::F32Sqrt)?,
            O::F64Abs => self.unary(Instr::F64Abs)?,
            O::F64Neg => self.unary(Instr::F64Neg)?,
            O::F64Ceil => self.unary(Instr::F64Ceil)?,
            O::F64Floor => self.unary(Instr::F64Floor)?,
            O::F64Trunc => self.unary(Instr::F64Trunc)?,
            O::F64Nearest => self.unary(Instr::F64Nearest)?,
            O::F64Sqrt => self.unary(Instr::F64Sqrt)?,
            O::I32WrapI64 => self.unary(Instr::I32WrapI64)?,
            O::I32TruncF32S => self.unary(Instr::I32TruncF32S)?,
            O::I32TruncF32U => self.unary(Instr::I32TruncF32U)?,
            O::I32TruncF64S => self.unary(Instr::I32TruncF64S)?,
            O::I32TruncF64U => self.unary(Instr::I32TruncF64U)?,
            O::I64ExtendI32S => self.unary(Instr::I64ExtendI32S)?,
            O::I64TruncF32S => self.unary(Instr::I64TruncF32S)?,
            O::I64TruncF32U => self.unary(Instr::I64TruncF32U)?,
            O::I64TruncF64S => self.unary(Instr::I64TruncF64S)?,
            O::I64TruncF64U => self.unary(Instr::I64TruncF64U)?,
            O::F32ConvertI32S => self.unary(Instr::F32ConvertI32S)?,
            O::F32ConvertI32U => self.unary(Instr::F32ConvertI32U)?,
            O::F32ConvertI64S => self.unary(Instr::F32ConvertI64S)?,
            O::F32ConvertI64U => self.unary(Instr::F32ConvertI64U)?,
            O::F32DemoteF64 => self.unary(Instr::F32DemoteF64)?,
            O::F64ConvertI32S => self.unary(Instr::F64ConvertI32S)?,
            O::F64ConvertI32U => self.unary(Instr::F64ConvertI32U)?,
            O::F64ConvertI64S => self.unary(Instr::F64ConvertI64S)?,
            O::F64ConvertI64U => self.unary(Instr::F64ConvertI64U)?,
            O::F64PromoteF32 => self.unary(Instr::F64PromoteF32)?,
            O::I32Extend8S => self.unary(Instr::I32Extend8S)?,
            O::I32Extend16S => self.unary(Instr::I32Extend16S)?,
            O::I64Extend8S => self.unary(Instr::I64Extend8S)?,
            O::I64Extend16S => self.unary(Instr::I64Extend16S)?,
            O::I64Extend32S => self.unary(Instr::I64Extend32S)?,
            O::I32TruncSatF32S => self.unary(Instr::I32TruncSatF32S)?,
            O::I32TruncSatF32U => self.unary(Instr::I32TruncSatF32U)?,
            O::I32TruncSatF64S => self.unary(Instr::I32TruncSatF64S)?,
            O::I32TruncSatF64U => self.unary(Instr::I32TruncSatF64U)?,
            O::I64TruncSatF32S => self.unary(Instr::I64TruncSatF32S)?,
            O::I64TruncSatF32U => self.unary(Instr::I64TruncSatF32U)?,
            O::I64TruncSatF64S => self.unary(Instr::I64TruncSatF64S)?,
            O::I64TruncSatF64U => self.unary(Instr::I64TruncSatF64U)?,
            other => return self.binary_op(other),
        }
        Ok(())
    }

    /// Binary numeric operators (the last of the chain: anything else is unsupported).
    fn binary_op(&mut self, op: Operator<'_>) -> Result<(), Error> {
        use Operator as O;
        match op {
            O::I32Add => self.binary_k(Instr::I32Add, Instr::I32AddImm, Some(Instr::I32AddImm))?,
            O::I32Sub => self.sub_k(Instr::I32Sub, Instr::I32AddImm, false)?,
            O::I32Mul => self.binary_k(Instr::I32Mul, Instr::I32MulImm, Some(Instr::I32MulImm))?,
            O::I32DivS => self.binary(Instr::I32DivS)?,
            O::I32DivU => self.binary(Instr::I32DivU)?,
            O::I32RemS => self.binary(Instr::I32RemS)?,
            O::I32RemU => self.binary(Instr::I32RemU)?,
            O::I32And => self.binary_k(Instr::I32And, Instr::I32AndImm, Some(Instr::I32AndImm))?,
            O::I32Or => self.binary_k(Instr::I32Or, Instr::I32OrImm, Some(Instr::I32OrImm))?,
            O::I32Xor => self.binary_k(Instr::I32Xor, Instr::I32XorImm, Some(Instr::I32XorImm))?,
            O::I32Shl => self.binary_k(Instr::I32Shl, Instr::I32ShlImm, None)?,
            O::I32ShrS => self.binary_k(Instr::I32ShrS, Instr::I32ShrSImm, None)?,
            O::I32ShrU => self.binary_k(Instr::I32ShrU, Instr::I32ShrUImm, None)?,
            O::I32Rotl => self.binary(Instr::I32Rotl)?,
            O::I32Rotr => self.binary(Instr::I32Rotr)?,
            O::I32Eq => self.binary_k(Instr::I32Eq, Instr::I32EqImm, Some(Instr::I32EqImm))?,
            O::I32Ne => self.binary_k(Instr::I32Ne, Instr::I32NeImm, Some(Instr::I32NeImm))?,
            O::I32LtS => self.binary_k(Instr::I32LtS, Instr::I32LtSImm, Some(Instr::I32GtSImm))?,
            O::I32LtU => self.binary_k(Instr::I32LtU, Instr::I32LtUImm, Some(Instr::I32GtUImm))?,
            O::I32GtS => self.binary_k(Instr::I32GtS, Instr::I32GtSImm, Some(Instr::I32LtSImm))?,
            O::I32GtU => self.binary_k(Instr::I32GtU, Instr::I32GtUImm, Some(Instr::I32LtUImm))?,
            O::I32LeS => self.binary_k(Instr::I32LeS, Instr::I32LeSImm, Some(Instr::I32GeSImm))?,
            O::I32LeU => self.binary_k(Instr::I32LeU, Instr::I32LeUImm, Some(Instr::I32GeUImm))?,
            O::I32GeS => self.binary_k(Instr::I32GeS, Instr::I32GeSImm, Some(Instr::I32LeSImm))?,
            O::I32GeU => self.binary_k(Instr::I32GeU, Instr::I32GeUImm, Some(Instr::I32LeUImm))?,
            O::I64Add => self.binary_k(Instr::I64Add, Instr::I64AddImm, Some(Instr::I64AddImm))?,
            O::I64Sub => self.sub_k(Instr::I64Sub, Instr::I64AddImm, true)?,
            O::I64Mul => self.binary_k(Instr::I64Mul, Instr::I64MulImm, Some(Instr::I64MulImm))?,
            O::I64DivS => self.binary(Instr::I64DivS)?,
            O::I64DivU => self.binary(Instr::I64DivU)?,
            O::I64RemS => self.binary(Instr::I64RemS)?,
            O::I64RemU => self.binary(Instr::I64RemU)?,
            O::I64And => self.binary_k(Instr::I64And, Instr::I64AndImm, Some(Instr::I64AndImm))?,
            O::I64Or => self.binary_k(Instr::I64Or, Instr::I64OrImm, Some(Instr::I64OrImm))?,
            O::I64Xor => self.binary_k(Instr::I64Xor, Instr::I64XorImm, Some(Instr::I64XorImm))?,
            O::I64Shl => self.binary_k(Instr::I64Shl, Instr::I64ShlImm, None)?,
            O::I64ShrS => self.binary_k(Instr::I64ShrS, Instr::I64ShrSImm, None)?,
            O::I64ShrU => self.binary_k(Instr::I64ShrU, Instr::I64ShrUImm, None)?,
            O::I64Rotl => self.binary(Instr::I64Rotl)?,
            O::I64Rotr => self.binary(Instr::I64Rotr)?,
            O::I64Eq => self.binary_k(Instr::I64Eq, Instr::I64EqImm, Some(Instr::I64EqImm))?,
            O::I64Ne => self.binary_k(Instr::I64Ne, Instr::I64NeImm, Some(Instr::I64NeImm))?,
            O::I64LtS => self.binary_k(Instr::I64LtS, Instr::I64LtSImm, Some(Instr::I64GtSImm))?,
            O::I64LtU => self.binary_k(Instr::I64LtU, Instr::I64LtUImm, Some(Instr::I64GtUImm))?,
            O::I64GtS => self.binary_k(Instr::I64GtS, Instr::I64GtSImm, Some(Instr::I64LtSImm))?,
            O::I64GtU => self.binary_k(Instr::I64GtU, Instr::I64GtUImm, Some(Instr::I64LtUImm))?,
            O::I64LeS => self.binary_k(Instr::I64LeS, Instr::I64LeSImm, Some(Instr::I64GeSImm))?,
            O::I64LeU => self.binary_k(Instr::I64LeU, Instr::I64LeUImm, Some(Instr::I64GeUImm))?,
            O::I64GeS => self.binary_k(Instr::I64GeS, Instr::I64GeSImm, Some(Instr::I64LeSImm))?,
            O::I64GeU => self.binary_k(Instr::I64GeU, Instr::I64GeUImm, Some(Instr::I64LeUImm))?,
            O::F32Add => self.binary(Instr::F32Add)?,
            O::F32Sub => self.binary(Instr::F32Sub)?,
            O::F32Mul => self.binary(Instr::F32Mul)?,
            O::F32Div => self.binary(Instr::F32Div)?,
            O::F32Min => self.binary(Instr::F32Min)?,
            O::F32Max => self.binary(Instr::F32Max)?,
            O::F32Copysign => self.binary(Instr::F32Copysign)?,
            O::F32Eq => self.binary(Instr::F32Eq)?,
            O::F32Ne => self.binary(Instr::F32Ne)?,
            O::F32Lt => self.binary(Instr::F32Lt)?,
            O::F32Gt => self.binary(Instr::F32Gt)?,
            O::F32Le => self.binary(Instr::F32Le)?,
            O::F32Ge => self.binary(Instr::F32Ge)?,
            O::F64Add => self.f64_binary(Instr::F64Add, Instr::F64AddM, Instr::F64AddM)?,
            O::F64Sub => self.f64_binary(Instr::F64Sub, Instr::F64SubM, Instr::F64SubMR)?,
            O::F64Mul => self.f64_binary(Instr::F64Mul, Instr::F64MulM, Instr::F64MulM)?,
            O::F64Div => self.f64_binary(Instr::F64Div, Instr::F64DivM, Instr::F64DivMR)?,
            O::F64Min => self.binary(Instr::F64Min)?,
            O::F64Max => self.binary(Instr::F64Max)?,
            O::F64Copysign => self.binary(Instr::F64Copysign)?,
            O::F64Eq => self.binary(Instr::F64Eq)?,
            O::F64Ne => self.binary(Instr::F64Ne)?,
            O::F64Lt => self.binary(Instr::F64Lt)?,
            O::F64Gt => self.binary(Instr::F64Gt)?,
            O::F64Le => self.binary(Instr::F64Le)?,
            O::F64Ge => self.binary(Instr::F64Ge)?,
            other => {
                return Err(Error::Invalid {
                    offset: Some(self.offset as u64),
                    message: format!("unsupported instruction {other:?}"),
                })
            }
        }
        Ok(())
    }
}
