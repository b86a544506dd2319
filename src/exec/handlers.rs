//! The dispatch loop, replicated: one handler function per instruction kind.
//!
//! Every handler executes its instruction and then *dispatches* the next one itself: it loads
//! the next instruction's tag, looks its handler up in `HANDLERS` and calls it in tail
//! position with the same signature. With optimizations on (`cfg(chiwawa_tail_calls)`, set by
//! `build.rs`) LLVM turns that call into a jump, so each handler ends in its own indirect jump
//! (threaded code: no single shared, unpredictable dispatch branch) and the interpreter state
//! the hot path needs — instruction pointer, frame slots, memory base and length, the
//! safe-point countdown — stays in machine registers as the handlers' arguments. Without
//! guaranteed tail calls (unoptimized builds, and wasm32, where hosts' `return_call_indirect`
//! is slow) the same handlers are inlined into one `loop { match }` in `execute` instead
//! (the *switch* backend): each returns its successor state, which stays in locals.
//!
//! Every handler ends in exactly one dispatch: its body (a closure, inlined) computes the next
//! instruction, and the single call after it is the only one in tail position. Several calls in
//! tail position would be merged into one return block by LLVM, and on wasm32 that block is no
//! tail position any more (`return_call` needs the call right before the return). To stop, a
//! handler records the [`Flow`] (and for a trap or pause, the instruction concerned) in the
//! [`Ctx`] and continues at [`HALT`], whose handler writes the countdown and the frame's program
//! counter back to the [`Machine`] and returns the flow; so all guest state is in
//! `Machine::stack`/`frames` whenever Rust code outside this module runs.
//! No Rust recursion per Wasm call either way: calls and returns only move `ip`/`regs` and
//! push/pop [`Frame`]s.
//!
//! The handlers of the instruction-set table's forms (`build/isa.rs`) are generated: each is one
//! of the operand and result templates below (`opnd!`, `put!`, `br_if!`, `load!`, …) around
//! the operation's semantic function in [`ops`]; the others are written out at the end.
//!
//! Handlers call out-of-line helpers (host calls, bulk memory, tables) through plain scalar
//! arguments and refresh their registers from the `Ctx` afterwards: no local's address may
//! escape a handler, or LLVM could not turn its final call into a jump.
//!
//! # Safety contract
//! Every handler and helper here is an `unsafe fn` with one shared precondition, which
//! [`Machine::run`] establishes (see the SAFETY note of its loop) and every handler keeps for
//! the next: `cx` points at the live `Ctx` of that run, whose pointers (machine, store, host,
//! current code, instance, memory, globals, defined functions) are valid and not accessed
//! otherwise meanwhile; `ip` points at an instruction of the current frame's lowered code
//! (`(*cx).code`), of the handler's kind; `regs` points at the current frame's slot 0, with its
//! `max_slots` slots inside the stack; `mp`/`(*cx).ml` are the current instance's memory base
//! and length (null/0 without a memory); the machine has at least one frame. The indices in
//! an instruction (slots, functions, types, tables, globals, segments, branch targets) were
//! validated against the module by wasmparser and bounded by the lowering, which is why they
//! are used unchecked (debug-checked: `exec::unchecked`). Helpers say what they need beyond.

// The `Ctx` pointers are valid for the whole run and nothing else accesses their targets
// meanwhile, so the short-lived references that method calls through them create are sound.
#![allow(dangerous_implicit_autorefs)]

use super::machine::{frame_room, need_results_space, zero_locals, Frame, Machine, OTHER_INSTANCE};
use super::ops;
use super::simd::{self, V128};
use super::trap::TrapKind;
use super::unchecked::{debug_check_slot, unreachable_unchecked, DebugChecked, UnwrapDebugChecked};
use crate::compile::ir::{CompiledFunc, Instr, Op};
use crate::runtime::global::Global;
use crate::runtime::instance::Instance;
use crate::runtime::memory::Memory;
use crate::runtime::store::{FuncKind, Store};
use crate::runtime::{Host, HostError};

/// How a chain of handlers ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Flow {
    /// The outermost frame returned.
    Done,
    /// The budget ran out at a safe point, or a host call asked to pause.
    Yield,
    /// A host function asked to exit (`proc_exit`) with [`Ctx::exit_code`].
    Exit,
    /// A trap ([`Ctx::trap`]).
    Trap,
    /// The current instance changed (cross-instance call or return): rebuild the `Ctx`.
    Reload,
    /// Go on (a host call returned normally; in the switch backend, a handler finished).
    Continue,
    /// Inside the handlers only (the [`HALT`] handler turns it into `Trap`): trap with
    /// [`Ctx::trap_code`], raised by the instruction at [`Ctx::resume`].
    Raise,
    /// Inside the handlers only (turned into `Yield`): pause, to resume at [`Ctx::resume`].
    Pause,
}

