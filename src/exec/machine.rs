//! The machine: an explicit value stack and frame stack, and the dispatch loop.
//!
//! No Rust recursion per Wasm call: a call pushes a [`Frame`] and the same loop continues in the
//! callee. All guest state lives in `stack` and `frames` (plus the [`Store`]); the loop's locals
//! (pc, frame pointer, cached code and memory pointers) are written back before every exit, so
//! at a `Poll` safe point the machine can be captured, and rebuilt later from the module bytes.
//!
//! Hot-path cost of checkpointing: `Poll` subtracts its cost from a countdown and compares.

use super::ops;
use super::trap::{BacktraceFrame, Trap, TrapKind};
use crate::compile::ir::{CompiledFunc, Instr};
use crate::runtime::instance::Instance;
use crate::runtime::memory::Memory;
use crate::runtime::store::{FuncKind, Store};
use crate::runtime::value::Val;
use crate::runtime::{Host, HostError};
use serde::{Deserialize, Serialize};

/// One activation: the function's store address, the program counter (index of the next
/// instruction in its lowered code) and the frame pointer (index of its slot 0 in the stack).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    pub func: u32,
    pub pc: u32,
    pub fp: u32,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunResult {
    /// The invoked function returned; its results are in slots `0..n`.
    Done,
    /// The instruction budget ran out at a safe point (or a host call asked to pause).
    Yield,
    /// A host function requested exit with this code.
    Exit(i32),
}

#[derive(Debug, Default, Clone)]
pub struct Machine {
    pub stack: Vec<u64>,
    pub frames: Vec<Frame>,
    countdown: i64,
    budget: i64,
    executed_base: u64,
    /// Cache used only inside [`Machine::run`] (rebuilt from `frames` when it starts, never
    /// saved): for each frame, the address of its function's first instruction, with bit 0 set
    /// when that frame belongs to another instance than the frame below it. Saves resolving
    /// the caller's code through store → instance → module on every return.
    codes: Vec<usize>,
}

/// Bit 0 of a [`Machine::codes`] entry: returning from this frame changes instance.
const OTHER_INSTANCE: usize = 1;

/// The current function's code, resolved from a frame.
#[inline(always)]
unsafe fn code_of(store: &Store, func: u32) -> (*const CompiledFunc, u32) {
    match store.funcs.get_unchecked(func as usize).kind {
        FuncKind::Wasm { instance, index } => {
            let m = &*store.instances.get_unchecked(instance as usize).module;
            (m.code.get_unchecked((index - m.num_imported_funcs) as usize), instance)
        }
        FuncKind::Host { .. } => unreachable!("host functions have no frames"),
    }
}

impl Machine {
    pub fn new() -> Machine {
        Machine { countdown: i64::MAX, budget: i64::MAX, ..Default::default() }
    }

    /// Instruction units executed so far (see the lowering's cost model).
    pub fn executed(&self) -> u64 {
        self.executed_base.wrapping_add((self.budget - self.countdown) as u64)
    }

    /// Allows `units` more instruction units before the next [`RunResult::Yield`].
    pub fn set_budget(&mut self, units: u64) {
        self.executed_base = self.executed();
        self.budget = units.clamp(1, i64::MAX as u64) as i64;
        self.countdown = self.budget;
    }

    /// Sets the executed counter (when restoring a snapshot).
    pub fn set_executed(&mut self, executed: u64) {
        self.executed_base = executed;
        self.countdown = self.budget;
    }

    fn grow_stack(&mut self, need: usize, max: usize) -> bool {
        if need > max {
            return false;
        }
        if need > self.stack.len() {
            let new_len = need.max(self.stack.len() * 2).max(1024).min(max);
            if self.stack.try_reserve(new_len - self.stack.len()).is_err() {
                return false;
            }
            self.stack.resize(new_len, 0);
        }
        true
    }

    /// Prepares a call of the function at `func` with `args`. For a Wasm function the next
    /// [`Machine::run`] executes it; a host function is called right away.
    pub fn start_call(
        &mut self,
        store: &mut Store,
        host: &mut dyn Host,
        func: u32,
        args: &[Val],
    ) -> Result<(), Trap> {
        let ty = store.func_type(func).clone();
        self.frames.clear();
        let nslots = ty.params.len().max(ty.results.len());
        if !self.grow_stack(nslots, store.limits.max_stack_slots as usize) {
            return Err(Trap { kind: TrapKind::StackExhausted, backtrace: vec![] });
        }
        for (i, a) in args.iter().enumerate() {
            self.stack[i] = a.to_slot();
        }
        match store.funcs[func as usize].kind {
            FuncKind::Host { id } => {
                let mut results = vec![0u64; ty.results.len()];
                let mem = None;
                let argv: Vec<u64> = args.iter().map(|a| a.to_slot()).collect();
                host.call(id, mem, &argv, &mut results).map_err(|e| Trap {
                    kind: TrapKind::Host(match e {
                        HostError::Trap(m) => m,
                        HostError::Exit(c) => format!("exit with code {c}"),
                        HostError::Suspend => "host function suspended outside a run".into(),
                    }),
                    backtrace: vec![],
                })?;
                self.stack[..results.len()].copy_from_slice(&results);
                Ok(())
            }
            FuncKind::Wasm { .. } => {
                let cf = unsafe { &*code_of(store, func).0 };
                if !self.grow_stack(cf.max_slots as usize, store.limits.max_stack_slots as usize) {
                    return Err(Trap { kind: TrapKind::StackExhausted, backtrace: vec![] });
                }
                for s in &mut self.stack[cf.num_params as usize..cf.num_locals as usize] {
                    *s = 0;
                }
                self.frames.push(Frame { func, pc: 0, fp: 0 });
                Ok(())
            }
        }
    }

    /// The results of the finished call of `func`.
    pub fn results(&self, store: &Store, func: u32) -> Vec<Val> {
        let ty = store.func_type(func);
        ty.results.iter().enumerate().map(|(i, t)| Val::from_slot(*t, self.stack[i])).collect()
    }

    /// Builds a trap with a backtrace from the current frames (innermost first).
    fn trap(&self, store: &Store, kind: TrapKind) -> Trap {
        let mut backtrace = Vec::new();
        for fr in self.frames.iter().rev() {
            let (cf, _) = unsafe { code_of(store, fr.func) };
            let cf = unsafe { &*cf };
            let i = (fr.pc as usize).saturating_sub(1).min(cf.offsets.len().saturating_sub(1));
            backtrace.push(BacktraceFrame {
                func_addr: fr.func,
                name: store.func_name(fr.func),
                offset: cf.offsets.get(i).copied().unwrap_or(0),
            });
        }
        Trap { kind, backtrace }
    }

