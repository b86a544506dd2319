//! Control flow: blocks, labels and their patches, branches, and the `Poll` safe points.

use super::fusion::fuse_compare;
use super::{Kind, KONST, T};
use crate::compile::ir::{Instr, Slot};
use crate::compile::stackmap::PointKind;
use crate::error::Error;
use crate::runtime::value::ValType;
use wasmparser::BlockType;

impl T<'_> {
    pub(super) fn bind_label(&mut self) {
        self.last_result = None;
        self.label_pos = self.code.len() as u32;
    }

    pub(super) fn patch(&mut self, at: u32, target: u32) {
        let patched = self.code[at as usize].map_branch_target(|_| target);
        assert!(patched, "patching a non-branch instruction");
    }

    pub(super) fn emit_poll(&mut self) {
        let height = self.num_locals + self.base_at(self.height());
        let idx = self.emit(Instr::Poll { cost: 0, height });
        self.polls.push((idx, 0));
        self.record_point(idx, PointKind::SafePoint, &[]);
    }

    pub(super) fn close_poll(&mut self) {
        let (idx, n) = self.polls.pop().expect("poll stack");
        if let Instr::Poll { cost, .. } = &mut self.code[idx as usize] {
            *cost = n.max(1);
        }
    }

    pub(super) fn block_arity(&self, bt: BlockType) -> (u32, u32) {
        match bt {
            BlockType::Empty => (0, 0),
            BlockType::Type(_) => (0, 1),
            BlockType::FuncType(i) => {
                let ft = &self.m.types[i as usize];
                (ft.params.len() as u32, ft.results.len() as u32)
            }
        }
    }

    /// The parameter and result types of a block type where one is a `v128` (else empty:
    /// all values take one slot).
    pub(super) fn block_types(&self, bt: BlockType) -> (Vec<ValType>, Vec<ValType>) {
        match bt {
            BlockType::Empty => (Vec::new(), Vec::new()),
            BlockType::Type(t) => match crate::parse::val_type(t) {
                Ok(ValType::V128) => (Vec::new(), vec![ValType::V128]),
                _ => (Vec::new(), Vec::new()),
            },
            BlockType::FuncType(i) => {
                let ft = &self.m.types[i as usize];
                (super::wide(&ft.params), super::wide(&ft.results))
            }
        }
    }

    /// A block of `bt` above stack height `base`.
    pub(super) fn ctrl_of(&self, kind: Kind, bt: BlockType, base: u32, handler: bool) -> super::Ctrl {
        let (p, r) = self.block_arity(bt);
        let (ptys, rtys) = self.block_types(bt);
        let mut c = super::Ctrl::block(base, p, r, handler);
        (c.kind, c.ptys, c.rtys) = (kind, ptys, rtys);
        c
    }

    /// How values travel to the label at `depth`: (arity, is_function_label).
    pub(super) fn label_arity(&self, depth: u32) -> (u32, usize) {
        let i = self.ctrl.len() - 1 - depth as usize;
        let c = &self.ctrl[i];
        let arity = if c.kind == Kind::Loop { c.params } else { c.results };
        (arity, i)
    }

    /// Builds (without emitting) the unconditional branch to the label at `depth`, after making
    /// sure the carried values sit in canonical slots. Returns the instruction and whether it is
    /// a forward branch to be patched at the end of ctrl frame `ci`.
    pub(super) fn branch_instr(&mut self, depth: u32) -> (Instr, Option<usize>) {
        let (arity, ci) = self.label_arity(depth);
        // A single result returned from wherever it is (a local, say); anything else from
        // canonical slots.
        let from = if self.ctrl[ci].kind == Kind::Func && arity == 1 {
            if *self.stack.last().unwrap() == KONST {
                self.materialize_top(1);
            }
            *self.stack.last().unwrap()
        } else {
            self.materialize_top(arity);
            self.canon(self.height() - arity)
        };
        let n = self.top_slots(arity);
        self.branch_to(ci, from, n)
    }

    /// The unconditional branch to the label of ctrl frame `ci` carrying the `n` slots of
    /// values from slot `from` on, and whether it is a forward branch to be patched at the end
    /// of `ci`.
    pub(super) fn branch_to(&self, ci: usize, from: Slot, n: u32) -> (Instr, Option<usize>) {
        let c = &self.ctrl[ci];
        if c.kind == Kind::Func {
            return (Instr::Return { from, n: n as u16 }, None);
        }
        let (target, fwd) = if c.kind == Kind::Loop { (c.label, None) } else { (0, Some(ci)) };
        let to = self.canon(c.base);
        if n == 0 || from == to {
            (Instr::Br { target }, fwd)
        } else {
            (Instr::BrCopy { target, from, to, n: n as u16 }, fwd)
        }
    }

    pub(super) fn emit_branch(&mut self, depth: u32) {
        let b = self.branch_instr(depth);
        self.emit_patched(b);
    }

    /// Emits a branch built by [`T::branch_to`], registering it for patching if forward.
    pub(super) fn emit_patched(&mut self, (i, fwd): (Instr, Option<usize>)) {
        let idx = self.emit(i);
        if let Some(ci) = fwd {
            self.ctrl[ci].patches.push(idx);
        }
    }

    /// Emits a conditional jump on the (already popped) condition `cond`, fusing a preceding
    /// comparison when possible. `when_true`: jump if the condition is non-zero.
    pub(super) fn emit_cond_jump(&mut self, cond: Slot, when_true: bool, target: u32) -> u32 {
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

    pub(super) fn end_block(&mut self) -> Result<(), Error> {
        let c = self.ctrl.pop().expect("validated: control stack");
        if c.dead {
            return Ok(());
        }
        if c.kind == Kind::Catch && !self.unreachable {
            // A legacy catch clause's results sit above its hidden exception: to the base.
            let r = c.results;
            self.materialize_top(r);
            self.ctrl.push(c);
            let ci = self.ctrl.len() - 1;
            let b = self.branch_to(ci, self.canon(self.height() - r), self.top_slots(r));
            self.emit_patched(b);
            return self.end_catch();
        }
        self.end_block_of(c)
    }

    /// The end of a legacy `catch` clause whose results went to the base (the clause is the
    /// top of `ctrl` again).
    fn end_catch(&mut self) -> Result<(), Error> {
        let c = self.ctrl.pop().expect("the catch clause");
        self.unreachable = true;
        self.end_block_of(c)
    }

    fn end_block_of(&mut self, c: super::Ctrl) -> Result<(), Error> {
        // Delegates to this block resume the search at the first handler completed from here
        // on: this block's own, if it has one, then those around it.
        let ci = self.ctrl.len();
        let resume = self.handlers.len() as u32;
        for &(_, h) in self.delegates.iter().filter(|(t, _)| *t == ci) {
            self.handlers[h].delegate = Some(resume);
        }
        self.delegates.retain(|(t, _)| *t != ci);
        if c.kind == Kind::Catch {
            self.hidden.pop();
        }
        if c.handler {
            let mut h = self.open_handlers.pop().expect("try_table handlers");
            if c.kind != Kind::Catch {
                h.end = self.pc();
            }
            self.handlers.push(h);
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
        self.push_results(c.results, &c.rtys)?;
        self.unreachable = false;
        Ok(())
    }

    pub(super) fn count_op(&mut self) {
        if let Some(p) = self.polls.last_mut() {
            p.1 = p.1.saturating_add(1);
        }
    }
}
