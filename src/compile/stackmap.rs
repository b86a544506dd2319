//! Stack maps: for every position where a checkpoint can find a frame, where the frame's Wasm
//! values live in the lowered code.
//!
//! A checkpoint (format version 2) describes each frame in WebAssembly terms only: function
//! index, the Wasm code offset of the safe point or call where it stands, its locals and its
//! Wasm operand stack as typed values. The lowering is free to keep those values anywhere; the
//! stack map it records says where, so that capture can read them and restore can place them
//! for *this* build's code, whichever build (or lowering, `CHIWAWA_LOWERING`) wrote the file.
//!
//! Recorded for
//! - every `Poll` safe point (function entry, loop headers): the whole operand stack, which
//!   the lowering has materialized in canonical slots there;
//! - every call instruction (`call`, `call_indirect`, their `return_call` forms): the operand
//!   stack before the operator, its arguments (and table index) included. A frame waiting for
//!   its callee holds the values below the arguments; a frame suspended at the call by its
//!   host function holds them all (the call runs again on resume).
//!
//! A value lives in a slot — its canonical slot, or a local's slot when the lowering deferred a
//! `local.get` — or is a constant the lowering has not written anywhere yet. Locals always live
//! in slots `0..num_locals`. Consulted only at checkpoint and restore, never while running.

use super::ir::Slot;
use crate::runtime::value::ValType;

/// Where a live Wasm operand sits at a resume position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loc {
    /// In this frame slot. Below `num_locals` it is a deferred `local.get` of that local: the
    /// value equals the local's (the lowering materializes such reads before the local changes).
    Slot(Slot),
    /// A constant not written anywhere yet (raw slot bits).
    Const(u64),
}

/// What kind of position a [`Point`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PointKind {
    /// A `Poll` (its Wasm offset is the `loop`'s, or the function body's for the entry).
    SafePoint,
    /// A call instruction (its Wasm offset is the call operator's).
    Call,
}

/// One resume position of a function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Point {
    /// Index of the `Poll` or call instruction in the lowered code.
    pub pc: u32,
    /// Byte offset in the module of the Wasm operator (`loop`, call, or the body start).
    pub offset: u32,
    pub kind: PointKind,
    /// The operand-stack entries of the point: `entries[first .. first + len]`, bottom first.
    first: u32,
    len: u32,
    /// For calls: how many of the top entries the call consumes (arguments, and the table
    /// index of an indirect call).
    pub consumed: u32,
    /// Whether the operand stack is recorded: not when the function's map reached its budget
    /// (see [`Builder::room_for`]); a frame cannot be captured or restored at such a point.
    pub mapped: bool,
}

/// The stack map of one lowered function.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StackMap {
    /// Type of every local, parameters first.
    locals: Box<[ValType]>,
    /// Resume positions, by ascending `pc` (and so by ascending Wasm offset: code is emitted
    /// in operator order).
    points: Box<[Point]>,
    types: Box<[ValType]>,
    /// Slot, or `u16::MAX` for a constant (the next one of `consts`, in entry order).
    slots: Box<[Slot]>,
    consts: Box<[(u32, u64)]>,
}

const CONST: Slot = Slot::MAX;

impl StackMap {
    pub fn local_types(&self) -> &[ValType] {
        &self.locals
    }

    pub fn points(&self) -> &[Point] {
        &self.points
    }

    /// The point at instruction `pc` (a `Poll` or a call).
    pub fn at_pc(&self, pc: u32) -> Option<&Point> {
        self.points.binary_search_by_key(&pc, |p| p.pc).ok().map(|i| &self.points[i])
    }

    /// The point of `kind` at Wasm offset `offset`.
    pub fn at_offset(&self, offset: u32, kind: PointKind) -> Option<&Point> {
        let i = self.points.partition_point(|p| p.offset < offset);
        self.points[i..].iter().take_while(|p| p.offset == offset).find(|p| p.kind == kind)
    }

