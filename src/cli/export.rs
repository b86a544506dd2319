//! `chiwawa export CHECKPOINT OUT`: one self-contained checkpoint file from a generation whose
//! memory lives in page packs (an incremental generation), to copy to another machine and
//! resume there with `--restore OUT`.

use super::{ExportArgs, EXIT_ERROR};
use crate::checkpoint::format::{parse_checkpoint, CheckpointWriter, SectionKind};
use crate::checkpoint::pages::{pack_dir, Manifest, PageStore};
use crate::checkpoint::CheckpointDir;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` (a verified checkpoint) to `w` with every `Pages` section replaced by an
/// inline `Memory` section, each page read from its pack in `packs` and verified. The header
/// (generation, module, instruction count, time, producer) and all other sections are kept.
pub fn write_self_contained(bytes: &[u8], packs: &Path, w: &mut dyn Write) -> Result<u64, String> {
    let c = parse_checkpoint(bytes).map_err(|e| e.to_string())?;
    let mut store = PageStore::new(packs, c.header.module_hash);
    let mut cw = CheckpointWriter::new(w, &c.header).map_err(|e| e.to_string())?;
    for s in &c.sections {
        if s.kind == SectionKind::Pages {
            let m = Manifest::decode(s.payload, c.header.generation).map_err(|e| e.to_string())?;
            let mem = store.load(&m)?;
            cw.memory_section(m.index, &mem, m.max_pages).map_err(|e| e.to_string())?;
        } else {
            cw.section(s.kind, s.payload).map_err(|e| e.to_string())?;
        }
    }
    let bytes = cw.bytes_written();
    cw.finish().map_err(|e| e.to_string())?;
    Ok(bytes)
}

fn export(a: &ExportArgs) -> Result<(PathBuf, u64), String> {
    if a.out.exists() {
        return Err(format!("{} already exists; not overwriting it", a.out.display()));
    }
    // A directory: its newest generation that verifies in full (pages included).
    let candidates: Vec<PathBuf> = if a.checkpoint.is_dir() {
        let dir = CheckpointDir::open(&a.checkpoint, u32::MAX).map_err(|e| e.to_string())?;
        let gens = dir.list().map_err(|e| format!("cannot list {}: {e}", a.checkpoint.display()))?;
        if gens.is_empty() {
            return Err(format!("no checkpoint generations in {}", a.checkpoint.display()));
        }
        gens.into_iter().map(|g| g.path).collect()
    } else {
        vec![a.checkpoint.clone()]
    };
    let out_dir = pack_dir(&a.out);
    let mut reasons = Vec::new();
    for src in candidates {
        let bytes = std::fs::read(&src).map_err(|e| format!("cannot read {}: {e}", src.display()))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".export-")
            .suffix(".tmp")
            .tempfile_in(&out_dir)
            .map_err(|e| format!("cannot create a file in {}: {e}", out_dir.display()))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
        match write_self_contained(&bytes, &pack_dir(&src), &mut w) {
            Ok(_) => {
                w.flush().map_err(|e| e.to_string())?;
                drop(w);
                tmp.as_file().sync_all().map_err(|e| e.to_string())?;
                let len = tmp.as_file().metadata().map_err(|e| e.to_string())?.len();
                // Never replaces a file that appeared meanwhile.
                tmp.persist_noclobber(&a.out)
                    .map_err(|e| format!("cannot create {}: {}", a.out.display(), e.error))?;
                return Ok((src, len));
            }
            Err(e) => {
                log::warn!("skipping {}: {e}", src.display());
                reasons.push(format!("  {}: {e}", src.display()));
            }
        }
    }
    Err(format!("nothing exported, no usable checkpoint:\n{}", reasons.join("\n")))
}

pub fn run(a: ExportArgs) -> i32 {
    match export(&a) {
        Ok((src, len)) => {
            eprintln!("exported {} to {} ({len} bytes, self-contained)", src.display(), a.out.display());
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_ERROR
        }
    }
}
