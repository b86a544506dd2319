//! `chiwawa inspect <DIR|FILE> [--json]`: what is in a checkpoint directory or file.

use super::{InspectArgs, EXIT_ERROR};
use crate::checkpoint::format::{decode_meta, memory_pages, read_checkpoint, Checkpoint, SectionKind};
use crate::checkpoint::pages::{pack_dir, Manifest, PageStore};
use crate::checkpoint::{codec, hash, CheckpointDir};
use crate::snapshot::v1::MachineImageV1;
use crate::snapshot::{MachineImage, Resume};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

/// What `inspect` reports about one file.
#[derive(Debug, Default)]
pub struct Report {
    pub path: PathBuf,
    pub bytes: u64,
    pub valid: bool,
    pub reason: Option<String>,
    pub generation: u64,
    pub created: String,
    pub instructions: u64,
    pub module_sha256: String,
    pub module_len: u64,
    pub module_name: String,
    pub producer: String,
    pub frames: u64,
    pub memory_pages: Vec<u64>,
    pub stored_pages: u64,
    /// Incremental generations: pages this generation wrote to its own pack.
    pub pages_written: u64,
    /// Incremental generations: pages its manifests reference (its own pack's included).
    pub pages_referenced: u64,
    pub backtrace: String,
    pub sections: Vec<(String, u64)>,
    pub format_version: u32,
    /// The call stack in Wasm terms, outermost first (format version 2).
    pub frame_list: Vec<FrameReport>,
}

/// One frame, as `inspect` shows it.
#[derive(Debug, Default)]
pub struct FrameReport {
    pub func: u32,
    pub name: String,
    pub offset: u32,
    pub at: &'static str,
    pub locals: Vec<crate::snapshot::Value>,
    pub stack: Vec<crate::snapshot::Value>,
}

fn describe(c: &Checkpoint, r: &mut Report, manifests: &mut Vec<Manifest>) -> Result<(), String> {
    let h = &c.header;
    let mut names: std::collections::BTreeMap<String, String> = Default::default();
    r.generation = h.generation;
    r.instructions = h.instructions;
    r.module_sha256 = hash::to_hex(&h.module_hash);
    r.module_len = h.module_len;
    r.producer = h.producer.to_string();
    r.format_version = h.format_version;
    r.created = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_nanos(h.created_unix_nanos))
        .to_string();
    for s in &c.sections {
        r.sections.push((format!("{:?}", s.kind), s.payload.len() as u64));
    }
    if let Some(m) = c.section(SectionKind::Meta) {
        for (k, v) in decode_meta(&m.payload).map_err(|e| e.to_string())? {
            match k.as_str() {
                "module" => r.module_name = v,
                "backtrace" => r.backtrace = v,
                "function_names" => names = serde_json::from_str(&v).unwrap_or_default(),
                _ => {}
            }
        }
    }
    let machine = &c.section(SectionKind::Machine).ok_or("no Machine section")?.payload;
    if h.format_version == 1 {
        let mi: MachineImageV1 = codec::decode(machine).map_err(|e| format!("Machine section: {e}"))?;
        r.frames = mi.frames.len() as u64;
    } else {
        let mi: MachineImage = codec::decode(machine).map_err(|e| format!("Machine section: {e}"))?;
        r.frames = mi.frames.len() as u64;
        r.frame_list = mi
            .frames
            .iter()
            .map(|f| FrameReport {
                func: f.func,
                name: names.get(&f.func.to_string()).cloned().unwrap_or_else(|| format!("func[{}]", f.func)),
                offset: f.offset,
                at: match f.at {
                    Resume::SafePoint => "safe point",
                    Resume::AfterCall => "after call",
                    Resume::AtCall => "at call",
                },
                locals: f.locals.clone(),
                stack: f.stack.clone(),
            })
            .collect();
    }
    for s in &c.sections {
        match s.kind {
            SectionKind::Memory => {
                let (info, _) = memory_pages(&s.payload).map_err(|e| e.to_string())?;
                r.memory_pages.push(info.size_pages);
                r.stored_pages += info.stored_pages;
            }
            SectionKind::Pages => {
                let m = Manifest::decode(&s.payload, h.generation).map_err(|e| e.to_string())?;
                r.memory_pages.push(m.size_pages);
                r.stored_pages += m.entries.len() as u64;
                r.pages_referenced += m.entries.len() as u64;
                r.pages_written += m.entries.iter().filter(|(_, p)| p.pack == h.generation).count() as u64;
                manifests.push(m);
            }
            _ => {}
        }
    }
    Ok(())
}

/// Reads every page an incremental generation references from the packs in `dir` and checks
/// it: a generation is only valid if it can be restored.
fn verify_pages(manifests: &[Manifest], dir: &Path, module_hash: [u8; 32]) -> Result<(), String> {
    let mut store = PageStore::new(dir, module_hash);
    let mut page = vec![0u8; crate::checkpoint::format::PAGE_SIZE];
    for m in manifests {
        for (p, r) in &m.entries {
            store.read_page(r, &mut page).map_err(|e| format!("memory {} page {p}: {e}", m.index))?;
        }
    }
    Ok(())
}

