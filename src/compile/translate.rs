//! Wasm operators → slot-machine code, with validation fused in (wasmparser's `FuncValidator`
//! sees every operator first, so the lowering may assume a valid body).
//!
//! The lowering tracks, for every height `h` of the Wasm operand stack, the slot where that value
//! currently lives: its *canonical* slot `num_locals + h`, or a local's slot when a `local.get`
//! was deferred. Deferred locals are materialized when the local is about to be overwritten and
//! at every block boundary, so that all control-flow paths agree on where values live.
//!
//! Instruction units for `Poll`: each safe point is charged the number of Wasm operators that
//! belong directly to its loop body (or, for the entry safe point, to the function body outside
//! any loop). One loop iteration thus costs its body size, deterministic on every host.

use super::ir::{
    AddBr, AddBrS, Bin, BinImm, BinMem, CmpBr, CmpBrImm, CompiledFunc, Instr, Load, LoadAt, LoadIdx, RefMap,
    Slot, Store, StoreAt, StoreIdx, StoreK, Un,
};
use super::isa::{self, Lower};
use crate::error::Error;
use crate::parse::Module;
use wasmparser::{BlockType, FuncValidator, FunctionBody, Operator, ValidatorResources};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Func,
    Block,
    Loop,
    If,
    Else,
}

#[derive(Debug)]
struct Ctrl {
    kind: Kind,
    /// Stack height below the block's parameters.
    base: u32,
    params: u32,
    results: u32,
    /// For loops: the instruction index of the loop header (its `Poll`).
    label: u32,
    /// Forward branches to patch with the end of this block.
    patches: Vec<u32>,
    /// For `if`: the conditional jump to patch with the start of `else` (or the end).
    else_patch: Option<u32>,
    /// Entered in unreachable code: nothing inside is emitted.
    dead: bool,
}

/// Buffers reused across functions.
#[derive(Default)]
pub struct Context {
    stack: Vec<Slot>,
    ctrl: Vec<Ctrl>,
    polls: Vec<(u32, u32)>,
    konst: Vec<(u64, bool)>,
}

/// Stack entry of a constant not yet written anywhere (its value is in `T::konst` at the same
/// height): consumers that take immediates use it directly, others materialize it. Never a real
/// slot (`push` keeps slots below `u16::MAX`).
const KONST: Slot = Slot::MAX;

/// A popped operand: a slot, or a pending constant (bits, is 64-bit).
#[derive(Clone, Copy)]
enum Opnd {
    Slot(Slot),
    K(u64, bool),
}

struct T<'a> {
    m: &'a Module,
    code: Vec<Instr>,
    offsets: Vec<u32>,
    stack: Vec<Slot>,
    ctrl: Vec<Ctrl>,
    /// (index of the Poll instruction, operators charged to it so far)
    polls: Vec<(u32, u32)>,
    num_locals: u32,
    max_height: u32,
    unreachable: bool,
    /// Index of the last instruction if its single result is the stack top in its canonical slot.
    last_result: Option<u32>,
    /// Instruction index of the last label bound (a branch may land there).
    label_pos: u32,
    /// For stack entries equal to [`KONST`]: the constant (bits, is 64-bit) at that height.
    konst: Vec<(u64, bool)>,
    offset: u32,
    /// Whether the operator being lowered reads its i32 operands truncated to their low 32
    /// bits (see [`T::pop_any`]).
    narrow: bool,
}

fn too_complex(offset: u32) -> Error {
    Error::Invalid {
        offset: Some(offset as u64),
        message: "function too complex: more than 65535 locals and operand stack slots".into(),
    }
}

/// Lowers one function body.
pub fn translate(
    ctx: &mut Context,
    m: &Module,
    v: &mut FuncValidator<ValidatorResources>,
    body: FunctionBody<'_>,
) -> Result<CompiledFunc, Error> {
    let func_index = v.index();
    let ty = m.func_type(func_index).clone();
    let mut locals = body.get_locals_reader().map_err(Error::from_parser)?;
    let mut num_locals = ty.params.len() as u32;
    for _ in 0..locals.get_count() {
        let offset = locals.original_position();
        let (count, vt) = locals.read().map_err(Error::from_parser)?;
        v.define_locals(offset, count, vt).map_err(Error::from_parser)?;
        num_locals = num_locals.saturating_add(count);
    }
    let mut t = T {
        m,
        code: Vec::new(),
        offsets: Vec::new(),
        stack: std::mem::take(&mut ctx.stack),
        ctrl: std::mem::take(&mut ctx.ctrl),
        polls: std::mem::take(&mut ctx.polls),
        num_locals,
        max_height: 0,
        unreachable: false,
        last_result: None,
        narrow: false,
        label_pos: 0,
        konst: std::mem::take(&mut ctx.konst),
        offset: body.range().start as u32,
    };
    t.stack.clear();
    t.ctrl.clear();
    t.polls.clear();
    if num_locals > u16::MAX as u32 {
        return Err(too_complex(t.offset));
    }
    t.ctrl.push(Ctrl {
        kind: Kind::Func,
        base: 0,
        params: 0,
        results: ty.results.len() as u32,
        label: 0,
        patches: Vec::new(),
        else_patch: None,
        dead: false,
    });
    t.emit_poll();
    let mut br = body.get_binary_reader_for_operators().map_err(Error::from_parser)?;
    br.set_features(crate::parse::features());
    let mut reader = wasmparser::OperatorsReader::new(br);
    let mut ref_operands = Vec::new();
    while !reader.eof() {
        let (op, offset) = reader.read_with_offset().map_err(Error::from_parser)?;
        v.op(offset, &op).map_err(Error::from_parser)?;
        t.offset = offset as u32;
        let before = t.code.len();
        t.op(op)?;
        t.note_ref_operands(before, v, &mut ref_operands);
    }
    reader.finish().map_err(Error::from_parser)?;
    let max_slots = (num_locals + t.max_height).max(ty.params.len() as u32).max(ty.results.len() as u32);
    super::accumulator::forward(&mut t.code);
    // Absolute targets (as patched during lowering) become distances from the branch. The
    // executor relies on every backward branch landing on a `Poll` (a loop header) and on the
    // entry being one: it runs the target's safe point without checking its kind.
    let is_poll = |code: &[Instr], at: u32| matches!(code.get(at as usize), Some(Instr::Poll { .. }));
    let internal = |what: &str| Error::Other(format!("internal error in the lowering: {what}"));
    if !is_poll(&t.code, 0) {
        return Err(internal("the function does not start with a safe point"));
    }
    for i in 0..t.code.len() {
        let mut target = None;
        t.code[i].map_branch_target(|to| {
            target = Some(to);
            to.wrapping_sub(i as u32)
        });
        if target.is_some_and(|to| to <= i as u32 && !is_poll(&t.code, to)) {
            return Err(internal(&format!("a backward branch at {i} does not target a loop header")));
        }
    }
    let funcref = |ty: Option<wasmparser::ValType>| ty == Some(wasmparser::ValType::FUNCREF);
    let ref_locals: Box<[Slot]> =
        (0..num_locals).filter(|&l| funcref(v.get_local_type(l))).map(|l| l as Slot).collect();
    // Resume positions recorded during lowering must still be Polls and calls (no later
    // rewrite moves those).
    for (pc, _) in &ref_operands {
        let at = |i: u32| t.code.get(i as usize).copied();
        if !matches!(at(pc - 1), Some(Instr::Poll { .. } | Instr::Call { .. } | Instr::CallIndirect { .. })) {
            return Err(internal("a recorded resume position is not after a safe point or call"));
        }
    }
    let f = CompiledFunc {
        refs: RefMap { locals: ref_locals, operands: ref_operands.into() },
        code: std::mem::take(&mut t.code),
        offsets: std::mem::take(&mut t.offsets),
        num_params: ty.params.len() as u32,
        num_locals,
        num_results: ty.results.len() as u32,
        max_slots,
    };
    ctx.stack = t.stack;
    ctx.ctrl = t.ctrl;
    ctx.polls = t.polls;
    ctx.konst = t.konst;
    Ok(f)
}