/// What the handlers need besides their register arguments. Rebuilt by [`Machine::run`]
/// whenever execution enters another instance; never saved.
pub(super) struct Ctx {
    pub m: *mut Machine,
    pub store: *mut Store,
    pub host: *mut (dyn Host + 'static),
    /// First instruction of the current function (program counters are indices from here).
    pub code: *const Instr,
    pub inst: *const Instance,
    pub cur_inst: u32,
    /// Memory 0 of the current instance, or null.
    pub mem: *mut Memory,
    pub globals: *mut Global,
    /// The current module's defined functions, for direct calls within the instance.
    pub defined: *const CompiledFunc,
    /// The current module's pool of `v128` constants and shuffle masks.
    pub pool: *const [u8; 16],
    pub inst_funcs: *const u32,
    pub nimp: u32,
    pub max_stack: usize,
    pub max_frames: usize,
    /// `min(max_frames, frames' capacity, codes' capacity)`: the fast call path pushes a frame
    /// without a check of its own below this many frames. Kept up to date where the vectors
    /// grow (their capacity never shrinks during a run).
    pub frame_room: usize,
    pub trap: Option<TrapKind>,
    pub exit_code: i32,
    /// Why execution reached [`HALT`].
    pub flow: Flow,
    /// With `Flow::Raise`: the trapping instruction; with `Flow::Pause`: where to resume.
    pub resume: *const Instr,
    pub trap_code: u8,
    /// After [`call_slow`]: the registers to continue with.
    pub next: S,
    /// Length of memory 0 in bytes (0 without a memory): what loads and stores check against.
    /// Not a handler argument: the integer register [`S::ia`] is worth more than saving that
    /// load, which feeds only a predicted branch.
    pub ml: u64,
}

/// The handlers' register state (passed as six scalar arguments, kept in a local inside).
#[derive(Clone, Copy)]
pub(super) struct S {
    /// The instruction being executed.
    pub ip: *const Instr,
    /// Slot 0 of the current frame.
    pub regs: *mut u64,
    /// Memory 0's bytes (null without a memory; its length is [`Ctx::ml`]).
    pub mp: *mut u8,
    /// Safe-point countdown: instruction units left before the next yield.
    pub cd: i64,
    pub cx: *mut Ctx,
    /// The integer register: the value last written to a slot by `wr!`, which every handler
    /// with a single result uses except the f64 ones. Instructions rewritten by
    /// `compile::accumulator` read it.
    pub ia: u64,
    /// The f64 register: the result of the last f64-producing instruction, which also wrote
    /// it to its slot. Instructions rewritten by `compile::accumulator` read it.
    pub fa: f64,
    /// Memory 0's length, as [`Ctx::ml`], in the switch backend, which keeps it in the loop's
    /// state (a load from the context is a load from linear memory inside a Wasm host, on
    /// every memory access). With tail calls it is not a handler argument and stays 0: loads
    /// and stores read `Ctx::ml` ([`mem_len!`]).
    pub ml: u64,
}

/// The length of memory 0 that loads and stores check against (see [`S::ml`]).
#[cfg(chiwawa_tail_calls)]
macro_rules! mem_len {
    ($s:ident) => {
        (*$s.cx).ml
    };
}
#[cfg(not(chiwawa_tail_calls))]
macro_rules! mem_len {
    ($s:ident) => {
        $s.ml
    };
}

/// What a handler returns: with tail calls, the flow the chain ended with; in the switch
/// backend, its own flow (`Continue` to go on) and the registers for the next instruction.
#[cfg(chiwawa_tail_calls)]
type Out = Flow;
#[cfg(not(chiwawa_tail_calls))]
type Out = (Flow, S);

#[cfg(chiwawa_tail_calls)]
type Handler = unsafe fn(*const Instr, *mut u64, *mut u8, i64, *mut Ctx, u64, f64) -> Out;

// ---- dispatch -----------------------------------------------------------------------------

/// The end of every handler: runs the instruction at `$ip` with the registers in `$s`.
#[cfg(chiwawa_tail_calls)]
macro_rules! dispatch {
    ($s:ident, $ip:expr) => {{
        let ip: *const Instr = $ip;
        let h = *HANDLERS.get_debug_checked((*ip).op() as usize);
        h(ip, $s.regs, $s.mp, $s.cd, $s.cx, $s.ia, $s.fa)
    }};
}
#[cfg(not(chiwawa_tail_calls))]
macro_rules! dispatch {
    ($s:ident, $ip:expr) => {
        (Flow::Continue, S { ip: $ip, ..$s })
    };
}

/// The stop of every chain (see the module docs).
static HALT: Instr = Instr::Halt;

/// Handler of [`HALT`]: writes back the countdown and the frame's program counter, and
/// returns the recorded flow. Stopping this way costs the stopping handler no call (a call on
/// any path would make it save registers on every path).
/// # Safety
/// The module's safety contract.
#[cfg(chiwawa_tail_calls)]
unsafe fn halt(_: *const Instr, _: *mut u64, _: *mut u8, cd: i64, cx: *mut Ctx, _: u64, _: f64) -> Out {
    halt_flow(cd, cx)
}

/// The work of [`halt`] (the switch backend calls it directly: a `(Flow, S)` returned by a
/// function that is not inlined would travel through memory and keep the loop's registers
/// there too).
/// # Safety
/// The module's safety contract; for `Raise` and `Pause`, `(*cx).resume` is an instruction
/// of the current code.
///
#[cold]
#[inline(never)]
unsafe fn halt_flow(cd: i64, cx: *mut Ctx) -> Flow {
    (*(*cx).m).countdown = cd;
    match (*cx).flow {
        Flow::Raise => {
            set_pc(cx, pc_of(cx, (*cx).resume) + 1);
            (*cx).trap = TrapKind::from_code((*cx).trap_code);
            Flow::Trap
        }
        Flow::Pause => {
            set_pc(cx, pc_of(cx, (*cx).resume));
            Flow::Yield
        }
        f => f,
    }
}

/// In a handler body: continue with the instruction at `$ip`.
macro_rules! go {
    ($s:ident, $ip:expr) => {
        return $ip
    };
}

/// In a handler body: stop with `$flow` (the frame's `pc` is written already, if it matters).
macro_rules! leave {
    ($s:ident, $flow:expr) => {{
        (*$s.cx).flow = $flow;
        go!($s, &HALT)
    }};
}

/// In a handler body: pause (budget spent at a safe point), to resume at `$at`.
macro_rules! pause {
    ($s:ident, $at:expr) => {{
        (*$s.cx).resume = $at;
        leave!($s, Flow::Pause)
    }};
}

macro_rules! next {
    ($s:ident) => {
        go!($s, $s.ip.add(1))
    };
}

macro_rules! rd {
    ($s:ident, $slot:expr) => {
        *slot!($s, $slot)
    };
}
/// The address of slot `$slot` of the current frame (checked to lie in the value stack under
/// `debug_assertions`: [`debug_check_slot`]).
macro_rules! slot {
    ($s:ident, $slot:expr) => {{
        let p = $s.regs.add($slot as usize);
        debug_check_slot(p, std::ptr::addr_of!((*(*$s.cx).m).stack));
        p
    }};
}
/// Writes `$v` to slot `$slot` and to the integer register.
macro_rules! wr {
    ($s:ident, $slot:expr, $v:expr) => {{
        let v: u64 = $v;
        *slot!($s, $slot) = v;
        $s.ia = v;
    }};
}

/// In the handler of a pair (`compile::pairs`; generated from the pair table in
/// `build/isa.rs`): runs the handler body of kind `$k` ([`step`]) on `$i`, the pair
/// instruction as its first kind; or, without `$i`, moves on to the next instruction, of kind
/// `$k` (the lowering left it in place) and runs its body. Unless that body branched, trapped
/// or stopped, the handler goes on with the next step, or after the last instruction. So a
/// trap or branch is that instruction's own, at its own program counter.
macro_rules! pair_step {
    ($s:ident, $k:ident, $i:expr) => {{
        let n = step::$k(&mut $s, $i);
        if n != $s.ip.add(1) {
            go!($s, n);
        }
    }};
    ($s:ident, $k:ident) => {{
        $s.ip = $s.ip.add(1);
        let i = *$s.ip;
        let n = step::$k(&mut $s, i);
        if n != $s.ip.add(1) {
            go!($s, n);
        }
    }};
}

/// The last step of a pair's handler: [`pair_step!`] without `$i`, then on to whatever the
/// body returned.
macro_rules! pair_last {
    ($s:ident, $k:ident) => {{
        $s.ip = $s.ip.add(1);
        let i = *$s.ip;
        go!($s, step::$k(&mut $s, i))
    }};
}

/// `br_table` on `$index` over the `$len + 1` entries after `$s.ip` (the last the default). An
/// entry that is a plain branch (as a `switch`'s mostly are) is taken right here: one dispatch
/// instead of two.
macro_rules! br_table {
    ($s:ident, $index:expr, $len:expr) => {{
        let e = $s.ip.add(1 + ($index).min($len) as usize);
        if let Instr::Br { target } = *e {
            $s.ip = e;
            jump!($s, target);
        }
        go!($s, e)
    }};
}

/// The current instance's global `$g` (module index) in the store.
macro_rules! global {
    ($s:ident, $g:expr) => {{
        let a = *(*(*$s.cx).inst).globals.get_debug_checked($g as usize);
        (*$s.cx).globals.add(a as usize)
    }};
}

/// Traps with `$k`, a [`TrapKind`] or (`code`) its [`TrapKind::code`].
macro_rules! trap {
    ($s:ident, code $c:expr) => {{
        (*$s.cx).resume = $s.ip;
        (*$s.cx).trap_code = $c;
        leave!($s, Flow::Raise)
    }};
    ($s:ident, $k:expr) => {
        trap!($s, code($k).code())
    };
}

/// Runs the safe point at `$t`, a `Poll` (charge its cost; continue after it or pause there):
/// what backward branches and calls do with the loop header or function entry they jump to —
/// the same charge, `pc` and yield as dispatching the `Poll`. Every function starts with a
/// `Poll` and every backward branch targets one: `compile::translate` checks both for each
/// function it lowers, so the handlers need not.
macro_rules! poll_go {
    ($s:ident, $t:expr) => {{
        let t: *const Instr = $t;
        let Instr::Poll { cost, .. } = *t else { unreachable_unchecked!() };
        $s.cd -= cost as i64;
        if $s.cd <= 0 {
            pause!($s, t.add(1));
        }
        go!($s, t.add(1))
    }};
}

/// Taken branch by the relative distance `$rel`; backward targets are loop headers.
macro_rules! jump {
    ($s:ident, $rel:expr) => {{
        let rel = $rel as i32;
        let t = $s.ip.offset(rel as isize);
        if rel <= 0 {
            poll_go!($s, t);
        }
        go!($s, t)
    }};
}

// ---- exits (cold) -------------------------------------------------------------------------

/// Index of `ip` in the current function's code.
///
/// # Safety
/// `ip` points into the current function's code (`(*cx).code`).
#[inline(always)]
unsafe fn pc_of(cx: *mut Ctx, ip: *const Instr) -> u32 {
    ip.offset_from((*cx).code) as u32
}

/// Sets the program counter of the innermost frame.
///
/// # Safety
/// The module's safety contract (the machine has a frame).
#[inline(always)]
unsafe fn set_pc(cx: *mut Ctx, pc: u32) {
    (*(*cx).m).frames.last_mut().unwrap_debug_checked().pc = pc;
}

/// After an out-of-line helper: the stack may have moved and memory may have grown.
macro_rules! refresh {
    ($s:ident) => {{
        let m = (*$s.cx).m;
        let fp = (*m).frames.last().unwrap_debug_checked().fp as usize;
        $s.regs = (*m).stack.as_mut_ptr().add(fp);
        let mem = (*$s.cx).mem;
        if !mem.is_null() {
            $s.mp = (*mem).data.as_mut_ptr();
            (*$s.cx).ml = (*mem).data.len() as u64;
            $s.ml = (*$s.cx).ml;
        }
    }};
}

// ---- operand and result templates (the generated handlers, see `build/isa.rs`) ------------

/// An operand of type `$t` (how the slot's bits are read: `u32`, `u64`, `f32`, `f64`) from
/// `slot` (slot `$e`), from the register `ia` or `fa` (`$e` names the slot it mirrors), or
/// from `imm` (the immediate `$e`, sign-extended to 64 bits for a 64-bit operand).
macro_rules! opnd {
    ($s:ident, slot, u32, $e:expr) => {
        rd!($s, $e) as u32
    };
    ($s:ident, slot, u64, $e:expr) => {
        rd!($s, $e)
    };
    ($s:ident, slot, f32, $e:expr) => {
        f32::from_bits(rd!($s, $e) as u32)
    };
    ($s:ident, slot, f64, $e:expr) => {
        f64::from_bits(rd!($s, $e))
    };
    ($s:ident, ia, u32, $e:expr) => {
        $s.ia as u32
    };
    ($s:ident, ia, u64, $e:expr) => {
        $s.ia
    };
    ($s:ident, fa, f64, $e:expr) => {
        $s.fa
    };
    ($s:ident, fa, u64, $e:expr) => {
        $s.fa.to_bits()
    };
    ($s:ident, imm, u32, $e:expr) => {
        $e as u32
    };
    ($s:ident, imm, u64, $e:expr) => {
        $e as i64 as u64
    };
    // A `v128` (two slots; a `u128` for a whole-vector move).
    ($s:ident, slot, v128, $e:expr) => {
        V128(rd128!($s, $e))
    };
    ($s:ident, slot, u128, $e:expr) => {
        u128::from_le_bytes(rd128!($s, $e))
    };
}

/// The 16 bytes of the `v128` in slots `$k` and `$k + 1`.
macro_rules! rd128 {
    ($s:ident, $k:expr) => {{
        let k = $k as usize;
        let _ = slot!($s, k + 1);
        *(slot!($s, k) as *const [u8; 16])
    }};
}

/// Writes the 16 bytes `$b` of a `v128` to slots `$k` and `$k + 1` (no register).
macro_rules! wr128 {
    ($s:ident, $k:expr, $b:expr) => {{
        let k = $k as usize;
        let b: [u8; 16] = $b;
        let _ = slot!($s, k + 1);
        *(slot!($s, k) as *mut [u8; 16]) = b;
    }};
}

/// Writes result `$v` of type `$t` to slot `$dst` and to the register of its type: `fa` for
/// an `f64`, `ia` (the slot's bits) for all others.
macro_rules! put {
    ($s:ident, $dst:expr, u32, $v:expr) => {
        wr!($s, $dst, ($v) as u64)
    };
    ($s:ident, $dst:expr, i32, $v:expr) => {
        wr!($s, $dst, ($v) as u32 as u64)
    };
    ($s:ident, $dst:expr, bool, $v:expr) => {
        wr!($s, $dst, ($v) as u64)
    };
    ($s:ident, $dst:expr, u64, $v:expr) => {
        wr!($s, $dst, $v)
    };
    ($s:ident, $dst:expr, i64, $v:expr) => {
        wr!($s, $dst, ($v) as u64)
    };
    ($s:ident, $dst:expr, f32, $v:expr) => {
        wr!($s, $dst, ($v).to_bits() as u64)
    };
    ($s:ident, $dst:expr, f64, $v:expr) => {
        wrf!($s, $dst, $v)
    };
    // Two slots, no register. (Every operand is read before: `$v` is evaluated first.)
    ($s:ident, $dst:expr, v128, $v:expr) => {{
        let v: V128 = $v;
        wr128!($s, $dst, v.0)
    }};
    ($s:ident, $dst:expr, u128, $v:expr) => {{
        let v: u128 = $v;
        wr128!($s, $dst, v.to_le_bytes())
    }};
}

/// `put!` of a `Result`'s value, or the trap of its error.
macro_rules! put_or_trap {
    ($s:ident, $dst:expr, $t:tt, $v:expr) => {
        match $v {
            Ok(v) => put!($s, $dst, $t, v),
            Err(k) => trap!($s, k),
        }
    };
}

/// Writes f64 `$v` to slot `$dst` and to the f64 register.
macro_rules! wrf {
    ($s:ident, $dst:expr, $v:expr) => {{
        let v: f64 = $v;
        // Stored as an f64, so that a value that is in a floating-point register stays there.
        *(slot!($s, $dst) as *mut f64) = v;
        $s.fa = v;
    }};
}
/// Compare-and-branch: to `$target` if `$c`.
macro_rules! br_if {
    ($s:ident, $target:expr, $c:expr) => {
        if $c {
            jump!($s, $target);
        }
    };
}

/// Loop step: `a += $add` (wrapping at the width of `$t`), then to `target` if `$f(a, $b)`.
macro_rules! step_br {
    ($s:ident, $x:ident, $t:ty, $add:expr, $b:expr, $f:path) => {{
        let v = (rd!($s, $x.a) as $t).wrapping_add($add);
        wr!($s, $x.a, v as u64);
        if $f(v, $b) {
            jump!($s, $x.target);
        }
    }};
}

/// An f64 operation with one operand from memory ([`crate::compile::ir::BinMem`]): `$m` is the
/// f64 at `a + imm + offset` (the address operand `a` from its slot or, `ia`, the integer
/// register), `$b` operand `b` (from its slot or, `fa`, the f64 register).
macro_rules! f64mem {
    ($s:ident, $x:ident, $ma:ident, $fb:ident, |$m:ident, $b:ident| $e:expr) => {
        load!($s, $x, opnd!($s, $ma, u32, $x.a).wrapping_add($x.imm), f64, |$m| {
            let $b = opnd!($s, $fb, f64, $x.b);
            wrf!($s, $x.dst, $e)
        })
    };
}

/// An update of memory by an f64 operation (`F64AddU`, …: a [`crate::compile::ir::Store`]):
/// `$m` is the f64 at `addr + offset` (the address from its slot or, `ia`, the integer
/// register), `$b` operand `val` (from its slot or, `fa`, the f64 register); the result goes
/// back to memory only (no slot, no register).
macro_rules! f64upd {
    ($s:ident, $x:ident, $ma:ident, $fb:ident, |$m:ident, $b:ident| $e:expr) => {{
        let p = ea!($s, opnd!($s, $ma, u32, $x.addr), $x.offset, 8u64);
        let $m = f64::from_le_bytes(*(p as *const [u8; 8]));
        let $b = opnd!($s, $fb, f64, $x.val);
        *(p as *mut [u8; 8]) = ($e).to_le_bytes();
    }};
}

/// `select`: both operands are loaded before the condition picks one (a conditional move), so
/// that the loads need not wait for the condition: LLVM would otherwise select the slot index
/// and load once, putting the condition's latency in front of the load.
///
/// The result slot is read only after the choice (through a pointer the optimizer cannot see
/// to be `ip`): loaded first, it would keep a fifth value live across the loads, and the
/// handler would save and restore a callee-saved register for it. `repr(u16)` lays every
/// `Select…` kind out alike, as a `repr(C)` tag followed by `dst` (their first field).
macro_rules! select {
    ($s:ident, $a:tt, $b:tt, $cond:expr) => {{
        let (va, vb) = (select!(@v $s, $a), select!(@v $s, $b));
        let v = if $cond { va } else { vb };
        let dst = *(after(v, $s.ip) as *const u16).add(1);
        wr!($s, dst, v)
    }};
    // An operand: `ia` for the integer register, else a slot.
    (@v $s:ident, ia) => { $s.ia };
    (@v $s:ident, $slot:expr) => { opaque(rd!($s, $slot)) };
}

/// `p`, which the optimizer cannot see through and must compute after `v`.
#[inline(always)]
fn after<T>(v: u64, p: *const T) -> *const T {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    {
        let mut a = p.addr();
        // SAFETY: an empty template; it only claims to read `v` and change `a`.
        unsafe {
            std::arch::asm!("/* {0} {1} */", inout(reg) a, in(reg) v, options(nomem, nostack, preserves_flags))
        };
        p.with_addr(a)
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let _ = v;
        p
    }
}
/// Host address of an access of `$n` bytes at Wasm address `$base` (a `u32`) + `$off`, or a trap.
/// The end of the access is computed first and the start addressed from it (displacement
/// `-$n`), so that the check and the access share one register; `opaque` keeps LLVM from
/// rederiving the start in a second one, which costs a handler a callee-saved register (a push
/// and a pop) on x86_64.
macro_rules! ea {
    ($s:ident, $base:expr, $off:expr, $n:expr) => {{
        let end = opaque(($base as u64) + $off as u64 + $n);
        if end > mem_len!($s) {
            trap!($s, TrapKind::MemoryOutOfBounds);
        }
        $s.mp.add(end as usize).sub($n as usize)
    }};
}

/// `v`, which the optimizer cannot see through (no instruction is emitted).
#[inline(always)]
fn opaque(v: u64) -> u64 {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    {
        let mut v = v;
        // SAFETY: an empty template; it only claims to change `v`.
        unsafe { std::arch::asm!("/* {0} */", inout(reg) v, options(nomem, nostack, preserves_flags)) };
        v
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    v
}
/// Zeroes the declared locals of a new frame at `regs` in blocks of 8 slots, the last block
/// reaching past them (the call handlers' fast path: no call of `memset`, one or two stores
/// for most functions).
///
/// # Safety
/// `regs` must point at `callee.enter_slots` writable slots.
#[inline(always)]
unsafe fn zero_local_blocks(regs: *mut u64, callee: &CompiledFunc) {
    let (p, l) = (callee.num_params as usize, callee.num_locals as usize);
    debug_assert!(p <= l && p + (l - p).div_ceil(8).max(1) * 8 <= callee.enter_slots as usize);
    let mut r = regs.add(p);
    let end = regs.add(l);
    loop {
        // Eight volatile scalar stores: a 64-byte store (or a volatile 16-byte one) becomes a
        // call of `memset` in sanitizer builds, and the call makes LLVM give up the handler's
        // tail call (the fuzz targets then overflowed the native stack on deep recursion).
        for i in 0..8 {
            std::ptr::write_volatile(r.add(i), 0);
        }
        // The next block's address made opaque, or LLVM makes the loop a call of `memset`
        // (on x86_64 and aarch64; elsewhere `opaque` is the identity, and a `memset` harms
        // nothing: there the handlers are not tail-called).
        r = r.with_addr(opaque(r.addr() as u64 + 64) as usize);
        if r >= end {
            break;
        }
    }
}

/// The address of an indexed access: `base + ($idx << shift)`, wrapping like the `i32.shl` and
/// `i32.add` it replaces.
macro_rules! idx_addr {
    ($s:ident, $x:ident, $idx:expr) => {
        (rd!($s, $x.base) as u32).wrapping_add(($idx).wrapping_shl($x.shift as u32))
    };
}

/// A load of a `$t` at Wasm address `$addr` (a `u32`) `+ offset`, then `$put` with the value
/// as `$v`.
macro_rules! load {
    ($s:ident, $x:ident, $addr:expr, $t:ty, |$v:ident| $put:expr) => {{
        const N: usize = std::mem::size_of::<$t>();
        let p = ea!($s, $addr, $x.offset, N as u64);
        // A byte-array access (alignment 1) rather than `read_unaligned`, whose checked
        // version in debug builds takes the address of a local (and so blocks the tail call).
        let $v = <$t>::from_le_bytes(*(p as *const [u8; N]));
        $put;
    }};
}

/// A store of `$v` (a `u64` or `i64`) as a `$t` at Wasm address `$addr` (a `u32`) `+ offset`.
macro_rules! store {
    ($s:ident, $x:ident, $addr:expr, $v:expr, $t:ty) => {{
        const N: usize = std::mem::size_of::<$t>();
        let p = ea!($s, $addr, $x.offset, N as u64);
        *(p as *mut [u8; N]) = ($v as $t).to_le_bytes();
    }};
}

/// Memory `mem` of the current instance (multi-memory: the `…Mem` forms; memory 0 is in
/// `mp`/[`Ctx::ml`]).
///
/// # Safety
/// The module's safety contract: `mem` is a memory of the current instance (validation).
#[inline(always)]
unsafe fn mem_of(cx: *mut Ctx, mem: u16) -> *mut Memory {
    let a = *(*(*cx).inst).memories.get_debug_checked(mem as usize);
    (*(*cx).store).memories.as_mut_ptr().add(a as usize)
}

/// Host address of an access of `$n` bytes at Wasm address `$base` + `$off` of memory `$mem`
/// (not memory 0), or a trap.
macro_rules! ea_mem {
    ($s:ident, $mem:expr, $base:expr, $off:expr, $n:expr) => {{
        let m = mem_of($s.cx, $mem);
        let end = ($base as u64) + $off as u64 + $n;
        if end > (*m).data.len() as u64 {
            trap!($s, TrapKind::MemoryOutOfBounds);
        }
        (*m).data.as_mut_ptr().add(end as usize - $n as usize)
    }};
}

/// [`load!`] from memory `x.mem`.
macro_rules! load_mem {
    ($s:ident, $x:ident, $addr:expr, $t:ty, |$v:ident| $put:expr) => {{
        const N: usize = std::mem::size_of::<$t>();
        let p = ea_mem!($s, $x.mem, $addr, $x.offset, N as u64);
        let $v = <$t>::from_le_bytes(*(p as *const [u8; N]));
        $put;
    }};
}

/// [`store!`] to memory `x.mem`.
macro_rules! store_mem {
    ($s:ident, $x:ident, $addr:expr, $v:expr, $t:ty) => {{
        const N: usize = std::mem::size_of::<$t>();
        let p = ea_mem!($s, $x.mem, $addr, $x.offset, N as u64);
        *(p as *mut [u8; N]) = ($v as $t).to_le_bytes();
    }};
}

/// memory64: the host address of an access of `$n` bytes at Wasm address `$base` (a `u64`) +
/// `$off` (below 2^63, see [`LoadMem`]) of the memory at `$mp` of `$ml` bytes, or a trap. One
/// comparison more than a 32-bit access: the carry of the address addition. (A 128-bit end
/// needs one branch but more instructions: measured no faster.)
macro_rules! ea64 {
    ($s:ident, $mp:expr, $ml:expr, $base:expr, $off:expr, $n:expr) => {{
        let (end, carry) = ($base as u64).overflowing_add($off + $n);
        if carry || end > $ml {
            trap!($s, TrapKind::MemoryOutOfBounds);
        }
        $mp.add(end as usize - $n as usize)
    }};
}

/// [`load!`] from a 64-bit memory 0.
macro_rules! load64 {
    ($s:ident, $x:ident, $addr:expr, $t:ty, |$v:ident| $put:expr) => {{
        const N: usize = std::mem::size_of::<$t>();
        let p = ea64!($s, $s.mp, mem_len!($s), $addr, $x.offset, N as u64);
        let $v = <$t>::from_le_bytes(*(p as *const [u8; N]));
        $put;
    }};
}

/// [`store!`] to a 64-bit memory 0.
macro_rules! store64 {
    ($s:ident, $x:ident, $addr:expr, $v:expr, $t:ty) => {{
        const N: usize = std::mem::size_of::<$t>();
        let p = ea64!($s, $s.mp, mem_len!($s), $addr, $x.offset, N as u64);
        *(p as *mut [u8; N]) = ($v as $t).to_le_bytes();
    }};
}

/// [`load!`] from the 64-bit memory `x.mem`.
macro_rules! load_mem64 {
    ($s:ident, $x:ident, $addr:expr, $t:ty, |$v:ident| $put:expr) => {{
        const N: usize = std::mem::size_of::<$t>();
        let m = mem_of($s.cx, $x.mem);
        let p = ea64!($s, (*m).data.as_mut_ptr(), (*m).data.len() as u64, $addr, $x.offset, N as u64);
        let $v = <$t>::from_le_bytes(*(p as *const [u8; N]));
        $put;
    }};
}

/// [`store!`] to the 64-bit memory `x.mem`.
macro_rules! store_mem64 {
    ($s:ident, $x:ident, $addr:expr, $v:expr, $t:ty) => {{
        const N: usize = std::mem::size_of::<$t>();
        let m = mem_of($s.cx, $x.mem);
        let p = ea64!($s, (*m).data.as_mut_ptr(), (*m).data.len() as u64, $addr, $x.offset, N as u64);
        *(p as *mut [u8; N]) = ($v as $t).to_le_bytes();
    }};
}

/// Pushes the callee's [`Frame`] and its `Machine::codes` entry (code address | `$tag`), which
/// always move together. Both vectors must have room for one more.
macro_rules! push_frame {
    ($m:expr, $addr:expr, $fp:expr, $code:expr, $tag:expr) => {{
        let frames = &mut (*$m).frames;
        let n = frames.len();
        frames.as_mut_ptr().add(n).write(Frame { func: $addr, pc: 0, fp: $fp as u32 });
        frames.set_len(n + 1);
        let codes = &mut (*$m).codes;
        let k = codes.len();
        codes.as_mut_ptr().add(k).write($code as usize | $tag);
        codes.set_len(k + 1);
    }};
}

/// Enters the Wasm function at store address `$addr` (lowered code `$callee`, instance `$ci`)
/// with its frame at slot `$base` of the current one.
macro_rules! enter {
    ($s:ident, $addr:expr, $callee:expr, $ci:expr, $base:expr) => {{
        let mut callee: *const CompiledFunc = $callee;
        let cx = $s.cx;
        if (*callee).is_lazy() {
            match lower_on_call(cx, $s.ip, $addr) {
                Some(c) => callee = c,
                None => leave!($s, Flow::Trap),
            }
        }
        let m = (*cx).m;
        let cur = (*m).frames.last_mut().unwrap_debug_checked();
        let new_fp = cur.fp as usize + $base as usize;
        cur.pc = pc_of(cx, $s.ip) + 1;
        let need = new_fp + (*callee).max_slots as usize;
        if (*m).frames.len() >= (*cx).max_frames
            || (need > (*m).stack.len() && !(*m).grow_stack(need, (*cx).max_stack))
        {
            trap!($s, TrapKind::StackExhausted);
        }
        (*m).frames.reserve(1);
        (*m).codes.reserve(1);
        (*cx).frame_room = frame_room(&*m, (*cx).max_frames);
        let nregs = (*m).stack.as_mut_ptr().add(new_fp);
        zero_locals(nregs, &*callee);
        let ccode = (*callee).code.as_ptr();
        if $ci == (*cx).cur_inst {
            push_frame!(m, $addr, new_fp, ccode, 0);
            (*cx).code = ccode;
            $s.regs = nregs;
            // The entry safe point, executed without a dispatch.
            poll_go!($s, ccode);
        }
        push_frame!(m, $addr, new_fp, ccode, OTHER_INSTANCE);
        leave!($s, Flow::Reload);
    }};
}

/// The common case of a call, without any call of its own (so the handler saves no registers
/// for one): a Wasm function of the current instance, lowered already, when the value stack
/// and the frame vectors have room. Anything else continues at [`CALL_SLOW`] ([`slow_call!`]),
/// whose handler calls [`call_slow`].
macro_rules! enter_fast {
    ($s:ident, $addr:expr, $callee:expr, $base:expr) => {{
        let callee: *const CompiledFunc = $callee;
        let cx = $s.cx;
        let m = (*cx).m;
        // Each field read once, into a local: the stores below could alias them for LLVM.
        let frames = (*m).frames.as_mut_ptr();
        let n = (*m).frames.len();
        let cur = frames.add(n - 1);
        let new_fp = (*cur).fp as usize + $base as usize;
        // `enter_slots` is `u32::MAX` for a stub, never less than the stack's free slots (at
        // most `u32::MAX`, the limit's type): those go the slow way. `new_fp` is inside the
        // stack.
        if (*callee).enter_slots as usize >= (*m).stack.len() - new_fp || n >= (*cx).frame_room {
            slow_call!($s);
        }
        (*cur).pc = pc_of(cx, $s.ip) + 1;
        let nregs = (*m).stack.as_mut_ptr().add(new_fp);
        zero_local_blocks(nregs, &*callee);
        let ccode = (*callee).code.as_ptr();
        // `push_frame!` with the length known: the two vectors have the same (`frame_room`
        // leaves room in both).
        debug_assert!((*m).codes.len() == n, "frames and codes differ in length");
        frames.add(n).write(Frame { func: $addr, pc: 0, fp: new_fp as u32 });
        (*m).frames.set_len(n + 1);
        (*m).codes.as_mut_ptr().add(n).write(ccode as usize);
        (*m).codes.set_len(n + 1);
        (*cx).code = ccode;
        $s.regs = nregs;
        // The registers are dead across a call (the accumulator pass forgets them): cleared,
        // they need no machine register here.
        ($s.ia, $s.fa) = (0, 0.0);
        // The entry safe point, executed without a dispatch.
        poll_go!($s, ccode);
    }};
}

/// A tail call: the Wasm function at store address `$addr` (lowered code `$callee`, of the
/// current instance) takes the current frame's place. Its arguments move from slot `$base` to
/// slot 0, the frame keeps its frame pointer and its caller (so unbounded tail recursion runs
/// in constant frame and stack space), and the callee starts at its entry safe point.
macro_rules! tail_enter {
    ($s:ident, $addr:expr, $callee:expr, $base:expr) => {{
        let mut callee: *const CompiledFunc = $callee;
        let cx = $s.cx;
        if (*callee).is_lazy() {
            // The first call: lowered here, and still a tail call.
            match lower_on_call(cx, $s.ip, $addr) {
                Some(c) => callee = c,
                None => leave!($s, Flow::Trap),
            }
        }
        let m = (*cx).m;
        let fp = (*m).frames.last().unwrap_debug_checked().fp as usize;
        let need = fp + (*callee).max_slots as usize;
        if need > (*m).stack.len() && !(*m).grow_stack(need, (*cx).max_stack) {
            trap!($s, TrapKind::StackExhausted);
        }
        let regs = (*m).stack.as_mut_ptr().add(fp);
        // The arguments lie above slot `num_params` of the caller's frame: they may overlap
        // their destination, so a memmove.
        std::ptr::copy(regs.add($base as usize), regs, (*callee).num_params as usize);
        zero_locals(regs, &*callee);
        let frame = (*m).frames.last_mut().unwrap_debug_checked();
        frame.func = $addr;
        frame.pc = 0;
        let ccode = (*callee).code.as_ptr();
        let code = (*m).codes.last_mut().unwrap_debug_checked();
        // The frame's caller is the same: so is its instance tag.
        *code = ccode as usize | (*code & OTHER_INSTANCE);
        (*cx).code = ccode;
        $s.regs = regs;
        poll_go!($s, ccode)
    }};
}

/// `Call` or `ReturnCall` of module function `$func`: a function defined by this module (this
/// instance's own) through `$enter` (`enter_fast` or `tail_enter`), any other through
/// [`call_slow`].
macro_rules! direct_call {
    ($s:ident, $func:expr, $base:expr, $enter:ident) => {{
        let cx = $s.cx;
        if $func >= (*cx).nimp {
            let addr = *(*cx).inst_funcs.add($func as usize);
            $enter!($s, addr, (*cx).defined.add(($func - (*cx).nimp) as usize), $base)
        }
        slow_call!($s)
    }};
}

/// `CallIndirect` or `ReturnCallIndirect`: a Wasm function of the current instance through
/// `$enter`, any other through [`call_slow`], a bad table entry traps.
macro_rules! indirect_call {
    ($s:ident, $type_idx:expr, $table:expr, $index:expr, $base:expr, $enter:ident) => {{
        call_checked!($s, indirect_target($s.cx, $type_idx, $table, rd!($s, $index) as u32), $base, $enter)
    }};
}

/// `CallRef` or `ReturnCallRef`: as [`indirect_call!`], through the reference in `$func`.
macro_rules! ref_call {
    ($s:ident, $type_idx:expr, $func:expr, $base:expr, $enter:ident) => {{
        call_checked!($s, ref_target($s.cx, $type_idx, rd!($s, $func)), $base, $enter)
    }};
}

/// Calls the store address `$target` gives (`Err`: trap with that code): a Wasm function of the
/// current instance through `$enter`, any other through [`call_slow`].
macro_rules! call_checked {
    ($s:ident, $target:expr, $base:expr, $enter:ident) => {{
        match $target {
            Ok(addr) => {
                let store = (*$s.cx).store;
                if let FuncKind::Wasm { instance, index } = (*store).funcs.get_debug_checked(addr as usize).kind {
                    if instance == (*$s.cx).cur_inst {
                        let nimp = (*$s.cx).nimp;
                        $enter!($s, addr, (*$s.cx).defined.add((index - nimp) as usize), $base)
                    }
                }
                slow_call!($s)
            }
            Err(c) => trap!($s, code c),
        }
    }};
}

/// Calls the function at store address `$addr` with its frame at slot `$base`.
macro_rules! call_addr {
    ($s:ident, $addr:expr, $base:expr) => {{
        let addr: u32 = $addr;
        let store = (*$s.cx).store;
        let f = *(*store).funcs.get_debug_checked(addr as usize);
        match f.kind {
            FuncKind::Wasm { instance: ci, .. } => {
                let callee = crate::exec::machine::code_of(&*store, addr).0;
                enter!($s, addr, callee, ci, $base)
            }
            FuncKind::Host { id } => match host_call($s.cx, $s.ip, f.ty, id, $base as usize) {
                Flow::Continue => refresh!($s),
                e => leave!($s, e),
            },
        }
    }};
}

/// The first call of the Wasm function at store address `addr` (from the call instruction at
/// `ip`): lowers it, and returns its code; `None` (the trap set) if it cannot be lowered.
///
/// # Safety
/// The module's safety contract; `addr` is a Wasm function of the store.
#[cold]
#[inline(never)]
unsafe fn lower_on_call(cx: *mut Ctx, ip: *const Instr, addr: u32) -> Option<*const CompiledFunc> {
    let store = (*cx).store;
    if let Err(e) = (*store).lower(addr) {
        set_pc(cx, pc_of(cx, ip) + 1);
        (*cx).trap = Some(TrapKind::Host(e.to_string()));
        return None;
    }
    // The current instance's code and pool as they are now (the pool may have grown).
    let inst = (*store).instances.as_mut_ptr().add((*cx).cur_inst as usize);
    (*cx).inst = inst;
    (*cx).defined = (*inst).code.as_mut_ptr();
    (*cx).pool = (*inst).pool.as_ptr();
    Some(crate::exec::machine::code_of(&*store, addr).0)
}

/// A call in full (host functions, other instances, a function not lowered yet, growing the
/// stack or the frame vectors; `Call`, `CallIndirect`, `CallRef` and the tail calls whose
/// callee cannot take the frame's place): re-executes the call instruction at `ip`.
/// Returns the next instruction; the registers to run it with are in `Ctx::next`.
///
/// # Safety
/// The module's safety contract, for the `Call` or `CallIndirect` at `ip`.
#[inline(never)]
unsafe fn call_slow(ip: *const Instr, regs: *mut u64, mp: *mut u8, cd: i64, cx: *mut Ctx) -> *const Instr {
    let mut s = S { ip, regs, mp, cd, cx, ia: 0, fa: 0.0, ml: (*cx).ml };
    #[allow(clippy::redundant_closure_call)]
    let next = (|| -> *const Instr {
        match *ip {
            // A tail call whose callee cannot take the frame's place: a plain call, and the
            // `Return` after it hands the results on.
            Instr::Call { func, base } | Instr::ReturnCall { func, base } => {
                let addr = *(*cx).inst_funcs.add(func as usize);
                if func >= (*cx).nimp {
                    enter!(s, addr, (*cx).defined.add((func - (*cx).nimp) as usize), (*cx).cur_inst, base)
                }
                call_addr!(s, addr, base)
            }
            Instr::CallIndirect { type_idx, table, index, base }
            | Instr::ReturnCallIndirect { type_idx, table, index, base } => {
                match indirect_target(s.cx, type_idx, table, rd!(s, index) as u32) {
                    Ok(addr) => call_addr!(s, addr, base),
                    Err(c) => trap!(s, code c),
                }
            }
            Instr::CallRef { type_idx, func, base } | Instr::ReturnCallRef { type_idx, func, base } => {
                match ref_target(s.cx, type_idx, rd!(s, func)) {
                    Ok(addr) => call_addr!(s, addr, base),
                    Err(c) => trap!(s, code c),
                }
            }
            _ => unreachable_unchecked!(),
        }
        next!(s)
    })();
    (*cx).next = S { ip: next, ..s };
    next
}

/// In `Call`/`CallIndirect`: continue through [`call_slow`], in the handler of
/// [`CALL_SLOW`] (the call instruction in `Ctx::resume`). A call made here would cost every
/// call handler a stack frame and the saving of all callee-saved registers on its fast path
/// too (LLVM does not shrink-wrap them into the slow branch).
macro_rules! slow_call {
    ($s:ident) => {{
        (*$s.cx).resume = $s.ip;
        // Dead across the call, as in `enter_fast!`.
        ($s.ia, $s.fa) = (0, 0.0);
        go!($s, &CALL_SLOW)
    }};
}

/// Where [`slow_call!`] continues.
static CALL_SLOW: Instr = Instr::CallSlow;

/// Calls host function `id` (canonical type `ty`) with the arguments at slot `base` of the
/// current frame, for the call instruction at `ip`. `Flow::Continue`: it returned normally.
///
/// # Safety
/// The module's safety contract for the call at `ip`; `ty` is a type id of the store (a
/// [`FuncInst::ty`](crate::runtime::store::FuncInst)) and the arguments lie inside the frame.
#[inline(never)]
unsafe fn host_call(cx: *mut Ctx, ip: *const Instr, ty: u32, id: u32, base: usize) -> Flow {
    let m = &mut *(*cx).m;
    let store = &*(*cx).store;
    let fp = m.frames.last().unwrap_debug_checked().fp as usize;
    let ty = store.types.get_debug_checked(ty as usize);
    // Slots: a `v128` takes two.
    let (np, nr) = (ty.param_slots(), ty.result_slots());
    let mut small = [0u64; 16];
    let mut big = Vec::new();
    let args: &mut [u64] = if np <= 16 {
        &mut small[..np]
    } else {
        big.resize(np, 0);
        &mut big
    };
    args.copy_from_slice(&m.stack[fp + base..fp + base + np]);
    let pc = pc_of(cx, ip);
    if !need_results_space(m, fp + base + nr, (*cx).max_stack) {
        set_pc(cx, pc + 1);
        (*cx).trap = Some(TrapKind::StackExhausted);
        return Flow::Trap;
    }
    let results = &mut m.stack[fp + base..fp + base + nr];
    let mem = (*cx).mem;
    let memory = if mem.is_null() { None } else { Some(&mut *mem) };
    match (*(*cx).host).call(id, memory, args, results) {
        Ok(()) => Flow::Continue,
        Err(HostError::Suspend) => {
            // Pause before the call: it runs again on resume.
            m.suspended = true;
            set_pc(cx, pc);
            Flow::Yield
        }
        Err(HostError::Exit(code)) => {
            set_pc(cx, pc + 1);
            (*cx).exit_code = code;
            Flow::Exit
        }
        Err(HostError::Trap(msg)) => {
            set_pc(cx, pc + 1);
            (*cx).trap = Some(TrapKind::Host(msg));
            Flow::Trap
        }
    }
}

/// Out-of-line instructions (bulk memory, tables, segments) return `Err(`[`TrapKind::code`]`)`
/// to trap.
type Slow = Result<(), u8>;

const MEMORY_OOB: u8 = 1;
const TABLE_OOB: u8 = 2;

/// Whether `n` bytes at `at` lie within `len` bytes (no overflow up to the 2^64 edge).
#[inline(always)]
fn fits(at: u64, n: u64, len: usize) -> bool {
    at.checked_add(n).is_some_and(|end| end <= len as u64)
}

/// # Safety
/// The module's safety contract, and the instance has a memory (validation).
#[inline(never)]
unsafe fn memory_grow(cx: *mut Ctx, delta: u64) -> u64 {
    (*(*cx).mem).grow_result(delta)
}

/// `memory.copy` from memory `sm` to memory `dm` of the current instance (either may be
/// memory 0; they may be the same memory).
///
/// # Safety
/// The module's safety contract (both are memories of the instance).
#[inline(never)]
unsafe fn memory_copy_mem(cx: *mut Ctx, dm: u16, sm: u16, d: u64, s: u64, n: u64) -> Slow {
    let (dst, src) = (mem_of(cx, dm), mem_of(cx, sm));
    // Each address of its memory's index type; the length 64-bit only between two 64-bit
    // memories.
    let (d, s) = ((*dst).index(d), (*src).index(s));
    let n = if (*dst).is64 && (*src).is64 { n } else { n as u32 as u64 };
    if !fits(d, n, (*dst).data.len()) || !fits(s, n, (*src).data.len()) {
        return Err(MEMORY_OOB);
    }
    // Through raw pointers taken one after the other: `dst` and `src` may be one memory.
    let sp = (*src).data.as_ptr().add(s as usize);
    let dp = (*dst).data.as_mut_ptr().add(d as usize);
    std::ptr::copy(sp, dp, n as usize);
    Ok(())
}

/// # Safety
/// `mp` points at `ml` bytes of linear memory.
#[inline(never)]
unsafe fn memory_copy(mp: *mut u8, ml: u64, d: u64, s: u64, n: u64) -> Slow {
    if !fits(d, n, ml as usize) || !fits(s, n, ml as usize) {
        return Err(MEMORY_OOB);
    }
    std::ptr::copy(mp.add(s as usize), mp.add(d as usize), n as usize);
    Ok(())
}

/// # Safety
/// `mp` points at `ml` bytes of linear memory.
#[inline(never)]
unsafe fn memory_fill(mp: *mut u8, ml: u64, d: u64, v: u8, n: u64) -> Slow {
    if !fits(d, n, ml as usize) {
        return Err(MEMORY_OOB);
    }
    std::ptr::write_bytes(mp.add(d as usize), v, n as usize);
    Ok(())
}

/// # Safety
/// The module's safety contract; `mp` points at `ml` bytes of linear memory and `seg` is
/// a data segment of the current instance (validation).
#[inline(never)]
unsafe fn memory_init(cx: *mut Ctx, mp: *mut u8, ml: u64, seg: u32, d: u64, s: u64, n: u64) -> Slow {
    let data = (*(*cx).inst).data(seg);
    if !fits(d, n, ml as usize) || !fits(s, n, data.len()) {
        return Err(MEMORY_OOB);
    }
    std::ptr::copy_nonoverlapping(data.as_ptr().add(s as usize), mp.add(d as usize), n as usize);
    Ok(())
}

/// # Safety
/// The module's safety contract; `seg` is a data segment of the current instance.
#[inline(never)]
unsafe fn data_drop(cx: *mut Ctx, seg: u32) {
    let i = (*cx).cur_inst as usize;
    (&mut (*(*cx).store).instances)[i].data_dropped[seg as usize] = true;
    (*cx).inst = (*(*cx).store).instances.as_ptr().add(i);
}

/// # Safety
/// The module's safety contract; `seg` is an element segment of the current instance.
#[inline(never)]
unsafe fn elem_drop(cx: *mut Ctx, seg: u32) {
    let i = (*cx).cur_inst as usize;
    (&mut (*(*cx).store).instances)[i].elems[seg as usize] = Vec::new();
    (*cx).inst = (*(*cx).store).instances.as_ptr().add(i);
}

/// Store address of the current instance's table `t`.
///
/// # Safety
/// The module's safety contract.
#[inline(always)]
unsafe fn table_addr(cx: *mut Ctx, t: u32) -> usize {
    (&(*(*cx).inst).tables)[t as usize] as usize
}

/// # Safety
/// The module's safety contract; `dst` points at a writable slot.
#[inline(never)]
unsafe fn table_get(cx: *mut Ctx, table: u32, i: u32, dst: *mut u64) -> Slow {
    let t = &(&(*(*cx).store).tables)[table_addr(cx, table)];
    *dst = *t.elems.get(i as usize).ok_or(TABLE_OOB)?;
    Ok(())
}

/// # Safety
/// The module's safety contract.
#[inline(never)]
unsafe fn table_set(cx: *mut Ctx, table: u32, i: u32, v: u64) -> Slow {
    let t = &mut (&mut (*(*cx).store).tables)[table_addr(cx, table)];
    *t.elems.get_mut(i as usize).ok_or(TABLE_OOB)? = v;
    Ok(())
}

/// # Safety
/// The module's safety contract.
#[inline(never)]
unsafe fn table_size(cx: *mut Ctx, table: u32) -> u32 {
    (&(*(*cx).store).tables)[table_addr(cx, table)].size()
}

/// # Safety
/// The module's safety contract.
#[inline(never)]
unsafe fn table_grow(cx: *mut Ctx, table: u32, delta: u32, init: u64) -> u32 {
    let t = &mut (&mut (*(*cx).store).tables)[table_addr(cx, table)];
    t.grow(delta, init).unwrap_or(u32::MAX)
}

/// # Safety
/// The module's safety contract.
#[inline(never)]
unsafe fn table_fill(cx: *mut Ctx, table: u32, i: u32, v: u64, n: u32) -> Slow {
    let t = &mut (&mut (*(*cx).store).tables)[table_addr(cx, table)];
    let (i, n) = (i as u64, n as u64);
    if i + n > t.elems.len() as u64 {
        return Err(TABLE_OOB);
    }
    t.elems[i as usize..(i + n) as usize].fill(v);
    Ok(())
}

/// # Safety
/// The module's safety contract.
#[inline(never)]
unsafe fn table_copy(cx: *mut Ctx, dt: u32, st: u32, d: u32, s: u32, n: u32) -> Slow {
    let tables = &mut (*(*cx).store).tables;
    let (da, sa) = (table_addr(cx, dt), table_addr(cx, st));
    let (d, s, n) = (d as u64, s as u64, n as u64);
    if d + n > tables[da].elems.len() as u64 || s + n > tables[sa].elems.len() as u64 {
        return Err(TABLE_OOB);
    }
    let sp = tables[sa].elems.as_ptr().add(s as usize);
    let dp = tables[da].elems.as_mut_ptr().add(d as usize);
    std::ptr::copy(sp, dp, n as usize);
    Ok(())
}

/// # Safety
/// The module's safety contract.
#[inline(never)]
unsafe fn table_init(cx: *mut Ctx, table: u32, seg: u32, d: u32, s: u32, n: u32) -> Slow {
    let ta = table_addr(cx, table);
    let items = &(&(*(*cx).inst).elems)[seg as usize];
    let tables = &mut (*(*cx).store).tables;
    let (d, s, n) = (d as u64, s as u64, n as u64);
    if d + n > tables[ta].elems.len() as u64 || s + n > items.len() as u64 {
        return Err(TABLE_OOB);
    }
    tables[ta].elems[d as usize..(d + n) as usize].copy_from_slice(&items[s as usize..(s + n) as usize]);
    Ok(())
}

/// `call_indirect` checks: the callee's store address, or the trap.
///
/// # Safety
/// The module's safety contract; `table` is a table and `type_idx` a type of the current
/// instance (validation).
#[inline(always)]
unsafe fn indirect_target(cx: *mut Ctx, type_idx: u32, table: u16, i: u32) -> Result<u32, u8> {
    let store = (*cx).store;
    let inst = (*cx).inst;
    let t = (*store).tables.get_debug_checked(*(*inst).tables.get_debug_checked(table as usize) as usize);
    let Some(&r) = t.elems.get(i as usize) else {
        return Err(TrapKind::UndefinedElement.code());
    };
    if r == 0 {
        return Err(TrapKind::UninitializedElement.code());
    }
    let addr = (r - 1) as u32;
    let expected = *(*inst).types.get_debug_checked(type_idx as usize);
    // Checked: a reference comes from the guest's own code, or from a checkpoint that restore
    // validated; should one ever name no function, the call traps instead of reading out of
    // bounds.
    let funcs = &(*store).funcs;
    match funcs.get(addr as usize) {
        Some(f) if f.ty == expected => Ok(addr),
        Some(_) => Err(TrapKind::IndirectCallTypeMismatch.code()),
        None => Err(TrapKind::UninitializedElement.code()),
    }
}

/// The store address `call_ref` of type `type_idx` calls through the reference `r`: null
/// traps. Validation gave the reference that type; one that does not have it (a function
/// reference from a crafted checkpoint) traps like a `call_indirect` of the wrong type.
///
/// # Safety
/// The module's safety contract; `type_idx` is a type of the current instance (validation).
#[inline(always)]
unsafe fn ref_target(cx: *mut Ctx, type_idx: u32, r: u64) -> Result<u32, u8> {
    if r == 0 {
        return Err(TrapKind::NullFunctionReference.code());
    }
    let expected = *(*(*cx).inst).types.get_debug_checked(type_idx as usize);
    match u32::try_from(r - 1).ok().and_then(|a| Some(a).zip((*(*cx).store).funcs.get(a as usize))) {
        Some((addr, f)) if f.ty == expected => Ok(addr),
        _ => Err(TrapKind::IndirectCallTypeMismatch.code()),
    }
}

/// Throws exception `e` (an index of the store's exceptions) from the instruction at `ip`: the
/// innermost handler of the frames (this one, then its callers at their calls) with a catch
/// clause that matches gets it — the frames above it are dropped, the payload (and for the
/// `…Ref` clauses the reference) is written at the handler's base and the frame continues at
/// the clause's landing pad. `false` when no handler catches it (the frames are left as they
/// are, for the trap's backtrace).
///
/// # Safety
/// The module's safety contract; `e` is an exception of the store.
#[inline(never)]
unsafe fn unwind(cx: *mut Ctx, ip: *const Instr, e: usize) -> bool {
    use crate::compile::ir::CatchKind;
    let m = &mut *(*cx).m;
    let store = &mut *(*cx).store;
    let tag = store.exns[e].tag;
    let top = m.frames.len() - 1;
    for k in (0..=top).rev() {
        let fr = m.frames[k];
        // The instruction the exception leaves: the `throw`, or a caller's call.
        let pc = if k == top { pc_of(cx, ip) } else { fr.pc - 1 };
        let Some((cf, inst)) = crate::exec::machine::code_checked(store, fr.func) else { return false };
        // A tail call that kept its frame (its callee could not take the frame's place) has
        // left the caller's handlers all the same.
        if k != top
            && matches!(
                cf.code.get(pc as usize),
                Some(
                    Instr::ReturnCall { .. } | Instr::ReturnCallIndirect { .. } | Instr::ReturnCallRef { .. }
                )
            )
        {
            continue;
        }
        let tags = &store.instances[inst as usize].tags;
        let mut i = 0;
        while let Some(h) = cf.handlers.get(i) {
            i += 1;
            if !(h.start <= pc && pc < h.end) {
                continue;
            }
            if let Some(resume) = h.delegate {
                // A legacy `delegate`: on with the handlers of the block delegated to.
                i = i.max(resume as usize);
                continue;
            }
            let hit = h.catches.iter().find(|c| match c.kind {
                CatchKind::Tag(t) | CatchKind::TagRef(t) | CatchKind::Legacy(t) => {
                    tags.get(t as usize) == Some(&tag)
                }
                CatchKind::All | CatchKind::AllRef | CatchKind::LegacyAll => true,
            });
            let Some(c) = hit else { continue };
            let (pad, base) = (c.pad, fr.fp as usize + h.base as usize);
            let legacy = matches!(c.kind, CatchKind::Legacy(_) | CatchKind::LegacyAll);
            let with_ref = matches!(c.kind, CatchKind::TagRef(_) | CatchKind::AllRef);
            let with_payload =
                matches!(c.kind, CatchKind::Tag(_) | CatchKind::TagRef(_) | CatchKind::Legacy(_));
            let mut at = base;
            if legacy {
                // The reference first (where `rethrow` finds it), then the payload.
                m.stack[at] = e as u64 + 1;
                store.exns[e].seen = true;
                at += 1;
            }
            if with_payload {
                let payload = &store.exns[e].payload;
                m.stack[at..at + payload.len()].copy_from_slice(payload);
                at += payload.len();
            }
            if with_ref {
                m.stack[at] = e as u64 + 1;
                store.exns[e].seen = true;
            } else if !store.exns[e].seen {
                // Caught without the guest ever holding a reference to it: its last use.
                store.free_exn(e);
            }
            m.frames.truncate(k + 1);
            m.codes.truncate(k + 1);
            m.frames[k].pc = pad;
            return true;
        }
    }
    false
}

/// A new exception of tag `tag` (module index) with the `n` payload values at `args`.
///
/// # Safety
/// The module's safety contract; `args` points at `n` slots.
#[inline(never)]
unsafe fn new_exn(cx: *mut Ctx, tag: u32, args: *const u64, n: u16) -> usize {
    let store = &mut *(*cx).store;
    let tag = (&(*(*cx).inst).tags)[tag as usize];
    let payload: Box<[u64]> = std::slice::from_raw_parts(args, n as usize).into();
    let exn = crate::runtime::store::Exn { tag, payload, seen: false };
    if let Some(i) = store.exn_free.pop() {
        store.exns[i as usize] = exn;
        return i as usize;
    }
    store.exns.push(exn);
    if store.exns.len() - store.exn_free.len() > store.exn_collect_at.max(EXN_COLLECT_AT) {
        (*(*cx).m).collect_exns = true;
    }
    store.exns.len() - 1
}

/// Live exceptions at which the first collection is asked for.
pub(crate) const EXN_COLLECT_AT: usize = 1024;

/// After [`new_exn`] asked for a collection: pause at the next safe point, the instruction
/// count unchanged (the budget shrinks by what the countdown had left).
macro_rules! pause_for_collection {
    ($s:ident) => {{
        let m = (*$s.cx).m;
        if (*m).collect_exns && $s.cd > 0 {
            (*m).budget -= $s.cd;
            $s.cd = 0;
        }
    }};
}

macro_rules! slow {
    ($s:ident, $e:expr) => {
        if let Err(c) = $e {
            trap!($s, code c);
        }
    };
}

// ---- the handlers -------------------------------------------------------------------------

/// Defines one handler per entry (`Variant pattern => |s| body;`) and the table [`HANDLERS`]
/// indexed by [`Op`]. After the body, execution continues with the next instruction.
macro_rules! handlers {
    ($( $v:ident $pat:tt => |$s:ident| $body:expr; )*) => {
        $(
            /// # Safety
            /// The module's safety contract.
            #[allow(
                non_snake_case,
                reason = "a handler is named after its instruction kind (`I32LtSImmBrA`)"
            )]
            #[allow(
                unused_mut,
                unused_variables,
                unreachable_code,
                reason = "one template for all bodies: not every body changes the registers, \
                          uses every field, or falls through to the next instruction"
            )]
            #[cfg_attr(not(chiwawa_tail_calls), inline(always))]
            unsafe fn $v(
                ip: *const Instr,
                regs: *mut u64,
                mp: *mut u8,
                cd: i64,
                cx: *mut Ctx,
                ia: u64,
                fa: f64,
                #[cfg(not(chiwawa_tail_calls))] ml: u64,
            ) -> Out {
                #[cfg(chiwawa_tail_calls)]
                let ml = 0;
                let mut $s = S { ip, regs, mp, cd, cx, ia, fa, ml };
                // The body, in its `step` function (inlined): it returns the next instruction
                // (`go!`), or the following one when it falls through.
                let next = step::$v(&mut $s, *ip);
                dispatch!($s, next)
            }
        )*

        /// Each kind's handler body as a function of the registers and the instruction, which
        /// returns the next instruction instead of dispatching it: what its handler runs, and
        /// a pair's handler for each of its instructions ([`pair_step!`]). Written once here,
        /// compiled into both.
        mod step {
            use super::*;
            $(
                /// # Safety
                /// The module's safety contract, with `i` the instruction at `s.ip` (for a
                /// pair's first, that instruction as its first kind), of this kind.
                #[allow(non_snake_case, dead_code, clippy::redundant_closure_call)]
                #[allow(unused_mut, unused_variables, unreachable_code, clippy::diverging_sub_expression)]
                #[inline(always)]
                pub(super) unsafe fn $v(mut $s: &mut S, i: Instr) -> *const Instr {
                    let Instr::$v $pat = i else { unreachable_unchecked!() };
                    // No closure (`go!` returns from this function): an instrumented build
                    // may not inline one, and `$s`'s address would escape into it, which costs
                    // the handler its tail call.
                    $body;
                    next!($s)
                }
            )*
        }

        /// The handler of every instruction kind, indexed by its tag. Built from an exhaustive
        /// `match`: a kind without a handler does not compile.
        #[cfg(chiwawa_tail_calls)]
        static HANDLERS: [Handler; Op::COUNT] = {
            const fn handler(op: Op) -> Handler {
                match op {
                    $(Op::$v => $v,)*
                    Op::Halt => halt,
                }
            }
            let mut t: [Handler; Op::COUNT] = [halt; Op::COUNT];
            let mut i = 0;
            while i < Op::COUNT {
                let op = Op::ALL[i];
                t[op as usize] = handler(op);
                i += 1;
            }
            t
        };

        /// Runs handlers from `s.ip` until the chain stops at [`HALT`].
        ///
        /// # Safety
        /// `s` must describe the innermost frame of `(*s.cx).m` as [`Machine::run`] sets it up.
        #[cfg(chiwawa_tail_calls)]
        pub(super) unsafe fn execute(s: S) -> Flow {
            let h = *HANDLERS.get_debug_checked((*s.ip).op() as usize);
            h(s.ip, s.regs, s.mp, s.cd, s.cx, s.ia, s.fa)
        }

        /// Runs handlers from `s.ip` until the chain stops at [`HALT`] (switch backend).
        ///
        /// # Safety
        /// As with tail calls.
        #[cfg(not(chiwawa_tail_calls))]
        pub(super) unsafe fn execute(s: S) -> Flow {
            // The registers in locals (`s` itself may live in memory).
            let S { mut ip, mut regs, mut mp, mut cd, cx, mut ia, mut fa, mut ml } = s;
            loop {
                // SAFETY: every instruction's tag is an `Op` (both enums come from one list).
                let op: Op = std::mem::transmute::<u16, Op>((*ip).op());
                let (flow, n) = match op {
                    $(Op::$v => $v(ip, regs, mp, cd, cx, ia, fa, ml),)*
                    Op::Halt => return halt_flow(cd, cx),
                };
                if flow != Flow::Continue {
                    return flow;
                }
                (ip, regs, mp, cd, ia, fa, ml) = (n.ip, n.regs, n.mp, n.cd, n.ia, n.fa, n.ml);
            }
        }
    };
}

