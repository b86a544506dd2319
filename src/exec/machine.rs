//! The machine: an explicit value stack and frame stack; [`Machine::run`] drives the
//! instruction handlers of [`super::handlers`].
//!
//! No Rust recursion per Wasm call: a call pushes a [`Frame`] and execution continues in the
//! callee. All guest state lives in `stack` and `frames` (plus the [`Store`]); the handlers'
//! registers (instruction pointer, frame slots, memory pointers, countdown) are written back
//! before every exit, so at a `Poll` safe point the machine can be captured, and rebuilt later
//! from the module bytes.
//!
//! Hot-path cost of checkpointing: `Poll` subtracts its cost from a countdown and compares.

use super::handlers::{execute, Ctx, Flow, S};
use super::trap::{BacktraceFrame, Trap, TrapKind};
use super::unchecked::{unreachable_unchecked, DebugChecked};
use crate::compile::ir::CompiledFunc;
use crate::runtime::instance::Instance;
use crate::runtime::memory::Memory;
use crate::runtime::store::{FuncKind, Store};
use crate::runtime::value::Val;
use crate::runtime::{Host, HostError};

/// One activation: the function's store address, the program counter (index of the next
/// instruction in its lowered code) and the frame pointer (index of its slot 0 in the stack).
///
/// The handlers trust these fields (they index code and stack with them unchecked), so only
/// the crate sets them: the interpreter itself, and a checkpoint restore after validating them
/// (`snapshot::check_frames`). From outside they can be read, not written:
///
/// ```compile_fail
/// # fn f(machine: &mut chiwawa::Machine) {
/// let frame = machine.frames_mut().last_mut().unwrap(); // no such method
/// # }
/// ```
///
/// ```compile_fail
/// # fn f(mut frame: chiwawa::exec::Frame) {
/// frame.pc = u32::MAX; // private field
/// # }
/// ```
///
/// ```compile_fail
/// # fn f(machine: &mut chiwawa::Machine) {
/// machine.frames.clear(); // private field
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    pub(crate) func: u32,
    pub(crate) pc: u32,
    pub(crate) fp: u32,
}

impl Frame {
    /// Store address of the frame's function.
    pub fn func(&self) -> u32 {
        self.func
    }

    /// Index of the next instruction in the function's lowered code.
    pub fn pc(&self) -> u32 {
        self.pc
    }