    /// The operand-stack entries of `p`, bottom first: (type, location).
    pub fn entries<'a>(&'a self, p: &Point) -> impl Iterator<Item = (ValType, Loc)> + 'a {
        let (a, b) = (p.first as usize, (p.first + p.len) as usize);
        let consts = &self.consts;
        self.types[a..b].iter().zip(&self.slots[a..b]).enumerate().map(move |(k, (&t, &s))| {
            let loc = if s == CONST {
                let at = (a + k) as u32;
                let i = consts.partition_point(|&(e, _)| e < at);
                Loc::Const(consts[i].1)
            } else {
                Loc::Slot(s)
            };
            (t, loc)
        })
    }

    /// Whether `p`'s operand stack is recorded ([`Point::mapped`]).
    pub fn is_mapped(&self, p: &Point) -> bool {
        p.mapped
    }

    /// Number of operand-stack entries of `p`.
    pub fn height(&self, p: &Point) -> u32 {
        p.len
    }

    /// Heap bytes this map occupies.
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        self.locals.len() * size_of::<ValType>()
            + self.points.len() * size_of::<Point>()
            + self.types.len() * size_of::<ValType>()
            + self.slots.len() * size_of::<Slot>()
            + self.consts.len() * size_of::<(u32, u64)>()
    }
}

/// Operand-stack entries a function's stack map may hold: [`BUDGET_PER_BYTE`] per byte of
/// the function body, plus [`BUDGET_BASE`]. A point costs its whole operand stack, so a
/// hostile body (a deep stack of constants, then many calls) would otherwise make the maps
/// quadratic in its size. Real programs stay far below: sqlite, quickjs and lua record about
/// 0.1 entry per body byte.
pub const BUDGET_PER_BYTE: u64 = 4;
pub const BUDGET_BASE: u64 = 1 << 16;

/// Builds a [`StackMap`] during lowering.
#[derive(Default)]
pub(crate) struct Builder {
    budget: u64,
    points: Vec<Point>,
    types: Vec<ValType>,
    slots: Vec<Slot>,
    consts: Vec<(u32, u64)>,
}

impl Builder {
    /// Starts the map of a function body of `body_len` bytes.
    pub(crate) fn start(&mut self, body_len: usize) {
        self.clear();
        self.budget = BUDGET_BASE + BUDGET_PER_BYTE * body_len as u64;
    }

    /// Whether a point with `n` operand-stack entries still fits the budget.
    pub(crate) fn room_for(&self, n: usize) -> bool {
        self.types.len() as u64 + n as u64 <= self.budget
    }

    /// Records a point whose operand stack does not fit the budget.
    pub(crate) fn push_unmapped(&mut self, pc: u32, offset: u32, kind: PointKind, consumed: u32) {
        let first = self.types.len() as u32;
        self.points.push(Point { pc, offset, kind, first, len: 0, consumed, mapped: false });
    }

    pub(crate) fn clear(&mut self) {
        self.points.clear();
        self.types.clear();
        self.slots.clear();
        self.consts.clear();
    }

    /// Records the point at `pc`; `types` and `locs` are the operand stack, bottom first, of
    /// the same length (checked by the caller).
    pub(crate) fn push(
        &mut self,
        pc: u32,
        offset: u32,
        kind: PointKind,
        types: &[ValType],
        locs: impl Iterator<Item = Loc>,
        consumed: u32,
    ) {
        let first = self.types.len() as u32;
        self.types.extend_from_slice(types);
        for l in locs {
            match l {
                Loc::Slot(s) => self.slots.push(s),
                Loc::Const(v) => {
                    self.consts.push((self.slots.len() as u32, v));
                    self.slots.push(CONST);
                }
            }
        }
        self.points.push(Point { pc, offset, kind, first, len: types.len() as u32, consumed, mapped: true });
    }

    /// Points recorded so far.
    pub(crate) fn points(&self) -> &[Point] {
        &self.points
    }

    pub(crate) fn finish(&mut self, locals: Box<[ValType]>) -> StackMap {
        StackMap {
            locals,
            points: self.points.as_slice().into(),
            types: self.types.as_slice().into(),
            slots: self.slots.as_slice().into(),
            consts: self.consts.as_slice().into(),
        }
    }
}
