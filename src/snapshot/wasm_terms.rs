//! The machine state in WebAssembly terms: frames read through the stack maps of the code
//! this build lowered (capture), and placed where this build's code expects them (restore).
//!
//! Nothing here depends on the lowering a checkpoint was written under: a frame is a function
//! index, the Wasm offset of the safe point or call it stands at, and typed values for its
//! locals and operand stack (see `compile::stackmap`).

use super::{bad, code_of, FrameImage, MachineImage, Refs, Resume, Value};
use crate::compile::ir::{CompiledFunc, Instr};
use crate::compile::stackmap::{Loc, Point, PointKind};
use crate::error::Error;
use crate::exec::Frame;
use crate::guest::{Guest, Phase};
use crate::runtime::store::FuncKind;
use crate::runtime::value::ValType;

/// Reads a frame standing at `at` in `cf` at program counter `pc` from `stack` (slot 0 at
/// `fp`): its point, locals and operand stack. `Err` names what does not fit (the frame
/// came from an untrusted version-1 file, or the interpreter broke an invariant).
pub(super) fn read_frame(
    cf: &CompiledFunc,
    refs: &Refs<'_>,
    stack: &[u64],
    fp: u32,
    pc: u32,
    at: Resume,
) -> Result<(Point, Vec<Value>, Vec<Value>), String> {
    let map = cf.stack_map();
    // The inverse of `place_frames`: a frame stands just after its safe point or call, or at
    // the call a host function suspended.
    let (at_pc, kind) = match at {
        Resume::SafePoint => (pc.checked_sub(1), PointKind::SafePoint),
        Resume::AfterCall => (pc.checked_sub(1), PointKind::Call),
        Resume::AtCall => (Some(pc), PointKind::Call),
    };
    let point = at_pc
        .and_then(|p| map.at_pc(p))
        .filter(|p| p.kind == kind)
        .copied()
        .ok_or_else(|| format!("internal position {pc} is not {}", describe(at)))?;
    if !map.is_mapped(&point) {
        return Err(format!("its operand stack there is too deep to record ({OVER_BUDGET})"));
    }
    let slot = |s: u32| {
        stack
            .get(fp as usize + s as usize)
            .copied()
            .ok_or_else(|| "the frame lies outside the value stack".to_string())
    };
    // A value's slots: one, or two for a `v128`.
    let slots = |s: u32, t: ValType| -> Result<[u64; 2], String> {
        Ok([slot(s)?, if t == ValType::V128 { slot(s + 1)? } else { 0 }])
    };
    let mut locals = Vec::with_capacity(map.local_types().len());
    let mut at_slot = 0u32;
    for &t in map.local_types() {
        locals.push(refs.value_at(t, &slots(at_slot, t)?).map_err(|e| e.to_string())?);
        at_slot += t.slots() as u32;
    }
    let n = live_height(map.height(&point), &point, at);
    let mut values = Vec::with_capacity(n as usize);
    for (t, loc) in map.entries(&point).take(n as usize) {
        let bits = match loc {
            Loc::Slot(s) => slots(u32::from(s), t)?,
            Loc::Const(k) => [k, 0],
        };
        values.push(refs.value_at(t, &bits).map_err(|e| e.to_string())?);
    }
    Ok((point, locals, values))
}

/// Why a position has no operand map.
const OVER_BUDGET: &str = "the function's stack map reached its budget of operand-stack entries";

/// How many operand-stack entries of `p` a frame standing `at` it holds.
fn live_height(height: u32, p: &Point, at: Resume) -> u32 {
    match at {
        Resume::AfterCall => height - p.consumed,
        _ => height,
    }
}

fn describe(at: Resume) -> &'static str {
    match at {
        Resume::SafePoint => "just after a safe point",
        Resume::AfterCall => "just after a call",
        Resume::AtCall => "at a call",
    }
}

/// The guest's frames in Wasm terms.
pub(super) fn capture_frames(g: &Guest, refs: &Refs<'_>) -> Result<Vec<FrameImage>, Error> {
    let frames = &g.machine.frames;
    let mut out = Vec::with_capacity(frames.len());
    for (i, f) in frames.iter().enumerate() {
        let at = if i + 1 < frames.len() {
            Resume::AfterCall
        } else if g.machine.suspended {
            Resume::AtCall
        } else {
            Resume::SafePoint
        };
        out.push(frame_image(g, refs, &g.machine.stack, f, at).map_err(|e| {
            Error::Other(format!("cannot capture frame {i} ({}): {e}", g.store.func_name(f.func)))
        })?);
    }
    Ok(out)
}