impl T<'_> {
    /// After lowering one operator whose instructions start at `before`: for each `Poll` or
    /// call among them, the canonical operand slots holding a `funcref` at the position just
    /// after it (types from the validator, which has seen the operator). Values still pending
    /// (a constant, a `local.get`) have no slot yet and are skipped: the check stays sound,
    /// it only covers what the frame really holds.
    fn note_ref_operands(
        &self,
        before: usize,
        v: &FuncValidator<ValidatorResources>,
        out: &mut Vec<(u32, Box<[Slot]>)>,
    ) {
        // (The operator may have dropped an `i32.wrap_i64` emitted before it: never a Poll or
        // a call, so starting at the shorter length misses none.)
        let new = &self.code[before.min(self.code.len())..];
        if !new
            .iter()
            .any(|i| matches!(i, Instr::Poll { .. } | Instr::Call { .. } | Instr::CallIndirect { .. }))
        {
            return;
        }
        let vh = v.operand_stack_height() as usize;
        if vh != self.stack.len() {
            return; // unreachable code: nothing is emitted there anyway
        }
        for pc in before.min(self.code.len())..self.code.len() {
            let live_below = match self.code[pc] {
                Instr::Poll { height, .. } => height,
                Instr::Call { base, .. } | Instr::CallIndirect { base, .. } => u32::from(base),
                _ => continue,
            };
            let slots: Box<[Slot]> = (0..vh)
                .filter(|&h| {
                    let canon = self.canon(h as u32);
                    u32::from(canon) < live_below
                        && self.stack[h] == canon
                        && v.get_operand_type(vh - 1 - h) == Some(Some(wasmparser::ValType::FUNCREF))
                })
                .map(|h| self.canon(h as u32))
                .collect();
            if !slots.is_empty() {
                out.push((pc as u32 + 1, slots));
            }
        }
    }

    fn emit(&mut self, i: Instr) -> u32 {
        let idx = self.code.len() as u32;
        self.code.push(i);
        self.offsets.push(self.offset);
        self.last_result = None;
        idx
    }

    fn pc(&self) -> u32 {
        self.code.len() as u32
    }

    fn canon(&self, h: u32) -> Slot {
        (self.num_locals + h) as Slot
    }

    fn height(&self) -> u32 {
        self.stack.len() as u32
    }

    /// Pushes a value living in its canonical slot and returns that slot.
    fn push(&mut self) -> Result<Slot, Error> {
        let h = self.height();
        if self.num_locals + h >= u16::MAX as u32 {
            return Err(too_complex(self.offset));
        }
        self.max_height = self.max_height.max(h + 1);
        let s = self.canon(h);
        self.stack.push(s);
        Ok(s)
    }

    /// Pops an operand, materializing a pending constant into its canonical slot.
    fn pop(&mut self) -> Slot {
        match self.pop_any() {
            Opnd::Slot(s) => s,
            Opnd::K(v, wide) => self.write_const(self.canon(self.height()), v, wide),
        }
    }

    /// Pops an operand, leaving a pending constant pending. For an operator that reads its
    /// i32 operands truncated (`narrow`), an operand computed by the `i32.wrap_i64` just
    /// emitted is read from the wrap's operand instead, and the wrap is dropped: a no-op then.
    fn pop_any(&mut self) -> Opnd {
        let s = self.stack.pop().expect("validated: operand stack underflow");
        if s == KONST {
            let (v, wide) = self.konst[self.stack.len()];
            return Opnd::K(v, wide);
        }
        if self.narrow {
            if let Some((li, Instr::I32WrapI64(u))) = self.just_wrote(s, self.height()) {
                if li as usize + 1 == self.code.len() {
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
    fn slot_at(&mut self, o: Opnd, h: u32) -> Slot {
        match o {
            Opnd::Slot(s) => s,
            Opnd::K(v, wide) => self.write_const(self.canon(h), v, wide),
        }
    }

    fn write_const(&mut self, dst: Slot, v: u64, wide: bool) -> Slot {
        if wide {
            self.emit(Instr::Const64 { dst, val: v });
        } else {
            self.emit(Instr::Const32 { dst, val: v as u32 });
        }
        dst
    }

    fn push_const(&mut self, v: u64, wide: bool) -> Result<(), Error> {
        let h = self.height() as usize;
        self.push()?;
        self.stack[h] = KONST;
        if self.konst.len() <= h {
            self.konst.resize(h + 1, (0, false));
        }
        self.konst[h] = (v, wide);
        Ok(())
    }

    /// Emits a value-producing instruction whose result is pushed.
    fn result(&mut self, i: Instr) {
        let idx = self.emit(i);
        self.last_result = Some(idx);
    }

    fn materialize_at(&mut self, h: usize) {
        let canon = self.canon(h as u32);
        let src = self.stack[h];
        if src == KONST {
            let (v, wide) = self.konst[h];
            self.write_const(canon, v, wide);
            self.stack[h] = canon;
        } else if src != canon {
            self.emit(Instr::Copy { dst: canon, src });
            self.stack[h] = canon;
        }
    }

    fn materialize_all(&mut self) {
        for h in 0..self.stack.len() {
            self.materialize_at(h);
        }
    }

    fn materialize_top(&mut self, n: u32) {
        let len = self.stack.len();
        for h in len - n as usize..len {
            self.materialize_at(h);
        }
    }

    /// Materializes deferred reads of local `l` in the stack below the top `skip_top` entries.
    fn materialize_local(&mut self, l: Slot, skip_top: usize) -> bool {
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
    fn result_after_copies(&mut self, li: usize, l: Slot) {
        self.code[li..].rotate_left(1);
        self.offsets[li..].rotate_left(1);
        let last = self.code.len() - 1;
        *self.code[last].result_slot_mut().expect("result instruction") = l;
        self.last_result = None;
    }

    fn bind_label(&mut self) {
        self.last_result = None;
        self.label_pos = self.code.len() as u32;
    }

    fn patch(&mut self, at: u32, target: u32) {
        let patched = self.code[at as usize].map_branch_target(|_| target);
        assert!(patched, "patching a non-branch instruction");
    }

    fn emit_poll(&mut self) {
        let height = self.num_locals + self.height();
        let idx = self.emit(Instr::Poll { cost: 0, height });
        self.polls.push((idx, 0));
    }

    fn close_poll(&mut self) {
        let (idx, n) = self.polls.pop().expect("poll stack");
        if let Instr::Poll { cost, .. } = &mut self.code[idx as usize] {
            *cost = n.max(1);
        }
    }

    fn block_arity(&self, bt: BlockType) -> (u32, u32) {
        match bt {
            BlockType::Empty => (0, 0),
            BlockType::Type(_) => (0, 1),
            BlockType::FuncType(i) => {
                let ft = &self.m.types[i as usize];
                (ft.params.len() as u32, ft.results.len() as u32)
            }
        }
    }

    /// How values travel to the label at `depth`: (arity, is_function_label).
    fn label_arity(&self, depth: u32) -> (u32, usize) {
        let i = self.ctrl.len() - 1 - depth as usize;
        let c = &self.ctrl[i];
        let arity = if c.kind == Kind::Loop { c.params } else { c.results };
        (arity, i)
    }

    /// Builds (without emitting) the unconditional branch to the label at `depth`, after making
    /// sure the carried values sit in canonical slots. Returns the instruction and whether it is
    /// a forward branch to be patched at the end of ctrl frame `ci`.
    fn branch_instr(&mut self, depth: u32) -> (Instr, Option<usize>) {
        let (arity, ci) = self.label_arity(depth);
        let c = &self.ctrl[ci];
        if c.kind == Kind::Func {
            if arity == 1 {
                if *self.stack.last().unwrap() == KONST {
                    self.materialize_top(1);
                }
                let from = *self.stack.last().unwrap();
                return (Instr::Return { from, n: 1 }, None);
            }
            self.materialize_top(arity);
            let from = self.canon(self.height() - arity);
            return (Instr::Return { from, n: arity as u16 }, None);
        }
        let (target, fwd) = if c.kind == Kind::Loop { (c.label, None) } else { (0, Some(ci)) };
        let to = self.canon(c.base);
        if arity == 0 {
            return (Instr::Br { target }, fwd);
        }
        self.materialize_top(arity);
        let from = self.canon(self.height() - arity);
        if from == to {
            (Instr::Br { target }, fwd)
        } else {
            (Instr::BrCopy { target, from, to, n: arity as u16 }, fwd)
        }
    }

    fn emit_branch(&mut self, depth: u32) {
        let (i, fwd) = self.branch_instr(depth);
        let idx = self.emit(i);
        if let Some(ci) = fwd {
            self.ctrl[ci].patches.push(idx);
        }
    }

    /// Emits a conditional jump on the (already popped) condition `cond`, fusing a preceding
    /// comparison when possible. `when_true`: jump if the condition is non-zero.
    fn emit_cond_jump(&mut self, cond: Slot, when_true: bool, target: u32) -> u32 {
        if let Some(li) = self.last_result {
            let last = self.code[li as usize];
            if let Some(fused) = fuse_compare(last, cond, when_true, target) {
                self.code[li as usize] = fused;
                self.last_result = None;
                return self.fuse_loop_step(li);
            }
        }
        let j = if when_true {
            self.emit(Instr::BrIfNez { cond, target })
        } else {
            self.emit(Instr::BrIfEqz { cond, target })
        };
        self.fuse_loop_step(j)
    }

    /// `x += c` right before a conditional branch on `x` (the last instruction, at `j`): one
    /// `I32…StepImmBr` instead, unless a label sits between them.
    fn fuse_loop_step(&mut self, j: u32) -> u32 {
        let ju = j as usize;
        if j == 0 || ju + 1 != self.code.len() || self.label_pos == j {
            return j;
        }
        if let Some(fused) = Self::loop_step_by_slot(self.code[ju - 1], self.code[ju]) {
            self.code.pop();
            self.offsets.pop();
            self.code[ju - 1] = fused;
            return j - 1;
        }
        let Instr::I32AddImm(add) = self.code[ju - 1] else { return j };
        if add.dst != add.a {
            return j;
        }
        let step = |imm: i32, target: u32| AddBr { a: add.a, add: add.imm, imm, target };
        use Instr as I;
        let fused = match self.code[ju] {
            I::BrIfNez { cond, target } if cond == add.a => I::I32NeStepImmBr(step(0, target)),
            I::BrIfEqz { cond, target } if cond == add.a => I::I32EqStepImmBr(step(0, target)),
            br => match isa::step_imm_branch(br) {
                Some((k, g)) if k.a == add.a => g(step(k.imm, k.target)),
                _ => return j,
            },
        };
        self.code.pop();
        self.offsets.pop();
        self.code[ju - 1] = fused;
        j - 1
    }

    /// `x += y` (`i32.add`/`i64.add` of two slots into the first) right before a comparison of
    /// `x` with a slot and a branch: one `…StepBr`.
    fn loop_step_by_slot(add: Instr, br: Instr) -> Option<Instr> {
        // The step's other operand; `x + y` and `y + x` both step `x`.
        let step = |x: Bin, k: CmpBr| AddBrS {
            a: x.dst,
            add: if x.a == x.dst { x.b } else { x.a },
            b: k.b,
            target: k.target,
        };
        let (x, k, g) = isa::step_branch(add, br)?;
        if (x.a != x.dst && x.b != x.dst) || k.a != x.dst {
            return None;
        }
        Some(g(step(x, k)))
    }

    fn unary(&mut self, f: fn(Un) -> Instr) -> Result<(), Error> {
        let a = self.pop();
        let dst = self.push()?;
        self.result(f(Un { dst, a }));
        Ok(())
    }

    fn binary(&mut self, f: fn(Bin) -> Instr) -> Result<(), Error> {
        let b = self.pop();
        let a = self.pop();
        let dst = self.push()?;
        self.result(f(Bin { dst, a, b }));
        Ok(())
    }

    /// An f64 operation. When an operand is the result of the `f64.load` (or `f64.load` at an
    /// added constant) just emitted, a temporary read only here, the operation takes the load
    /// over: `m` builds `mem OP b` (the loaded operand on the left), `mr` builds `b OP mem`
    /// (the same as `m` for commutative operations). The fused instruction keeps the load's
    /// code offset: the load is what may trap.
    fn f64_binary(
        &mut self,
        f: fn(Bin) -> Instr,
        m: fn(BinMem) -> Instr,
        mr: fn(BinMem) -> Instr,
    ) -> Result<(), Error> {
        let h = self.height() - 2;
        let ob = self.pop_any();
        let oa = self.pop_any();
        let loaded = |o: Opnd, height: u32| {
            let Opnd::Slot(t) = o else { return None };
            match self.just_wrote(t, height)? {
                (li, Instr::F64Load(l)) => Some((li, l.addr, 0, l.offset)),
                (li, Instr::F64LoadAt(l)) => Some((li, l.a, l.imm, l.offset)),
                _ => None,
            }
        };
        // The other operand must need no code (a constant would be materialized after the load).
        let fused = match (oa, ob) {
            (Opnd::Slot(a), Opnd::Slot(_)) => loaded(ob, h + 1).map(|l| (l, a, mr)),
            _ => None,
        }
        .or_else(|| match (oa, ob) {
            (Opnd::Slot(_), Opnd::Slot(b)) => loaded(oa, h).map(|l| (l, b, m)),
            _ => None,
        });
        let dst = self.push()?;
        if let Some(((li, a, imm, offset), b, g)) = fused {
            self.code[li as usize] = g(BinMem { dst, a, b, imm, offset });
            self.last_result = Some(li);
            return Ok(());
        }
        let b = self.slot_at(ob, h + 1);
        let a = self.slot_at(oa, h);
        self.result(f(Bin { dst, a, b }));
        Ok(())
    }

    /// `f64.store` of the result of an f64 operation that took over the `f64.load` of the same
    /// address (the same slot, no added constant, the same offset): the operation becomes an
    /// update of memory (`x[i] += y`: `F64AddU`), keeping the load's code offset. Sound
    /// because the load, the operation and the store run at one point, with the address slot
    /// unchanged between them; the result was a temporary read only by the store.
    fn f64_update(&mut self, memarg: wasmparser::MemArg) -> bool {
        let n = self.stack.len();
        let (addr, val) = (self.stack[n - 2], self.stack[n - 1]);
        if addr == KONST || val == KONST {
            return false;
        }
        let Some((li, ins)) = self.just_wrote(val, n as u32 - 1) else { return false };
        let Some((x, g)) = isa::update_of(ins) else { return false };
        if x.a != addr || x.imm != 0 || x.offset as u64 != memarg.offset {
            return false;
        }
        self.stack.truncate(n - 2);
        self.code[li as usize] = g(Store { addr, val: x.b, offset: x.offset });
        self.last_result = None;
        true
    }

    /// `select` on a bit test (`i32.and`/`i64.and` with a constant, the i64 one through
    /// `i64.eqz`, the i32 one directly or through `i32.eqz`) computed just before into the
    /// temporary `cond`: one `SelectAnd` that takes the test over (the first instruction to
    /// replace and the replacement).
    fn select_and(
        &self,
        cond: Slot,
        a: Slot,
        b: Slot,
        dst: Slot,
        eqz: Option<(u32, Instr)>,
    ) -> Option<(u32, Instr)> {
        // The `and` (index, operands, whether 64-bit) that wrote the temporary `x` just before `li`.
        let and_before = |li: u32, x: Slot| -> Option<(u32, BinImm, bool)> {
            // A branch may land on the `eqz` (then the `and` may not have run just before).
            if self.label_pos == li || x != cond {
                return None;
            }
            let (k, wide) = match *self.code.get((li as usize).checked_sub(1)?)? {
                Instr::I32AndImm(k) => (k, false),
                Instr::I64AndImm(k) => (k, true),
                _ => return None,
            };
            (k.dst == x).then_some((li - 1, k, wide))
        };
        let (at, k, wide, swap) = match eqz {
            Some((li, eqz @ (Instr::I32Eqz(u) | Instr::I64Eqz(u)))) => {
                let (at, k, wide) = and_before(li, u.a)?;
                // The eqz's width must be the and's.
                if wide != matches!(eqz, Instr::I64Eqz(_)) {
                    return None;
                }
                (at, k, wide, true)
            }
            Some((li, Instr::I32AndImm(k))) => (li, k, false, false),
            _ => return None,
        };
        let (a, b) = if swap { (b, a) } else { (a, b) };
        let (c, mask) = (k.a, k.imm);
        Some((
            at,
            if wide {
                Instr::SelectAnd64 { dst, a, b, c, mask }
            } else {
                Instr::SelectAnd { dst, a, b, c, mask }
            },
        ))
    }

    /// The immediate for a pending constant operand, if `f` accepts its value
    /// (sign-interpreted as i32 or i64).
    fn imm_of(o: Opnd, f: impl Fn(i64) -> Option<i32>) -> Option<i32> {
        match o {
            Opnd::K(v, wide) => f(if wide { v as i64 } else { v as u32 as i32 as i64 }),
            Opnd::Slot(_) => None,
        }
    }

    /// A binary operation, folding a constant right operand into `k` (and a constant left
    /// operand into `flip`, for commutative operations and mirrored comparisons). `rhs` maps
    /// the right constant to the immediate.
    fn binary_with(
        &mut self,
        f: fn(Bin) -> Instr,
        k: fn(BinImm) -> Instr,
        flip: Option<fn(BinImm) -> Instr>,
        rhs: impl Fn(i64) -> Option<i32>,
    ) -> Result<(), Error> {
        let h = self.height() - 2;
        let ob = self.pop_any();
        let oa = self.pop_any();
        let i = if let Some(imm) = Self::imm_of(ob, rhs) {
            let a = self.slot_at(oa, h);
            k(BinImm { dst: 0, a, imm })
        } else if let (Some(g), Some(imm)) = (flip, Self::imm_of(oa, |v| i32::try_from(v).ok())) {
            let b = self.slot_at(ob, h + 1);
            g(BinImm { dst: 0, a: b, imm })
        } else {
            let b = self.slot_at(ob, h + 1);
            let a = self.slot_at(oa, h);
            f(Bin { dst: 0, a, b })
        };
        let dst = self.push()?;
        let mut i = i;
        *i.result_slot_mut().expect("binary result") = dst;
        self.result(i);
        Ok(())
    }

    fn binary_k(
        &mut self,
        f: fn(Bin) -> Instr,
        k: fn(BinImm) -> Instr,
        flip: Option<fn(BinImm) -> Instr>,
    ) -> Result<(), Error> {
        self.binary_with(f, k, flip, |v| i32::try_from(v).ok())
    }

    /// `a - c` becomes `a + (-c)`.
    fn sub_k(&mut self, f: fn(Bin) -> Instr, k: fn(BinImm) -> Instr, wide: bool) -> Result<(), Error> {
        self.binary_with(f, k, None, move |v| {
            if wide {
                v.checked_neg().and_then(|n| i32::try_from(n).ok())
            } else {
                Some((v as i32).wrapping_neg())
            }
        })
    }

    /// The last instruction, if nothing was emitted since and its result is `slot`, the
    /// temporary at stack height `height` (popped by the caller): its only reader is the
    /// instruction being lowered, which may take its work over ([`T::take_over`]).
    fn just_wrote(&self, slot: Slot, height: u32) -> Option<(u32, Instr)> {
        let li = self.last_result?;
        let mut ins = self.code[li as usize];
        (slot == self.canon(height) && ins.result_slot_mut().copied() == Some(slot)).then_some((li, ins))
    }

    /// Replaces the instruction at `li` (found by [`T::just_wrote`]) with `ins`, which does its
    /// work and the current operator's.
    fn take_over(&mut self, li: u32, mut ins: Instr) {
        self.last_result = ins.result_slot_mut().is_some().then_some(li);
        self.code[li as usize] = ins;
        self.offsets[li as usize] = self.offset;
    }

    /// The `i32.add` with a constant that computed the address operand `addr` (at the current
    /// height), for a load or store to take over.
    fn address_add(&self, addr: Opnd) -> Option<(u32, BinImm)> {
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
    fn address_index(&self, addr: Opnd) -> Option<(u32, Slot, Slot, u16)> {
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
    fn take_over_two(&mut self, at: u32, ins: Instr) {
        self.code.truncate(at as usize + 1);
        self.offsets.truncate(at as usize + 1);
        self.take_over(at, ins);
    }

    /// Lowers an operator of the instruction-set table as it says.
    fn lower(&mut self, l: Lower) -> Result<(), Error> {
        match l {
            Lower::Unary(f) => self.unary(f),
            Lower::Binary(f) => self.binary(f),
            Lower::BinaryImm(f, k, flip) => self.binary_k(f, k, flip),
            Lower::Sub(f, k, wide) => self.sub_k(f, k, wide),
            Lower::F64(f, m, mr) => self.f64_binary(f, m, mr),
            Lower::Load(memarg, f, at, idx) => self.load_idx(memarg, f, at, idx),
            Lower::Store(memarg, f, at, k, idx, wide) => self.store_idx(memarg, f, at, k, idx, wide),
        }
    }

    /// A load, which may take over the address computation: `i32.add` of a constant
    /// (`at`), or of a base and a shifted index (`idx`, when the load has an indexed form).
    fn load_idx(
        &mut self,
        memarg: wasmparser::MemArg,
        f: fn(Load) -> Instr,
        at: fn(LoadAt) -> Instr,
        idx: Option<fn(LoadIdx) -> Instr>,
    ) -> Result<(), Error> {
        let offset = memarg.offset as u32;
        let o = self.pop_any();
        if let (Some(g), Some((si, base, index, shift))) = (idx, self.address_index(o)) {
            let dst = self.push()?;
            self.take_over_two(si, g(LoadIdx { dst, base, idx: index, shift, offset }));
            return Ok(());
        }
        if let Some((li, x)) = self.address_add(o) {
            let dst = self.push()?;
            self.take_over(li, at(LoadAt { dst, a: x.a, imm: x.imm as u32, offset }));
            return Ok(());
        }
        let addr = self.slot_at(o, self.height());
        let dst = self.push()?;
        self.result(f(Load { dst, addr, offset }));
        Ok(())
    }

    /// A store, which may take over the address computation as [`T::load_idx`] does. `wide`:
    /// a 64-bit store, whose constant value must fit a sign-extended `i32` to become an
    /// immediate (narrower stores truncate it anyway).
    fn store_idx(
        &mut self,
        memarg: wasmparser::MemArg,
        f: fn(Store) -> Instr,
        at: fn(StoreAt) -> Instr,
        k: fn(StoreK) -> Instr,
        idx: Option<fn(StoreIdx) -> Instr>,
        wide: bool,
    ) -> Result<(), Error> {
        let offset = memarg.offset as u32;
        let vo = self.pop_any();
        let ao = self.pop_any();
        let h = self.height();
        if let Opnd::K(v, _) = vo {
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

    fn const32(&mut self, val: u32) -> Result<(), Error> {
        self.push_const(val as u64, false)
    }

    fn const64(&mut self, val: u64) -> Result<(), Error> {
        self.push_const(val, true)
    }

    /// Pops `n` call arguments into canonical slots and returns the base slot.
    fn call_args(&mut self, n: u32) -> Slot {
        self.materialize_top(n);
        let base = self.canon(self.height() - n);
        self.stack.truncate((self.height() - n) as usize);
        base
    }

    fn push_results(&mut self, n: u32) -> Result<(), Error> {
        for _ in 0..n {
            self.push()?;
        }
        Ok(())
    }

    fn end_block(&mut self) -> Result<(), Error> {
        let c = self.ctrl.pop().expect("validated: control stack");
        if c.dead {
            return Ok(());
        }
        if !self.unreachable {
            if c.kind == Kind::Func {
                let (i, _) = {
                    self.ctrl.push(c);
                    let r = self.branch_instr(0);
                    let c2 = self.ctrl.pop().unwrap();
                    let patches = c2.patches;
                    debug_assert!(patches.is_empty());
                    r
                };
                self.emit(i);
                self.close_poll();
                return Ok(());
            }
            self.materialize_top(c.results);
        }
        if c.kind == Kind::Func {
            self.close_poll();
            return Ok(());
        }
        if c.kind == Kind::Loop {
            self.close_poll();
        }
        let here = self.pc();
        self.bind_label();
        if let Some(e) = c.else_patch {
            self.patch(e, here);
        }
        for p in &c.patches {
            self.patch(*p, here);
        }
        self.stack.truncate(c.base as usize);
        self.push_results(c.results)?;
        self.unreachable = false;
        Ok(())
    }

    fn count_op(&mut self) {
        if let Some(p) = self.polls.last_mut() {
            p.1 = p.1.saturating_add(1);
        }
    }

    fn op(&mut self, op: Operator<'_>) -> Result<(), Error> {
        use Operator as O;
        // Operators whose handlers read every i32 operand as its low 32 bits (`as u32`), so
        // that an `i32.wrap_i64` feeding them is a no-op: the table's operators with an i32
        // operand (loads and stores: the address). Not `select`, `local.set`, calls, returns
        // and the like, which keep all 64 bits, nor `i64.extend_i32_u`, a no-op that relies on
        // i32 slots being zero-extended.
        self.narrow = isa::narrow(&op);
        // Control structure is tracked even in unreachable code.
        if self.unreachable {
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
                    return Ok(());
                }
                O::Else => {
                    let c = self.ctrl.last_mut().unwrap();
                    if c.dead {
                        return Ok(());
                    }
                }
                O::End => return self.end_block(),
                _ => return Ok(()),
            }
        }
        self.count_op();
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
            O::F64Store { memarg } if self.f64_update(memarg) => {}
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
            other => match isa::lowering(&other) {
                Some(l) => self.lower(l)?,
                None => {
                    return Err(Error::Invalid {
                        offset: Some(self.offset as u64),
                        message: format!("unsupported instruction {other:?}"),
                    })
                }
            },
        }
        Ok(())
    }
}

/// Turns `cmp; br_if` into one compare-and-branch (`when_true` = branch if the comparison holds).
/// Integer comparisons have exact negations, so `cmp; if` (branch when false) fuses too.
fn fuse_compare(last: Instr, cond: Slot, when_true: bool, target: u32) -> Option<Instr> {
    match last {
        Instr::I32Eqz(u) if u.dst == cond => Some(if when_true {
            Instr::BrIfEqz { cond: u.a, target }
        } else {
            Instr::BrIfNez { cond: u.a, target }
        }),
        Instr::I64Eqz(u) if u.dst == cond => {
            let z = CmpBrImm { a: u.a, imm: 0, target };
            Some(if when_true { Instr::I64EqImmBr(z) } else { Instr::I64NeImmBr(z) })
        }
        _ => isa::compare_branch(last, cond, when_true, target),
    }
}

#[cfg(test)]
mod tests {
    /// Prints the lowered code of every function of the module named by `$CHIWAWA_DUMP_IR`
    /// (a .wasm file): `CHIWAWA_DUMP_IR=x.wasm cargo test --lib dump_ir -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn dump_ir() {
        let Ok(path) = std::env::var("CHIWAWA_DUMP_IR") else { return };
        let mut bytes = std::fs::read(&path).unwrap();
        if path.ends_with(".wat") {
            let text = String::from_utf8(bytes).unwrap();
            let buf = wast::parser::ParseBuffer::new(&text).unwrap();
            bytes = wast::parser::parse::<wast::Wat>(&buf).unwrap().encode().unwrap();
        }
        let m = crate::parse::Module::new(&bytes).unwrap();
        for (i, f) in m.code.iter().enumerate() {
            let idx = i as u32 + m.num_imported_funcs;
            println!(
                "func {idx} {} (locals {}, slots {}):",
                m.func_display_name(idx),
                f.num_locals,
                f.max_slots
            );
            for (pc, ins) in f.code.iter().enumerate() {
                println!("  {pc:4}: {ins:?}");
            }
        }
    }

    /// Lowers a module and returns the code of its defined function number `func`.
    fn lower(wat: &str, func: usize) -> Vec<crate::compile::ir::Instr> {
        let buf = wast::parser::ParseBuffer::new(wat).unwrap();
        let bytes = wast::parser::parse::<wast::Wat>(&buf).unwrap().encode().unwrap();
        let m = crate::parse::Module::new(&bytes).unwrap();
        m.code[func].code.clone()
    }

    fn run(script: &str) {
        let s = crate::wast::run_text("fusion", script);
        assert_eq!(s.failed, 0, "{:?}", s.failures);
        assert!(s.passed > 1);
    }

    /// Address adds folded into loads and stores keep the 32-bit wrap-around of `i32.add`:
    /// `p + 8` with `p = 0xffff_fffc` is address 4, not an out-of-bounds 2^32 + 4.
    #[test]
    fn fused_address_adds_wrap_like_i32_add() {
        use crate::compile::ir::Instr;
        let body = r#"(module (memory 1)
          (func (export "ld") (param $p i32) (result i64)
            (i64.load offset=2 (i32.add (local.get $p) (i32.const 8))))
          (func (export "st") (param $p i32) (param $v i32)
            (i32.store16 offset=1 (i32.add (local.get $p) (i32.const 8)) (local.get $v)))
          (func (export "ld8") (param $a i32) (result i32) (i32.load8_u (local.get $a))))"#;
        let ld = lower(body, 0);
        assert!(ld.iter().any(|i| matches!(i, Instr::I64LoadAt(_))), "{ld:?}");
        let st = lower(body, 1);
        assert!(st.iter().any(|i| matches!(i, Instr::I32Store16At(_))), "{st:?}");
        run(&format!(
            r#"{body}
            (assert_return (invoke "st" (i32.const 0) (i32.const 0x1234)) )
            (assert_return (invoke "ld8" (i32.const 9)) (i32.const 0x34))
            (assert_return (invoke "st" (i32.const -4) (i32.const 0xabcd)))
            (assert_return (invoke "ld8" (i32.const 5)) (i32.const 0xcd))
            (assert_return (invoke "ld8" (i32.const 6)) (i32.const 0xab))
            (assert_return (invoke "ld" (i32.const -8)) (i64.const 0x3400_00ab_cd00_0000))
            (assert_trap (invoke "ld" (i32.const 65520)) "out of bounds memory access")
            (assert_trap (invoke "st" (i32.const 65526) (i32.const 1)) "out of bounds memory access")"#
        ));
    }

    /// `base + (i << k)` addresses fold into indexed loads and stores, in either operand order,
    /// wrapping like the `i32.shl` and `i32.add` they replace; not when the shifted value is a
    /// local (it may be read again).
    #[test]
    fn indexed_accesses_wrap_like_shl_and_add() {
        use crate::compile::ir::Instr;
        let body = r#"(module (memory 1)
          (func (export "ld") (param $b i32) (param $i i32) (result i32)
            (i32.load offset=4 (i32.add (local.get $b) (i32.shl (local.get $i) (i32.const 2)))))
          (func (export "st") (param $b i32) (param $i i32) (param $v i64)
            (i64.store (i32.add (i32.shl (local.get $i) (i32.const 35)) (local.get $b)) (local.get $v)))
          (func (export "tee") (param $b i32) (param $i i32) (result i32)
            (i32.load8_u (i32.add (local.get $b) (local.tee $i (i32.shl (local.get $i) (i32.const 1)))))))"#;
        let ld = lower(body, 0);
        assert!(
            ld.iter().any(|i| matches!(i, Instr::I32LoadIdx(x) if x.shift == 2 && x.offset == 4)),
            "{ld:?}"
        );
        assert!(!ld.iter().any(|i| matches!(i, Instr::I32ShlImm(_))), "{ld:?}");
        let st = lower(body, 1);
        assert!(st.iter().any(|i| matches!(i, Instr::I64StoreIdx(x) if x.shift == 3)), "{st:?}");
        let tee = lower(body, 2);
        assert!(tee.iter().any(|i| matches!(i, Instr::I32ShlImm(_))), "{tee:?}");
        run(&format!(
            r#"{body}
            (assert_return (invoke "st" (i32.const 8) (i32.const 1) (i64.const 0x0807060504030201)))
            (assert_return (invoke "ld" (i32.const 0) (i32.const 3)) (i32.const 0x04030201))
            (assert_return (invoke "ld" (i32.const 0) (i32.const 4)) (i32.const 0x08070605))
            (assert_return (invoke "ld" (i32.const -8) (i32.const 5)) (i32.const 0x04030201))
            (assert_return (invoke "st" (i32.const -16) (i32.const 3) (i64.const -1)))
            (assert_return (invoke "ld" (i32.const 4) (i32.const 0)) (i32.const -1))
            (assert_return (invoke "tee" (i32.const 1) (i32.const 4)) (i32.const 0xff))
            (assert_trap (invoke "ld" (i32.const 65528) (i32.const 1)) "out of bounds memory access")
            (assert_trap (invoke "st" (i32.const 65529) (i32.const 0) (i64.const 0)) "out of bounds memory access")"#
        ));
    }

    /// f64 operations take over the `f64.load` of an operand (either side; `…MR`: the loaded
    /// operand on the right), also when the load added a constant to its address; the register
    /// forms read the address from the integer register and `b` from the f64 register. Results,
    /// wrap-around and traps are those of the separate instructions.
    #[test]
    fn f64_operations_take_over_loads() {
        use crate::compile::ir::Instr;
        let body = r#"(module (memory 1)
          (func (export "put") (param $p i32) (param $v f64) (f64.store (local.get $p) (local.get $v)))
          (func (export "sub_m") (param $p i32) (param $x f64) (result f64)
            (f64.sub (f64.load (local.get $p)) (local.get $x)))
          (func (export "sub_mr") (param $p i32) (param $x f64) (result f64)
            (f64.sub (local.get $x) (f64.load offset=8 (local.get $p))))
          (func (export "div_at") (param $p i32) (param $x f64) (result f64)
            (f64.div (local.get $x) (f64.load offset=4 (i32.add (local.get $p) (i32.const 8)))))
          (func (export "chain") (param $p i32) (param $q i32) (param $x f64) (result f64) (local $s i32)
            (local.set $s (i32.add (local.get $p) (local.get $q)))
            (f64.add (f64.mul (f64.load (local.get $s)) (local.get $x)) (f64.load offset=8 (local.get $s))))
          (func (export "label") (param $p i32) (param $x f64) (result f64)
            (f64.div (block (result f64) (f64.load (local.get $p))) (local.get $x))))"#;
        let has = |f: usize, want: fn(&Instr) -> bool| {
            let code = lower(body, f);
            assert!(code.iter().any(want), "{code:?}");
            assert!(!code.iter().any(|i| matches!(i, Instr::F64Load(_) | Instr::F64LoadAt(_))), "{code:?}");
        };
        has(1, |i| matches!(i, Instr::F64SubM(_)));
        has(2, |i| matches!(i, Instr::F64SubMR(x) if x.offset == 8));
        has(3, |i| matches!(i, Instr::F64DivMR(x) if x.imm == 8 && x.offset == 4));
        has(4, |i| matches!(i, Instr::F64MulMA(_)));
        has(4, |i| matches!(i, Instr::F64AddMAB(x) if x.offset == 8));
        let label = lower(body, 5);
        assert!(label.iter().any(|i| matches!(i, Instr::F64Div(_) | Instr::F64DivA(_))), "{label:?}");
        run(&format!(
            r#"{body}
            (assert_return (invoke "put" (i32.const 0) (f64.const 1.5)))
            (assert_return (invoke "put" (i32.const 8) (f64.const 0.5)))
            (assert_return (invoke "put" (i32.const 16) (f64.const -2)))
            (assert_return (invoke "sub_m" (i32.const 0) (f64.const 0.25)) (f64.const 1.25))
            (assert_return (invoke "sub_mr" (i32.const 0) (f64.const 0.25)) (f64.const -0.25))
            (assert_return (invoke "sub_m" (i32.const 8) (f64.const nan)) (f64.const nan:arithmetic))
            (assert_return (invoke "div_at" (i32.const 4) (f64.const 3)) (f64.const -1.5))
            (assert_return (invoke "div_at" (i32.const -8) (f64.const 1)) (f64.const inf))
            (assert_return (invoke "chain" (i32.const 4) (i32.const 4) (f64.const 4)) (f64.const 0))
            (assert_return (invoke "chain" (i32.const 0) (i32.const 0) (f64.const -4)) (f64.const -5.5))
            (assert_return (invoke "label" (i32.const 16) (f64.const -0.5)) (f64.const 4))
            (assert_trap (invoke "sub_m" (i32.const 65529) (f64.const 0)) "out of bounds memory access")
            (assert_trap (invoke "sub_mr" (i32.const 65521) (f64.const 0)) "out of bounds memory access")
            (assert_trap (invoke "div_at" (i32.const 65520) (f64.const 0)) "out of bounds memory access")
            (assert_trap (invoke "chain" (i32.const 65528) (i32.const 0) (f64.const 0)) "out of bounds memory access")"#
        ));
    }

    /// An f64 operation on a loaded operand, stored back to the same address (same slot, no
    /// added constant, same offset), becomes an update of memory; with another address or
    /// offset it stays an operation and a store.
    #[test]
    fn f64_updates_of_memory() {
        use crate::compile::ir::Instr;
        let body = r#"(module (memory 1)
          (func (export "put") (param $p i32) (param $v f64) (f64.store (local.get $p) (local.get $v)))
          (func (export "get") (param $p i32) (result f64) (f64.load (local.get $p)))
          (func (export "add") (param $p i32) (param $y f64)
            (f64.store (local.get $p) (f64.add (f64.load (local.get $p)) (local.get $y))))
          (func (export "subr") (param $p i32) (param $y f64)
            (f64.store offset=8 (local.get $p) (f64.sub (local.get $y) (f64.load offset=8 (local.get $p)))))
          (func (export "divr") (param $p i32) (param $q i32) (param $x f64) (local $s i32)
            (local.set $s (i32.add (local.get $p) (local.get $q)))
            (f64.store (local.get $s) (f64.div (f64.mul (local.get $x) (local.get $x)) (f64.load (local.get $s)))))
          (func (export "other_offset") (param $p i32) (param $y f64)
            (f64.store offset=8 (local.get $p) (f64.mul (f64.load (local.get $p)) (local.get $y))))
          (func (export "other_addr") (param $p i32) (param $q i32) (param $y f64)
            (f64.store (local.get $q) (f64.mul (f64.load (local.get $p)) (local.get $y)))))"#;
        let code = |f: usize| lower(body, f);
        let is_store = |i: &Instr| matches!(i, Instr::I64Store(_) | Instr::F64StoreV(_));
        assert!(code(2).iter().any(|i| matches!(i, Instr::F64AddU(_))), "{:?}", code(2));
        assert!(code(3).iter().any(|i| matches!(i, Instr::F64SubUR(x) if x.offset == 8)), "{:?}", code(3));
        assert!(code(4).iter().any(|i| matches!(i, Instr::F64DivURAV(_))), "{:?}", code(4));
        for f in 2..=4 {
            assert!(!code(f).iter().any(is_store), "{:?}", code(f));
        }
        for f in 5..=6 {
            assert!(code(f).iter().any(|i| matches!(i, Instr::F64MulM(_))), "{:?}", code(f));
            assert!(code(f).iter().any(is_store), "{:?}", code(f));
        }
        run(&format!(
            r#"{body}
            (assert_return (invoke "put" (i32.const 0) (f64.const 1.5)))
            (assert_return (invoke "put" (i32.const 8) (f64.const 0.5)))
            (assert_return (invoke "add" (i32.const 0) (f64.const 2)))
            (assert_return (invoke "get" (i32.const 0)) (f64.const 3.5))
            (assert_return (invoke "subr" (i32.const 0) (f64.const 2)))
            (assert_return (invoke "get" (i32.const 8)) (f64.const 1.5))
            (assert_return (invoke "divr" (i32.const 4) (i32.const 4) (f64.const 3)))
            (assert_return (invoke "get" (i32.const 8)) (f64.const 6))
            (assert_return (invoke "other_offset" (i32.const 0) (f64.const 2)))
            (assert_return (invoke "get" (i32.const 0)) (f64.const 3.5))
            (assert_return (invoke "get" (i32.const 8)) (f64.const 7))
            (assert_return (invoke "other_addr" (i32.const 8) (i32.const 16) (f64.const 0.5)))
            (assert_return (invoke "get" (i32.const 16)) (f64.const 3.5))
            (assert_trap (invoke "add" (i32.const 65529) (f64.const 1)) "out of bounds memory access")
            (assert_trap (invoke "subr" (i32.const 65521) (f64.const 1)) "out of bounds memory access")
            (assert_trap (invoke "divr" (i32.const 65528) (i32.const 1) (f64.const 1)) "out of bounds memory access")"#
        ));
    }

    /// An `i32.wrap_i64` feeding an operator that reads its i32 operands truncated is dropped
    /// (the operator reads the i64 slot); one feeding a `local.set` stays. An address that is
    /// the `i32.add` of two slots becomes an indexed access with shift 0 (either operand may
    /// come from the integer register), wrapping like the add.
    #[test]
    fn wraps_and_plain_indexed_addresses() {
        use crate::compile::ir::Instr;
        let body = r#"(module (memory 1)
          (func (export "add") (param $x i64) (result i32) (i32.add (i32.wrap_i64 (local.get $x)) (i32.const 1)))
          (func (export "ext") (param $x i64) (result i64) (i64.extend_i32_u (i32.wrap_i64 (local.get $x))))
          (func (export "set") (param $x i64) (result i32) (local $l i32)
            (local.set $l (i32.wrap_i64 (local.get $x))) (local.get $l))
          (func (export "ld") (param $x i64) (param $b i32) (result i32)
            (i32.load8_u (i32.add (i32.wrap_i64 (local.get $x)) (local.get $b))))
          (func (export "st") (param $a i32) (param $b i32) (param $v i32)
            (i32.store8 (i32.add (local.get $a) (local.get $b)) (local.get $v)))
          (func (export "st64") (param $x i64) (result i64)
            (i64.store (i32.const 0) (i64.extend_i32_u (i32.wrap_i64 (local.get $x))))
            (i64.load (i32.const 0)))
          (func (export "stf64") (param $x i64) (result i64)
            (f64.store (i32.const 8) (f64.reinterpret_i64 (i64.extend_i32_u (i32.wrap_i64 (local.get $x)))))
            (i64.load (i32.const 8)))
          (func (export "reg") (param $b i32) (param $i i32) (result i32)
            (local.set $b (i32.mul (local.get $b) (i32.const 3)))
            (i32.load (i32.add (local.get $b) (local.get $i)))))"#;
        let wraps = |f: usize| lower(body, f).iter().filter(|i| matches!(i, Instr::I32WrapI64(_))).count();
        // `i64.extend_i32_u` is no instruction: the wrap is what zero-extends.
        assert_eq!((wraps(0), wraps(1), wraps(2), wraps(3)), (0, 1, 1, 0));
        let ld = lower(body, 3);
        assert!(
            matches!(ld[1], Instr::I32Load8UIdx(x) if x.shift == 0 && x.base == 0 && x.idx == 1),
            "{ld:?}"
        );
        let st = lower(body, 4);
        assert!(st.iter().any(|i| matches!(i, Instr::I32Store8Idx(x) if x.shift == 0)), "{st:?}");
        let reg = lower(body, 7);
        assert!(
            reg.iter().any(|i| matches!(i, Instr::I32LoadIdxA(x) if x.idx == 0 && x.base == 1)),
            "{reg:?}"
        );
        run(&format!(
            r#"{body}
            (assert_return (invoke "add" (i64.const 0x1_0000_0005)) (i32.const 6))
            (assert_return (invoke "add" (i64.const 0x7_ffff_ffff)) (i32.const 0))
            (assert_return (invoke "ext" (i64.const -1)) (i64.const 0xffff_ffff))
            (assert_return (invoke "set" (i64.const 0x1_0000_0002)) (i32.const 2))
            (assert_return (invoke "st" (i32.const -1) (i32.const 5) (i32.const 0x1ab)))
            (assert_return (invoke "ld" (i64.const 0x1_0000_0003) (i32.const 1)) (i32.const 0xab))
            (assert_return (invoke "ld" (i64.const -1) (i32.const 5)) (i32.const 0xab))
            (assert_return (invoke "reg" (i32.const 1) (i32.const 1)) (i32.const 0xab))
            (assert_return (invoke "st64" (i64.const -1)) (i64.const 0xffff_ffff))
            (assert_return (invoke "stf64" (i64.const -1)) (i64.const 0xffff_ffff))
            (assert_trap (invoke "ld" (i64.const 0xffff) (i32.const 1)) "out of bounds memory access")
            (assert_trap (invoke "st" (i32.const 65535) (i32.const 1) (i32.const 0)) "out of bounds memory access")"#
        ));
    }

    /// `select` on a bit test (`and` with a constant, directly or through `eqz`) becomes one
    /// `SelectAnd`; not when the `eqz` and the `and` differ in width (a wrap between them).
    #[test]
    fn select_on_bit_tests() {
        use crate::compile::ir::Instr;
        let body = r#"(module
          (func (export "and") (param $a i32) (param $b i32) (param $x i32) (result i32)
            (select (local.get $a) (local.get $b) (i32.and (local.get $x) (i32.const 4))))
          (func (export "eqz") (param $a i32) (param $b i32) (param $x i32) (result i32)
            (select (local.get $a) (local.get $b) (i32.eqz (i32.and (local.get $x) (i32.const 4)))))
          (func (export "eqz64") (param $a i64) (param $b i64) (param $x i64) (result i64)
            (select (local.get $a) (local.get $b) (i64.eqz (i64.and (local.get $x) (i64.const -2)))))
          (func (export "wrapped") (param $a i32) (param $b i32) (param $x i64) (result i32)
            (select (local.get $a) (local.get $b)
              (i32.eqz (i32.wrap_i64 (i64.and (local.get $x) (i64.const -1))))))
          (func (export "collatz") (param $x i64) (result i64)
            (select (i64.shr_u (local.get $x) (i64.const 1))
                    (i64.add (i64.mul (local.get $x) (i64.const 3)) (i64.const 1))
                    (i64.eqz (i64.and (local.get $x) (i64.const 1))))))"#;
        let one = |f: usize, want: fn(&Instr) -> bool| {
            let code = lower(body, f);
            assert_eq!(code.iter().filter(|i| want(i)).count(), 1, "{code:?}");
            assert!(!code.iter().any(|i| matches!(i, Instr::I32AndImm(_) | Instr::I64AndImm(_))), "{code:?}");
        };
        one(0, |i| matches!(i, Instr::SelectAnd { a: 0, b: 1, c: 2, mask: 4, .. }));
        one(1, |i| matches!(i, Instr::SelectAnd { a: 1, b: 0, c: 2, mask: 4, .. }));
        one(2, |i| matches!(i, Instr::SelectAnd64 { a: 1, b: 0, c: 2, mask: -2, .. }));
        one(4, |i| matches!(i, Instr::SelectAnd64A { .. }));
        let wrapped = lower(body, 3);
        assert!(!wrapped.iter().any(|i| matches!(i, Instr::SelectAnd64 { .. })), "{wrapped:?}");
        run(&format!(
            r#"{body}
            (assert_return (invoke "and" (i32.const 10) (i32.const 20) (i32.const 4)) (i32.const 10))
            (assert_return (invoke "and" (i32.const 10) (i32.const 20) (i32.const 3)) (i32.const 20))
            (assert_return (invoke "eqz" (i32.const 10) (i32.const 20) (i32.const 4)) (i32.const 20))
            (assert_return (invoke "eqz" (i32.const 10) (i32.const 20) (i32.const 3)) (i32.const 10))
            (assert_return (invoke "eqz64" (i64.const 10) (i64.const 20) (i64.const 0x1_0000_0000)) (i64.const 20))
            (assert_return (invoke "eqz64" (i64.const 10) (i64.const 20) (i64.const 1)) (i64.const 10))
            (assert_return (invoke "wrapped" (i32.const 10) (i32.const 20) (i64.const 0x1_0000_0000)) (i32.const 10))
            (assert_return (invoke "wrapped" (i32.const 10) (i32.const 20) (i64.const 0x1_0000_0001)) (i32.const 20))
            (assert_return (invoke "collatz" (i64.const 6)) (i64.const 3))
            (assert_return (invoke "collatz" (i64.const 7)) (i64.const 22))"#
        ));
    }

    /// `x += y` of two slots right before `br_if (x OP z)` becomes one `…AddBr…S`, either
    /// operand order of the add, wrapping at the add's width.
    #[test]
    fn loop_steps_by_a_slot() {
        use crate::compile::ir::Instr;
        let body = r#"(module
          (func (export "le64") (param $n i64) (param $step i64) (result i64) (local $x i64) (local $c i64)
            (loop $l
              (local.set $c (i64.add (local.get $c) (i64.const 1)))
              (br_if $l (i64.le_u (local.tee $x (i64.add (local.get $x) (local.get $step))) (local.get $n))))
            (local.get $c))
          (func (export "ne32") (param $n i32) (param $step i32) (result i32) (local $x i32) (local $c i32)
            (loop $l
              (local.set $c (i32.add (local.get $c) (i32.const 1)))
              (br_if $l (i32.ne (local.tee $x (i32.add (local.get $step) (local.get $x))) (local.get $n))))
            (local.get $c)))"#;
        let le = lower(body, 0);
        assert!(
            le.iter().any(|i| matches!(i, Instr::I64LeUStepBr(x) if x.a == 2 && x.add == 1 && x.b == 0)),
            "{le:?}"
        );
        let ne = lower(body, 1);
        assert!(
            ne.iter().any(|i| matches!(i, Instr::I32NeStepBr(x) if x.a == 2 && x.add == 1 && x.b == 0)),
            "{ne:?}"
        );
        run(&format!(
            r#"{body}
            (assert_return (invoke "le64" (i64.const 10) (i64.const 3)) (i64.const 4))
            (assert_return (invoke "le64" (i64.const 5) (i64.const -1)) (i64.const 1))
            (assert_return (invoke "ne32" (i32.const -3) (i32.const -1)) (i32.const 3))
            (assert_return (invoke "ne32" (i32.const 6) (i32.const 2)) (i32.const 3))"#
        ));
    }

    /// Constant store values become immediates (truncated to the store's width; a 64-bit value
    /// only when it fits a sign-extended i32).
    #[test]
    fn constant_store_values() {
        use crate::compile::ir::Instr;
        let body = r#"(module (memory 1)
          (func (export "s") (param $a i32)
            (i64.store (local.get $a) (i64.const -2))
            (i64.store offset=8 (local.get $a) (i64.const 0x1_0000_0005))
            (i32.store8 offset=16 (local.get $a) (i32.const 0x1ff))
            (i64.store32 offset=20 (local.get $a) (i64.const 0x7_8000_0001))
            (i64.store16 offset=24 (local.get $a) (i64.const -1)))
          (func (export "ld") (param $a i32) (result i64) (i64.load (local.get $a))))"#;
        let code = lower(body, 0);
        let ks = code
            .iter()
            .filter(|i| {
                matches!(
                    i,
                    Instr::I64StoreK(_)
                        | Instr::I32Store8K(_)
                        | Instr::I64Store32K(_)
                        | Instr::I32Store16K(_)
                )
            })
            .count();
        assert_eq!(ks, 4, "{code:?}");
        run(&format!(
            r#"{body}
            (assert_return (invoke "s" (i32.const 100)))
            (assert_return (invoke "ld" (i32.const 100)) (i64.const -2))
            (assert_return (invoke "ld" (i32.const 108)) (i64.const 0x1_0000_0005))
            (assert_return (invoke "ld" (i32.const 116)) (i64.const 0x8000_0001_0000_00ff))
            (assert_return (invoke "ld" (i32.const 120)) (i64.const 0xffff_8000_0001))"#
        ));
    }

    /// `local.tee`/`local.set` of a computed value while older reads of the local are still
    /// on the stack: the reads see the old value, the local the new one.
    #[test]
    fn set_and_tee_with_pending_reads_of_the_local() {
        run(r#"(module (memory 1)
          (func (export "tee") (param $x i32) (result i32)
            (i32.sub (local.get $x) (local.tee $x (i32.load (i32.const 0)))))
          (func (export "set") (param $x i32) (result i32)
            (local.get $x)
            (local.set $x (i32.mul (local.get $x) (i32.const 3)))
            (i32.sub (local.get $x)))
          (data (i32.const 0) "\05"))
          (assert_return (invoke "tee" (i32.const 12)) (i32.const 7))
          (assert_return (invoke "set" (i32.const 4)) (i32.const -8))"#);
    }

    /// `x += c` followed by a conditional branch on `x` becomes one instruction, but never
    /// across a label (a branch landing between them must not run the add).
    #[test]
    fn loop_steps_fuse_but_not_across_labels() {
        use crate::compile::ir::Instr;
        let count = r#"(module (func (export "count") (result i32) (local $i i32) (local $c i32)
            (loop $l
              (local.set $c (i32.add (local.get $c) (i32.const 1)))
              (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 3))) (i32.const 30))))
            (local.get $c)))"#;
        assert!(lower(count, 0).iter().any(|i| matches!(i, Instr::I32NeStepImmBr(_))));
        let lab = r#"(module (func (export "lab") (param $x i32) (param $skip i32) (result i32)
            (block $done
              (block $b
                (br_if $b (local.get $skip))
                (local.set $x (i32.add (local.get $x) (i32.const 1))))
              (br_if $done (local.get $x))
              (return (i32.const 100)))
            (local.get $x)))"#;
        let code = lower(lab, 0);
        assert!(!code.iter().any(|i| format!("{i:?}").contains("Step")), "{code:?}");
        run(&format!(
            r#"{count}
            (assert_return (invoke "count") (i32.const 10))
            {lab}
            (assert_return (invoke "lab" (i32.const -1) (i32.const 1)) (i32.const -1))
            (assert_return (invoke "lab" (i32.const -1) (i32.const 0)) (i32.const 100))
            (assert_return (invoke "lab" (i32.const 4) (i32.const 0)) (i32.const 5))"#
        ));
    }

    /// `select(a, b, eqz(c))` becomes `select(b, a, c)`; for `i64.eqz` all 64 bits of `c`
    /// count.
    #[test]
    fn select_on_eqz_swaps_operands() {
        use crate::compile::ir::Instr;
        let m = r#"(module
          (func (export "s32") (param $a i32) (param $b i32) (param $c i32) (result i32)
            (select (local.get $a) (local.get $b) (i32.eqz (local.get $c))))
          (func (export "s64") (param $a i32) (param $b i32) (param $c i64) (result i32)
            (select (local.get $a) (local.get $b) (i64.eqz (local.get $c)))))"#;
        let code = lower(m, 0);
        assert!(code.iter().any(|i| matches!(i, Instr::Select { a: 1, b: 0, cond: 2, .. })), "{code:?}");
        assert!(!code.iter().any(|i| matches!(i, Instr::I32Eqz(_))), "{code:?}");
        let code = lower(m, 1);
        assert!(code.iter().any(|i| matches!(i, Instr::Select64 { .. })), "{code:?}");
        run(&format!(
            r#"{m}
            (assert_return (invoke "s32" (i32.const 10) (i32.const 20) (i32.const 0)) (i32.const 10))
            (assert_return (invoke "s32" (i32.const 10) (i32.const 20) (i32.const 7)) (i32.const 20))
            (assert_return (invoke "s64" (i32.const 1) (i32.const 2) (i64.const 0)) (i32.const 1))
            (assert_return (invoke "s64" (i32.const 1) (i32.const 2) (i64.const 0x1_0000_0000)) (i32.const 2))
            (assert_return (invoke "s64" (i32.const 1) (i32.const 2) (i64.const -1)) (i32.const 2))"#
        ));
    }
}
