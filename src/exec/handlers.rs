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

use super::machine::{need_results_space, zero_few_locals, zero_locals, Frame, Machine, OTHER_INSTANCE};
use super::ops;
use super::trap::TrapKind;
use super::unchecked::{unreachable_unchecked, DebugChecked, UnwrapDebugChecked};
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
    pub inst_funcs: *const u32,
    pub nimp: u32,
    pub max_stack: usize,
    pub max_frames: usize,
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
        *$s.regs.add($slot as usize)
    };
}
/// Writes `$v` to slot `$slot` and to the integer register.
macro_rules! wr {
    ($s:ident, $slot:expr, $v:expr) => {{
        let v: u64 = $v;
        *$s.regs.add($slot as usize) = v;
        $s.ia = v;
    }};
}
/// An operand: from its slot, or (`ia`) from the integer register.
macro_rules! get {
    ($s:ident, slot, $slot:expr) => {
        rd!($s, $slot)
    };
    ($s:ident, ia, $slot:expr) => {
        $s.ia
    };
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
        }
    }};
}

// ---- instruction families -----------------------------------------------------------------

/// Integer operations; `$ma`/`$mb` say where each operand comes from (see `get!`).
macro_rules! i32bin {
    ($s:ident, $x:ident, |$a:ident, $b:ident| $e:expr) => {
        i32bin!($s, $x, slot, slot, |$a, $b| $e)
    };
    ($s:ident, $x:ident, $ma:ident, $mb:ident, |$a:ident, $b:ident| $e:expr) => {{
        let $a = get!($s, $ma, $x.a) as u32;
        let $b = get!($s, $mb, $x.b) as u32;
        wr!($s, $x.dst, ($e) as u32 as u64);
    }};
}
macro_rules! i64bin {
    ($s:ident, $x:ident, |$a:ident, $b:ident| $e:expr) => {
        i64bin!($s, $x, slot, slot, |$a, $b| $e)
    };
    ($s:ident, $x:ident, $ma:ident, $mb:ident, |$a:ident, $b:ident| $e:expr) => {{
        let $a = get!($s, $ma, $x.a);
        let $b = get!($s, $mb, $x.b);
        wr!($s, $x.dst, ($e) as u64);
    }};
}
macro_rules! f32bin {
    ($s:ident, $x:ident, |$a:ident, $b:ident| $e:expr) => {{
        let $a = f32::from_bits(rd!($s, $x.a) as u32);
        let $b = f32::from_bits(rd!($s, $x.b) as u32);
        wr!($s, $x.dst, ($e).to_bits() as u64);
    }};
}
/// Writes f64 `$v` to slot `$dst` and to the f64 register.
macro_rules! wrf {
    ($s:ident, $dst:expr, $v:expr) => {{
        let v: f64 = $v;
        // Stored as an f64, so that a value that is in a floating-point register stays there.
        *($s.regs.add($dst as usize) as *mut f64) = v;
        $s.fa = v;
    }};
}
/// An f64 operation; `a`/`b` say where each operand comes from: its slot, or (`fa`) the f64
/// register. The result goes to its slot and to the register.
macro_rules! f64bin {
    ($s:ident, $x:ident, |$a:ident, $b:ident| $e:expr) => {
        f64bin!($s, $x, slot, slot, |$a, $b| $e)
    };
    ($s:ident, $x:ident, $fa:ident, $fb:ident, |$a:ident, $b:ident| $e:expr) => {{
        let $a = f64bin!(@get $s, $fa, $x.a);
        let $b = f64bin!(@get $s, $fb, $x.b);
        wrf!($s, $x.dst, $e);
    }};
    (@get $s:ident, slot, $slot:expr) => { f64::from_bits(rd!($s, $slot)) };
    (@get $s:ident, fa, $slot:expr) => { $s.fa };
}
/// An f64 operation with one operand from memory ([`crate::compile::ir::BinMem`]): `$m` is the
/// f64 at `a + imm + offset` (the address operand `a` from its slot or, `ia`, the integer
/// register), `$b` operand `b` (from its slot or, `fa`, the f64 register).
macro_rules! f64mem {
    ($s:ident, $x:ident, $ma:ident, $fb:ident, |$m:ident, $b:ident| $e:expr) => {{
        load!(@ $s, $x, (get!($s, $ma, $x.a) as u32).wrapping_add($x.imm), f64, |$m| {
            let $b = f64bin!(@get $s, $fb, $x.b);
            wrf!($s, $x.dst, $e)
        })
    }};
}
/// An update of memory by an f64 operation (`F64AddU`, …: a [`crate::compile::ir::Store`]):
/// `$m` is the f64 at `addr + offset` (the address from its slot or, `ia`, the integer
/// register), `$b` operand `val` (from its slot or, `fa`, the f64 register); the result goes
/// back to memory only (no slot, no register).
macro_rules! f64upd {
    ($s:ident, $x:ident, $ma:ident, $fb:ident, |$m:ident, $b:ident| $e:expr) => {{
        let p = ea!($s, get!($s, $ma, $x.addr) as u32, $x.offset, 8u64);
        let $m = f64::from_le_bytes(*(p as *const [u8; 8]));
        let $b = f64bin!(@get $s, $fb, $x.val);
        *(p as *mut [u8; 8]) = ($e).to_le_bytes();
    }};
}
macro_rules! f32cmp {
    ($s:ident, $x:ident, |$a:ident, $b:ident| $e:expr) => {{
        let $a = f32::from_bits(rd!($s, $x.a) as u32);
        let $b = f32::from_bits(rd!($s, $x.b) as u32);
        wr!($s, $x.dst, ($e) as u64);
    }};
}
macro_rules! f64cmp {
    ($s:ident, $x:ident, |$a:ident, $b:ident| $e:expr) => {{
        let $a = f64::from_bits(rd!($s, $x.a));
        let $b = f64::from_bits(rd!($s, $x.b));
        wr!($s, $x.dst, ($e) as u64);
    }};
}
macro_rules! un {
    (ia $s:ident, $x:ident, $from:ident, |$a:ident| $e:expr) => {{
        let $a = un!(@get $from, $s.ia);
        wr!($s, $x.dst, $e);
    }};
    ($s:ident, $x:ident, $from:ident, |$a:ident| $e:expr) => {{
        let $a = un!(@get $from, rd!($s, $x.a));
        wr!($s, $x.dst, $e);
    }};
    (@get u32, $v:expr) => { $v as u32 };
    (@get u64, $v:expr) => { $v };
    (@get f32, $v:expr) => { f32::from_bits($v as u32) };
    (@get f64, $v:expr) => { f64::from_bits($v) };
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
macro_rules! trunc {
    ($s:ident, $x:ident, $from:ident, $f:path, $to:ty) => {{
        let v = un!(@get $from, rd!($s, $x.a));
        match $f(v) {
            Ok(r) => wr!($s, $x.dst, r as $to as u64),
            Err(k) => trap!($s, k),
        }
    }};
}
macro_rules! i32bi {
    ($s:ident, $x:ident, |$a:ident, $b:ident| $e:expr) => {
        i32bi!($s, $x, slot, |$a, $b| $e)
    };
    ($s:ident, $x:ident, $ma:ident, |$a:ident, $b:ident| $e:expr) => {{
        let $a = get!($s, $ma, $x.a) as u32;
        let $b = $x.imm as u32;
        wr!($s, $x.dst, ($e) as u32 as u64);
    }};
}
macro_rules! i64bi {
    ($s:ident, $x:ident, |$a:ident, $b:ident| $e:expr) => {
        i64bi!($s, $x, slot, |$a, $b| $e)
    };
    ($s:ident, $x:ident, $ma:ident, |$a:ident, $b:ident| $e:expr) => {{
        let $a = get!($s, $ma, $x.a);
        let $b = $x.imm as i64 as u64;
        wr!($s, $x.dst, ($e) as u64);
    }};
}
macro_rules! cmpbr {
    ($s:ident, $x:ident, $t:ty, |$a:ident, $b:ident| $e:expr) => {
        cmpbr!($s, $x, slot, $t, |$a, $b| $e)
    };
    ($s:ident, $x:ident, $ma:ident, $t:ty, |$a:ident, $b:ident| $e:expr) => {{
        let $a = get!($s, $ma, $x.a) as $t;
        let $b = rd!($s, $x.b) as $t;
        if $e {
            jump!($s, $x.target);
        }
    }};
}
macro_rules! cmpbri {
    ($s:ident, $x:ident, $t:ty, |$a:ident, $b:ident| $e:expr) => {
        cmpbri!($s, $x, slot, $t, |$a, $b| $e)
    };
    ($s:ident, $x:ident, $ma:ident, $t:ty, |$a:ident, $b:ident| $e:expr) => {{
        let $a = get!($s, $ma, $x.a) as $t;
        let $b = $x.imm as i64 as $t;
        if $e {
            jump!($s, $x.target);
        }
    }};
}
/// `a += add` (wrapping 32-bit), then compare-and-branch against `imm`.
macro_rules! addbr {
    ($s:ident, $x:ident, $t:ty, |$a:ident, $b:ident| $e:expr) => {{
        let v = (rd!($s, $x.a) as u32).wrapping_add($x.add as u32);
        wr!($s, $x.a, v as u64);
        let $a = v as $t;
        let $b = $x.imm as $t;
        if $e {
            jump!($s, $x.target);
        }
    }};
}

/// `a += add` (a slot, wrapping at `$w` bits), then compare-and-branch against slot `b`.
macro_rules! addbrs {
    ($s:ident, $x:ident, $w:ty, $t:ty, |$a:ident, $b:ident| $e:expr) => {{
        let v = (rd!($s, $x.a) as $w).wrapping_add(rd!($s, $x.add) as $w);
        wr!($s, $x.a, v as u64);
        let $a = v as $t;
        let $b = rd!($s, $x.b) as $t;
        if $e {
            jump!($s, $x.target);
        }
    }};
}

/// Host address of an access of `$n` bytes at Wasm address `$base` (a `u32`) + `$off`, or a trap.
/// The end of the access is computed first and the start addressed from it (displacement
/// `-$n`), so that the check and the access share one register; `opaque` keeps LLVM from
/// rederiving the start in a second one, which costs a handler a callee-saved register (a push
/// and a pop) on x86_64.
macro_rules! ea {
    ($s:ident, $base:expr, $off:expr, $n:expr) => {{
        let end = opaque(($base as u64) + $off as u64 + $n);
        if end > (*$s.cx).ml {
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
/// The address of an indexed access: `base + (idx << shift)`, wrapping like the `i32.shl` and
/// `i32.add` it replaces.
macro_rules! idx_addr {
    ($s:ident, $x:ident) => {
        idx_addr!($s, $x, rd!($s, $x.idx))
    };
    ($s:ident, $x:ident, $idx:expr) => {
        (rd!($s, $x.base) as u32).wrapping_add(($idx as u32).wrapping_shl($x.shift as u32))
    };
}
macro_rules! load {
    (idx $s:ident, $x:ident, $t:ty, $conv:ty) => {
        load!(@ $s, $x, idx_addr!($s, $x), $t, |v| wr!($s, $x.dst, v as $conv as u64))
    };
    (idx ia $s:ident, $x:ident, $t:ty, $conv:ty) => {
        load!(@ $s, $x, idx_addr!($s, $x, $s.ia), $t, |v| wr!($s, $x.dst, v as $conv as u64))
    };
    (f64 idx $s:ident, $x:ident) => {
        load!(@ $s, $x, idx_addr!($s, $x), f64, |v| wrf!($s, $x.dst, v))
    };
    (f64 idx ia $s:ident, $x:ident) => {
        load!(@ $s, $x, idx_addr!($s, $x, $s.ia), f64, |v| wrf!($s, $x.dst, v))
    };
    // `ia`: the address (operand) from the integer register.
    (ia at $s:ident, $x:ident, $t:ty, $conv:ty) => {
        load!(@ $s, $x, ($s.ia as u32).wrapping_add($x.imm), $t, |v| wr!($s, $x.dst, v as $conv as u64))
    };
    (ia $s:ident, $x:ident, $t:ty, $conv:ty) => {
        load!(@ $s, $x, $s.ia as u32, $t, |v| wr!($s, $x.dst, v as $conv as u64))
    };
    (at $s:ident, $x:ident, $t:ty, $conv:ty) => {
        load!(@ $s, $x, (rd!($s, $x.a) as u32).wrapping_add($x.imm), $t, |v| wr!($s, $x.dst, v as $conv as u64))
    };
    // `f64.load`: the value goes to the f64 register too (loaded as an f64, straight into a
    // floating-point register).
    (f64 ia at $s:ident, $x:ident) => {
        load!(@ $s, $x, ($s.ia as u32).wrapping_add($x.imm), f64, |v| wrf!($s, $x.dst, v))
    };
    (f64 ia $s:ident, $x:ident) => {
        load!(@ $s, $x, $s.ia as u32, f64, |v| wrf!($s, $x.dst, v))
    };
    (f64 at $s:ident, $x:ident) => {
        load!(@ $s, $x, (rd!($s, $x.a) as u32).wrapping_add($x.imm), f64, |v| wrf!($s, $x.dst, v))
    };
    (f64 $s:ident, $x:ident) => {
        load!(@ $s, $x, rd!($s, $x.addr) as u32, f64, |v| wrf!($s, $x.dst, v))
    };
    (@ $s:ident, $x:ident, $base:expr, $t:ty, |$v:ident| $put:expr) => {{
        const N: usize = std::mem::size_of::<$t>();
        let p = ea!($s, $base, $x.offset, N as u64);
        // A byte-array access (alignment 1) rather than `read_unaligned`, whose checked
        // version in debug builds takes the address of a local (and so blocks the tail call).
        let $v = <$t>::from_le_bytes(*(p as *const [u8; N]));
        $put;
    }};
    ($s:ident, $x:ident, $t:ty, $conv:ty) => {
        load!(@ $s, $x, rd!($s, $x.addr) as u32, $t, |v| wr!($s, $x.dst, v as $conv as u64))
    };
}
macro_rules! store {
    ($s:ident, $x:ident, $t:ty) => {
        store!(@ $s, $x, rd!($s, $x.addr) as u32, rd!($s, $x.val), $t)
    };
    (at $s:ident, $x:ident, $t:ty) => {
        store!(@ $s, $x, (rd!($s, $x.addr) as u32).wrapping_add($x.imm), rd!($s, $x.val), $t)
    };
    (k $s:ident, $x:ident, $t:ty) => {
        store!(@ $s, $x, rd!($s, $x.addr) as u32, $x.imm as i64, $t)
    };
    (idx $s:ident, $x:ident, $t:ty) => {
        store!(@ $s, $x, idx_addr!($s, $x), rd!($s, $x.val), $t)
    };
    (idx ia $s:ident, $x:ident, $t:ty) => {
        store!(@ $s, $x, idx_addr!($s, $x, $s.ia), rd!($s, $x.val), $t)
    };
    // `ia`: the address from the integer register; `iv`: the value.
    (ia at $s:ident, $x:ident, $t:ty) => {
        store!(@ $s, $x, ($s.ia as u32).wrapping_add($x.imm), rd!($s, $x.val), $t)
    };
    (iv at $s:ident, $x:ident, $t:ty) => {
        store!(@ $s, $x, (rd!($s, $x.addr) as u32).wrapping_add($x.imm), $s.ia, $t)
    };
    (ia k $s:ident, $x:ident, $t:ty) => {
        store!(@ $s, $x, $s.ia as u32, $x.imm as i64, $t)
    };
    (ia $s:ident, $x:ident, $t:ty) => {
        store!(@ $s, $x, $s.ia as u32, rd!($s, $x.val), $t)
    };
    (iv $s:ident, $x:ident, $t:ty) => {
        store!(@ $s, $x, rd!($s, $x.addr) as u32, $s.ia, $t)
    };
    // The value from the f64 register.
    (fa $s:ident, $x:ident) => {
        store!(@ $s, $x, rd!($s, $x.addr) as u32, $s.fa.to_bits(), u64)
    };
    (fa at $s:ident, $x:ident) => {
        store!(@ $s, $x, (rd!($s, $x.addr) as u32).wrapping_add($x.imm), $s.fa.to_bits(), u64)
    };
    (@ $s:ident, $x:ident, $base:expr, $v:expr, $t:ty) => {{
        const N: usize = std::mem::size_of::<$t>();
        let p = ea!($s, $base, $x.offset, N as u64);
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
        let callee: *const CompiledFunc = $callee;
        let cx = $s.cx;
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

/// The common case of a call, without any call of its own (so the handler needs no stack
/// frame): a Wasm function of the current instance with at most 4 declared locals, when the
/// value stack and the frame vectors have room. Anything else goes to [`call_slow`].
macro_rules! enter_fast {
    ($s:ident, $addr:expr, $callee:expr, $base:expr) => {{
        let callee: *const CompiledFunc = $callee;
        let cx = $s.cx;
        let m = (*cx).m;
        let n = (*m).frames.len();
        let cur = (*m).frames.as_mut_ptr().add(n - 1);
        let new_fp = (*cur).fp as usize + $base as usize;
        let (p, l, max) =
            ((*callee).num_params as usize, (*callee).num_locals as usize, (*callee).max_slots as usize);
        let need = new_fp + max;
        if need > (*m).stack.len()
            || l - p > 4
            || n == (*m).frames.capacity()
            || (*m).codes.len() == (*m).codes.capacity()
            || n >= (*cx).max_frames
        {
            slow_call!($s);
        }
        (*cur).pc = pc_of(cx, $s.ip) + 1;
        let nregs = (*m).stack.as_mut_ptr().add(new_fp);
        zero_few_locals(nregs, p, l, max);
        let ccode = (*callee).code.as_ptr();
        push_frame!(m, $addr, new_fp, ccode, 0);
        (*cx).code = ccode;
        $s.regs = nregs;
        // The entry safe point, executed without a dispatch.
        poll_go!($s, ccode);
    }};
}

/// Calls the function at store address `$addr` with its frame at slot `$base`.
macro_rules! call_addr {
    ($s:ident, $addr:expr, $base:expr) => {{
        let addr: u32 = $addr;
        let store = (*$s.cx).store;
        let f = *(*store).funcs.get_debug_checked(addr as usize);
        match f.kind {
            FuncKind::Wasm { instance: ci, index } => {
                let m = &*(*store).instances.get_debug_checked(ci as usize).module;
                let callee = m.code.as_ptr().add((index - m.num_imported_funcs) as usize);
                enter!($s, addr, callee, ci, $base)
            }
            FuncKind::Host { id } => match host_call($s.cx, $s.ip, f.ty, id, $base as usize) {
                Flow::Continue => refresh!($s),
                e => leave!($s, e),
            },
        }
    }};
}

/// `Call` and `CallIndirect` in full (host functions, other instances, many locals, growing
/// the stack or the frame vectors): re-executes the call instruction at `ip`.
/// Returns the next instruction; the registers to run it with are in `Ctx::next`.
///
/// # Safety
/// The module's safety contract, for the `Call` or `CallIndirect` at `ip`.
#[inline(never)]
unsafe fn call_slow(ip: *const Instr, regs: *mut u64, mp: *mut u8, cd: i64, cx: *mut Ctx) -> *const Instr {
    let mut s = S { ip, regs, mp, cd, cx, ia: 0, fa: 0.0 };
    #[allow(clippy::redundant_closure_call)]
    let next = (|| -> *const Instr {
        match *ip {
            Instr::Call { func, base } => {
                let addr = *(*cx).inst_funcs.add(func as usize);
                if func >= (*cx).nimp {
                    enter!(s, addr, (*cx).defined.add((func - (*cx).nimp) as usize), (*cx).cur_inst, base)
                }
                call_addr!(s, addr, base)
            }
            Instr::CallIndirect { type_idx, table, index, base } => {
                match indirect_target(s.cx, type_idx, table, rd!(s, index) as u32) {
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

/// In `Call`/`CallIndirect`: continue through [`call_slow`].
macro_rules! slow_call {
    ($s:ident) => {{
        let next = call_slow($s.ip, $s.regs, $s.mp, $s.cd, $s.cx);
        let n = (*$s.cx).next;
        // The registers are dead after a call: setting them keeps them out of the stack frame.
        ($s.regs, $s.mp, $s.cd, $s.ia, $s.fa) = (n.regs, n.mp, n.cd, n.ia, n.fa);
        go!($s, next)
    }};
}

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
    let (np, nr) = (ty.params.len(), ty.results.len());
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

/// # Safety
/// The module's safety contract, and the instance has a memory (validation).
#[inline(never)]
unsafe fn memory_grow(cx: *mut Ctx, delta: u32) -> u32 {
    (*(*cx).mem).grow(delta).unwrap_or(u32::MAX)
}

/// # Safety
/// `mp` points at `ml` bytes of linear memory.
#[inline(never)]
unsafe fn memory_copy(mp: *mut u8, ml: u64, d: u32, s: u32, n: u32) -> Slow {
    let (d, s, n) = (d as u64, s as u64, n as u64);
    if d + n > ml || s + n > ml {
        return Err(MEMORY_OOB);
    }
    std::ptr::copy(mp.add(s as usize), mp.add(d as usize), n as usize);
    Ok(())
}

/// # Safety
/// `mp` points at `ml` bytes of linear memory.
#[inline(never)]
unsafe fn memory_fill(mp: *mut u8, ml: u64, d: u32, v: u8, n: u32) -> Slow {
    let (d, n) = (d as u64, n as u64);
    if d + n > ml {
        return Err(MEMORY_OOB);
    }
    std::ptr::write_bytes(mp.add(d as usize), v, n as usize);
    Ok(())
}

/// # Safety
/// The module's safety contract; `mp` points at `ml` bytes of linear memory and `seg` is
/// a data segment of the current instance (validation).
#[inline(never)]
unsafe fn memory_init(cx: *mut Ctx, mp: *mut u8, ml: u64, seg: u32, d: u32, s: u32, n: u32) -> Slow {
    let data = (*(*cx).inst).data(seg);
    let (d, s, n) = (d as u64, s as u64, n as u64);
    if d + n > ml || s + n > data.len() as u64 {
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
            #[allow(non_snake_case, unused_mut, unreachable_code, unused_variables, clippy::all)]
            #[cfg_attr(not(chiwawa_tail_calls), inline(always))]
            unsafe fn $v(
                ip: *const Instr,
                regs: *mut u64,
                mp: *mut u8,
                cd: i64,
                cx: *mut Ctx,
                ia: u64,
                fa: f64,
            ) -> Out {
                let Instr::$v $pat = *ip else { unreachable_unchecked!() };
                let mut $s = S { ip, regs, mp, cd, cx, ia, fa };
                // The body `return`s the next instruction from this closure (`go!`), or falls
                // through to the following one.
                let next: *const Instr = (|| -> *const Instr {
                    $body;
                    next!($s)
                })();
                dispatch!($s, next)
            }
        )*

        /// The handler of every instruction kind, indexed by its tag.
        #[cfg(chiwawa_tail_calls)]
        static HANDLERS: [Handler; Op::COUNT] = {
            let mut t: [Handler; Op::COUNT] = [missing; Op::COUNT];
            $( t[Op::$v as usize] = $v; )*
            t[Op::Halt as usize] = halt;
            t
        };

        /// Every kind with a handler (tests check that this is all of them).
        #[cfg(test)]
        pub(super) const HANDLED: &[Op] = &[$(Op::$v,)* Op::Halt];

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
            let S { mut ip, mut regs, mut mp, mut cd, cx, mut ia, mut fa } = s;
            loop {
                // SAFETY: every instruction's tag is an `Op` (both enums come from one list).
                let op: Op = std::mem::transmute::<u16, Op>((*ip).op());
                let (flow, n) = match op {
                    $(Op::$v => $v(ip, regs, mp, cd, cx, ia, fa),)*
                    Op::Halt => return halt_flow(cd, cx),
                };
                if flow != Flow::Continue {
                    return flow;
                }
                (ip, regs, mp, cd, ia, fa) = (n.ip, n.regs, n.mp, n.cd, n.ia, n.fa);
            }
        }
    };
}

/// Placeholder in [`HANDLERS`] for a kind without a handler (a unit test proves there is none).
///
/// # Safety
/// The module's safety contract.
#[cfg(chiwawa_tail_calls)]
unsafe fn missing(ip: *const Instr, _: *mut u64, _: *mut u8, _: i64, _: *mut Ctx, _: u64, _: f64) -> Flow {
    unreachable!("no handler for instruction {:?}", *ip)
}

handlers! {
    Unreachable {} => |s| trap!(s, TrapKind::Unreachable);
    Poll { cost, .. } => |s| {
        s.cd -= cost as i64;
        if s.cd <= 0 {
            pause!(s, s.ip.add(1));
        }
    };
    Const32 { dst, val } => |s| wr!(s, dst, val as u64);
    Const64 { dst, val } => |s| wr!(s, dst, val);
    Copy { dst, src } => |s| wr!(s, dst, rd!(s, src));
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
    BrTable { index, len } => |s| go!(s, s.ip.add(1 + (rd!(s, index) as u32).min(len) as usize));

    BrI32Eq(x) => |s| cmpbr!(s, x, u32, |a, b| a == b);
    BrI32Ne(x) => |s| cmpbr!(s, x, u32, |a, b| a != b);
    BrI32LtS(x) => |s| cmpbr!(s, x, u32, |a, b| (a as i32) < (b as i32));
    BrI32LtU(x) => |s| cmpbr!(s, x, u32, |a, b| a < b);
    BrI32GtS(x) => |s| cmpbr!(s, x, u32, |a, b| (a as i32) > (b as i32));
    BrI32GtU(x) => |s| cmpbr!(s, x, u32, |a, b| a > b);
    BrI32LeS(x) => |s| cmpbr!(s, x, u32, |a, b| (a as i32) <= (b as i32));
    BrI32LeU(x) => |s| cmpbr!(s, x, u32, |a, b| a <= b);
    BrI32GeS(x) => |s| cmpbr!(s, x, u32, |a, b| (a as i32) >= (b as i32));
    BrI32GeU(x) => |s| cmpbr!(s, x, u32, |a, b| a >= b);
    BrI64Eq(x) => |s| cmpbr!(s, x, u64, |a, b| a == b);
    BrI64Ne(x) => |s| cmpbr!(s, x, u64, |a, b| a != b);
    BrI64LtS(x) => |s| cmpbr!(s, x, u64, |a, b| (a as i64) < (b as i64));
    BrI64LtU(x) => |s| cmpbr!(s, x, u64, |a, b| a < b);
    BrI64GtS(x) => |s| cmpbr!(s, x, u64, |a, b| (a as i64) > (b as i64));
    BrI64GtU(x) => |s| cmpbr!(s, x, u64, |a, b| a > b);
    BrI64LeS(x) => |s| cmpbr!(s, x, u64, |a, b| (a as i64) <= (b as i64));
    BrI64LeU(x) => |s| cmpbr!(s, x, u64, |a, b| a <= b);
    BrI64GeS(x) => |s| cmpbr!(s, x, u64, |a, b| (a as i64) >= (b as i64));
    BrI64GeU(x) => |s| cmpbr!(s, x, u64, |a, b| a >= b);
    BrI32EqImm(x) => |s| cmpbri!(s, x, u32, |a, b| a == b);
    BrI32NeImm(x) => |s| cmpbri!(s, x, u32, |a, b| a != b);
    BrI32LtSImm(x) => |s| cmpbri!(s, x, u32, |a, b| (a as i32) < (b as i32));
    BrI32LtUImm(x) => |s| cmpbri!(s, x, u32, |a, b| a < b);
    BrI32GtSImm(x) => |s| cmpbri!(s, x, u32, |a, b| (a as i32) > (b as i32));
    BrI32GtUImm(x) => |s| cmpbri!(s, x, u32, |a, b| a > b);
    BrI32LeSImm(x) => |s| cmpbri!(s, x, u32, |a, b| (a as i32) <= (b as i32));
    BrI32LeUImm(x) => |s| cmpbri!(s, x, u32, |a, b| a <= b);
    BrI32GeSImm(x) => |s| cmpbri!(s, x, u32, |a, b| (a as i32) >= (b as i32));
    BrI32GeUImm(x) => |s| cmpbri!(s, x, u32, |a, b| a >= b);
    BrI64EqImm(x) => |s| cmpbri!(s, x, u64, |a, b| a == b);
    BrI64NeImm(x) => |s| cmpbri!(s, x, u64, |a, b| a != b);
    BrI64LtSImm(x) => |s| cmpbri!(s, x, u64, |a, b| (a as i64) < (b as i64));
    BrI64LtUImm(x) => |s| cmpbri!(s, x, u64, |a, b| a < b);
    BrI64GtSImm(x) => |s| cmpbri!(s, x, u64, |a, b| (a as i64) > (b as i64));
    BrI64GtUImm(x) => |s| cmpbri!(s, x, u64, |a, b| a > b);
    BrI64LeSImm(x) => |s| cmpbri!(s, x, u64, |a, b| (a as i64) <= (b as i64));
    BrI64LeUImm(x) => |s| cmpbri!(s, x, u64, |a, b| a <= b);
    BrI64GeSImm(x) => |s| cmpbri!(s, x, u64, |a, b| (a as i64) >= (b as i64));
    BrI64GeUImm(x) => |s| cmpbri!(s, x, u64, |a, b| a >= b);

    I32AddImm(x) => |s| i32bi!(s, x, |a, b| a.wrapping_add(b));
    I32MulImm(x) => |s| i32bi!(s, x, |a, b| a.wrapping_mul(b));
    I32AndImm(x) => |s| i32bi!(s, x, |a, b| a & b);
    I32OrImm(x) => |s| i32bi!(s, x, |a, b| a | b);
    I32XorImm(x) => |s| i32bi!(s, x, |a, b| a ^ b);
    I32ShlImm(x) => |s| i32bi!(s, x, |a, b| a.wrapping_shl(b));
    I32ShrSImm(x) => |s| i32bi!(s, x, |a, b| (a as i32).wrapping_shr(b));
    I32ShrUImm(x) => |s| i32bi!(s, x, |a, b| a.wrapping_shr(b));
    I32EqImm(x) => |s| i32bi!(s, x, |a, b| a == b);
    I32NeImm(x) => |s| i32bi!(s, x, |a, b| a != b);
    I32LtSImm(x) => |s| i32bi!(s, x, |a, b| (a as i32) < (b as i32));
    I32LtUImm(x) => |s| i32bi!(s, x, |a, b| a < b);
    I32GtSImm(x) => |s| i32bi!(s, x, |a, b| (a as i32) > (b as i32));
    I32GtUImm(x) => |s| i32bi!(s, x, |a, b| a > b);
    I32LeSImm(x) => |s| i32bi!(s, x, |a, b| (a as i32) <= (b as i32));
    I32LeUImm(x) => |s| i32bi!(s, x, |a, b| a <= b);
    I32GeSImm(x) => |s| i32bi!(s, x, |a, b| (a as i32) >= (b as i32));
    I32GeUImm(x) => |s| i32bi!(s, x, |a, b| a >= b);
    I64AddImm(x) => |s| i64bi!(s, x, |a, b| a.wrapping_add(b));
    I64MulImm(x) => |s| i64bi!(s, x, |a, b| a.wrapping_mul(b));
    I64AndImm(x) => |s| i64bi!(s, x, |a, b| a & b);
    I64OrImm(x) => |s| i64bi!(s, x, |a, b| a | b);
    I64XorImm(x) => |s| i64bi!(s, x, |a, b| a ^ b);
    I64ShlImm(x) => |s| i64bi!(s, x, |a, b| a.wrapping_shl(b as u32));
    I64ShrSImm(x) => |s| i64bi!(s, x, |a, b| (a as i64).wrapping_shr(b as u32));
    I64ShrUImm(x) => |s| i64bi!(s, x, |a, b| a.wrapping_shr(b as u32));
    I64EqImm(x) => |s| i64bi!(s, x, |a, b| a == b);
    I64NeImm(x) => |s| i64bi!(s, x, |a, b| a != b);
    I64LtSImm(x) => |s| i64bi!(s, x, |a, b| (a as i64) < (b as i64));
    I64LtUImm(x) => |s| i64bi!(s, x, |a, b| a < b);
    I64GtSImm(x) => |s| i64bi!(s, x, |a, b| (a as i64) > (b as i64));
    I64GtUImm(x) => |s| i64bi!(s, x, |a, b| a > b);
    I64LeSImm(x) => |s| i64bi!(s, x, |a, b| (a as i64) <= (b as i64));
    I64LeUImm(x) => |s| i64bi!(s, x, |a, b| a <= b);
    I64GeSImm(x) => |s| i64bi!(s, x, |a, b| (a as i64) >= (b as i64));
    I64GeUImm(x) => |s| i64bi!(s, x, |a, b| a >= b);

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
    Call { func, base } => |s| {
        let cx = s.cx;
        if func >= (*cx).nimp {
            // A function defined by this module: this instance's own.
            let addr = *(*cx).inst_funcs.add(func as usize);
            enter_fast!(s, addr, (*cx).defined.add((func - (*cx).nimp) as usize), base)
        }
        slow_call!(s)
    };
    CallIndirect { type_idx, table, index, base } => |s| {
        match indirect_target(s.cx, type_idx, table, rd!(s, index) as u32) {
            Ok(addr) => {
                let store = (*s.cx).store;
                if let FuncKind::Wasm { instance, index } = (*store).funcs.get_debug_checked(addr as usize).kind {
                    if instance == (*s.cx).cur_inst {
                        let nimp = (*s.cx).nimp;
                        enter_fast!(s, addr, (*s.cx).defined.add((index - nimp) as usize), base)
                    }
                }
                slow_call!(s)
            }
            Err(c) => trap!(s, code c),
        }
    };
    GlobalGet { dst, global } => |s| {
        let a = *(*(*s.cx).inst).globals.get_debug_checked(global as usize);
        wr!(s, dst, (*(*s.cx).globals.add(a as usize)).value)
    };
    GlobalSet { src, global } => |s| {
        let a = *(*(*s.cx).inst).globals.get_debug_checked(global as usize);
        (*(*s.cx).globals.add(a as usize)).value = rd!(s, src);
    };

    I32Load(x) => |s| load!(s, x, u32, u32);
    I64Load(x) => |s| load!(s, x, u64, u64);
    F64Load(x) => |s| load!(f64 s, x);
    I32Load8S(x) => |s| load!(s, x, i8, u32);
    I32Load8U(x) => |s| load!(s, x, u8, u32);
    I32Load16S(x) => |s| load!(s, x, i16, u32);
    I32Load16U(x) => |s| load!(s, x, u16, u32);
    I64Load8S(x) => |s| load!(s, x, i8, i64);
    I64Load8U(x) => |s| load!(s, x, u8, u64);
    I64Load16S(x) => |s| load!(s, x, i16, i64);
    I64Load16U(x) => |s| load!(s, x, u16, u64);
    I64Load32S(x) => |s| load!(s, x, i32, i64);
    I64Load32U(x) => |s| load!(s, x, u32, u64);
    I32Store(x) => |s| store!(s, x, u32);
    I64Store(x) => |s| store!(s, x, u64);
    I32Store8(x) => |s| store!(s, x, u8);
    I64Store8(x) => |s| store!(s, x, u8);
    I32Store16(x) => |s| store!(s, x, u16);
    I64Store16(x) => |s| store!(s, x, u16);
    I64Store32(x) => |s| store!(s, x, u32);
    I32LoadAt(x) => |s| load!(at s, x, u32, u32);
    I64LoadAt(x) => |s| load!(at s, x, u64, u64);
    F64LoadAt(x) => |s| load!(f64 at s, x);
    I32Load8SAt(x) => |s| load!(at s, x, i8, u32);
    I32Load8UAt(x) => |s| load!(at s, x, u8, u32);
    I32Load16SAt(x) => |s| load!(at s, x, i16, u32);
    I32Load16UAt(x) => |s| load!(at s, x, u16, u32);
    I64Load8SAt(x) => |s| load!(at s, x, i8, i64);
    I64Load8UAt(x) => |s| load!(at s, x, u8, u64);
    I64Load16SAt(x) => |s| load!(at s, x, i16, i64);
    I64Load16UAt(x) => |s| load!(at s, x, u16, u64);
    I64Load32SAt(x) => |s| load!(at s, x, i32, i64);
    I64Load32UAt(x) => |s| load!(at s, x, u32, u64);
    I32StoreAt(x) => |s| store!(at s, x, u32);
    I64StoreAt(x) => |s| store!(at s, x, u64);
    I32Store8At(x) => |s| store!(at s, x, u8);
    I32Store16At(x) => |s| store!(at s, x, u16);
    I64Store32At(x) => |s| store!(at s, x, u32);
    I32AddBrEqS(x) => |s| addbrs!(s, x, u32, u32, |a, b| a == b);
    I32AddBrNeS(x) => |s| addbrs!(s, x, u32, u32, |a, b| a != b);
    I32AddBrLtSS(x) => |s| addbrs!(s, x, u32, i32, |a, b| a < b);
    I32AddBrLtUS(x) => |s| addbrs!(s, x, u32, u32, |a, b| a < b);
    I32AddBrGtSS(x) => |s| addbrs!(s, x, u32, i32, |a, b| a > b);
    I32AddBrGtUS(x) => |s| addbrs!(s, x, u32, u32, |a, b| a > b);
    I32AddBrLeSS(x) => |s| addbrs!(s, x, u32, i32, |a, b| a <= b);
    I32AddBrLeUS(x) => |s| addbrs!(s, x, u32, u32, |a, b| a <= b);
    I32AddBrGeSS(x) => |s| addbrs!(s, x, u32, i32, |a, b| a >= b);
    I32AddBrGeUS(x) => |s| addbrs!(s, x, u32, u32, |a, b| a >= b);
    I64AddBrEqS(x) => |s| addbrs!(s, x, u64, u64, |a, b| a == b);
    I64AddBrNeS(x) => |s| addbrs!(s, x, u64, u64, |a, b| a != b);
    I64AddBrLtSS(x) => |s| addbrs!(s, x, u64, i64, |a, b| a < b);
    I64AddBrLtUS(x) => |s| addbrs!(s, x, u64, u64, |a, b| a < b);
    I64AddBrGtSS(x) => |s| addbrs!(s, x, u64, i64, |a, b| a > b);
    I64AddBrGtUS(x) => |s| addbrs!(s, x, u64, u64, |a, b| a > b);
    I64AddBrLeSS(x) => |s| addbrs!(s, x, u64, i64, |a, b| a <= b);
    I64AddBrLeUS(x) => |s| addbrs!(s, x, u64, u64, |a, b| a <= b);
    I64AddBrGeSS(x) => |s| addbrs!(s, x, u64, i64, |a, b| a >= b);
    I64AddBrGeUS(x) => |s| addbrs!(s, x, u64, u64, |a, b| a >= b);
    I32AddBrEq(x) => |s| addbr!(s, x, u32, |a, b| a == b);
    I32AddBrNe(x) => |s| addbr!(s, x, u32, |a, b| a != b);
    I32AddBrLtS(x) => |s| addbr!(s, x, i32, |a, b| a < b);
    I32AddBrLtU(x) => |s| addbr!(s, x, u32, |a, b| a < b);
    I32AddBrGtS(x) => |s| addbr!(s, x, i32, |a, b| a > b);
    I32AddBrGtU(x) => |s| addbr!(s, x, u32, |a, b| a > b);
    I32AddBrLeS(x) => |s| addbr!(s, x, i32, |a, b| a <= b);
    I32AddBrLeU(x) => |s| addbr!(s, x, u32, |a, b| a <= b);
    I32AddBrGeS(x) => |s| addbr!(s, x, i32, |a, b| a >= b);
    I32AddBrGeU(x) => |s| addbr!(s, x, u32, |a, b| a >= b);
    I32StoreK(x) => |s| store!(k s, x, u32);
    I64StoreK(x) => |s| store!(k s, x, u64);
    I32Store8K(x) => |s| store!(k s, x, u8);
    I32Store16K(x) => |s| store!(k s, x, u16);
    I64Store32K(x) => |s| store!(k s, x, u32);

    I32LoadIdx(x) => |s| load!(idx s, x, u32, u32);
    I64LoadIdx(x) => |s| load!(idx s, x, u64, u64);
    F64LoadIdx(x) => |s| load!(f64 idx s, x);
    I32Load8SIdx(x) => |s| load!(idx s, x, i8, u32);
    I32Load8UIdx(x) => |s| load!(idx s, x, u8, u32);
    I32Load16SIdx(x) => |s| load!(idx s, x, i16, u32);
    I32Load16UIdx(x) => |s| load!(idx s, x, u16, u32);
    I64Load32SIdx(x) => |s| load!(idx s, x, i32, i64);
    I64Load32UIdx(x) => |s| load!(idx s, x, u32, u64);
    I32StoreIdx(x) => |s| store!(idx s, x, u32);
    I64StoreIdx(x) => |s| store!(idx s, x, u64);
    I32Store8Idx(x) => |s| store!(idx s, x, u8);
    I32Store16Idx(x) => |s| store!(idx s, x, u16);
    I32LoadIdxA(x) => |s| load!(idx ia s, x, u32, u32);
    I64LoadIdxA(x) => |s| load!(idx ia s, x, u64, u64);
    F64LoadIdxA(x) => |s| load!(f64 idx ia s, x);
    I32Load8SIdxA(x) => |s| load!(idx ia s, x, i8, u32);
    I32Load8UIdxA(x) => |s| load!(idx ia s, x, u8, u32);
    I32Load16SIdxA(x) => |s| load!(idx ia s, x, i16, u32);
    I32Load16UIdxA(x) => |s| load!(idx ia s, x, u16, u32);
    I64Load32SIdxA(x) => |s| load!(idx ia s, x, i32, i64);
    I64Load32UIdxA(x) => |s| load!(idx ia s, x, u32, u64);
    I32StoreIdxA(x) => |s| store!(idx ia s, x, u32);
    I64StoreIdxA(x) => |s| store!(idx ia s, x, u64);
    I32Store8IdxA(x) => |s| store!(idx ia s, x, u8);
    I32Store16IdxA(x) => |s| store!(idx ia s, x, u16);

    MemorySize { dst } => |s| wr!(s, dst, (*(*s.cx).mem).pages() as u64);
    MemoryGrow { dst, delta } => |s| {
        let r = memory_grow(s.cx, rd!(s, delta) as u32);
        refresh!(s);
        wr!(s, dst, r as u64);
    };
    MemoryCopy { dst, src, n } => |s| {
        slow!(s, memory_copy(s.mp, (*s.cx).ml, rd!(s, dst) as u32, rd!(s, src) as u32, rd!(s, n) as u32))
    };
    MemoryFill { dst, val, n } => |s| {
        slow!(s, memory_fill(s.mp, (*s.cx).ml, rd!(s, dst) as u32, rd!(s, val) as u8, rd!(s, n) as u32))
    };
    MemoryInit { seg, dst, src, n } => |s| {
        slow!(s, memory_init(s.cx, s.mp, (*s.cx).ml, seg, rd!(s, dst) as u32, rd!(s, src) as u32, rd!(s, n) as u32))
    };
    DataDrop { seg } => |s| data_drop(s.cx, seg);
    TableGet { dst, index, table } => |s| slow!(s, table_get(s.cx, table, rd!(s, index) as u32, s.regs.add(dst as usize)));
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

    I32Add(x) => |s| i32bin!(s, x, |a, b| a.wrapping_add(b));
    I32Sub(x) => |s| i32bin!(s, x, |a, b| a.wrapping_sub(b));
    I32Mul(x) => |s| i32bin!(s, x, |a, b| a.wrapping_mul(b));
    I32DivS(x) => |s| {
        let (a, b) = (rd!(s, x.a) as i32, rd!(s, x.b) as i32);
        if b == 0 {
            trap!(s, TrapKind::IntegerDivideByZero);
        }
        if a == i32::MIN && b == -1 {
            trap!(s, TrapKind::IntegerOverflow);
        }
        wr!(s, x.dst, (a / b) as u32 as u64);
    };
    I32DivU(x) => |s| {
        let (a, b) = (rd!(s, x.a) as u32, rd!(s, x.b) as u32);
        if b == 0 {
            trap!(s, TrapKind::IntegerDivideByZero);
        }
        wr!(s, x.dst, (a / b) as u64);
    };
    I32RemS(x) => |s| {
        let (a, b) = (rd!(s, x.a) as i32, rd!(s, x.b) as i32);
        if b == 0 {
            trap!(s, TrapKind::IntegerDivideByZero);
        }
        wr!(s, x.dst, a.wrapping_rem(b) as u32 as u64);
    };
    I32RemU(x) => |s| {
        let (a, b) = (rd!(s, x.a) as u32, rd!(s, x.b) as u32);
        if b == 0 {
            trap!(s, TrapKind::IntegerDivideByZero);
        }
        wr!(s, x.dst, (a % b) as u64);
    };
    I32And(x) => |s| i32bin!(s, x, |a, b| a & b);
    I32Or(x) => |s| i32bin!(s, x, |a, b| a | b);
    I32Xor(x) => |s| i32bin!(s, x, |a, b| a ^ b);
    I32Shl(x) => |s| i32bin!(s, x, |a, b| a.wrapping_shl(b));
    I32ShrS(x) => |s| i32bin!(s, x, |a, b| (a as i32).wrapping_shr(b));
    I32ShrU(x) => |s| i32bin!(s, x, |a, b| a.wrapping_shr(b));
    I32Rotl(x) => |s| i32bin!(s, x, |a, b| a.rotate_left(b));
    I32Rotr(x) => |s| i32bin!(s, x, |a, b| a.rotate_right(b));
    I32Eq(x) => |s| i32bin!(s, x, |a, b| a == b);
    I32Ne(x) => |s| i32bin!(s, x, |a, b| a != b);
    I32LtS(x) => |s| i32bin!(s, x, |a, b| (a as i32) < (b as i32));
    I32LtU(x) => |s| i32bin!(s, x, |a, b| a < b);
    I32GtS(x) => |s| i32bin!(s, x, |a, b| (a as i32) > (b as i32));
    I32GtU(x) => |s| i32bin!(s, x, |a, b| a > b);
    I32LeS(x) => |s| i32bin!(s, x, |a, b| (a as i32) <= (b as i32));
    I32LeU(x) => |s| i32bin!(s, x, |a, b| a <= b);
    I32GeS(x) => |s| i32bin!(s, x, |a, b| (a as i32) >= (b as i32));
    I32GeU(x) => |s| i32bin!(s, x, |a, b| a >= b);
    I64Add(x) => |s| i64bin!(s, x, |a, b| a.wrapping_add(b));
    I64Sub(x) => |s| i64bin!(s, x, |a, b| a.wrapping_sub(b));
    I64Mul(x) => |s| i64bin!(s, x, |a, b| a.wrapping_mul(b));
    I64DivS(x) => |s| {
        let (a, b) = (rd!(s, x.a) as i64, rd!(s, x.b) as i64);
        if b == 0 {
            trap!(s, TrapKind::IntegerDivideByZero);
        }
        if a == i64::MIN && b == -1 {
            trap!(s, TrapKind::IntegerOverflow);
        }
        wr!(s, x.dst, (a / b) as u64);
    };
    I64DivU(x) => |s| {
        let (a, b) = (rd!(s, x.a), rd!(s, x.b));
        if b == 0 {
            trap!(s, TrapKind::IntegerDivideByZero);
        }
        wr!(s, x.dst, a / b);
    };
    I64RemS(x) => |s| {
        let (a, b) = (rd!(s, x.a) as i64, rd!(s, x.b) as i64);
        if b == 0 {
            trap!(s, TrapKind::IntegerDivideByZero);
        }
        wr!(s, x.dst, a.wrapping_rem(b) as u64);
    };
    I64RemU(x) => |s| {
        let (a, b) = (rd!(s, x.a), rd!(s, x.b));
        if b == 0 {
            trap!(s, TrapKind::IntegerDivideByZero);
        }
        wr!(s, x.dst, a % b);
    };
    I64And(x) => |s| i64bin!(s, x, |a, b| a & b);
    I64Or(x) => |s| i64bin!(s, x, |a, b| a | b);
    I64Xor(x) => |s| i64bin!(s, x, |a, b| a ^ b);
    I64Shl(x) => |s| i64bin!(s, x, |a, b| a.wrapping_shl(b as u32));
    I64ShrS(x) => |s| i64bin!(s, x, |a, b| (a as i64).wrapping_shr(b as u32));
    I64ShrU(x) => |s| i64bin!(s, x, |a, b| a.wrapping_shr(b as u32));
    I64Rotl(x) => |s| i64bin!(s, x, |a, b| a.rotate_left(b as u32));
    I64Rotr(x) => |s| i64bin!(s, x, |a, b| a.rotate_right(b as u32));
    I64Eq(x) => |s| i64bin!(s, x, |a, b| a == b);
    I64Ne(x) => |s| i64bin!(s, x, |a, b| a != b);
    I64LtS(x) => |s| i64bin!(s, x, |a, b| (a as i64) < (b as i64));
    I64LtU(x) => |s| i64bin!(s, x, |a, b| a < b);
    I64GtS(x) => |s| i64bin!(s, x, |a, b| (a as i64) > (b as i64));
    I64GtU(x) => |s| i64bin!(s, x, |a, b| a > b);
    I64LeS(x) => |s| i64bin!(s, x, |a, b| (a as i64) <= (b as i64));
    I64LeU(x) => |s| i64bin!(s, x, |a, b| a <= b);
    I64GeS(x) => |s| i64bin!(s, x, |a, b| (a as i64) >= (b as i64));
    I64GeU(x) => |s| i64bin!(s, x, |a, b| a >= b);
    F32Add(x) => |s| f32bin!(s, x, |a, b| a + b);
    F32Sub(x) => |s| f32bin!(s, x, |a, b| a - b);
    F32Mul(x) => |s| f32bin!(s, x, |a, b| a * b);
    F32Div(x) => |s| f32bin!(s, x, |a, b| a / b);
    F32Min(x) => |s| f32bin!(s, x, |a, b| ops::f32_min(a, b));
    F32Max(x) => |s| f32bin!(s, x, |a, b| ops::f32_max(a, b));
    F32Copysign(x) => |s| f32bin!(s, x, |a, b| a.copysign(b));
    F32Eq(x) => |s| f32cmp!(s, x, |a, b| a == b);
    F32Ne(x) => |s| f32cmp!(s, x, |a, b| a != b);
    F32Lt(x) => |s| f32cmp!(s, x, |a, b| a < b);
    F32Gt(x) => |s| f32cmp!(s, x, |a, b| a > b);
    F32Le(x) => |s| f32cmp!(s, x, |a, b| a <= b);
    F32Ge(x) => |s| f32cmp!(s, x, |a, b| a >= b);
    F64Add(x) => |s| f64bin!(s, x, |a, b| a + b);
    F64Sub(x) => |s| f64bin!(s, x, |a, b| a - b);
    F64Mul(x) => |s| f64bin!(s, x, |a, b| a * b);
    F64Div(x) => |s| f64bin!(s, x, |a, b| a / b);
    F64AddA(x) => |s| f64bin!(s, x, fa, slot, |a, b| a + b);
    F64SubA(x) => |s| f64bin!(s, x, fa, slot, |a, b| a - b);
    F64SubB(x) => |s| f64bin!(s, x, slot, fa, |a, b| a - b);
    F64MulA(x) => |s| f64bin!(s, x, fa, slot, |a, b| a * b);
    F64MulAA(x) => |s| f64bin!(s, x, fa, fa, |a, b| a * b);
    F64DivA(x) => |s| f64bin!(s, x, fa, slot, |a, b| a / b);
    F64DivB(x) => |s| f64bin!(s, x, slot, fa, |a, b| a / b);
    F64AddM(x) => |s| f64mem!(s, x, slot, slot, |m, b| m + b);
    F64SubM(x) => |s| f64mem!(s, x, slot, slot, |m, b| m - b);
    F64SubMR(x) => |s| f64mem!(s, x, slot, slot, |m, b| b - m);
    F64MulM(x) => |s| f64mem!(s, x, slot, slot, |m, b| m * b);
    F64DivM(x) => |s| f64mem!(s, x, slot, slot, |m, b| m / b);
    F64DivMR(x) => |s| f64mem!(s, x, slot, slot, |m, b| b / m);
    F64AddMA(x) => |s| f64mem!(s, x, ia, slot, |m, b| m + b);
    F64SubMA(x) => |s| f64mem!(s, x, ia, slot, |m, b| m - b);
    F64SubMRA(x) => |s| f64mem!(s, x, ia, slot, |m, b| b - m);
    F64MulMA(x) => |s| f64mem!(s, x, ia, slot, |m, b| m * b);
    F64DivMA(x) => |s| f64mem!(s, x, ia, slot, |m, b| m / b);
    F64DivMRA(x) => |s| f64mem!(s, x, ia, slot, |m, b| b / m);
    F64AddMF(x) => |s| f64mem!(s, x, slot, fa, |m, b| m + b);
    F64SubMF(x) => |s| f64mem!(s, x, slot, fa, |m, b| m - b);
    F64SubMRF(x) => |s| f64mem!(s, x, slot, fa, |m, b| b - m);
    F64MulMF(x) => |s| f64mem!(s, x, slot, fa, |m, b| m * b);
    F64DivMF(x) => |s| f64mem!(s, x, slot, fa, |m, b| m / b);
    F64DivMRF(x) => |s| f64mem!(s, x, slot, fa, |m, b| b / m);
    F64AddMAF(x) => |s| f64mem!(s, x, ia, fa, |m, b| m + b);
    F64SubMAF(x) => |s| f64mem!(s, x, ia, fa, |m, b| m - b);
    F64SubMRAF(x) => |s| f64mem!(s, x, ia, fa, |m, b| b - m);
    F64MulMAF(x) => |s| f64mem!(s, x, ia, fa, |m, b| m * b);
    F64DivMAF(x) => |s| f64mem!(s, x, ia, fa, |m, b| m / b);
    F64DivMRAF(x) => |s| f64mem!(s, x, ia, fa, |m, b| b / m);
    F64AddU(x) => |s| f64upd!(s, x, slot, slot, |m, b| m + b);
    F64SubU(x) => |s| f64upd!(s, x, slot, slot, |m, b| m - b);
    F64SubRU(x) => |s| f64upd!(s, x, slot, slot, |m, b| b - m);
    F64MulU(x) => |s| f64upd!(s, x, slot, slot, |m, b| m * b);
    F64DivU(x) => |s| f64upd!(s, x, slot, slot, |m, b| m / b);
    F64DivRU(x) => |s| f64upd!(s, x, slot, slot, |m, b| b / m);
    F64AddUA(x) => |s| f64upd!(s, x, ia, slot, |m, b| m + b);
    F64SubUA(x) => |s| f64upd!(s, x, ia, slot, |m, b| m - b);
    F64SubRUA(x) => |s| f64upd!(s, x, ia, slot, |m, b| b - m);
    F64MulUA(x) => |s| f64upd!(s, x, ia, slot, |m, b| m * b);
    F64DivUA(x) => |s| f64upd!(s, x, ia, slot, |m, b| m / b);
    F64DivRUA(x) => |s| f64upd!(s, x, ia, slot, |m, b| b / m);
    F64AddUV(x) => |s| f64upd!(s, x, slot, fa, |m, b| m + b);
    F64SubUV(x) => |s| f64upd!(s, x, slot, fa, |m, b| m - b);
    F64SubRUV(x) => |s| f64upd!(s, x, slot, fa, |m, b| b - m);
    F64MulUV(x) => |s| f64upd!(s, x, slot, fa, |m, b| m * b);
    F64DivUV(x) => |s| f64upd!(s, x, slot, fa, |m, b| m / b);
    F64DivRUV(x) => |s| f64upd!(s, x, slot, fa, |m, b| b / m);
    F64AddUAV(x) => |s| f64upd!(s, x, ia, fa, |m, b| m + b);
    F64SubUAV(x) => |s| f64upd!(s, x, ia, fa, |m, b| m - b);
    F64SubRUAV(x) => |s| f64upd!(s, x, ia, fa, |m, b| b - m);
    F64MulUAV(x) => |s| f64upd!(s, x, ia, fa, |m, b| m * b);
    F64DivUAV(x) => |s| f64upd!(s, x, ia, fa, |m, b| m / b);
    F64DivRUAV(x) => |s| f64upd!(s, x, ia, fa, |m, b| b / m);
    F64StoreV(x) => |s| store!(fa s, x);
    F64StoreAtV(x) => |s| store!(fa at s, x);
    F64Min(x) => |s| f64bin!(s, x, |a, b| ops::f64_min(a, b));
    F64Max(x) => |s| f64bin!(s, x, |a, b| ops::f64_max(a, b));
    F64Copysign(x) => |s| f64bin!(s, x, |a, b| a.copysign(b));
    F64Eq(x) => |s| f64cmp!(s, x, |a, b| a == b);
    F64Ne(x) => |s| f64cmp!(s, x, |a, b| a != b);
    F64Lt(x) => |s| f64cmp!(s, x, |a, b| a < b);
    F64Gt(x) => |s| f64cmp!(s, x, |a, b| a > b);
    F64Le(x) => |s| f64cmp!(s, x, |a, b| a <= b);
    F64Ge(x) => |s| f64cmp!(s, x, |a, b| a >= b);

    I32Eqz(x) => |s| un!(s, x, u32, |a| (a == 0) as u64);
    I32Clz(x) => |s| un!(s, x, u32, |a| a.leading_zeros() as u64);
    I32Ctz(x) => |s| un!(s, x, u32, |a| a.trailing_zeros() as u64);
    I32Popcnt(x) => |s| un!(s, x, u32, |a| a.count_ones() as u64);
    I64Eqz(x) => |s| un!(s, x, u64, |a| (a == 0) as u64);
    I64Clz(x) => |s| un!(s, x, u64, |a| a.leading_zeros() as u64);
    I64Ctz(x) => |s| un!(s, x, u64, |a| a.trailing_zeros() as u64);
    I64Popcnt(x) => |s| un!(s, x, u64, |a| a.count_ones() as u64);
    F32Abs(x) => |s| un!(s, x, u32, |a| (a & 0x7fff_ffff) as u64);
    F32Neg(x) => |s| un!(s, x, u32, |a| (a ^ 0x8000_0000) as u64);
    F32Ceil(x) => |s| un!(s, x, f32, |a| ops::quiet32(a.ceil()) as u64);
    F32Floor(x) => |s| un!(s, x, f32, |a| ops::quiet32(a.floor()) as u64);
    F32Trunc(x) => |s| un!(s, x, f32, |a| ops::quiet32(a.trunc()) as u64);
    F32Nearest(x) => |s| un!(s, x, f32, |a| ops::quiet32(ops::f32_nearest(a)) as u64);
    F32Sqrt(x) => |s| un!(s, x, f32, |a| ops::quiet32(a.sqrt()) as u64);
    F64Abs(x) => |s| un!(s, x, u64, |a| a & 0x7fff_ffff_ffff_ffff);
    F64Neg(x) => |s| un!(s, x, u64, |a| a ^ 0x8000_0000_0000_0000);
    F64Ceil(x) => |s| un!(s, x, f64, |a| ops::quiet64(a.ceil()));
    F64Floor(x) => |s| un!(s, x, f64, |a| ops::quiet64(a.floor()));
    F64Trunc(x) => |s| un!(s, x, f64, |a| ops::quiet64(a.trunc()));
    F64Nearest(x) => |s| un!(s, x, f64, |a| ops::quiet64(ops::f64_nearest(a)));
    F64Sqrt(x) => |s| wrf!(s, x.dst, ops::sqrt64(f64::from_bits(rd!(s, x.a))));
    F64SqrtA(x) => |s| wrf!(s, x.dst, ops::sqrt64(s.fa));
    I32WrapI64(x) => |s| un!(s, x, u64, |a| a as u32 as u64);
    I32TruncF32S(x) => |s| trunc!(s, x, f32, ops::i32_trunc_f32_s, u32);
    I32TruncF32U(x) => |s| trunc!(s, x, f32, ops::i32_trunc_f32_u, u32);
    I32TruncF64S(x) => |s| trunc!(s, x, f64, ops::i32_trunc_f64_s, u32);
    I32TruncF64U(x) => |s| trunc!(s, x, f64, ops::i32_trunc_f64_u, u32);
    I64ExtendI32S(x) => |s| un!(s, x, u32, |a| a as i32 as i64 as u64);
    I64ExtendI32U(x) => |s| un!(s, x, u32, |a| a as u64);
    I64TruncF32S(x) => |s| trunc!(s, x, f32, ops::i64_trunc_f32_s, u64);
    I64TruncF32U(x) => |s| trunc!(s, x, f32, ops::i64_trunc_f32_u, u64);
    I64TruncF64S(x) => |s| trunc!(s, x, f64, ops::i64_trunc_f64_s, u64);
    I64TruncF64U(x) => |s| trunc!(s, x, f64, ops::i64_trunc_f64_u, u64);
    F32ConvertI32S(x) => |s| un!(s, x, u32, |a| (a as i32 as f32).to_bits() as u64);
    F32ConvertI32U(x) => |s| un!(s, x, u32, |a| (a as f32).to_bits() as u64);
    F32ConvertI64S(x) => |s| un!(s, x, u64, |a| (a as i64 as f32).to_bits() as u64);
    F32ConvertI64U(x) => |s| un!(s, x, u64, |a| (a as f32).to_bits() as u64);
    F32DemoteF64(x) => |s| un!(s, x, f64, |a| (a as f32).to_bits() as u64);
    F64ConvertI32S(x) => |s| wrf!(s, x.dst, { let a = rd!(s, x.a) as u32; a as i32 as f64 });
    F64ConvertI32U(x) => |s| wrf!(s, x.dst, { let a = rd!(s, x.a) as u32; a as f64 });
    F64ConvertI64S(x) => |s| wrf!(s, x.dst, { let a = rd!(s, x.a); a as i64 as f64 });
    F64ConvertI64U(x) => |s| wrf!(s, x.dst, { let a = rd!(s, x.a); a as f64 });
    F64PromoteF32(x) => |s| wrf!(s, x.dst, f32::from_bits(rd!(s, x.a) as u32) as f64);
    I32Extend8S(x) => |s| un!(s, x, u32, |a| a as i8 as i32 as u32 as u64);
    I32Extend16S(x) => |s| un!(s, x, u32, |a| a as i16 as i32 as u32 as u64);
    I64Extend8S(x) => |s| un!(s, x, u64, |a| a as i8 as i64 as u64);
    I64Extend16S(x) => |s| un!(s, x, u64, |a| a as i16 as i64 as u64);
    I64Extend32S(x) => |s| un!(s, x, u64, |a| a as i32 as i64 as u64);
    // `as` casts from float to int saturate and map NaN to 0: exactly trunc_sat.
    I32TruncSatF32S(x) => |s| un!(s, x, f32, |a| a as i32 as u32 as u64);
    I32TruncSatF32U(x) => |s| un!(s, x, f32, |a| a as u32 as u64);
    I32TruncSatF64S(x) => |s| un!(s, x, f64, |a| a as i32 as u32 as u64);
    I32TruncSatF64U(x) => |s| un!(s, x, f64, |a| a as u32 as u64);
    I64TruncSatF32S(x) => |s| un!(s, x, f32, |a| a as i64 as u64);
    I64TruncSatF32U(x) => |s| un!(s, x, f32, |a| a as u64);
    I64TruncSatF64S(x) => |s| un!(s, x, f64, |a| a as i64 as u64);
    I64TruncSatF64U(x) => |s| un!(s, x, f64, |a| a as u64);

    // ---- integer register forms (see `compile::accumulator`)
    I32AddA(x) => |s| i32bin!(s, x, ia, slot, |a, b| a.wrapping_add(b));
    I32SubA(x) => |s| i32bin!(s, x, ia, slot, |a, b| a.wrapping_sub(b));
    I32MulA(x) => |s| i32bin!(s, x, ia, slot, |a, b| a.wrapping_mul(b));
    I32AndA(x) => |s| i32bin!(s, x, ia, slot, |a, b| a & b);
    I32OrA(x) => |s| i32bin!(s, x, ia, slot, |a, b| a | b);
    I32XorA(x) => |s| i32bin!(s, x, ia, slot, |a, b| a ^ b);
    I32ShlA(x) => |s| i32bin!(s, x, ia, slot, |a, b| a.wrapping_shl(b));
    I32ShrSA(x) => |s| i32bin!(s, x, ia, slot, |a, b| (a as i32).wrapping_shr(b));
    I32ShrUA(x) => |s| i32bin!(s, x, ia, slot, |a, b| a.wrapping_shr(b));
    I32RotlA(x) => |s| i32bin!(s, x, ia, slot, |a, b| a.rotate_left(b));
    I32RotrA(x) => |s| i32bin!(s, x, ia, slot, |a, b| a.rotate_right(b));
    I32EqA(x) => |s| i32bin!(s, x, ia, slot, |a, b| a == b);
    I32NeA(x) => |s| i32bin!(s, x, ia, slot, |a, b| a != b);
    I32LtSA(x) => |s| i32bin!(s, x, ia, slot, |a, b| (a as i32) < (b as i32));
    I32LtUA(x) => |s| i32bin!(s, x, ia, slot, |a, b| a < b);
    I32GtSA(x) => |s| i32bin!(s, x, ia, slot, |a, b| (a as i32) > (b as i32));
    I32GtUA(x) => |s| i32bin!(s, x, ia, slot, |a, b| a > b);
    I32LeSA(x) => |s| i32bin!(s, x, ia, slot, |a, b| (a as i32) <= (b as i32));
    I32LeUA(x) => |s| i32bin!(s, x, ia, slot, |a, b| a <= b);
    I32GeSA(x) => |s| i32bin!(s, x, ia, slot, |a, b| (a as i32) >= (b as i32));
    I32GeUA(x) => |s| i32bin!(s, x, ia, slot, |a, b| a >= b);
    I32SubB(x) => |s| i32bin!(s, x, slot, ia, |a, b| a.wrapping_sub(b));
    I32ShlB(x) => |s| i32bin!(s, x, slot, ia, |a, b| a.wrapping_shl(b));
    I32ShrSB(x) => |s| i32bin!(s, x, slot, ia, |a, b| (a as i32).wrapping_shr(b));
    I32ShrUB(x) => |s| i32bin!(s, x, slot, ia, |a, b| a.wrapping_shr(b));
    I64AddA(x) => |s| i64bin!(s, x, ia, slot, |a, b| a.wrapping_add(b));
    I64SubA(x) => |s| i64bin!(s, x, ia, slot, |a, b| a.wrapping_sub(b));
    I64MulA(x) => |s| i64bin!(s, x, ia, slot, |a, b| a.wrapping_mul(b));
    I64AndA(x) => |s| i64bin!(s, x, ia, slot, |a, b| a & b);
    I64OrA(x) => |s| i64bin!(s, x, ia, slot, |a, b| a | b);
    I64XorA(x) => |s| i64bin!(s, x, ia, slot, |a, b| a ^ b);
    I64ShlA(x) => |s| i64bin!(s, x, ia, slot, |a, b| a.wrapping_shl(b as u32));
    I64ShrSA(x) => |s| i64bin!(s, x, ia, slot, |a, b| (a as i64).wrapping_shr(b as u32));
    I64ShrUA(x) => |s| i64bin!(s, x, ia, slot, |a, b| a.wrapping_shr(b as u32));
    I64RotlA(x) => |s| i64bin!(s, x, ia, slot, |a, b| a.rotate_left(b as u32));
    I64RotrA(x) => |s| i64bin!(s, x, ia, slot, |a, b| a.rotate_right(b as u32));
    I64EqA(x) => |s| i64bin!(s, x, ia, slot, |a, b| a == b);
    I64NeA(x) => |s| i64bin!(s, x, ia, slot, |a, b| a != b);
    I64LtSA(x) => |s| i64bin!(s, x, ia, slot, |a, b| (a as i64) < (b as i64));
    I64LtUA(x) => |s| i64bin!(s, x, ia, slot, |a, b| a < b);
    I64GtSA(x) => |s| i64bin!(s, x, ia, slot, |a, b| (a as i64) > (b as i64));
    I64GtUA(x) => |s| i64bin!(s, x, ia, slot, |a, b| a > b);
    I64LeSA(x) => |s| i64bin!(s, x, ia, slot, |a, b| (a as i64) <= (b as i64));
    I64LeUA(x) => |s| i64bin!(s, x, ia, slot, |a, b| a <= b);
    I64GeSA(x) => |s| i64bin!(s, x, ia, slot, |a, b| (a as i64) >= (b as i64));
    I64GeUA(x) => |s| i64bin!(s, x, ia, slot, |a, b| a >= b);
    I64SubB(x) => |s| i64bin!(s, x, slot, ia, |a, b| a.wrapping_sub(b));
    I64ShlB(x) => |s| i64bin!(s, x, slot, ia, |a, b| a.wrapping_shl(b as u32));
    I64ShrSB(x) => |s| i64bin!(s, x, slot, ia, |a, b| (a as i64).wrapping_shr(b as u32));
    I64ShrUB(x) => |s| i64bin!(s, x, slot, ia, |a, b| a.wrapping_shr(b as u32));
    I32AddImmA(x) => |s| i32bi!(s, x, ia, |a, b| a.wrapping_add(b));
    I32MulImmA(x) => |s| i32bi!(s, x, ia, |a, b| a.wrapping_mul(b));
    I32AndImmA(x) => |s| i32bi!(s, x, ia, |a, b| a & b);
    I32OrImmA(x) => |s| i32bi!(s, x, ia, |a, b| a | b);
    I32XorImmA(x) => |s| i32bi!(s, x, ia, |a, b| a ^ b);
    I32ShlImmA(x) => |s| i32bi!(s, x, ia, |a, b| a.wrapping_shl(b));
    I32ShrSImmA(x) => |s| i32bi!(s, x, ia, |a, b| (a as i32).wrapping_shr(b));
    I32ShrUImmA(x) => |s| i32bi!(s, x, ia, |a, b| a.wrapping_shr(b));
    I32EqImmA(x) => |s| i32bi!(s, x, ia, |a, b| a == b);
    I32NeImmA(x) => |s| i32bi!(s, x, ia, |a, b| a != b);
    I32LtSImmA(x) => |s| i32bi!(s, x, ia, |a, b| (a as i32) < (b as i32));
    I32LtUImmA(x) => |s| i32bi!(s, x, ia, |a, b| a < b);
    I32GtSImmA(x) => |s| i32bi!(s, x, ia, |a, b| (a as i32) > (b as i32));
    I32GtUImmA(x) => |s| i32bi!(s, x, ia, |a, b| a > b);
    I32LeSImmA(x) => |s| i32bi!(s, x, ia, |a, b| (a as i32) <= (b as i32));
    I32LeUImmA(x) => |s| i32bi!(s, x, ia, |a, b| a <= b);
    I32GeSImmA(x) => |s| i32bi!(s, x, ia, |a, b| (a as i32) >= (b as i32));
    I32GeUImmA(x) => |s| i32bi!(s, x, ia, |a, b| a >= b);
    I64AddImmA(x) => |s| i64bi!(s, x, ia, |a, b| a.wrapping_add(b));
    I64MulImmA(x) => |s| i64bi!(s, x, ia, |a, b| a.wrapping_mul(b));
    I64AndImmA(x) => |s| i64bi!(s, x, ia, |a, b| a & b);
    I64OrImmA(x) => |s| i64bi!(s, x, ia, |a, b| a | b);
    I64XorImmA(x) => |s| i64bi!(s, x, ia, |a, b| a ^ b);
    I64ShlImmA(x) => |s| i64bi!(s, x, ia, |a, b| a.wrapping_shl(b as u32));
    I64ShrSImmA(x) => |s| i64bi!(s, x, ia, |a, b| (a as i64).wrapping_shr(b as u32));
    I64ShrUImmA(x) => |s| i64bi!(s, x, ia, |a, b| a.wrapping_shr(b as u32));
    I64EqImmA(x) => |s| i64bi!(s, x, ia, |a, b| a == b);
    I64NeImmA(x) => |s| i64bi!(s, x, ia, |a, b| a != b);
    I64LtSImmA(x) => |s| i64bi!(s, x, ia, |a, b| (a as i64) < (b as i64));
    I64LtUImmA(x) => |s| i64bi!(s, x, ia, |a, b| a < b);
    I64GtSImmA(x) => |s| i64bi!(s, x, ia, |a, b| (a as i64) > (b as i64));
    I64GtUImmA(x) => |s| i64bi!(s, x, ia, |a, b| a > b);
    I64LeSImmA(x) => |s| i64bi!(s, x, ia, |a, b| (a as i64) <= (b as i64));
    I64LeUImmA(x) => |s| i64bi!(s, x, ia, |a, b| a <= b);
    I64GeSImmA(x) => |s| i64bi!(s, x, ia, |a, b| (a as i64) >= (b as i64));
    I64GeUImmA(x) => |s| i64bi!(s, x, ia, |a, b| a >= b);
    BrI32EqA(x) => |s| cmpbr!(s, x, ia, u32, |a, b| a == b);
    BrI32NeA(x) => |s| cmpbr!(s, x, ia, u32, |a, b| a != b);
    BrI32LtSA(x) => |s| cmpbr!(s, x, ia, u32, |a, b| (a as i32) < (b as i32));
    BrI32LtUA(x) => |s| cmpbr!(s, x, ia, u32, |a, b| a < b);
    BrI32GtSA(x) => |s| cmpbr!(s, x, ia, u32, |a, b| (a as i32) > (b as i32));
    BrI32GtUA(x) => |s| cmpbr!(s, x, ia, u32, |a, b| a > b);
    BrI32LeSA(x) => |s| cmpbr!(s, x, ia, u32, |a, b| (a as i32) <= (b as i32));
    BrI32LeUA(x) => |s| cmpbr!(s, x, ia, u32, |a, b| a <= b);
    BrI32GeSA(x) => |s| cmpbr!(s, x, ia, u32, |a, b| (a as i32) >= (b as i32));
    BrI32GeUA(x) => |s| cmpbr!(s, x, ia, u32, |a, b| a >= b);
    BrI64EqA(x) => |s| cmpbr!(s, x, ia, u64, |a, b| a == b);
    BrI64NeA(x) => |s| cmpbr!(s, x, ia, u64, |a, b| a != b);
    BrI64LtSA(x) => |s| cmpbr!(s, x, ia, u64, |a, b| (a as i64) < (b as i64));
    BrI64LtUA(x) => |s| cmpbr!(s, x, ia, u64, |a, b| a < b);
    BrI64GtSA(x) => |s| cmpbr!(s, x, ia, u64, |a, b| (a as i64) > (b as i64));
    BrI64GtUA(x) => |s| cmpbr!(s, x, ia, u64, |a, b| a > b);
    BrI64LeSA(x) => |s| cmpbr!(s, x, ia, u64, |a, b| (a as i64) <= (b as i64));
    BrI64LeUA(x) => |s| cmpbr!(s, x, ia, u64, |a, b| a <= b);
    BrI64GeSA(x) => |s| cmpbr!(s, x, ia, u64, |a, b| (a as i64) >= (b as i64));
    BrI64GeUA(x) => |s| cmpbr!(s, x, ia, u64, |a, b| a >= b);
    BrI32EqImmA(x) => |s| cmpbri!(s, x, ia, u32, |a, b| a == b);
    BrI32NeImmA(x) => |s| cmpbri!(s, x, ia, u32, |a, b| a != b);
    BrI32LtSImmA(x) => |s| cmpbri!(s, x, ia, u32, |a, b| (a as i32) < (b as i32));
    BrI32LtUImmA(x) => |s| cmpbri!(s, x, ia, u32, |a, b| a < b);
    BrI32GtSImmA(x) => |s| cmpbri!(s, x, ia, u32, |a, b| (a as i32) > (b as i32));
    BrI32GtUImmA(x) => |s| cmpbri!(s, x, ia, u32, |a, b| a > b);
    BrI32LeSImmA(x) => |s| cmpbri!(s, x, ia, u32, |a, b| (a as i32) <= (b as i32));
    BrI32LeUImmA(x) => |s| cmpbri!(s, x, ia, u32, |a, b| a <= b);
    BrI32GeSImmA(x) => |s| cmpbri!(s, x, ia, u32, |a, b| (a as i32) >= (b as i32));
    BrI32GeUImmA(x) => |s| cmpbri!(s, x, ia, u32, |a, b| a >= b);
    BrI64EqImmA(x) => |s| cmpbri!(s, x, ia, u64, |a, b| a == b);
    BrI64NeImmA(x) => |s| cmpbri!(s, x, ia, u64, |a, b| a != b);
    BrI64LtSImmA(x) => |s| cmpbri!(s, x, ia, u64, |a, b| (a as i64) < (b as i64));
    BrI64LtUImmA(x) => |s| cmpbri!(s, x, ia, u64, |a, b| a < b);
    BrI64GtSImmA(x) => |s| cmpbri!(s, x, ia, u64, |a, b| (a as i64) > (b as i64));
    BrI64GtUImmA(x) => |s| cmpbri!(s, x, ia, u64, |a, b| a > b);
    BrI64LeSImmA(x) => |s| cmpbri!(s, x, ia, u64, |a, b| (a as i64) <= (b as i64));
    BrI64LeUImmA(x) => |s| cmpbri!(s, x, ia, u64, |a, b| a <= b);
    BrI64GeSImmA(x) => |s| cmpbri!(s, x, ia, u64, |a, b| (a as i64) >= (b as i64));
    BrI64GeUImmA(x) => |s| cmpbri!(s, x, ia, u64, |a, b| a >= b);
    I32LoadA(x) => |s| load!(ia s, x, u32, u32);
    I64LoadA(x) => |s| load!(ia s, x, u64, u64);
    I32Load8SA(x) => |s| load!(ia s, x, i8, u32);
    I32Load8UA(x) => |s| load!(ia s, x, u8, u32);
    I32Load16SA(x) => |s| load!(ia s, x, i16, u32);
    I32Load16UA(x) => |s| load!(ia s, x, u16, u32);
    I64Load8SA(x) => |s| load!(ia s, x, i8, i64);
    I64Load8UA(x) => |s| load!(ia s, x, u8, u64);
    I64Load16SA(x) => |s| load!(ia s, x, i16, i64);
    I64Load16UA(x) => |s| load!(ia s, x, u16, u64);
    I64Load32SA(x) => |s| load!(ia s, x, i32, i64);
    I64Load32UA(x) => |s| load!(ia s, x, u32, u64);
    F64LoadA(x) => |s| load!(f64 ia s, x);
    I32LoadAtA(x) => |s| load!(ia at s, x, u32, u32);
    I64LoadAtA(x) => |s| load!(ia at s, x, u64, u64);
    I32Load8SAtA(x) => |s| load!(ia at s, x, i8, u32);
    I32Load8UAtA(x) => |s| load!(ia at s, x, u8, u32);
    I32Load16SAtA(x) => |s| load!(ia at s, x, i16, u32);
    I32Load16UAtA(x) => |s| load!(ia at s, x, u16, u32);
    I64Load8SAtA(x) => |s| load!(ia at s, x, i8, i64);
    I64Load8UAtA(x) => |s| load!(ia at s, x, u8, u64);
    I64Load16SAtA(x) => |s| load!(ia at s, x, i16, i64);
    I64Load16UAtA(x) => |s| load!(ia at s, x, u16, u64);
    I64Load32SAtA(x) => |s| load!(ia at s, x, i32, i64);
    I64Load32UAtA(x) => |s| load!(ia at s, x, u32, u64);
    F64LoadAtA(x) => |s| load!(f64 ia at s, x);
    I32StoreA(x) => |s| store!(ia s, x, u32);
    I32StoreV(x) => |s| store!(iv s, x, u32);
    I64StoreA(x) => |s| store!(ia s, x, u64);
    I64StoreV(x) => |s| store!(iv s, x, u64);
    I32Store8A(x) => |s| store!(ia s, x, u8);
    I32Store8V(x) => |s| store!(iv s, x, u8);
    I32Store16A(x) => |s| store!(ia s, x, u16);
    I32Store16V(x) => |s| store!(iv s, x, u16);
    I64Store8A(x) => |s| store!(ia s, x, u8);
    I64Store8V(x) => |s| store!(iv s, x, u8);
    I64Store16A(x) => |s| store!(ia s, x, u16);
    I64Store16V(x) => |s| store!(iv s, x, u16);
    I64Store32A(x) => |s| store!(ia s, x, u32);
    I64Store32V(x) => |s| store!(iv s, x, u32);
    I32StoreAtA(x) => |s| store!(ia at s, x, u32);
    I32StoreAtV(x) => |s| store!(iv at s, x, u32);
    I64StoreAtA(x) => |s| store!(ia at s, x, u64);
    I64StoreAtV(x) => |s| store!(iv at s, x, u64);
    I32Store8AtA(x) => |s| store!(ia at s, x, u8);
    I32Store8AtV(x) => |s| store!(iv at s, x, u8);
    I32Store16AtA(x) => |s| store!(ia at s, x, u16);
    I32Store16AtV(x) => |s| store!(iv at s, x, u16);
    I64Store32AtA(x) => |s| store!(ia at s, x, u32);
    I64Store32AtV(x) => |s| store!(iv at s, x, u32);
    I32StoreKA(x) => |s| store!(ia k s, x, u32);
    I64StoreKA(x) => |s| store!(ia k s, x, u64);
    I32Store8KA(x) => |s| store!(ia k s, x, u8);
    I32Store16KA(x) => |s| store!(ia k s, x, u16);
    I64Store32KA(x) => |s| store!(ia k s, x, u32);
    I32EqzA(x) => |s| un!(ia s, x, u32, |a| (a == 0) as u64);
    I32ClzA(x) => |s| un!(ia s, x, u32, |a| a.leading_zeros() as u64);
    I32CtzA(x) => |s| un!(ia s, x, u32, |a| a.trailing_zeros() as u64);
    I32PopcntA(x) => |s| un!(ia s, x, u32, |a| a.count_ones() as u64);
    I64EqzA(x) => |s| un!(ia s, x, u64, |a| (a == 0) as u64);
    I64ClzA(x) => |s| un!(ia s, x, u64, |a| a.leading_zeros() as u64);
    I64CtzA(x) => |s| un!(ia s, x, u64, |a| a.trailing_zeros() as u64);
    I64PopcntA(x) => |s| un!(ia s, x, u64, |a| a.count_ones() as u64);
    I32WrapI64A(x) => |s| un!(ia s, x, u64, |a| a as u32 as u64);
    I64ExtendI32SA(x) => |s| un!(ia s, x, u32, |a| a as i32 as i64 as u64);
    I64ExtendI32UA(x) => |s| un!(ia s, x, u32, |a| a as u64);
    I32Extend8SA(x) => |s| un!(ia s, x, u32, |a| a as i8 as i32 as u32 as u64);
    I32Extend16SA(x) => |s| un!(ia s, x, u32, |a| a as i16 as i32 as u32 as u64);
    I64Extend8SA(x) => |s| un!(ia s, x, u64, |a| a as i8 as i64 as u64);
    I64Extend16SA(x) => |s| un!(ia s, x, u64, |a| a as i16 as i64 as u64);
    I64Extend32SA(x) => |s| un!(ia s, x, u64, |a| a as i32 as i64 as u64);
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
    fn every_instruction_kind_has_a_handler() {
        assert_eq!(HANDLED.len(), Op::COUNT, "handlers defined vs instruction kinds");
        let mut seen = vec![false; Op::COUNT];
        for op in HANDLED {
            assert!(!seen[*op as usize], "{op:?} has two handlers");
            seen[*op as usize] = true;
        }
        #[cfg(chiwawa_tail_calls)]
        for (i, h) in HANDLERS.iter().enumerate() {
            assert_ne!(*h as usize, missing as Handler as usize, "no handler for op {i}");
        }
    }

    /// `compile::accumulator` must know exactly which handlers set the f64 register (those
    /// whose body uses `wrf!`, directly or through `f64bin!`/`load!(f64 …)`), and that all
    /// other handlers with a single result set the integer register (through `wr!`).
    #[test]
    fn register_writers_match_the_accumulator_pass() {
        use crate::compile::accumulator::{sets_f64_register, sets_int_register};
        let src = include_str!("handlers.rs");
        let start = src.find("\nhandlers! {").expect("handler list");
        let list = &src[start..start + src[start..].find("\n}\n").expect("end of the list")];
        let mut bodies: Vec<(&str, String)> = Vec::new();
        for line in list.lines() {
            let is_entry = line.starts_with("    ")
                && line.as_bytes().get(4).is_some_and(|c| c.is_ascii_uppercase())
                && line.contains("=> |s|");
            if is_entry {
                let name = line[4..].split(|c: char| !c.is_ascii_alphanumeric()).next().unwrap();
                bodies.push((name, String::new()));
            }
            if let Some(last) = bodies.last_mut() {
                last.1.push_str(line);
            }
        }
        assert_eq!(bodies.len(), HANDLED.len() - 1, "entries parsed vs handlers (without Halt)");
        for (name, body) in &bodies {
            let op = *HANDLED.iter().find(|o| format!("{o:?}") == *name).expect("an Op");
            let f64w = ["wrf!", "f64bin!", "f64mem!", "load!(f64"].iter().any(|m| body.contains(m));
            assert_eq!(f64w, sets_f64_register(op as u16), "{name}: f64 register");
            if !f64w && sets_int_register(op as u16) {
                let int_w = [
                    "wr!", "i32bin!", "i64bin!", "i32bi!", "i64bi!", "f32bin!", "f32cmp!", "f64cmp!", "un!",
                    "trunc!", "load!", "select!",
                ]
                .iter()
                .any(|m| body.contains(m));
                assert!(!has_result(op) || int_w, "{name}: its result must go through wr!");
            }
        }
    }

    /// Whether instructions of kind `op` have a single result slot (asked of an instance with
    /// all operands zero).
    fn has_result(op: Op) -> bool {
        // SAFETY: every payload field is a plain integer, for which zero is valid.
        let mut bytes = [0u8; std::mem::size_of::<Instr>()];
        bytes[..2].copy_from_slice(&(op as u16).to_ne_bytes());
        let mut ins: Instr = unsafe { std::mem::transmute(bytes) };
        ins.result_slot_mut().is_some()
    }

    #[test]
    fn tags_match_ops() {
        use crate::compile::ir::{Bin, CmpBrImm};
        let b = Bin { dst: 1, a: 2, b: 3 };
        assert_eq!(Instr::I32Add(b).op(), Op::I32Add as u16);
        assert_eq!(Instr::F64Ge(b).op(), Op::F64Ge as u16);
        assert_eq!(Instr::Unreachable.op(), Op::Unreachable as u16);
        assert_eq!(Instr::RefFunc { dst: 0, func: 9 }.op(), Op::RefFunc as u16);
        let c = CmpBrImm { a: 0, imm: -1, target: 5 };
        assert_eq!(Instr::BrI64GeUImm(c).op(), Op::BrI64GeUImm as u16);
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
}
