//! Reading format version 1: its Machine section holds internal program counters and frame
//! pointers into the code of one lowering (`IR_VERSION` 9, the optimized lowering of the
//! last version-1 release), its value stack and Store section raw slot bits with function
//! references as store addresses. Such a file is converted to the version-2 state (Wasm terms)
//! through the stack maps of this build's optimized lowering, which is the same code as long
//! as [`IR_VERSION`] is 9; a file of another internal code version is refused, naming it.

use super::wasm_terms::frame_image;
use super::{
    bad, codec_err, invoke_params, EntryImage, InstanceImage, MachineImage, Refs, Resume, StoreImage,
    TableImage,
};
use crate::checkpoint::codec;
use crate::compile::ir::{Instr, IR_VERSION};
use crate::compile::Lowering;
use crate::error::Error;
use crate::exec::Frame;
use crate::guest::{Entry, Guest, Phase};
use serde::{Deserialize, Serialize};

/// The internal code version whose program counters version-1 files can be converted from.
pub const CONVERTIBLE_IR_VERSION: u32 = 9;

/// The version-1 `Machine` section.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MachineImageV1 {
    pub ir_version: u32,
    pub phase: Phase,
    pub started: bool,
    pub entry: Entry,
    pub executed: u64,
    pub frames: Vec<FrameImageV1>,
    pub stack: Vec<u64>,
}

/// A version-1 frame: store address of the function, internal pc, frame pointer.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameImageV1 {
    pub func: u32,
    pub pc: u32,
    pub fp: u32,
}

/// The version-1 `Store` section (raw slot bits).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StoreImageV1 {
    pub globals: Vec<u64>,
    pub tables: Vec<TableImageV1>,
    pub instances: Vec<InstanceImage>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TableImageV1 {
    pub elems: Vec<u64>,
}

/// Decodes the version-1 Machine and Store payloads, refusing an internal code version this
/// build cannot convert.
pub fn decode(machine: &[u8], store: &[u8]) -> Result<(MachineImageV1, StoreImageV1), Error> {
    let mi: MachineImageV1 = codec::decode(machine).map_err(codec_err("Machine"))?;
    if mi.ir_version != CONVERTIBLE_IR_VERSION || IR_VERSION != CONVERTIBLE_IR_VERSION {
        return Err(bad(format!(
            "it is a format version 1 checkpoint, whose program counters refer to internal code \
             version {}; this chiwawa converts version 1 files of internal code version \
             {CONVERTIBLE_IR_VERSION} only (resume it with the release that wrote it)",
            mi.ir_version
        )));
    }
    let si: StoreImageV1 = codec::decode(store).map_err(codec_err("Store"))?;
    Ok((mi, si))
}

/// Converts a decoded version-1 state to version 2, reading frames through the stack maps of
/// `g`'s code (freshly instantiated from the module; it must be the optimized lowering).
pub fn convert(
    g: &Guest,
    (mi, si): (MachineImageV1, StoreImageV1),
) -> Result<(MachineImage, StoreImage), Error> {
    if g.module.lowering() != Lowering::Optimized {
        return Err(bad(
            "it is a format version 1 checkpoint, which only the optimized lowering can convert \
             (unset CHIWAWA_LOWERING)",
        ));
    }
    let refs = Refs::of(g);
    let value = |ty, v: u64, what: &str| refs.value(ty, v).map_err(|e| bad(format!("{what}: {e}")));
    let n = mi.frames.len();
    if n > g.store.limits.max_frames as usize || mi.stack.len() > g.store.limits.max_stack_slots as usize {
        return Err(bad(
            "the saved call stack exceeds this run's limits (--max-call-depth, --max-stack-slots)",
        ));
    }
    let mut frames = Vec::with_capacity(n);
    for (i, f) in mi.frames.iter().enumerate() {
        let top = i + 1 == n;
        let code = crate::exec::machine::code_checked(&g.store, f.func);
        // Version 1 did not tell a top frame paused after a safe point from one suspended at
        // the call right after it; resuming either runs the same code.
        let at = match code {
            _ if !top => Resume::AfterCall,
            Some((cf, _))
                if f.pc > 0 && matches!(cf.code().get(f.pc as usize - 1), Some(Instr::Poll { .. })) =>
            {
                Resume::SafePoint
            }
            _ => Resume::AtCall,
        };
        let fr = Frame { func: f.func, pc: f.pc, fp: f.fp };
        let img = frame_image(g, &refs, &mi.stack, &fr, at).map_err(|e| {
            bad(format!("frame {i} (version 1, function {} at internal position {}): {e}", f.func, f.pc))
        })?;
        // The frame pointers must chain as the calls made them.
        if let Some(next) = mi.frames.get(i + 1) {
            let (cf, _) = code.ok_or_else(|| bad("frame of a non-Wasm function"))?;
            let base =
                match f.pc.checked_sub(1).and_then(|p| cf.code().get(p as usize)).and_then(|c| c.as_call()) {
                    Some(
                        Instr::Call { base, .. }
                        | Instr::CallIndirect { base, .. }
                        | Instr::CallRef { base, .. },
                    ) => u32::from(base),
                    _ => return Err(bad(format!("frame {i} is not just after a call"))),
                };
            if f.fp.checked_add(base) != Some(next.fp) {
                return Err(bad(format!("frame {} is not at its caller's call", i + 1)));
            }
        }
        frames.push(img);
    }
    if mi.frames.first().is_some_and(|f| f.fp != 0) {
        return Err(bad("the bottom frame is not at the bottom of the stack"));
    }
    let entry = match &mi.entry {
        Entry::Command => EntryImage::Command,
        Entry::Invoke { name, args } => {
            let params = invoke_params(g, args.len())?;
            let args = params
                .iter()
                .zip(args)
                .map(|(&t, &v)| value(t, v, "an argument"))
                .collect::<Result<_, _>>()?;
            EntryImage::Invoke { name: name.clone(), args }
        }
    };
    let st = &g.store;
    if si.globals.len() != st.globals.len() || si.tables.len() != st.tables.len() {
        return Err(bad("the saved globals or tables do not match the module's"));
    }
    let globals = st
        .globals
        .iter()
        .zip(&si.globals)
        .enumerate()
        .map(|(i, (gl, &v))| value(gl.ty, v, &format!("global {i}")))
        .collect::<Result<_, _>>()?;
    let mut tables = Vec::with_capacity(si.tables.len());
    for (i, (t, ti)) in st.tables.iter().zip(&si.tables).enumerate() {
        let elems =
            ti.elems.iter().map(|&v| value(t.ty, v, &format!("table {i}"))).collect::<Result<_, _>>()?;
        tables.push(TableImage { elems });
    }
    Ok((
        MachineImage { phase: mi.phase, started: mi.started, entry, executed: mi.executed, frames },
        StoreImage { globals, tables, instances: si.instances },
    ))
}