/// The code and the function index of the Wasm function at store address `addr`.
fn function_of<'g>(g: &'g Guest, refs: &Refs<'_>, addr: u32) -> Result<(&'g CompiledFunc, u32), String> {
    let (cf, inst) = code_of(g, addr).ok_or("not a Wasm function")?;
    if inst != g.instance {
        return Err("a function of another instance".into());
    }
    let func = refs.index_of(u64::from(addr)).ok_or("a function the module cannot name")?;
    Ok((cf, func))
}

/// One interpreter frame in Wasm terms.
pub(super) fn frame_image(
    g: &Guest,
    refs: &Refs<'_>,
    stack: &[u64],
    f: &Frame,
    at: Resume,
) -> Result<FrameImage, String> {
    let (cf, func) = function_of(g, refs, f.func)?;
    let (point, locals, stack) = read_frame(cf, refs, stack, f.fp, f.pc, at)?;
    Ok(FrameImage { func, offset: point.offset, at, locals, stack })
}

/// Checks `mi`'s frames against this build's code and builds the value stack and frames they
/// describe. Returns (frames, stack, whether the top frame is suspended at a host call).
pub(super) fn place_frames(g: &Guest, mi: &MachineImage) -> Result<(Vec<Frame>, Vec<u64>, bool), Error> {
    let limits = g.store.limits;
    if mi.frames.len() > limits.max_frames as usize {
        return Err(bad("the saved call stack exceeds this run's limits (--max-call-depth)"));
    }
    let refs = Refs::of(g);
    let inst = &g.store.instances[g.instance as usize];
    let tail = g.module.tail_calls;
    // The function the bottom frame must run: the start function, or the entry.
    let bottom = match mi.phase {
        Phase::Start => g.module.start.map(|s| inst.funcs[s as usize]),
        Phase::Entry => g.entry_func().map_err(|e| bad(format!("its entry point: {e}")))?,
    };
    // Pass 1: every frame's code, point and frame pointer, checked.
    let mut placed: Vec<(Frame, Point, &CompiledFunc)> = Vec::with_capacity(mi.frames.len());
    let mut need = 0u64;
    let mut fp = 0u64;
    let n = mi.frames.len();
    for (i, f) in mi.frames.iter().enumerate() {
        let top = i + 1 == n;
        let name = || match inst.funcs.get(f.func as usize) {
            Some(&a) => g.store.func_name(a),
            None => format!("function {}", f.func),
        };
        let fail =
            |why: String| bad(format!("frame {i} ({} at Wasm offset 0x{:x}): {why}", name(), f.offset));
        let addr = *inst.funcs.get(f.func as usize).ok_or_else(|| fail("no such function".into()))?;
        let (cf, fi) = code_of(g, addr).ok_or_else(|| fail("not a function defined by the module".into()))?;
        if fi != g.instance {
            return Err(fail("a function of another instance".into()));
        }
        let kind = match f.at {
            Resume::SafePoint => PointKind::SafePoint,
            Resume::AfterCall | Resume::AtCall => PointKind::Call,
        };
        let point = *cf.stack_map().at_offset(f.offset, kind).ok_or_else(|| {
            fail(format!(
                "the function has no {} there",
                if kind == PointKind::SafePoint { "safe point" } else { "call" }
            ))
        })?;
        if !cf.stack_map().is_mapped(&point) {
            return Err(fail(format!("this build keeps no stack map there ({OVER_BUDGET})")));
        }
        if top == (f.at == Resume::AfterCall) {
            return Err(fail(if top {
                "the top frame waits for a call that has no frame".into()
            } else {
                "a frame below the top one is not waiting for a call".into()
            }));
        }
        if i == 0 {
            let same = Some(addr) == bottom || (tail && bottom.is_some_and(|b| same_results(g, b, addr)));
            if !same {
                return Err(bad("the bottom frame is not the call the checkpoint was running"));
            }
        }
        let call = cf.code()[point.pc as usize].as_call();
        if f.at == Resume::AtCall {
            // Suspended: only a host function suspends (directly or through a table).
            let ok = match call {
                Some(Instr::Call { func, .. }) => inst.funcs.get(func as usize).is_some_and(|&a| {
                    matches!(g.store.funcs.get(a as usize).map(|x| &x.kind), Some(FuncKind::Host { .. }))
                }),
                Some(Instr::CallIndirect { .. } | Instr::CallRef { .. }) => true,
                _ => false,
            };
            if !ok {
                return Err(fail("a call to a Wasm function cannot be suspended".into()));
            }
        }
        if let Some((_, cp, ccf)) = placed.last() {
            // This frame is the one its caller's call made, or (in a module with tail calls)
            // one that a chain of tail calls put in its place: same results.
            let ok = match ccf.code()[cp.pc as usize].as_call() {
                Some(Instr::Call { func, .. }) => {
                    let called = inst.funcs.get(func as usize).copied();
                    called == Some(addr) || (tail && called.is_some_and(|a| same_results(g, a, addr)))
                }
                Some(Instr::CallIndirect { type_idx, .. } | Instr::CallRef { type_idx, .. }) => {
                    let want = inst.types.get(type_idx as usize);
                    let got = g.store.funcs.get(addr as usize).map(|x| x.ty);
                    got.as_ref() == want
                        || (tail
                            && want.zip(got).is_some_and(|(w, t)| {
                                type_results(g, *w).is_some() && type_results(g, *w) == type_results(g, t)
                            }))
                }
                _ => false,
            };
            if !ok {
                return Err(fail("not the function its caller's call calls".into()));
            }
        }
        let pc = match f.at {
            Resume::SafePoint | Resume::AfterCall => point.pc + 1,
            Resume::AtCall => point.pc,
        };
        need = need.max(fp + u64::from(cf.max_slots()));
        if need > u64::from(limits.max_stack_slots) {
            return Err(bad("the saved value stack exceeds this run's --max-stack-slots"));
        }
        placed.push((Frame { func: addr, pc, fp: fp as u32 }, point, cf));
        if let Some(
            Instr::Call { base, .. } | Instr::CallIndirect { base, .. } | Instr::CallRef { base, .. },
        ) = call
        {
            fp += u64::from(base);
        }
    }
    // Pass 2: the values, type-checked, where this build's code keeps them.
    let mut stack = vec![0u64; need as usize];
    for (i, ((fr, point, cf), f)) in placed.iter().zip(&mi.frames).enumerate() {
        let fail = |why: String| {
            bad(format!("frame {i} ({} at Wasm offset 0x{:x}): {why}", g.store.func_name(fr.func), f.offset))
        };
        let map = cf.stack_map();
        let types = map.local_types();
        if f.locals.len() != types.len() {
            return Err(fail(format!("{} locals saved, the function has {}", f.locals.len(), types.len())));
        }
        let base = fr.fp as usize;
        // The slots from frame slot `s` on (within the frame: `need` covers its `max_slots`).
        let len = stack.len();
        let inside = |s: usize, n: usize| -> Result<std::ops::Range<usize>, String> {
            let r = base + s..base + s + n;
            match s + n <= cf.max_slots() as usize && r.end <= len {
                true => Ok(r),
                false => Err(fail(format!("a value at slot {s} lies outside its frame")).to_string()),
            }
        };
        let mut at_slot = 0usize;
        for (l, (&t, &v)) in types.iter().zip(&f.locals).enumerate() {
            let bits = refs.bits_of(t, v).map_err(|e| fail(format!("local {l}: {e}")))?;
            let r = inside(at_slot, bits.len()).map_err(Error::Other)?;
            stack[r].copy_from_slice(&bits);
            at_slot += bits.len();
        }
        let height = live_height(map.height(point), point, f.at);
        if f.stack.len() != height as usize {
            return Err(fail(format!("{} operands saved, the code has {height} there", f.stack.len())));
        }
        for (h, ((t, loc), &v)) in map.entries(point).zip(&f.stack).enumerate() {
            let bits = refs.bits_of(t, v).map_err(|e| fail(format!("operand {h}: {e}")))?;
            match loc {
                Loc::Slot(s) if u32::from(s) >= cf.num_locals() => {
                    let r = inside(s as usize, bits.len()).map_err(Error::Other)?;
                    stack[r].copy_from_slice(&bits);
                }
                // A deferred `local.get` or a constant: the value must be what the code knows.
                Loc::Slot(s) => {
                    let r = inside(s as usize, bits.len()).map_err(Error::Other)?;
                    if stack[r] != bits[..] {
                        return Err(fail(format!(
                            "operand {h} differs from the local at slot {s}, which it is a copy of"
                        )));
                    }
                }
                Loc::Const(k) => {
                    if [k] != bits[..] {
                        return Err(fail(format!("operand {h} differs from the constant the code pushed")));
                    }
                }
            }
        }
    }
    let suspended = mi.frames.last().is_some_and(|f| f.at == Resume::AtCall);
    Ok((placed.into_iter().map(|(f, _, _)| f).collect(), stack, suspended))
}

/// The result types of the store's canonical type `ty`.
pub(super) fn type_results(g: &Guest, ty: u32) -> Option<&[ValType]> {
    g.store.types.get(ty as usize).map(|t| &t.results[..])
}

/// Whether the functions at store addresses `a` and `b` return the same types.
pub(super) fn same_results(g: &Guest, a: u32, b: u32) -> bool {
    let results = |f: u32| g.store.funcs.get(f as usize).and_then(|x| type_results(g, x.ty));
    results(a).is_some() && results(a) == results(b)
}