    /// Index of the frame's slot 0 in the value stack.
    pub fn fp(&self) -> u32 {
        self.fp
    }
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

/// The interpreter's state: value stack and frames. Both are private to the crate: the
/// handlers index them unchecked, on invariants the interpreter keeps (every frame's function
/// is a Wasm function of the store, its `pc` inside its code, its `fp + max_slots` inside the
/// stack) and that [`Machine::run`] checks again for the frames it starts from.
#[derive(Debug, Default, Clone)]
pub struct Machine {
    pub(crate) stack: Vec<u64>,
    pub(crate) frames: Vec<Frame>,
    pub(super) countdown: i64,
    pub(super) budget: i64,
    /// The store's exceptions outgrew their collection threshold: the run pauses at the next
    /// safe point (with the instruction count intact) so that the guest collects them
    /// ([`crate::guest::Guest::step`]).
    pub(crate) collect_exns: bool,
    executed_base: u64,
    /// Cache used only inside [`Machine::run`] (rebuilt from `frames` when it starts, never
    /// saved): for each frame, the address of its function's first instruction, with bit 0 set
    /// when that frame belongs to another instance than the frame below it. Saves resolving
    /// the caller's code through store → instance → module on every return.
    pub(super) codes: Vec<usize>,
    /// The last run ended with its top frame suspended at a host call (which runs again on
    /// resume), rather than paused after a safe point: the two stand at different Wasm
    /// positions, which a checkpoint records.
    pub(crate) suspended: bool,
}

/// Bit 0 of a [`Machine::codes`] entry: returning from this frame changes instance.
pub(super) const OTHER_INSTANCE: usize = 1;

/// The code of the Wasm function at store address `func`, and its instance.
///
/// # Safety
/// `func` must be the address of a Wasm function of `store` (not a host function): true of
/// every frame of a machine run on `store` ([`Machine::run`] checks the frames it starts from
/// with [`code_checked`]; the handlers push frames only for Wasm functions of the store they
/// run on). The store's own tables are consistent by construction (`instantiate` records only
/// instances it built, whose module's defined functions are `index - num_imported_funcs`).
#[inline(always)]
pub(super) unsafe fn code_of(store: &Store, func: u32) -> (*const CompiledFunc, u32) {
    match store.funcs.get_debug_checked(func as usize).kind {
        FuncKind::Wasm { instance, index } => {
            let inst = store.instances.get_debug_checked(instance as usize);
            (inst.code.get_debug_checked((index - inst.module.num_imported_funcs) as usize), instance)
        }
        FuncKind::Host { .. } => unreachable_unchecked!("host functions have no frames"),
    }
}

/// [`code_of`], checked: `None` unless `func` is the address of a Wasm function of `store`.
pub(crate) fn code_checked(store: &Store, func: u32) -> Option<(&CompiledFunc, u32)> {
    match store.funcs.get(func as usize)?.kind {
        FuncKind::Wasm { instance, index } => {
            let inst = store.instances.get(instance as usize)?;
            Some((inst.code.get(index.checked_sub(inst.module.num_imported_funcs)? as usize)?, instance))
        }
        FuncKind::Host { .. } => None,
    }
}

/// The trap of a run asked to start from frames that do not belong to the store it runs on
/// (a machine set up on one store and run on another, or a frame no execution can hold).
fn foreign_frames(what: &str) -> Trap {
    Trap {
        kind: TrapKind::Host(format!("the machine's frames do not fit this store: {what}")),
        backtrace: vec![],
    }
}

impl Machine {
    pub fn new() -> Machine {
        Machine { countdown: i64::MAX, budget: i64::MAX, ..Default::default() }
    }

    /// The frames, innermost last.
    pub fn frames(&self) -> &[Frame] {
        &self.frames
    }

    /// The value stack (slot `i` of a frame is `stack()[fp + i]`).
    pub fn stack(&self) -> &[u64] {
        &self.stack
    }

