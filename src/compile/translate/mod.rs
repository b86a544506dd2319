//! Wasm operators → slot-machine code, with validation fused in (wasmparser's `FuncValidator`
//! sees every operator first, so the lowering may assume a valid body).
//!
//! The lowering tracks, for every height `h` of the Wasm operand stack, the slot where that value
//! currently lives: its *canonical* slot `num_locals + base[h]`, or a local's slot when a
//! `local.get` was deferred. Every value takes one slot except a `v128`, which takes two
//! (`base` counts the slots below each height; for a function without `v128` values
//! `base[h] = h`, and a local's slot is its index). Deferred locals are materialized when the local is about to be overwritten and
//! at every block boundary, so that all control-flow paths agree on where values live.
//!
//! Instruction units for `Poll`: each safe point is charged the number of Wasm operators that
//! belong directly to its loop body (or, for the entry safe point, to the function body outside
//! any loop). One loop iteration thus costs its body size, deterministic on every host.

mod control;
mod fusion;
mod memory;
mod stack;
mod visit;

use super::ir::{CompiledFunc, Handler, Instr, Slot};
use super::stackmap::{self, Loc, PointKind};
use super::Lowering;
use crate::error::Error;
use crate::parse::Module;
use crate::runtime::value::ValType;
use wasmparser::{FuncValidator, FunctionBody, ValidatorResources};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Func,
    Block,
    Loop,
    If,
    Else,
    /// The body of a legacy `try` (exception handling's first form).
    Try,
    /// A `catch`/`catch_all` clause of a legacy `try`: the caught exception (for `rethrow`) is a
    /// hidden `exnref` operand at the block's base, below the clause's operands.
    Catch,
}

#[derive(Debug)]
struct Ctrl {
    kind: Kind,
    /// Stack height below the block's parameters.
    base: u32,
    params: u32,
    results: u32,
    /// The types of the parameters and results (only where one is a `v128`: empty otherwise,
    /// all of one slot).
    ptys: Vec<ValType>,
    rtys: Vec<ValType>,
    /// For loops: the instruction index of the loop header (its `Poll`).
    label: u32,
    /// Forward branches to patch with the end of this block.
    patches: Vec<u32>,
    /// For `if`: the conditional jump to patch with the start of `else` (or the end).
    else_patch: Option<u32>,
    /// Entered in unreachable code: nothing inside is emitted.
    dead: bool,
    /// A `try_table` or legacy `try`: its handlers are the last of `T::open_handlers`.
    handler: bool,
}

impl Ctrl {
    /// A block (`block`, `try_table`) of `params` and `results` above stack height `base`.
    fn block(base: u32, params: u32, results: u32, handler: bool) -> Ctrl {
        Ctrl {
            kind: Kind::Block,
            base,
            params,
            results,
            ptys: Vec::new(),
            rtys: Vec::new(),
            label: 0,
            patches: Vec::new(),
            else_patch: None,
            dead: false,
            handler,
        }
    }
}

/// Buffers reused across functions.
#[derive(Default)]
pub struct Context {
    stack: Vec<Slot>,
    ctrl: Vec<Ctrl>,
    polls: Vec<(u32, u32)>,
    konst: Vec<(u64, bool)>,
    map: stackmap::Builder,
    pre_types: Vec<ValType>,
    base: Vec<u32>,
    local_slot: Vec<Slot>,
    /// The `v128.const` values and `i8x16.shuffle` lane masks of the functions lowered with
    /// this context, in order (instructions name them by index: [`crate::parse::Module::pool`]).
    pub(crate) pool: Vec<[u8; 16]>,
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
    /// The slots the locals take (parameters first): the operand stack starts there.
    num_locals: u32,
    /// For every height `h` up to the operand stack's, the slots below it in the operand area
    /// (`base[0] = 0`). Kept on pop: `canon(h)` of a value just popped is where it lived.
    base: Vec<u32>,
    /// The slot of every local (its first, for a `v128`), and the local slots after the last.
    local_slot: Vec<Slot>,
    /// The most slots the operand stack ever took.
    max_height: u32,
    /// See [`Context::pool`].
    pool: Vec<[u8; 16]>,
    /// The pool's length when this function's lowering started.
    pool_start: usize,
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
    /// [`Lowering::Plain`]: no fusion, no deferred operands.
    plain: bool,
    /// The stack map being recorded.
    map: stackmap::Builder,
    /// Types of the Wasm operand stack before the operator being lowered, bottom first (for
    /// the operators that record a stack-map point: `loop` and the calls).
    pre_types: Vec<ValType>,
    /// Set when a point could not be recorded consistently (an internal error).
    map_broken: bool,
    /// Whether `pre_types` holds the operand types of the operator being lowered (not when
    /// the stack map is over its budget: the point is then recorded without them).
    pre_types_known: bool,
    /// The handlers of the `try_table`s being lowered (innermost last), and of those done
    /// (innermost first).
    open_handlers: Vec<Handler>,
    handlers: Vec<Handler>,
    /// Legacy `delegate`s waiting for the end of the block they delegate to: (its index in
    /// `ctrl`, the delegating handler's index in `handlers`).
    delegates: Vec<(usize, usize)>,
    /// Heights of the hidden `exnref` operands of the legacy `catch` clauses being lowered
    /// (ascending), which the validator's operand stack does not have.
    hidden: Vec<u32>,
}