/// Reads and verifies one file (a generation's header must agree with its file name).
pub fn inspect_file(path: &Path) -> Report {
    let mut r = inspect_bytes(path);
    let named = path
        .file_name()
        .and_then(|n| crate::checkpoint::dir::parse_generation_file_name(&n.to_string_lossy()));
    if let Some(g) = named.filter(|g| r.valid && *g != r.generation) {
        r.valid = false;
        r.reason = Some(format!("its header says generation {}, its name says {g} (renamed?)", r.generation));
    }
    r
}

fn inspect_bytes(path: &Path) -> Report {
    let mut r = Report { path: path.to_path_buf(), ..Default::default() };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            r.reason = Some(format!("cannot read: {e}"));
            return r;
        }
    };
    r.bytes = bytes.len() as u64;
    match read_checkpoint(&bytes) {
        Ok(c) => {
            let mut manifests = Vec::new();
            match describe(&c, &mut r, &mut manifests)
                .and_then(|()| verify_pages(&manifests, &pack_dir(path), c.header.module_hash))
            {
                Ok(()) => r.valid = true,
                Err(e) => r.reason = Some(e),
            }
        }
        Err(e) => r.reason = Some(e.to_string()),
    }
    r
}

impl Report {
    /// One JSON object (a line of JSON Lines).
    pub fn to_json(&self) -> String {
        let sections: Vec<serde_json::Value> =
            self.sections.iter().map(|(k, n)| serde_json::json!({"kind": k, "bytes": n})).collect();
        serde_json::json!({
            "path": self.path.display().to_string(),
            "bytes": self.bytes,
            "valid": self.valid,
            "reason": self.reason,
            "generation": self.generation,
            "created": self.created,
            "instructions": self.instructions,
            "module_sha256": self.module_sha256,
            "module_len": self.module_len,
            "module_name": self.module_name,
            "producer": self.producer,
            "frames": self.frames,
            "memory_pages": self.memory_pages,
            "stored_pages": self.stored_pages,
            "pages_written": self.pages_written,
            "pages_referenced": self.pages_referenced,
            "backtrace": self.backtrace,
            "sections": sections,
            "format_version": self.format_version,
            "frame_list": self.frame_list.iter().map(|f| serde_json::json!({
                "func": f.func,
                "name": f.name,
                "offset": f.offset,
                "at": f.at,
                "locals": f.locals.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
                "stack": f.stack.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
        .to_string()
    }

    pub fn to_text(&self) -> String {
        let name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if !self.valid {
            return format!(
                "{name}  INVALID  {} bytes: {}\n",
                self.bytes,
                self.reason.as_deref().unwrap_or("?")
            );
        }
        let pages: Vec<String> = self.memory_pages.iter().map(|p| p.to_string()).collect();
        let stored = if self.pages_referenced > 0 || self.sections.iter().any(|(k, _)| k == "Pages") {
            format!("{} written, {} referenced", self.pages_written, self.pages_referenced)
        } else {
            format!("{} stored", self.stored_pages)
        };
        // The innermost frames, as function + Wasm offset.
        const SHOWN: usize = 8;
        let mut frames = String::new();
        for f in self.frame_list.iter().rev().take(SHOWN) {
            frames.push_str(&format!(
                "    {} (func {}) @0x{:x} {}: {} locals, {} operands\n",
                f.name,
                f.func,
                f.offset,
                f.at,
                f.locals.len(),
                f.stack.len()
            ));
        }
        if self.frame_list.len() > SHOWN {
            frames.push_str(&format!("    … {} outer frames\n", self.frame_list.len() - SHOWN));
        }
        format!(
            "{name}  valid  format {}  generation {}  {} bytes  {}\n  instructions {}  frames {}  memory pages [{}] ({})\n  module {}{} ({} bytes, sha256 {}…)  producer {}\n  backtrace: {}\n{frames}",
            self.format_version,
            self.generation,
            self.bytes,
            self.created,
            self.instructions,
            self.frames,
            pages.join(", "),
            stored,
            if self.module_name.is_empty() { "" } else { "`" },
            if self.module_name.is_empty() { "(unnamed)".to_string() } else { format!("{}`", self.module_name) },
            self.module_len,
            &self.module_sha256[..16.min(self.module_sha256.len())],
            self.producer,
            if self.backtrace.is_empty() { "(not started)" } else { &self.backtrace },
        )
    }
}

pub fn run(a: InspectArgs) -> i32 {
    let reports: Vec<Report> = if a.path.is_dir() {
        let dir = match CheckpointDir::open(&a.path, u32::MAX) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("error: cannot open {}: {e}", a.path.display());
                return EXIT_ERROR;
            }
        };
        match dir.list() {
            Ok(gens) => gens.iter().map(|g| inspect_file(&g.path)).collect(),
            Err(e) => {
                eprintln!("error: cannot list {}: {e}", a.path.display());
                return EXIT_ERROR;
            }
        }
    } else if a.path.exists() {
        vec![inspect_file(&a.path)]
    } else {
        eprintln!("error: {} does not exist", a.path.display());
        return EXIT_ERROR;
    };
    if a.json {
        for r in &reports {
            println!("{}", r.to_json());
        }
    } else if reports.is_empty() {
        println!("no checkpoint generations in {}", a.path.display());
    } else {
        for r in &reports {
            print!("{}", r.to_text());
        }
    }
    // A single file that is invalid is an error; a directory listing is informational.
    if !a.path.is_dir() && reports.iter().any(|r| !r.valid) {
        return EXIT_ERROR;
    }
    0
}