    /// The value stack, to change slot values (its length is the interpreter's). Any bits are
    /// safe in a slot: the handlers truncate addresses and indices to 32 bits and bound-check
    /// them, and check a function reference where it is called.
    pub fn stack_mut(&mut self) -> &mut [u64] {
        &mut self.stack
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

    pub(super) fn grow_stack(&mut self, need: usize, max: usize) -> bool {
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
        let argv = Val::slots(args);
        let nslots = ty.param_slots().max(ty.result_slots()).max(argv.len());
        if !self.grow_stack(nslots, store.limits.max_stack_slots as usize) {
            return Err(Trap { kind: TrapKind::StackExhausted, backtrace: vec![] });
        }
        self.stack[..argv.len()].copy_from_slice(&argv);
        match store.funcs[func as usize].kind {
            FuncKind::Host { id } => {
                let mut results = vec![0u64; ty.result_slots()];
                let mem = None;
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
                store
                    .lower(func)
                    .map_err(|e| Trap { kind: TrapKind::Host(e.to_string()), backtrace: vec![] })?;
                let (cf, _) = code_checked(store, func).expect("a Wasm function of the store has code");
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
        Val::from_slots(&ty.results, &self.stack).unwrap_or_default()
    }

    /// Builds a trap with a backtrace from the current frames (innermost first).
    fn trap(&self, store: &Store, kind: TrapKind) -> Trap {
        let mut backtrace = Vec::new();
        for fr in self.frames.iter().rev() {
            let Some((cf, _)) = code_checked(store, fr.func) else { continue };
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
        self.codes.clear();
        self.suspended = false;
        let mut prev_inst = u32::MAX;
        // The handlers trust every frame (see `code_of` and the SAFETY note below): the frames
        // this run starts from are checked against `store` here, once per run (a safe caller
        // may run a machine on another store than the one it was set up on). Frames pushed
        // during the run are the handlers' own.
        for (i, fr) in self.frames.iter().enumerate() {
            // (Frames set up on another store may name a function this one has not lowered.)
            if code_checked(store, fr.func).is_some_and(|(cf, _)| cf.is_lazy()) {
                if let Err(e) = store.lower(fr.func) {
                    self.codes.clear();
                    return Err(Trap { kind: TrapKind::Host(e.to_string()), backtrace: vec![] });
                }
            }
            let Some((cf, inst)) = code_checked(store, fr.func) else {
                self.codes.clear();
                return Err(foreign_frames(&format!("frame {i} names no Wasm function")));
            };
            let end = fr.fp as usize + cf.max_slots as usize;
            if fr.pc as usize >= cf.code.len() || end > self.stack.len() {
                self.codes.clear();
                return Err(foreign_frames(&format!("frame {i} lies outside its code or the stack")));
            }
            let ptr = cf.code.as_ptr() as usize;
            self.codes.push(ptr | if inst != prev_inst { OTHER_INSTANCE } else { 0 });
            prev_inst = inst;
        }
        // SAFETY: the host outlives this call, and `cx` (holding it with its lifetime erased)
        // does not outlive this call either.
        let host: *mut (dyn Host + 'static) = unsafe { std::mem::transmute(host as *mut dyn Host) };
        let mut cx = Ctx {
            m: self,
            store,
            host,
            code: std::ptr::null(),
            inst: std::ptr::null(),
            cur_inst: 0,
            mem: std::ptr::null_mut(),
            globals: std::ptr::null_mut(),
            defined: std::ptr::null(),
            pool: std::ptr::null(),
            inst_funcs: std::ptr::null(),
            nimp: 0,
            max_stack: store.limits.max_stack_slots as usize,
            max_frames: store.limits.max_frames as usize,
            frame_room: frame_room(self, store.limits.max_frames as usize),
            trap: None,
            exit_code: 0,
            flow: Flow::Done,
            resume: std::ptr::null(),
            trap_code: 0,
            next: S {
                ip: std::ptr::null(),
                regs: std::ptr::null_mut(),
                mp: std::ptr::null_mut(),
                cd: 0,
                cx: std::ptr::null_mut(),
                ia: 0,
                fa: 0.0,
                ml: 0,
            },
            ml: 0,
        };
        // SAFETY (for the handlers): every frame names a Wasm function of `store`, its `pc`
        // lies inside that function's code and its `fp + max_slots` inside the stack (checked
        // above for the frames the run starts from; the handlers push only frames they made
        // room for, and never shrink the stack). Slot indices were bounded by the lowering to
        // the function's `max_slots`, branch targets to its code, and every function starts
        // with a `Poll` that every backward branch targets (`compile::translate` checks both).
        // A function not lowered yet has no code and never a frame: every way into it checks
        // (`CompiledFunc::is_lazy`) and lowers it first (`handlers::lower_on_call`, which
        // refreshes the `Ctx` pointers into the instance); its code then never changes again.
        // The store's instances name only objects of the store (`instantiate`). The raw
        // pointers are refreshed whenever the vectors they point into may have reallocated
        // (stack growth on calls, memory.grow, host calls). Until the loop ends, `self` and
        // `store` are only accessed through `cx`.
        let exit = loop {
            let exit = unsafe {
                let m = cx.m;
                let store = cx.store;
                let Some(&frame) = (*m).frames.last() else {
                    break Flow::Done;
                };
                let (cf, cur_inst) = code_of(&*store, frame.func);
                let inst: *const Instance = (*store).instances.get_debug_checked(cur_inst as usize);
                let mem: *mut Memory = match (*inst).memories.first() {
                    Some(&a) => {
                        debug_assert!((a as usize) < (*store).memories.len());
                        (*store).memories.as_mut_ptr().add(a as usize)
                    }
                    None => std::ptr::null_mut(),
                };
                let module = &*(*inst).module;
                let code = &mut (*(*store).instances.as_mut_ptr().add(cur_inst as usize)).code;
                cx.code = (*cf).code.as_ptr();
                cx.inst = inst;
                cx.cur_inst = cur_inst;
                cx.mem = mem;
                cx.globals = (*store).globals.as_mut_ptr();
                cx.defined = code.as_mut_ptr();
                cx.pool = (*inst).pool.as_ptr();
                cx.inst_funcs = (*inst).funcs.as_ptr();
                cx.nimp = module.num_imported_funcs;
                let (mp, ml) = if mem.is_null() {
                    (std::ptr::null_mut(), 0)
                } else {
                    ((*mem).data.as_mut_ptr(), (*mem).data.len() as u64)
                };
                cx.ml = ml;
                debug_assert!((frame.pc as usize) < (*cf).code.len());
                debug_assert!(frame.fp as usize + (*cf).max_slots as usize <= (*m).stack.len());
                execute(S {
                    ip: cx.code.add(frame.pc as usize),
                    regs: (*m).stack.as_mut_ptr().add(frame.fp as usize),
                    mp,
                    cd: (*m).countdown,
                    cx: &mut cx,
                    ia: 0,
                    fa: 0.0,
                    ml,
                })
            };
            if exit != Flow::Reload {
                break exit;
            }
        };
        let (trap, exit_code) = (cx.trap.take(), cx.exit_code);
        match exit {
            Flow::Done => Ok(RunResult::Done),
            Flow::Yield => Ok(RunResult::Yield),
            Flow::Exit => Ok(RunResult::Exit(exit_code)),
            Flow::Trap => Err(self.trap(store, trap.unwrap_or(TrapKind::Unreachable))),
            Flow::Reload | Flow::Continue | Flow::Raise | Flow::Pause => {
                unreachable!("not a final flow: {exit:?}")
            }
        }
    }
}

/// Zeroes the declared (non-parameter) locals of a new frame at `regs`.
///
/// # Safety
/// `regs` must point at `callee.max_slots` writable slots (the lowering keeps
/// `num_params <= num_locals <= max_slots`).
#[inline(always)]
pub(super) unsafe fn zero_locals(regs: *mut u64, callee: &CompiledFunc) {
    let (p, l) = (callee.num_params as usize, callee.num_locals as usize);
    debug_assert!(p <= l && l <= callee.max_slots as usize);
    if l - p <= 8 {
        zero_few_locals(regs, p, l, callee.max_slots as usize);
    } else {
        std::ptr::write_bytes(regs.add(p), 0, l - p);
    }
}

/// Zeroes slots `p..l` (at most 8 of them: four `v128` locals) of a frame of `max` slots
/// with one store when the frame has room for it (`zero_locals`: calls with few locals).
///
/// # Safety
/// `regs` must point at `max` writable slots, and `p <= l <= max`, `l - p <= 8` (a lowered
/// function's `num_params <= num_locals <= max_slots`).
unsafe fn zero_few_locals(regs: *mut u64, p: usize, l: usize, max: usize) {
    debug_assert!(p <= l && l <= max && l - p <= 8);
    let r = regs.add(p);
    if p + 8 <= max {
        // One fixed-size store (the extra slots are scratch operand slots).
        *(r as *mut [u64; 8]) = [0; 8];
    } else {
        for i in 0..8 {
            if p + i < l {
                *r.add(i) = 0;
            }
        }
    }
}

/// How many frames the call handlers' fast path may have below a new one (`Ctx::frame_room`):
/// below `max_frames`, and both frame vectors have room for one more.
pub(super) fn frame_room(m: &Machine, max_frames: usize) -> usize {
    max_frames.min(m.frames.capacity()).min(m.codes.capacity())
}

/// Makes sure slots up to `need` exist (host results may extend past the caller's operands).
#[inline]
pub(super) fn need_results_space(m: &mut Machine, need: usize, max: usize) -> bool {
    need <= m.stack.len() || m.grow_stack(need, max)
}