/// `tys` where one is a `v128`, else nothing (all of one slot): what a [`Ctrl`] keeps of the
/// types of its parameters and results.
fn wide(tys: &[ValType]) -> Vec<ValType> {
    if tys.contains(&ValType::V128) {
        tys.to_vec()
    } else {
        Vec::new()
    }
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
    let mut groups = Vec::new();
    for _ in 0..locals.get_count() {
        let offset = locals.original_position();
        let (count, vt) = locals.read().map_err(Error::from_parser)?;
        let t =
            crate::parse::val_type(vt).map_err(|message| Error::Invalid { offset: Some(offset), message })?;
        v.define_locals(offset, count, vt).map_err(Error::from_parser)?;
        num_locals = num_locals.saturating_add(count);
        groups.push((count, t));
    }
    let mut local_slot = std::mem::take(&mut ctx.local_slot);
    local_slot.clear();
    let mut local_slots = 0u32;
    if num_locals <= u16::MAX as u32 {
        let types = ty.params.iter().copied().chain(groups.iter().flat_map(|&(n, t)| (0..n).map(move |_| t)));
        for t in types {
            local_slot.push(local_slots.min(u16::MAX as u32) as Slot);
            local_slots += t.slots() as u32;
        }
        local_slot.push(local_slots.min(u16::MAX as u32) as Slot);
    }
    let mut t = T {
        m,
        code: Vec::new(),
        offsets: Vec::new(),
        stack: std::mem::take(&mut ctx.stack),
        ctrl: std::mem::take(&mut ctx.ctrl),
        polls: std::mem::take(&mut ctx.polls),
        num_locals: local_slots,
        base: std::mem::take(&mut ctx.base),
        local_slot,
        max_height: 0,
        pool_start: ctx.pool.len(),
        pool: std::mem::take(&mut ctx.pool),
        unreachable: false,
        last_result: None,
        narrow: false,
        label_pos: 0,
        konst: std::mem::take(&mut ctx.konst),
        offset: body.range().start as u32,
        plain: m.lowering == Lowering::Plain,
        map: std::mem::take(&mut ctx.map),
        pre_types: std::mem::take(&mut ctx.pre_types),
        map_broken: false,
        pre_types_known: true,
        open_handlers: Vec::new(),
        handlers: Vec::new(),
        delegates: Vec::new(),
        hidden: Vec::new(),
    };
    t.map.start((body.range().end - body.range().start) as usize);
    t.pre_types.clear();
    t.stack.clear();
    t.ctrl.clear();
    t.polls.clear();
    t.base.clear();
    t.base.push(0);
    if num_locals > u16::MAX as u32 || local_slots > u16::MAX as u32 {
        return Err(too_complex(t.offset));
    }
    t.ctrl.push(Ctrl {
        kind: Kind::Func,
        base: 0,
        params: 0,
        results: ty.results.len() as u32,
        ptys: Vec::new(),
        rtys: wide(&ty.results),
        label: 0,
        patches: Vec::new(),
        else_patch: None,
        dead: false,
        handler: false,
    });
    t.emit_poll();
    let mut br = body.get_binary_reader_for_operators().map_err(Error::from_parser)?;
    // The reader knows the legacy exception operators, so that `in_scope` names them.
    br.set_features(crate::parse::features() | wasmparser::WasmFeatures::LEGACY_EXCEPTIONS);
    let mut reader = wasmparser::OperatorsReader::new(br);
    while !reader.eof() {
        let (op, offset) = reader.read_with_offset().map_err(Error::from_parser)?;
        crate::parse::in_scope(&op).map_err(|message| Error::Invalid { offset: Some(offset), message })?;
        if records_point(&op) && !t.unreachable {
            // Beyond the map's budget the operand stack is not even looked at (a hostile body
            // would otherwise cost time quadratic in its size too).
            t.pre_types_known = t.map.room_for(v.operand_stack_height() as usize);
            if t.pre_types_known {
                t.note_pre_types(v);
            }
        }
        v.op(offset, &op).map_err(Error::from_parser)?;
        t.offset = offset as u32;
        t.op(op)?;
    }
    reader.finish().map_err(Error::from_parser)?;
    let max_slots = (local_slots + t.max_height).max(ty.param_slots() as u32).max(ty.result_slots() as u32);
    if !t.plain {
        let pads: Vec<u32> = t.handlers.iter().flat_map(|h| h.catches.iter().map(|c| c.pad)).collect();
        super::accumulator::forward(&mut t.code, pads.iter().copied());
        super::pairs::fuse(&mut t.code, pads);
    }
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
    // Stack-map points must still be Polls and calls (no later rewrite moves those), in
    // ascending code and Wasm order.
    let points = t.map.points();
    let ok = !t.map_broken
        && points.iter().all(|p| {
            let i = t.code.get(p.pc as usize).copied();
            match p.kind {
                PointKind::SafePoint => matches!(i, Some(Instr::Poll { .. })),
                PointKind::Call => i.and_then(Instr::as_call).is_some(),
            }
        })
        && points.windows(2).all(|w| w[0].pc < w[1].pc && w[0].offset < w[1].offset);
    if !ok {
        return Err(internal("the stack map does not match the lowered code"));
    }
    let mut local_types = Vec::with_capacity(num_locals as usize);
    for l in 0..num_locals {
        let lt = v.get_local_type(l).ok_or_else(|| internal("a local without a type"))?;
        local_types.push(crate::parse::val_type(lt).map_err(|e| internal(&e))?);
    }
    let map = t.map.finish(local_types.into());
    let f = CompiledFunc {
        map,
        code: std::mem::take(&mut t.code),
        offsets: std::mem::take(&mut t.offsets),
        num_params: ty.param_slots() as u32,
        num_locals: local_slots,
        num_results: ty.result_slots() as u32,
        max_slots,
        enter_slots: CompiledFunc::enter_slots(ty.param_slots() as u32, local_slots, max_slots),
        handlers: std::mem::take(&mut t.handlers).into(),
    };
    ctx.stack = t.stack;
    ctx.ctrl = t.ctrl;
    ctx.polls = t.polls;
    ctx.konst = t.konst;
    ctx.map = t.map;
    ctx.pre_types = t.pre_types;
    ctx.base = t.base;
    ctx.local_slot = t.local_slot;
    ctx.pool = t.pool;
    Ok(f)
}