// One handler per form of the operations in the instruction-set table (`build/isa.rs`), each
// from the templates above around its semantic function (`ops::i32_lt_s`), and these,
// hand-written.
include!(concat!(env!("OUT_DIR"), "/isa_handlers.rs"));
generated_handlers! {
    Unreachable {} => |s| trap!(s, TrapKind::Unreachable);
    CallSlow {} => |s| {
        let next = call_slow((*s.cx).resume, s.regs, s.mp, s.cd, s.cx);
        let n = (*s.cx).next;
        // The registers are dead after a call: setting them keeps them out of the stack frame.
        (s.regs, s.mp, s.cd, s.ia, s.fa, s.ml) = (n.regs, n.mp, n.cd, n.ia, n.fa, n.ml);
        go!(s, next)
    };
    Poll { cost, .. } => |s| {
        s.cd -= cost as i64;
        if s.cd <= 0 {
            pause!(s, s.ip.add(1));
        }
    };
    Const32 { dst, val } => |s| wr!(s, dst, val as u64);
    Const64 { dst, val } => |s| wr!(s, dst, val);
    Copy { dst, src } => |s| wr!(s, dst, rd!(s, src));
    Copy128 { dst, src } => |s| wr128!(s, dst, rd128!(s, src));
    V128Const { dst, idx } => |s| wr128!(s, dst, *(*s.cx).pool.add(idx as usize));
    I8x16Shuffle { dst, a, b, idx } => |s| {
        let lanes = &*(*s.cx).pool.add(idx as usize);
        put!(s, dst, v128, simd::i8x16_shuffle(V128(rd128!(s, a)), V128(rd128!(s, b)), lanes))
    };
    Select128 { dst, a, b, cond } => |s| {
        let (va, vb) = (rd128!(s, a), rd128!(s, b));
        wr128!(s, dst, if rd!(s, cond) as u32 != 0 { va } else { vb })
    };
    CopyA { dst, .. } => |s| wr!(s, dst, s.ia);
    Select { a, b, cond, .. } => |s| select!(s, a, b, rd!(s, cond) as u32 != 0);
    Select64 { a, b, cond, .. } => |s| select!(s, a, b, rd!(s, cond) != 0);
    Br { target } => |s| jump!(s, target);
    BrCopy { target, from, to, n } => |s| {
        for i in 0..n as usize {
            wr!(s, to as usize + i, rd!(s, from as usize + i));
        }
        jump!(s, target)
    };
    BrIfNez { cond, target } => |s| {
        if rd!(s, cond) as u32 != 0 {
            jump!(s, target);
        }
    };
    BrIfEqz { cond, target } => |s| {
        if rd!(s, cond) as u32 == 0 {
            jump!(s, target);
        }
    };
    // Followed by `len + 1` branches: continue at the selected one.
    BrTable { index, len } => |s| br_table!(s, rd!(s, index) as u32, len);
    BrTableA { len, .. } => |s| br_table!(s, s.ia as u32, len);
    Return { from, n } => |s| {
        if from != 0 {
            for i in 0..n as usize {
                wr!(s, i, rd!(s, from as usize + i));
            }
        }
        let m = (*s.cx).m;
        (*m).frames.pop();
        let done = (*m).codes.pop().unwrap_debug_checked();
        let Some(&caller) = (*m).frames.last() else {
            leave!(s, Flow::Done);
        };
        if done & OTHER_INSTANCE != 0 {
            leave!(s, Flow::Reload);
        }
        let code = (*(*m).codes.last().unwrap_debug_checked() & !OTHER_INSTANCE) as *const Instr;
        (*s.cx).code = code;
        s.regs = (*m).stack.as_mut_ptr().add(caller.fp as usize);
        go!(s, code.add(caller.pc as usize))
    };
    Call { func, base } => |s| direct_call!(s, func, base, enter_fast);
    CallIndirect { type_idx, table, index, base } => |s| indirect_call!(s, type_idx, table, index, base, enter_fast);
    ReturnCall { func, base } => |s| direct_call!(s, func, base, tail_enter);
    ReturnCallIndirect { type_idx, table, index, base } => |s| {
        indirect_call!(s, type_idx, table, index, base, tail_enter)
    };
    CallRef { type_idx, func, base } => |s| ref_call!(s, type_idx, func, base, enter_fast);
    ReturnCallRef { type_idx, func, base } => |s| ref_call!(s, type_idx, func, base, tail_enter);
    GlobalGet { dst, global } => |s| wr!(s, dst, (*global!(s, global)).value);
    GlobalSet { src, global } => |s| (*global!(s, global)).value = rd!(s, src);
    GlobalGet128 { dst, global } => |s| {
        let g = global!(s, global);
        put!(s, dst, u128, (*g).value as u128 | ((*g).hi as u128) << 64)
    };
    GlobalSet128 { src, global } => |s| {
        let g = global!(s, global);
        let v = opnd!(s, slot, u128, src);
        ((*g).value, (*g).hi) = (v as u64, (v >> 64) as u64);
    };
    MemorySize { dst } => |s| wr!(s, dst, (*(*s.cx).mem).pages());
    MemoryGrow { dst, delta } => |s| {
        let r = memory_grow(s.cx, rd!(s, delta) as u32 as u64);
        refresh!(s);
        wr!(s, dst, r);
    };
    MemoryCopy { dst, src, n } => |s| {
        slow!(s, memory_copy(s.mp, mem_len!(s), rd!(s, dst) as u32 as u64, rd!(s, src) as u32 as u64, rd!(s, n) as u32 as u64))
    };
    MemoryFill { dst, val, n } => |s| {
        slow!(s, memory_fill(s.mp, mem_len!(s), rd!(s, dst) as u32 as u64, rd!(s, val) as u8, rd!(s, n) as u32 as u64))
    };
    MemoryInit { seg, dst, src, n } => |s| {
        let (d, src, n) = (rd!(s, dst) as u32 as u64, rd!(s, src) as u32 as u64, rd!(s, n) as u32 as u64);
        slow!(s, memory_init(s.cx, s.mp, mem_len!(s), seg, d, src, n))
    };
    DataDrop { seg } => |s| data_drop(s.cx, seg);
    MemorySizeMem { dst, mem } => |s| wr!(s, dst, (*mem_of(s.cx, mem)).pages());
    MemoryGrowMem { dst, delta, mem } => |s| {
        let m = mem_of(s.cx, mem);
        let r = (*m).grow_result((*m).index(rd!(s, delta)));
        // Memory 0 may be the same memory (imported twice).
        refresh!(s);
        wr!(s, dst, r);
    };
    MemoryFillMem { dst, val, n, mem } => |s| {
        let m = mem_of(s.cx, mem);
        let (mp, ml) = ((*m).data.as_mut_ptr(), (*m).data.len() as u64);
        let (d, n) = ((*m).index(rd!(s, dst)), (*m).index(rd!(s, n)));
        slow!(s, memory_fill(mp, ml, d, rd!(s, val) as u8, n))
    };
    MemoryCopyMem { dst, src, n, dst_mem, src_mem } => |s| {
        slow!(s, memory_copy_mem(s.cx, dst_mem, src_mem, rd!(s, dst), rd!(s, src), rd!(s, n)))
    };
    MemoryInitMem { seg, dst, src, n, mem } => |s| {
        let m = mem_of(s.cx, mem);
        let (mp, ml) = ((*m).data.as_mut_ptr(), (*m).data.len() as u64);
        let d = (*m).index(rd!(s, dst));
        slow!(s, memory_init(s.cx, mp, ml, seg, d, rd!(s, src) as u32 as u64, rd!(s, n) as u32 as u64))
    };
    TableGet { dst, index, table } => |s| slow!(s, table_get(s.cx, table, rd!(s, index) as u32, slot!(s, dst)));
    TableSet { table, index, val } => |s| slow!(s, table_set(s.cx, table, rd!(s, index) as u32, rd!(s, val)));
    TableSize { dst, table } => |s| wr!(s, dst, table_size(s.cx, table) as u64);
    TableGrow { table, dst, init, delta } => |s| {
        wr!(s, dst, table_grow(s.cx, table, rd!(s, delta) as u32, rd!(s, init)) as u64)
    };
    TableFill { table, index, val, n } => |s| {
        slow!(s, table_fill(s.cx, table, rd!(s, index) as u32, rd!(s, val), rd!(s, n) as u32))
    };
    TableCopy { dst_table, src_table, dst, src, n } => |s| {
        slow!(s, table_copy(
            s.cx,
            dst_table as u32,
            src_table as u32,
            rd!(s, dst) as u32,
            rd!(s, src) as u32,
            rd!(s, n) as u32
        ))
    };
    TableInit { table, seg, dst, src, n } => |s| {
        slow!(s, table_init(s.cx, table as u32, seg, rd!(s, dst) as u32, rd!(s, src) as u32, rd!(s, n) as u32))
    };
    ElemDrop { seg } => |s| elem_drop(s.cx, seg);
    RefIsNull { dst, src } => |s| wr!(s, dst, (rd!(s, src) == 0) as u64);
    RefFunc { dst, func } => |s| wr!(s, dst, *(*(*s.cx).inst).funcs.get_debug_checked(func as usize) as u64 + 1);
    Throw { tag, base, n } => |s| {
        let e = new_exn(s.cx, tag, slot!(s, base), n);
        pause_for_collection!(s);
        if unwind(s.cx, s.ip, e) {
            leave!(s, Flow::Reload);
        }
        trap!(s, TrapKind::UncaughtException)
    };
    ThrowRef { src } => |s| {
        let r = rd!(s, src);
        if r == 0 {
            trap!(s, TrapKind::NullExceptionReference);
        }
        // (Checked: a crafted checkpoint could name no exception.)
        let e = (r - 1) as usize;
        if e >= (*(*s.cx).store).exns.len() {
            trap!(s, TrapKind::NullExceptionReference);
        }
        if unwind(s.cx, s.ip, e) {
            leave!(s, Flow::Reload);
        }
        trap!(s, TrapKind::UncaughtException)
    };
    SatU32 { dst, a } => |s| wr!(s, dst, rd!(s, a).min(u32::MAX as u64));
    RefAsNonNull { dst, src } => |s| {
        let r = rd!(s, src);
        if r == 0 {
            trap!(s, TrapKind::NullReference);
        }
        wr!(s, dst, r)
    };
    BrIfNezA { target, .. } => |s| {
        if s.ia as u32 != 0 {
            jump!(s, target);
        }
    };
    BrIfEqzA { target, .. } => |s| {
        if s.ia as u32 == 0 {
            jump!(s, target);
        }
    };
    SelectC { a, b, .. } => |s| select!(s, a, b, s.ia as u32 != 0);
    Select64C { a, b, .. } => |s| select!(s, a, b, s.ia != 0);
    SelectAnd { a, b, c, mask, .. } => |s| select!(s, a, b, rd!(s, c) as u32 & mask as u32 != 0);
    SelectAndA { b, c, mask, .. } => |s| select!(s, ia, b, rd!(s, c) as u32 & mask as u32 != 0);
    SelectAndB { a, c, mask, .. } => |s| select!(s, a, ia, rd!(s, c) as u32 & mask as u32 != 0);
    SelectAnd64 { a, b, c, mask, .. } => |s| select!(s, a, b, rd!(s, c) & mask as i64 as u64 != 0);
    SelectAnd64A { b, c, mask, .. } => |s| select!(s, ia, b, rd!(s, c) & mask as i64 as u64 != 0);
    SelectAnd64B { a, c, mask, .. } => |s| select!(s, a, ia, rd!(s, c) & mask as i64 as u64 != 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_match_ops() {
        use crate::compile::ir::{Bin, CmpBrImm};
        let b = Bin { dst: 1, a: 2, b: 3 };
        assert_eq!(Instr::I32Add(b).op(), Op::I32Add as u16);
        assert_eq!(Instr::F64Ge(b).op(), Op::F64Ge as u16);
        assert_eq!(Instr::Unreachable.op(), Op::Unreachable as u16);
        assert_eq!(Instr::RefFunc { dst: 0, func: 9 }.op(), Op::RefFunc as u16);
        let c = CmpBrImm { a: 0, imm: -1, target: 5 };
        assert_eq!(Instr::I64GeUImmBr(c).op(), Op::I64GeUImmBr as u16);
    }
}

/// The handlers chain by tail calls: executing any number of instructions, calls and host calls
/// must not grow the native stack. A handler whose dispatch is not a jump would overflow this
/// thread's small stack (and abort the test binary) within a few thousand instructions.
#[cfg(test)]
mod stack_tests {
    const SCRIPT: &str = r#"
      (module
        (import "spectest" "print_i32" (func $print (param i32)))
        (memory 1)
        (table 1 funcref)
        (elem (i32.const 0) $id)
        (type $t (func (param i32) (result i32)))
        (global $g (mut i64) (i64.const 0))
        (func $id (type $t) (local.get 0))
        (func (export "run") (param $n i32) (result i64)
          (local $i i32) (local $x i32)
          (loop $l
            (i32.store (i32.const 16) (local.get $i))
            (local.set $x (call_indirect (type $t) (call $id (i32.load (i32.const 16))) (i32.const 0)))
            (call $print (local.get $x))
            (global.set $g (i64.add (global.get $g) (i64.extend_i32_u (local.get $x))))
            (memory.fill (i32.const 32) (i32.const 0) (i32.const 4))
            (block $odd (block $even (br_table $even $odd (i32.and (local.get $i) (i32.const 1)))))
            (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
          (global.get $g)))
      (assert_return (invoke "run" (i32.const 200000)) (i64.const 19999900000))
    "#;

    #[test]
    fn dispatch_does_not_grow_the_native_stack() {
        let summary = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(|| crate::wast::run_text("stack", SCRIPT))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!((summary.passed, summary.failed), (2, 0), "{:?}", summary.failures);
    }

    const SIMD_SCRIPT: &str = include_str!("../../tests/wast/simd_dispatch.wast");

    /// Every SIMD kind, thousands of times, on a 512 KiB stack.
    #[test]
    fn simd_dispatch_does_not_grow_the_native_stack() {
        let summary = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(|| crate::wast::run_text("simd_dispatch", SIMD_SCRIPT))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!((summary.passed, summary.failed), (8, 0), "{:?}", summary.failures);
    }

    /// ... and the script does lower to every SIMD kind there is (every form of every row of
    /// the table, and the hand-written ones), so the test above runs them all.
    #[test]
    fn simd_dispatch_script_covers_every_simd_kind() {
        use crate::compile::ir::Op;
        let seen = crate::test_util::lowered_kinds(SIMD_SCRIPT);
        let simd = ["V128", "I8x16", "I16x8", "I32x4", "I64x2", "F32x4", "F64x2"];
        let hand = ["Copy128", "Select128", "GlobalGet128", "GlobalSet128"];
        let missing: Vec<String> = Op::ALL
            .iter()
            .map(|&o| (o, format!("{o:?}")))
            .filter(|(_, n)| simd.iter().any(|p| n.starts_with(p)) || hand.contains(&n.as_str()))
            .filter(|(o, _)| !seen.contains(&(*o as u16)))
            .map(|(_, n)| n)
            .collect();
        assert!(missing.is_empty(), "SIMD kinds the script never runs: {missing:?}");
    }
}
