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

mod control;
mod fusion;
mod memory;
mod stack;
mod visit;

use super::ir::{CompiledFunc, Instr, RefMap, Slot};
use crate::error::Error;
use crate::parse::Module;
use wasmparser::{FuncValidator, FunctionBody, ValidatorResources};

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
        if !at(pc - 1).is_some_and(|i| matches!(i, Instr::Poll { .. }) || i.as_call().is_some()) {
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
        if !new.iter().any(|i| matches!(i, Instr::Poll { .. }) || i.as_call().is_some()) {
            return;
        }
        let vh = v.operand_stack_height() as usize;
        if vh != self.stack.len() {
            return; // unreachable code: nothing is emitted there anyway
        }
        for pc in before.min(self.code.len())..self.code.len() {
            let live_below = match self.code[pc] {
                Instr::Poll { height, .. } => height,
                Instr::Call { base, .. }
                | Instr::CallIndirect { base, .. }
                | Instr::ReturnCall { base, .. }
                | Instr::ReturnCallIndirect { base, .. } => u32::from(base),
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
}

#[cfg(test)]
mod tests;