impl T<'_> {
    /// Before the validator sees a `loop` or call: the types of the operand stack, bottom first.
    fn note_pre_types(&mut self, v: &FuncValidator<ValidatorResources>) {
        self.pre_types.clear();
        let n = v.operand_stack_height() as usize;
        for d in (0..n).rev() {
            match v.get_operand_type(d).flatten().map(crate::parse::val_type) {
                Some(Ok(t)) => self.pre_types.push(t),
                _ => self.map_broken = true,
            }
        }
    }

    /// Records a stack-map point for the `Poll` or call at `pc`: the operand stack as the
    /// lowering holds it now (the values below a call's arguments, which it has popped), then
    /// `consumed`, the slots of the operands the call takes (arguments, table index).
    pub(super) fn record_point(&mut self, pc: u32, kind: PointKind, consumed: &[Slot]) {
        let below = self.stack.len();
        if !self.pre_types_known || !self.map.room_for(below + consumed.len()) {
            self.map.push_unmapped(pc, self.offset, kind, consumed.len() as u32);
            return;
        }
        if below + consumed.len() != self.pre_types.len() + self.hidden.len() {
            self.map_broken = true;
            return;
        }
        // The caught exceptions of legacy `catch` clauses, in the operand stack as the
        // `exnref`s they are (the spec's `caught` contexts).
        if !self.hidden.is_empty() {
            let mut types = Vec::with_capacity(below + consumed.len());
            let mut rest = self.pre_types.iter();
            for h in 0..(below + consumed.len()) as u32 {
                match self.hidden.contains(&h) {
                    true => types.push(ValType::ExnRef),
                    false => types.push(rest.next().copied().unwrap_or(ValType::I32)),
                }
            }
            self.pre_types = types;
        }
        let (stack, konst) = (&self.stack, &self.konst);
        let locs = (0..below)
            .map(|h| if stack[h] == KONST { Loc::Const(konst[h].0) } else { Loc::Slot(stack[h]) })
            .chain(consumed.iter().map(|&s| Loc::Slot(s)));
        self.map.push(pc, self.offset, kind, &self.pre_types, locs, consumed.len() as u32);
    }

    fn emit(&mut self, i: Instr) -> u32 {
        let idx = self.code.len() as u32;
        self.code.push(i);
        self.offsets.push(self.offset);
        self.last_result = None;
        idx
    }
}

/// Whether lowering `op` records a stack-map point (`loop`: its `Poll`; the calls).
fn records_point(op: &wasmparser::Operator<'_>) -> bool {
    use wasmparser::Operator as O;
    matches!(
        op,
        O::Loop { .. }
            | O::Call { .. }
            | O::CallIndirect { .. }
            | O::ReturnCall { .. }
            | O::ReturnCallIndirect { .. }
            | O::CallRef { .. }
            | O::ReturnCallRef { .. }
    )
}

#[cfg(test)]
mod tests;