    /// Runs until the call returns, the budget is spent at a safe point, the guest exits, or a trap.
    pub fn run(&mut self, store: &mut Store, host: &mut dyn Host) -> Result<RunResult, Trap> {
        let max_stack = store.limits.max_stack_slots as usize;
        let max_frames = store.limits.max_frames as usize;
        let mut cd = self.countdown;
        self.codes.clear();
        let mut prev_inst = u32::MAX;
        for fr in &self.frames {
            // SAFETY: frames only ever name Wasm functions of the store (start_call, calls).
            let (cf, i) = unsafe { code_of(store, fr.func) };
            let ptr = unsafe { (*cf).code.as_ptr() } as usize;
            self.codes.push(ptr | if i != prev_inst { OTHER_INSTANCE } else { 0 });
            prev_inst = i;
        }
        // SAFETY (for the whole loop): slot indices were bounded by the lowering to the
        // function's `max_slots`, and every frame has `max_slots` stack slots allocated before
        // it starts; the raw pointers are refreshed whenever the vectors they point into may
        // have reallocated (stack growth on calls, memory.grow, host calls).
        unsafe {
            'reload: loop {
                let Some(&frame) = self.frames.last() else {
                    self.countdown = cd;
                    return Ok(RunResult::Done);
                };
                let (cf, cur_inst) = code_of(store, frame.func);
                let mut code: *const Instr = (*cf).code.as_ptr();
                let mut pc = frame.pc as usize;
                let mut fp = frame.fp as usize;
                let mut regs: *mut u64 = self.stack.as_mut_ptr().add(fp);
                let mut inst: *const Instance = store.instances.as_ptr().add(cur_inst as usize);
                let mem: *mut Memory = match (&*inst).memories.first() {
                    Some(&a) => store.memories.as_mut_ptr().add(a as usize),
                    None => std::ptr::null_mut(),
                };
                let (mut mem_ptr, mut mem_len): (*mut u8, u64) = if mem.is_null() {
                    (std::ptr::null_mut(), 0)
                } else {
                    ((*mem).data.as_mut_ptr(), (*mem).data.len() as u64)
                };
                let globals = store.globals.as_mut_ptr();
                // The current module's defined functions, for direct calls within the instance.
                let module = &*(*inst).module;
                let nimp = module.num_imported_funcs;
                let defined: *const CompiledFunc = module.code.as_ptr();
                let inst_funcs: *const u32 = (*inst).funcs.as_ptr();

                macro_rules! rd {
                    ($s:expr) => {
                        *regs.add($s as usize)
                    };
                }
                macro_rules! wr {
                    ($s:expr, $v:expr) => {
                        *regs.add($s as usize) = $v
                    };
                }
                macro_rules! save_pc {
                    ($pc:expr) => {
                        self.frames.last_mut().unwrap_unchecked().pc = $pc as u32
                    };
                }
                macro_rules! trap {
                    ($k:expr) => {{
                        save_pc!(pc);
                        self.countdown = cd;
                        return Err(self.trap(store, $k));
                    }};
                }
                macro_rules! refresh_mem {
                    () => {
                        if !mem.is_null() {
                            mem_ptr = (*mem).data.as_mut_ptr();
                            mem_len = (*mem).data.len() as u64;
                        }
                    };
                }
                macro_rules! i32bin {
                    ($x:expr, |$a:ident, $b:ident| $e:expr) => {{
                        let $a = rd!($x.a) as u32;
                        let $b = rd!($x.b) as u32;
                        wr!($x.dst, ($e) as u32 as u64);
                    }};
                }
                macro_rules! i64bin {
                    ($x:expr, |$a:ident, $b:ident| $e:expr) => {{
                        let $a = rd!($x.a);
                        let $b = rd!($x.b);
                        wr!($x.dst, ($e) as u64);
                    }};
                }
                macro_rules! f32bin {
                    ($x:expr, |$a:ident, $b:ident| $e:expr) => {{
                        let $a = f32::from_bits(rd!($x.a) as u32);
                        let $b = f32::from_bits(rd!($x.b) as u32);
                        wr!($x.dst, ($e).to_bits() as u64);
                    }};
                }
                macro_rules! f64bin {
                    ($x:expr, |$a:ident, $b:ident| $e:expr) => {{
                        let $a = f64::from_bits(rd!($x.a));
                        let $b = f64::from_bits(rd!($x.b));
                        wr!($x.dst, ($e).to_bits());
                    }};
                }
                macro_rules! f32cmp {
                    ($x:expr, |$a:ident, $b:ident| $e:expr) => {{
                        let $a = f32::from_bits(rd!($x.a) as u32);
                        let $b = f32::from_bits(rd!($x.b) as u32);
                        wr!($x.dst, ($e) as u64);
                    }};
                }
                macro_rules! f64cmp {
                    ($x:expr, |$a:ident, $b:ident| $e:expr) => {{
                        let $a = f64::from_bits(rd!($x.a));
                        let $b = f64::from_bits(rd!($x.b));
                        wr!($x.dst, ($e) as u64);
                    }};
                }
                macro_rules! un {
                    ($x:expr, $from:ident, |$a:ident| $e:expr) => {{
                        let $a = un!(@get $from, rd!($x.a));
                        wr!($x.dst, $e);
                    }};
                    (@get u32, $v:expr) => { $v as u32 };
                    (@get u64, $v:expr) => { $v };
                    (@get f32, $v:expr) => { f32::from_bits($v as u32) };
                    (@get f64, $v:expr) => { f64::from_bits($v) };
                }
                macro_rules! trunc {
                    ($x:expr, $from:ident, $f:path, $to:ty) => {{
                        let v = un!(@get $from, rd!($x.a));
                        match $f(v) {
                            Ok(r) => wr!($x.dst, r as $to as u64),
                            Err(k) => trap!(k),
                        }
                    }};
                }
                macro_rules! ea {
                    ($addr:expr, $off:expr, $n:expr) => {{
                        let ea = (rd!($addr) as u32 as u64) + $off as u64;
                        if ea + $n > mem_len {
                            trap!(TrapKind::MemoryOutOfBounds);
                        }
                        mem_ptr.add(ea as usize)
                    }};
                }
                macro_rules! load {
                    ($x:expr, $t:ty, $conv:ty) => {{
                        let p = ea!($x.addr, $x.offset, std::mem::size_of::<$t>() as u64);
                        let v = <$t>::from_le(std::ptr::read_unaligned(p as *const $t));
                        wr!($x.dst, v as $conv as u64);
                    }};
                }
                macro_rules! store_ {
                    ($x:expr, $t:ty) => {{
                        let p = ea!($x.addr, $x.offset, std::mem::size_of::<$t>() as u64);
                        std::ptr::write_unaligned(p as *mut $t, (rd!($x.val) as $t).to_le());
                    }};
                }
                // Runs the safe point at `pc` (a `Poll`) without dispatching it: what a
                // backward branch and a call do with the loop header / function entry they
                // jump to. Same charge, same `pc` after it, same yield as executing it.
                macro_rules! poll_at {
                    ($t:expr) => {{
                        let t: usize = $t;
                        if let Instr::Poll { cost, .. } = *code.add(t) {
                            cd -= cost as i64;
                            pc = t + 1;
                            if cd <= 0 {
                                save_pc!(pc);
                                self.countdown = cd;
                                return Ok(RunResult::Yield);
                            }
                        } else {
                            pc = t;
                        }
                    }};
                }
                // Taken branch. Backward targets are loop headers, whose first instruction is
                // their `Poll` (the lowering guarantees it).
                macro_rules! jump {
                    ($t:expr) => {{
                        let t = $t as usize;
                        if t < pc {
                            poll_at!(t);
                        } else {
                            pc = t;
                        }
                    }};
                }
                macro_rules! cmpbr {
                    ($x:expr, $t:ty, |$a:ident, $b:ident| $e:expr) => {{
                        let $a = rd!($x.a) as $t;
                        let $b = rd!($x.b) as $t;
                        if $e {
                            jump!($x.target);
                        }
                    }};
                }
                macro_rules! cmpbri {
                    ($x:expr, $t:ty, |$a:ident, $b:ident| $e:expr) => {{
                        let $a = rd!($x.a) as $t;
                        let $b = $x.imm as i64 as $t;
                        if $e {
                            jump!($x.target);
                        }
                    }};
                }
                macro_rules! i32bi {
                    ($x:expr, |$a:ident, $b:ident| $e:expr) => {{
                        let $a = rd!($x.a) as u32;
                        let $b = $x.imm as u32;
                        wr!($x.dst, ($e) as u32 as u64);
                    }};
                }
                macro_rules! i64bi {
                    ($x:expr, |$a:ident, $b:ident| $e:expr) => {{
                        let $a = rd!($x.a);
                        let $b = $x.imm as i64 as u64;
                        wr!($x.dst, ($e) as u64);
                    }};
                }
                // Enters Wasm function `$callee` (store address `$addr`, instance `$ci`) with
                // its frame at slot `$base`.
                macro_rules! enter {
                    ($addr:expr, $callee:expr, $ci:expr, $base:expr) => {{
                        let callee: &CompiledFunc = $callee;
                        let ci: u32 = $ci;
                        let new_fp = fp + $base as usize;
                        let need = new_fp + callee.max_slots as usize;
                        if need > self.stack.len() || self.frames.len() >= max_frames {
                            if self.frames.len() >= max_frames || !self.grow_stack(need, max_stack) {
                                trap!(TrapKind::StackExhausted);
                            }
                        }
                        save_pc!(pc);
                        let nregs = self.stack.as_mut_ptr().add(new_fp);
                        zero_locals(nregs, callee);
                        self.frames.push(Frame { func: $addr, pc: 0, fp: new_fp as u32 });
                        let ccode = callee.code.as_ptr();
                        if ci == cur_inst {
                            self.codes.push(ccode as usize);
                            code = ccode;
                            fp = new_fp;
                            regs = nregs;
                            // The entry safe point, executed without a dispatch.
                            poll_at!(0);
                        } else {
                            self.codes.push(ccode as usize | OTHER_INSTANCE);
                            self.countdown = cd;
                            continue 'reload;
                        }
                    }};
                }
                // Calls the function at store address `$addr` with its frame at slot `$base`.
                macro_rules! call {
                    ($addr:expr, $base:expr) => {{
                        let addr: u32 = $addr;
                        let base = $base as usize;
                        let f = *store.funcs.get_unchecked(addr as usize);
                        match f.kind {
                            FuncKind::Wasm { instance: ci, index } => {
                                let m = &*store.instances.get_unchecked(ci as usize).module;
                                let callee = m.code.get_unchecked((index - m.num_imported_funcs) as usize);
                                enter!(addr, callee, ci, base)
                            }
                            FuncKind::Host { id } => {
                                let ty = store.types.get_unchecked(f.ty as usize);
                                let (np, nr) = (ty.params.len(), ty.results.len());
                                let mut small = [0u64; 16];
                                let mut big = Vec::new();
                                let args: &mut [u64] = if np <= 16 {
                                    &mut small[..np]
                                } else {
                                    big.resize(np, 0);
                                    &mut big
                                };
                                for (i, a) in args.iter_mut().enumerate() {
                                    *a = rd!(base + i);
                                }
                                if need_results_space(self, fp + base + nr, max_stack) {
                                    regs = self.stack.as_mut_ptr().add(fp);
                                } else {
                                    trap!(TrapKind::StackExhausted);
                                }
                                let results = std::slice::from_raw_parts_mut(regs.add(base), nr);
                                let memory = if mem.is_null() { None } else { Some(&mut *mem) };
                                match host.call(id, memory, args, results) {
                                    Ok(()) => {}
                                    Err(HostError::Suspend) => {
                                        save_pc!(pc - 1);
                                        self.countdown = cd;
                                        return Ok(RunResult::Yield);
                                    }
                                    Err(HostError::Exit(code)) => {
                                        save_pc!(pc);
                                        self.countdown = cd;
                                        return Ok(RunResult::Exit(code));
                                    }
                                    Err(HostError::Trap(m)) => trap!(TrapKind::Host(m)),
                                }
                                refresh_mem!();
                            }
                        }
                    }};
                }

                loop {
                    let ins = *code.add(pc);
                    pc += 1;
                    match ins {
                        Instr::Unreachable => trap!(TrapKind::Unreachable),
                        Instr::Poll { cost, .. } => {
                            cd -= cost as i64;
                            if cd <= 0 {
                                save_pc!(pc);
                                self.countdown = cd;
                                return Ok(RunResult::Yield);
                            }
                        }
                        Instr::Const32 { dst, val } => wr!(dst, val as u64),
                        Instr::Const64 { dst, val } => wr!(dst, val),
                        Instr::Copy { dst, src } => wr!(dst, rd!(src)),
                        Instr::Select { dst, a, b, cond } => {
                            wr!(dst, if rd!(cond) as u32 != 0 { rd!(a) } else { rd!(b) })
                        }
                        Instr::Br { target } => jump!(target),
                        Instr::BrCopy { target, from, to, n } => {
                            for i in 0..n as usize {
                                wr!(to as usize + i, rd!(from as usize + i));
                            }
                            jump!(target);
                        }
                        Instr::BrIfNez { cond, target } => {
                            if rd!(cond) as u32 != 0 {
                                jump!(target);
                            }
                        }
                        Instr::BrIfEqz { cond, target } => {
                            if rd!(cond) as u32 == 0 {
                                jump!(target);
                            }
                        }
                        Instr::BrTable { index, len } => {
                            let i = (rd!(index) as u32).min(len);
                            pc += i as usize;
                        }
                        Instr::BrI32Eq(x) => cmpbr!(x, u32, |a, b| a == b),
                        Instr::BrI32Ne(x) => cmpbr!(x, u32, |a, b| a != b),
                        Instr::BrI32LtS(x) => cmpbr!(x, u32, |a, b| (a as i32) < (b as i32)),
                        Instr::BrI32LtU(x) => cmpbr!(x, u32, |a, b| a < b),
                        Instr::BrI32GtS(x) => cmpbr!(x, u32, |a, b| (a as i32) > (b as i32)),
                        Instr::BrI32GtU(x) => cmpbr!(x, u32, |a, b| a > b),
                        Instr::BrI32LeS(x) => cmpbr!(x, u32, |a, b| (a as i32) <= (b as i32)),
                        Instr::BrI32LeU(x) => cmpbr!(x, u32, |a, b| a <= b),
                        Instr::BrI32GeS(x) => cmpbr!(x, u32, |a, b| (a as i32) >= (b as i32)),
                        Instr::BrI32GeU(x) => cmpbr!(x, u32, |a, b| a >= b),
                        Instr::BrI64Eq(x) => cmpbr!(x, u64, |a, b| a == b),
                        Instr::BrI64Ne(x) => cmpbr!(x, u64, |a, b| a != b),
                        Instr::BrI64LtS(x) => cmpbr!(x, u64, |a, b| (a as i64) < (b as i64)),
                        Instr::BrI64LtU(x) => cmpbr!(x, u64, |a, b| a < b),
                        Instr::BrI64GtS(x) => cmpbr!(x, u64, |a, b| (a as i64) > (b as i64)),
                        Instr::BrI64GtU(x) => cmpbr!(x, u64, |a, b| a > b),
                        Instr::BrI64LeS(x) => cmpbr!(x, u64, |a, b| (a as i64) <= (b as i64)),
                        Instr::BrI64LeU(x) => cmpbr!(x, u64, |a, b| a <= b),
                        Instr::BrI64GeS(x) => cmpbr!(x, u64, |a, b| (a as i64) >= (b as i64)),
                        Instr::BrI64GeU(x) => cmpbr!(x, u64, |a, b| a >= b),
                        Instr::BrI32EqImm(x) => cmpbri!(x, u32, |a, b| a == b),
                        Instr::BrI32NeImm(x) => cmpbri!(x, u32, |a, b| a != b),
                        Instr::BrI32LtSImm(x) => cmpbri!(x, u32, |a, b| (a as i32) < (b as i32)),
                        Instr::BrI32LtUImm(x) => cmpbri!(x, u32, |a, b| a < b),
                        Instr::BrI32GtSImm(x) => cmpbri!(x, u32, |a, b| (a as i32) > (b as i32)),
                        Instr::BrI32GtUImm(x) => cmpbri!(x, u32, |a, b| a > b),
                        Instr::BrI32LeSImm(x) => cmpbri!(x, u32, |a, b| (a as i32) <= (b as i32)),
                        Instr::BrI32LeUImm(x) => cmpbri!(x, u32, |a, b| a <= b),
                        Instr::BrI32GeSImm(x) => cmpbri!(x, u32, |a, b| (a as i32) >= (b as i32)),
                        Instr::BrI32GeUImm(x) => cmpbri!(x, u32, |a, b| a >= b),
                        Instr::BrI64EqImm(x) => cmpbri!(x, u64, |a, b| a == b),
                        Instr::BrI64NeImm(x) => cmpbri!(x, u64, |a, b| a != b),
                        Instr::BrI64LtSImm(x) => cmpbri!(x, u64, |a, b| (a as i64) < (b as i64)),
                        Instr::BrI64LtUImm(x) => cmpbri!(x, u64, |a, b| a < b),
                        Instr::BrI64GtSImm(x) => cmpbri!(x, u64, |a, b| (a as i64) > (b as i64)),
                        Instr::BrI64GtUImm(x) => cmpbri!(x, u64, |a, b| a > b),
                        Instr::BrI64LeSImm(x) => cmpbri!(x, u64, |a, b| (a as i64) <= (b as i64)),
                        Instr::BrI64LeUImm(x) => cmpbri!(x, u64, |a, b| a <= b),
                        Instr::BrI64GeSImm(x) => cmpbri!(x, u64, |a, b| (a as i64) >= (b as i64)),
                        Instr::BrI64GeUImm(x) => cmpbri!(x, u64, |a, b| a >= b),
                        Instr::I32AddImm(x) => i32bi!(x, |a, b| a.wrapping_add(b)),
                        Instr::I32MulImm(x) => i32bi!(x, |a, b| a.wrapping_mul(b)),
                        Instr::I32AndImm(x) => i32bi!(x, |a, b| a & b),
                        Instr::I32OrImm(x) => i32bi!(x, |a, b| a | b),
                        Instr::I32XorImm(x) => i32bi!(x, |a, b| a ^ b),
                        Instr::I32ShlImm(x) => i32bi!(x, |a, b| a.wrapping_shl(b)),
                        Instr::I32ShrSImm(x) => i32bi!(x, |a, b| (a as i32).wrapping_shr(b)),
                        Instr::I32ShrUImm(x) => i32bi!(x, |a, b| a.wrapping_shr(b)),
                        Instr::I32EqImm(x) => i32bi!(x, |a, b| a == b),
                        Instr::I32NeImm(x) => i32bi!(x, |a, b| a != b),
                        Instr::I32LtSImm(x) => i32bi!(x, |a, b| (a as i32) < (b as i32)),
                        Instr::I32LtUImm(x) => i32bi!(x, |a, b| a < b),
                        Instr::I32GtSImm(x) => i32bi!(x, |a, b| (a as i32) > (b as i32)),
                        Instr::I32GtUImm(x) => i32bi!(x, |a, b| a > b),
                        Instr::I32LeSImm(x) => i32bi!(x, |a, b| (a as i32) <= (b as i32)),
                        Instr::I32LeUImm(x) => i32bi!(x, |a, b| a <= b),
                        Instr::I32GeSImm(x) => i32bi!(x, |a, b| (a as i32) >= (b as i32)),
                        Instr::I32GeUImm(x) => i32bi!(x, |a, b| a >= b),
                        Instr::I64AddImm(x) => i64bi!(x, |a, b| a.wrapping_add(b)),
                        Instr::I64MulImm(x) => i64bi!(x, |a, b| a.wrapping_mul(b)),
                        Instr::I64AndImm(x) => i64bi!(x, |a, b| a & b),
                        Instr::I64OrImm(x) => i64bi!(x, |a, b| a | b),
                        Instr::I64XorImm(x) => i64bi!(x, |a, b| a ^ b),
                        Instr::I64ShlImm(x) => i64bi!(x, |a, b| a.wrapping_shl(b as u32)),
                        Instr::I64ShrSImm(x) => i64bi!(x, |a, b| (a as i64).wrapping_shr(b as u32)),
                        Instr::I64ShrUImm(x) => i64bi!(x, |a, b| a.wrapping_shr(b as u32)),
                        Instr::I64EqImm(x) => i64bi!(x, |a, b| a == b),
                        Instr::I64NeImm(x) => i64bi!(x, |a, b| a != b),
                        Instr::I64LtSImm(x) => i64bi!(x, |a, b| (a as i64) < (b as i64)),
                        Instr::I64LtUImm(x) => i64bi!(x, |a, b| a < b),
                        Instr::I64GtSImm(x) => i64bi!(x, |a, b| (a as i64) > (b as i64)),
                        Instr::I64GtUImm(x) => i64bi!(x, |a, b| a > b),
                        Instr::I64LeSImm(x) => i64bi!(x, |a, b| (a as i64) <= (b as i64)),
                        Instr::I64LeUImm(x) => i64bi!(x, |a, b| a <= b),
                        Instr::I64GeSImm(x) => i64bi!(x, |a, b| (a as i64) >= (b as i64)),
                        Instr::I64GeUImm(x) => i64bi!(x, |a, b| a >= b),
                        Instr::Return { from, n } => {
                            if from != 0 {
                                for i in 0..n as usize {
                                    wr!(i, rd!(from as usize + i));
                                }
                            }
                            self.frames.pop();
                            let done = self.codes.pop().unwrap_unchecked();
                            let Some(&caller) = self.frames.last() else {
                                self.countdown = cd;
                                return Ok(RunResult::Done);
                            };
                            if done & OTHER_INSTANCE != 0 {
                                self.countdown = cd;
                                continue 'reload;
                            }
                            code = (*self.codes.last().unwrap_unchecked() & !OTHER_INSTANCE) as *const Instr;
                            pc = caller.pc as usize;
                            fp = caller.fp as usize;
                            regs = self.stack.as_mut_ptr().add(fp);
                        }
                        Instr::Call { func, base } => {
                            let addr = *inst_funcs.add(func as usize);
                            if func >= nimp {
                                // A function defined by this module: this instance's own.
                                enter!(addr, &*defined.add((func - nimp) as usize), cur_inst, base)
                            } else {
                                call!(addr, base)
                            }
                        }
                        Instr::CallIndirect { type_idx, table, index, base } => {
                            let t = store
                                .tables
                                .get_unchecked(*(&*inst).tables.get_unchecked(table as usize) as usize);
                            let i = rd!(index) as u32 as usize;
                            if i >= t.elems.len() {
                                trap!(TrapKind::UndefinedElement);
                            }
                            let r = *t.elems.get_unchecked(i);
                            if r == 0 {
                                trap!(TrapKind::UninitializedElement);
                            }
                            let addr = (r - 1) as u32;
                            let expected = *(&*inst).types.get_unchecked(type_idx as usize);
                            if store.funcs[addr as usize].ty != expected {
                                trap!(TrapKind::IndirectCallTypeMismatch);
                            }
                            call!(addr, base)
                        }
                        Instr::GlobalGet { dst, global } => {
                            let a = *(&*inst).globals.get_unchecked(global as usize);
                            wr!(dst, (*globals.add(a as usize)).value)
                        }
                        Instr::GlobalSet { src, global } => {
                            let a = *(&*inst).globals.get_unchecked(global as usize);
                            (*globals.add(a as usize)).value = rd!(src);
                        }
                        Instr::I32Load(x) => load!(x, u32, u32),
                        Instr::I64Load(x) => load!(x, u64, u64),
                        Instr::I32Load8S(x) => load!(x, i8, u32),
                        Instr::I32Load8U(x) => load!(x, u8, u32),
                        Instr::I32Load16S(x) => load!(x, i16, u32),
                        Instr::I32Load16U(x) => load!(x, u16, u32),
                        Instr::I64Load8S(x) => load!(x, i8, i64),
                        Instr::I64Load8U(x) => load!(x, u8, u64),
                        Instr::I64Load16S(x) => load!(x, i16, i64),
                        Instr::I64Load16U(x) => load!(x, u16, u64),
                        Instr::I64Load32S(x) => load!(x, i32, i64),
                        Instr::I64Load32U(x) => load!(x, u32, u64),
                        Instr::I32Store(x) => store_!(x, u32),
                        Instr::I64Store(x) => store_!(x, u64),
                        Instr::I32Store8(x) | Instr::I64Store8(x) => store_!(x, u8),
                        Instr::I32Store16(x) | Instr::I64Store16(x) => store_!(x, u16),
                        Instr::I64Store32(x) => store_!(x, u32),
                        Instr::MemorySize { dst } => wr!(dst, (*mem).pages() as u64),
                        Instr::MemoryGrow { dst, delta } => {
                            let r = (*mem).grow(rd!(delta) as u32).unwrap_or(u32::MAX);
                            refresh_mem!();
                            wr!(dst, r as u64);
                        }
                        Instr::MemoryCopy { dst, src, n } => {
                            let (d, s, n) =
                                (rd!(dst) as u32 as u64, rd!(src) as u32 as u64, rd!(n) as u32 as u64);
                            if d + n > mem_len || s + n > mem_len {
                                trap!(TrapKind::MemoryOutOfBounds);
                            }
                            std::ptr::copy(mem_ptr.add(s as usize), mem_ptr.add(d as usize), n as usize);
                        }
                        Instr::MemoryFill { dst, val, n } => {
                            let (d, v, n) = (rd!(dst) as u32 as u64, rd!(val) as u8, rd!(n) as u32 as u64);
                            if d + n > mem_len {
                                trap!(TrapKind::MemoryOutOfBounds);
                            }
                            std::ptr::write_bytes(mem_ptr.add(d as usize), v, n as usize);
                        }
                        Instr::MemoryInit { seg, dst, src, n } => {
                            let data = (&*inst).data(seg);
                            let (d, s, n) =
                                (rd!(dst) as u32 as u64, rd!(src) as u32 as u64, rd!(n) as u32 as u64);
                            if d + n > mem_len || s + n > data.len() as u64 {
                                trap!(TrapKind::MemoryOutOfBounds);
                            }
                            std::ptr::copy_nonoverlapping(
                                data.as_ptr().add(s as usize),
                                mem_ptr.add(d as usize),
                                n as usize,
                            );
                        }
                        Instr::DataDrop { seg } => {
                            store.instances[cur_inst as usize].data_dropped[seg as usize] = true;
                            inst = store.instances.as_ptr().add(cur_inst as usize);
                        }
                        Instr::TableGet { dst, index, table } => {
                            let t = &store.tables[(&*inst).tables[table as usize] as usize];
                            let i = rd!(index) as u32 as usize;
                            match t.elems.get(i) {
                                Some(&r) => wr!(dst, r),
                                None => trap!(TrapKind::TableOutOfBounds),
                            }
                        }
                        Instr::TableSet { table, index, val } => {
                            let t = &mut store.tables[(&*inst).tables[table as usize] as usize];
                            let i = rd!(index) as u32 as usize;
                            match t.elems.get_mut(i) {
                                Some(r) => *r = rd!(val),
                                None => trap!(TrapKind::TableOutOfBounds),
                            }
                        }
                        Instr::TableSize { dst, table } => {
                            wr!(dst, store.tables[(&*inst).tables[table as usize] as usize].size() as u64)
                        }
                        Instr::TableGrow { table, dst, init, delta } => {
                            let t = &mut store.tables[(&*inst).tables[table as usize] as usize];
                            let r = t.grow(rd!(delta) as u32, rd!(init)).unwrap_or(u32::MAX);
                            wr!(dst, r as u64);
                        }
                        Instr::TableFill { table, index, val, n } => {
                            let t = &mut store.tables[(&*inst).tables[table as usize] as usize];
                            let (i, v, n) = (rd!(index) as u32 as u64, rd!(val), rd!(n) as u32 as u64);
                            if i + n > t.elems.len() as u64 {
                                trap!(TrapKind::TableOutOfBounds);
                            }
                            t.elems[i as usize..(i + n) as usize].fill(v);
                        }
                        Instr::TableCopy { dst_table, src_table, dst, src, n } => {
                            let da = (&*inst).tables[dst_table as usize] as usize;
                            let sa = (&*inst).tables[src_table as usize] as usize;
                            let (d, s, n) =
                                (rd!(dst) as u32 as u64, rd!(src) as u32 as u64, rd!(n) as u32 as u64);
                            if d + n > store.tables[da].elems.len() as u64
                                || s + n > store.tables[sa].elems.len() as u64
                            {
                                trap!(TrapKind::TableOutOfBounds);
                            }
                            let sp = store.tables[sa].elems.as_ptr().add(s as usize);
                            let dp = store.tables[da].elems.as_mut_ptr().add(d as usize);
                            std::ptr::copy(sp, dp, n as usize);
                        }
                        Instr::TableInit { table, seg, dst, src, n } => {
                            let ta = (&*inst).tables[table as usize] as usize;
                            let items = &(&*inst).elems[seg as usize];
                            let (d, s, n) =
                                (rd!(dst) as u32 as u64, rd!(src) as u32 as u64, rd!(n) as u32 as u64);
                            if d + n > store.tables[ta].elems.len() as u64 || s + n > items.len() as u64 {
                                trap!(TrapKind::TableOutOfBounds);
                            }
                            store.tables[ta].elems[d as usize..(d + n) as usize]
                                .copy_from_slice(&items[s as usize..(s + n) as usize]);
                        }
                        Instr::ElemDrop { seg } => {
                            store.instances[cur_inst as usize].elems[seg as usize] = Vec::new();
                            inst = store.instances.as_ptr().add(cur_inst as usize);
                        }
                        Instr::RefIsNull { dst, src } => wr!(dst, (rd!(src) == 0) as u64),
                        Instr::RefFunc { dst, func } => {
                            wr!(dst, *(&*inst).funcs.get_unchecked(func as usize) as u64 + 1)
                        }

                        Instr::I32Add(x) => i32bin!(x, |a, b| a.wrapping_add(b)),
                        Instr::I32Sub(x) => i32bin!(x, |a, b| a.wrapping_sub(b)),
                        Instr::I32Mul(x) => i32bin!(x, |a, b| a.wrapping_mul(b)),
                        Instr::I32DivS(x) => {
                            let (a, b) = (rd!(x.a) as i32, rd!(x.b) as i32);
                            if b == 0 {
                                trap!(TrapKind::IntegerDivideByZero);
                            }
                            if a == i32::MIN && b == -1 {
                                trap!(TrapKind::IntegerOverflow);
                            }
                            wr!(x.dst, (a / b) as u32 as u64);
                        }
                        Instr::I32DivU(x) => {
                            let (a, b) = (rd!(x.a) as u32, rd!(x.b) as u32);
                            if b == 0 {
                                trap!(TrapKind::IntegerDivideByZero);
                            }
                            wr!(x.dst, (a / b) as u64);
                        }
                        Instr::I32RemS(x) => {
                            let (a, b) = (rd!(x.a) as i32, rd!(x.b) as i32);
                            if b == 0 {
                                trap!(TrapKind::IntegerDivideByZero);
                            }
                            wr!(x.dst, a.wrapping_rem(b) as u32 as u64);
                        }
                        Instr::I32RemU(x) => {
                            let (a, b) = (rd!(x.a) as u32, rd!(x.b) as u32);
                            if b == 0 {
                                trap!(TrapKind::IntegerDivideByZero);
                            }
                            wr!(x.dst, (a % b) as u64);
                        }
                        Instr::I32And(x) => i32bin!(x, |a, b| a & b),
                        Instr::I32Or(x) => i32bin!(x, |a, b| a | b),
                        Instr::I32Xor(x) => i32bin!(x, |a, b| a ^ b),
                        Instr::I32Shl(x) => i32bin!(x, |a, b| a.wrapping_shl(b)),
                        Instr::I32ShrS(x) => i32bin!(x, |a, b| (a as i32).wrapping_shr(b)),
                        Instr::I32ShrU(x) => i32bin!(x, |a, b| a.wrapping_shr(b)),
                        Instr::I32Rotl(x) => i32bin!(x, |a, b| a.rotate_left(b)),
                        Instr::I32Rotr(x) => i32bin!(x, |a, b| a.rotate_right(b)),
                        Instr::I32Eq(x) => i32bin!(x, |a, b| a == b),
                        Instr::I32Ne(x) => i32bin!(x, |a, b| a != b),
                        Instr::I32LtS(x) => i32bin!(x, |a, b| (a as i32) < (b as i32)),
                        Instr::I32LtU(x) => i32bin!(x, |a, b| a < b),
                        Instr::I32GtS(x) => i32bin!(x, |a, b| (a as i32) > (b as i32)),
                        Instr::I32GtU(x) => i32bin!(x, |a, b| a > b),
                        Instr::I32LeS(x) => i32bin!(x, |a, b| (a as i32) <= (b as i32)),
                        Instr::I32LeU(x) => i32bin!(x, |a, b| a <= b),
                        Instr::I32GeS(x) => i32bin!(x, |a, b| (a as i32) >= (b as i32)),
                        Instr::I32GeU(x) => i32bin!(x, |a, b| a >= b),
                        Instr::I64Add(x) => i64bin!(x, |a, b| a.wrapping_add(b)),
                        Instr::I64Sub(x) => i64bin!(x, |a, b| a.wrapping_sub(b)),
                        Instr::I64Mul(x) => i64bin!(x, |a, b| a.wrapping_mul(b)),
                        Instr::I64DivS(x) => {
                            let (a, b) = (rd!(x.a) as i64, rd!(x.b) as i64);
                            if b == 0 {
                                trap!(TrapKind::IntegerDivideByZero);
                            }
                            if a == i64::MIN && b == -1 {
                                trap!(TrapKind::IntegerOverflow);
                            }
                            wr!(x.dst, (a / b) as u64);
                        }
                        Instr::I64DivU(x) => {
                            let (a, b) = (rd!(x.a), rd!(x.b));
                            if b == 0 {
                                trap!(TrapKind::IntegerDivideByZero);
                            }
                            wr!(x.dst, a / b);
                        }
                        Instr::I64RemS(x) => {
                            let (a, b) = (rd!(x.a) as i64, rd!(x.b) as i64);
                            if b == 0 {
                                trap!(TrapKind::IntegerDivideByZero);
                            }
                            wr!(x.dst, a.wrapping_rem(b) as u64);
                        }
                        Instr::I64RemU(x) => {
                            let (a, b) = (rd!(x.a), rd!(x.b));
                            if b == 0 {
                                trap!(TrapKind::IntegerDivideByZero);
                            }
                            wr!(x.dst, a % b);
                        }
                        Instr::I64And(x) => i64bin!(x, |a, b| a & b),
                        Instr::I64Or(x) => i64bin!(x, |a, b| a | b),
                        Instr::I64Xor(x) => i64bin!(x, |a, b| a ^ b),
                        Instr::I64Shl(x) => i64bin!(x, |a, b| a.wrapping_shl(b as u32)),
                        Instr::I64ShrS(x) => i64bin!(x, |a, b| (a as i64).wrapping_shr(b as u32)),
                        Instr::I64ShrU(x) => i64bin!(x, |a, b| a.wrapping_shr(b as u32)),
                        Instr::I64Rotl(x) => i64bin!(x, |a, b| a.rotate_left(b as u32)),
                        Instr::I64Rotr(x) => i64bin!(x, |a, b| a.rotate_right(b as u32)),
                        Instr::I64Eq(x) => i64bin!(x, |a, b| a == b),
                        Instr::I64Ne(x) => i64bin!(x, |a, b| a != b),
                        Instr::I64LtS(x) => i64bin!(x, |a, b| (a as i64) < (b as i64)),
                        Instr::I64LtU(x) => i64bin!(x, |a, b| a < b),
                        Instr::I64GtS(x) => i64bin!(x, |a, b| (a as i64) > (b as i64)),
                        Instr::I64GtU(x) => i64bin!(x, |a, b| a > b),
                        Instr::I64LeS(x) => i64bin!(x, |a, b| (a as i64) <= (b as i64)),
                        Instr::I64LeU(x) => i64bin!(x, |a, b| a <= b),
                        Instr::I64GeS(x) => i64bin!(x, |a, b| (a as i64) >= (b as i64)),
                        Instr::I64GeU(x) => i64bin!(x, |a, b| a >= b),
                        Instr::F32Add(x) => f32bin!(x, |a, b| a + b),
                        Instr::F32Sub(x) => f32bin!(x, |a, b| a - b),
                        Instr::F32Mul(x) => f32bin!(x, |a, b| a * b),
                        Instr::F32Div(x) => f32bin!(x, |a, b| a / b),
                        Instr::F32Min(x) => f32bin!(x, |a, b| ops::f32_min(a, b)),
                        Instr::F32Max(x) => f32bin!(x, |a, b| ops::f32_max(a, b)),
                        Instr::F32Copysign(x) => f32bin!(x, |a, b| a.copysign(b)),
                        Instr::F32Eq(x) => f32cmp!(x, |a, b| a == b),
                        Instr::F32Ne(x) => f32cmp!(x, |a, b| a != b),
                        Instr::F32Lt(x) => f32cmp!(x, |a, b| a < b),
                        Instr::F32Gt(x) => f32cmp!(x, |a, b| a > b),
                        Instr::F32Le(x) => f32cmp!(x, |a, b| a <= b),
                        Instr::F32Ge(x) => f32cmp!(x, |a, b| a >= b),
                        Instr::F64Add(x) => f64bin!(x, |a, b| a + b),
                        Instr::F64Sub(x) => f64bin!(x, |a, b| a - b),
                        Instr::F64Mul(x) => f64bin!(x, |a, b| a * b),
                        Instr::F64Div(x) => f64bin!(x, |a, b| a / b),
                        Instr::F64Min(x) => f64bin!(x, |a, b| ops::f64_min(a, b)),
                        Instr::F64Max(x) => f64bin!(x, |a, b| ops::f64_max(a, b)),
                        Instr::F64Copysign(x) => f64bin!(x, |a, b| a.copysign(b)),
                        Instr::F64Eq(x) => f64cmp!(x, |a, b| a == b),
                        Instr::F64Ne(x) => f64cmp!(x, |a, b| a != b),
                        Instr::F64Lt(x) => f64cmp!(x, |a, b| a < b),
                        Instr::F64Gt(x) => f64cmp!(x, |a, b| a > b),
                        Instr::F64Le(x) => f64cmp!(x, |a, b| a <= b),
                        Instr::F64Ge(x) => f64cmp!(x, |a, b| a >= b),

                        Instr::I32Eqz(x) => un!(x, u32, |a| (a == 0) as u64),
                        Instr::I32Clz(x) => un!(x, u32, |a| a.leading_zeros() as u64),
                        Instr::I32Ctz(x) => un!(x, u32, |a| a.trailing_zeros() as u64),
                        Instr::I32Popcnt(x) => un!(x, u32, |a| a.count_ones() as u64),
                        Instr::I64Eqz(x) => un!(x, u64, |a| (a == 0) as u64),
                        Instr::I64Clz(x) => un!(x, u64, |a| a.leading_zeros() as u64),
                        Instr::I64Ctz(x) => un!(x, u64, |a| a.trailing_zeros() as u64),
                        Instr::I64Popcnt(x) => un!(x, u64, |a| a.count_ones() as u64),
                        Instr::F32Abs(x) => un!(x, u32, |a| (a & 0x7fff_ffff) as u64),
                        Instr::F32Neg(x) => un!(x, u32, |a| (a ^ 0x8000_0000) as u64),
                        Instr::F32Ceil(x) => un!(x, f32, |a| ops::quiet32(a.ceil()) as u64),
                        Instr::F32Floor(x) => un!(x, f32, |a| ops::quiet32(a.floor()) as u64),
                        Instr::F32Trunc(x) => un!(x, f32, |a| ops::quiet32(a.trunc()) as u64),
                        Instr::F32Nearest(x) => un!(x, f32, |a| ops::quiet32(ops::f32_nearest(a)) as u64),
                        Instr::F32Sqrt(x) => un!(x, f32, |a| ops::quiet32(a.sqrt()) as u64),
                        Instr::F64Abs(x) => un!(x, u64, |a| a & 0x7fff_ffff_ffff_ffff),
                        Instr::F64Neg(x) => un!(x, u64, |a| a ^ 0x8000_0000_0000_0000),
                        Instr::F64Ceil(x) => un!(x, f64, |a| ops::quiet64(a.ceil())),
                        Instr::F64Floor(x) => un!(x, f64, |a| ops::quiet64(a.floor())),
                        Instr::F64Trunc(x) => un!(x, f64, |a| ops::quiet64(a.trunc())),
                        Instr::F64Nearest(x) => un!(x, f64, |a| ops::quiet64(ops::f64_nearest(a))),
                        Instr::F64Sqrt(x) => un!(x, f64, |a| ops::quiet64(a.sqrt())),
                        Instr::I32WrapI64(x) => un!(x, u64, |a| a as u32 as u64),
                        Instr::I32TruncF32S(x) => trunc!(x, f32, ops::i32_trunc_f32_s, u32),
                        Instr::I32TruncF32U(x) => trunc!(x, f32, ops::i32_trunc_f32_u, u32),
                        Instr::I32TruncF64S(x) => trunc!(x, f64, ops::i32_trunc_f64_s, u32),
                        Instr::I32TruncF64U(x) => trunc!(x, f64, ops::i32_trunc_f64_u, u32),
                        Instr::I64ExtendI32S(x) => un!(x, u32, |a| a as i32 as i64 as u64),
                        Instr::I64ExtendI32U(x) => un!(x, u32, |a| a as u64),
                        Instr::I64TruncF32S(x) => trunc!(x, f32, ops::i64_trunc_f32_s, u64),
                        Instr::I64TruncF32U(x) => trunc!(x, f32, ops::i64_trunc_f32_u, u64),
                        Instr::I64TruncF64S(x) => trunc!(x, f64, ops::i64_trunc_f64_s, u64),
                        Instr::I64TruncF64U(x) => trunc!(x, f64, ops::i64_trunc_f64_u, u64),
                        Instr::F32ConvertI32S(x) => un!(x, u32, |a| (a as i32 as f32).to_bits() as u64),
                        Instr::F32ConvertI32U(x) => un!(x, u32, |a| (a as f32).to_bits() as u64),
                        Instr::F32ConvertI64S(x) => un!(x, u64, |a| (a as i64 as f32).to_bits() as u64),
                        Instr::F32ConvertI64U(x) => un!(x, u64, |a| (a as f32).to_bits() as u64),
                        Instr::F32DemoteF64(x) => un!(x, f64, |a| (a as f32).to_bits() as u64),
                        Instr::F64ConvertI32S(x) => un!(x, u32, |a| (a as i32 as f64).to_bits()),
                        Instr::F64ConvertI32U(x) => un!(x, u32, |a| (a as f64).to_bits()),
                        Instr::F64ConvertI64S(x) => un!(x, u64, |a| (a as i64 as f64).to_bits()),
                        Instr::F64ConvertI64U(x) => un!(x, u64, |a| (a as f64).to_bits()),
                        Instr::F64PromoteF32(x) => un!(x, f32, |a| (a as f64).to_bits()),
                        Instr::I32Extend8S(x) => un!(x, u32, |a| a as i8 as i32 as u32 as u64),
                        Instr::I32Extend16S(x) => un!(x, u32, |a| a as i16 as i32 as u32 as u64),
                        Instr::I64Extend8S(x) => un!(x, u64, |a| a as i8 as i64 as u64),
                        Instr::I64Extend16S(x) => un!(x, u64, |a| a as i16 as i64 as u64),
                        Instr::I64Extend32S(x) => un!(x, u64, |a| a as i32 as i64 as u64),
                        // `as` casts from float to int saturate and map NaN to 0: exactly trunc_sat.
                        Instr::I32TruncSatF32S(x) => un!(x, f32, |a| a as i32 as u32 as u64),
                        Instr::I32TruncSatF32U(x) => un!(x, f32, |a| a as u32 as u64),
                        Instr::I32TruncSatF64S(x) => un!(x, f64, |a| a as i32 as u32 as u64),
                        Instr::I32TruncSatF64U(x) => un!(x, f64, |a| a as u32 as u64),
                        Instr::I64TruncSatF32S(x) => un!(x, f32, |a| a as i64 as u64),
                        Instr::I64TruncSatF32U(x) => un!(x, f32, |a| a as u64),
                        Instr::I64TruncSatF64S(x) => un!(x, f64, |a| a as i64 as u64),
                        Instr::I64TruncSatF64U(x) => un!(x, f64, |a| a as u64),
                    }
                }
            }
        }
    }
}

/// Zeroes the declared (non-parameter) locals of a new frame at `regs`.
///
/// # Safety
/// `regs` must point at `callee.max_slots` writable slots.
#[inline(always)]
unsafe fn zero_locals(regs: *mut u64, callee: &CompiledFunc) {
    let (p, l) = (callee.num_params as usize, callee.num_locals as usize);
    if l - p <= 4 && p + 4 <= callee.max_slots as usize {
        // Few locals: one fixed-size store (the extra slots are scratch operand slots).
        std::ptr::write_unaligned(regs.add(p) as *mut [u64; 4], [0; 4]);
    } else {
        std::ptr::write_bytes(regs.add(p), 0, l - p);
    }
}

/// Makes sure slots up to `need` exist (host results may extend past the caller's operands).
#[inline]
fn need_results_space(m: &mut Machine, need: usize, max: usize) -> bool {
    need <= m.stack.len() || m.grow_stack(need, max)
}
