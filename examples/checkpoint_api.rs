//! Embedding chiwawa as a library: run a WASI guest for a bounded number of instruction units,
//! capture a checkpoint into a byte buffer, throw the guest away, rebuild a new one from the
//! bytes and let it finish.
//!
//!     cargo run --example checkpoint_api

use chiwawa::checkpoint::format::{parse_checkpoint, Header};
use chiwawa::guest::{Entry, Guest, Outcome, Step};
use chiwawa::runtime::Limits;
use chiwawa::session::load_module_bytes;
use chiwawa::snapshot;
use chiwawa::wasi::{WasiConfig, WasiCtx};
use chiwawa::Module;
use std::error::Error;
use std::sync::Arc;

fn main() -> Result<(), Box<dyn Error>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/counter.wat");
    let bytes = load_module_bytes(&path)?;
    let module = Arc::new(Module::new(&bytes)?);
    let cfg = WasiConfig { args: vec!["counter.wat".into()], ..Default::default() };

    // Run about 1.5 billion instruction units (the guest prints a few lines meanwhile).
    let mut guest =
        Guest::instantiate(module.clone(), WasiCtx::new(&cfg)?, Limits::default(), Entry::Command)?;
    match guest.step(1_500_000_000)? {
        Step::Paused => eprintln!("paused after {} instruction units", guest.machine.executed()),
        Step::Finished(o) => return Err(format!("finished too early: {o:?}").into()),
    }

    // Capture into memory: the same bytes `chiwawa run` would write as a generation.
    let capture = snapshot::capture(&mut guest)?;
    let header = Header::new(&bytes, 1, capture.executed);
    let mut file = Vec::new();
    snapshot::write(&guest, &capture, &header, None, &mut file)?;
    drop(guest);
    eprintln!("checkpoint: {} bytes", file.len());

    // Rebuild from the bytes alone (plus the module) and finish.
    let ckpt = parse_checkpoint(&file)?;
    snapshot::accept(&ckpt, &header.module_hash, bytes.len() as u64)?;
    let mut guest = snapshot::restore(module, &ckpt, &cfg, Limits::default())?;
    eprintln!("restored at {} instruction units", guest.machine.executed());
    loop {
        match guest.step(u64::MAX)? {
            Step::Paused => continue,
            Step::Finished(Outcome::Exit(code)) => {
                eprintln!("guest exited with {code}");
                return Ok(());
            }
            Step::Finished(other) => return Err(format!("unexpected outcome {other:?}").into()),
        }
    }
}
