//! The orchestrator: load → compile → (restore | instantiate) → run in slices, checkpointing when
//! the trigger says so → outcome.

use crate::error::Error;
use crate::guest::{Entry, Guest, Outcome, Step};
use crate::parse::Module;
use crate::runtime::store::Limits;
use crate::wasi::{WasiConfig, WasiCtx};
use std::path::PathBuf;
use std::sync::Arc;

/// Everything `chiwawa run` needs to know.
#[derive(Clone, Debug)]
pub struct RunConfig {
    pub module_path: PathBuf,
    pub wasi: WasiConfig,
    pub entry: EntrySpec,
    pub limits: Limits,
}

/// The entry as given on the command line (arguments still text).
#[derive(Clone, Debug)]
pub enum EntrySpec {
    Command,
    Invoke { name: String, args: Vec<String> },
}

/// Reads a module file: binary Wasm, or the text format (`.wat`).
pub fn load_module_bytes(path: &std::path::Path) -> Result<Vec<u8>, Error> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::Other(format!("cannot read {}: {e}", path.display())))?;
    if bytes.starts_with(b"\0asm") {
        return Ok(bytes);
    }
    let text = String::from_utf8(bytes).map_err(|_| Error::Invalid {
        offset: Some(0),
        message: format!("{} is neither a binary module (no \\0asm magic) nor UTF-8 text", path.display()),
    })?;
    let buf = wast::parser::ParseBuffer::new(&text).map_err(|e| text_error(e, &text, path))?;
    let mut wat = wast::parser::parse::<wast::Wat>(&buf).map_err(|e| text_error(e, &text, path))?;
    wat.encode().map_err(|e| text_error(e, &text, path))
}

fn text_error(mut e: wast::Error, text: &str, path: &std::path::Path) -> Error {
    e.set_text(text);
    e.set_path(path);
    Error::Invalid { offset: None, message: e.to_string() }
}

/// Resolves the entry: for `--invoke`, the export must exist and the arguments must parse.
fn resolve_entry(module: &Module, spec: &EntrySpec) -> Result<Entry, Error> {
    match spec {
        EntrySpec::Command => Ok(Entry::Command),
        EntrySpec::Invoke { name, args } => {
            let export = module.export(name).filter(|e| e.kind == crate::parse::ExportKind::Func);
            let Some(export) = export else {
                let funcs: Vec<&str> = module
                    .exports
                    .iter()
                    .filter(|e| e.kind == crate::parse::ExportKind::Func)
                    .map(|e| e.name.as_str())
                    .collect();
                return Err(Error::Other(format!(
                    "no exported function `{name}`; exported functions: {}",
                    if funcs.is_empty() { "(none)".to_string() } else { funcs.join(", ") }
                )));
            };
            let ty = module.func_type(export.index);
            if args.len() != ty.params.len() {
                return Err(Error::Other(format!(
                    "`{name}` takes {} argument(s) {ty}, {} given",
                    ty.params.len(),
                    args.len()
                )));
            }
            let vals = args
                .iter()
                .zip(&ty.params)
                .map(|(a, t)| crate::cli::invoke::parse_val(*t, a).map(|v| v.to_slot()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(Error::Other)?;
            Ok(Entry::Invoke { name: name.clone(), args: vals })
        }
    }
}

/// Runs a guest to completion.
pub fn run(cfg: &RunConfig) -> Result<Outcome, Error> {
    let bytes = load_module_bytes(&cfg.module_path)?;
    let module = Arc::new(Module::new(&bytes)?);
    let entry = resolve_entry(&module, &cfg.entry)?;
    let wasi = WasiCtx::new(&cfg.wasi).map_err(|e| Error::Other(e.to_string()))?;
    let mut guest = Guest::instantiate(module, wasi, cfg.limits, entry)?;
    loop {
        match guest.step(u64::MAX)? {
            Step::Paused => continue,
            Step::Finished(o) => return Ok(o),
        }
    }
}
