//! `chiwawa migrate` and `chiwawa receive` (see [`crate::migrate`]).

use super::{MigrateArgs, ReceiveArgs, EXIT_ERROR};
use crate::checkpoint::dir::LockError;
use crate::checkpoint::CheckpointDir;
use crate::migrate::{self, Outcome, Request, EXIT_MIGRATION_UNKNOWN, REQUEST_FILE, RESULT_FILE};
use std::time::{Duration, Instant};

/// Whether a run holds `dir` (its lock is taken).
fn held(dir: &CheckpointDir) -> Result<bool, String> {
    match dir.lock(false) {
        Ok(l) => {
            drop(l);
            Ok(false)
        }
        Err(LockError::Held { .. }) => Ok(true),
        Err(LockError::Io(e)) => Err(format!("cannot check the lock of {}: {e}", dir.path().display())),
    }
}

pub fn migrate(a: MigrateArgs) -> i32 {
    match migrate_inner(&a) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_ERROR
        }
    }
}

fn migrate_inner(a: &MigrateArgs) -> Result<i32, String> {
    let path = &a.checkpoint_dir;
    if !path.is_dir() {
        return Err(format!("{} is not a checkpoint directory", path.display()));
    }
    let dir = CheckpointDir::open(path, 1).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    if !held(&dir)? {
        return Err(format!("no chiwawa run holds {}: there is no running guest to migrate", path.display()));
    }
    let mut id = [0u8; 8];
    getrandom::fill(&mut id).map_err(|e| format!("no random id: {e}"))?;
    let req = Request {
        id: u64::from_le_bytes(id),
        transport: a.transport.clone(),
        timeout_ms: a.timeout.as_millis().min(u64::MAX as u128) as u64,
        remainder_bytes: a.remainder_mib.saturating_mul(1 << 20),
        max_rounds: a.max_rounds,
    };
    if path.join(REQUEST_FILE).exists() {
        return Err(format!("a migration request is already pending in {}", path.display()));
    }
    let result = path.join(RESULT_FILE);
    let _ = std::fs::remove_file(&result);
    migrate::write_durably(path, REQUEST_FILE, &serde_json::to_vec(&req).unwrap_or_default())
        .map_err(|e| format!("cannot write the request into {}: {e}", path.display()))?;
    let request = path.join(REQUEST_FILE);
    let t0 = Instant::now();
    let mut last_check = Instant::now();
    loop {
        if let Ok(bytes) = std::fs::read(&result) {
            if let Ok(o) = serde_json::from_slice::<Outcome>(&bytes) {
                if o.id == req.id {
                    let _ = std::fs::remove_file(&result);
                    return Ok(match o.status.as_str() {
                        "migrated" => {
                            eprintln!("{}", o.message);
                            0
                        }
                        "unknown" => {
                            eprintln!("error: {}", o.message);
                            EXIT_MIGRATION_UNKNOWN
                        }
                        _ => {
                            eprintln!(
                                "error: the migration failed: {}; the guest runs on at the source",
                                o.message
                            );
                            EXIT_ERROR
                        }
                    });
                }
            }
        }
        if request.exists() && t0.elapsed() > a.timeout {
            let _ = std::fs::remove_file(&request);
            return Err(format!("the run did not take the request within {:?}", a.timeout));
        }
        if last_check.elapsed() > Duration::from_millis(500) {
            last_check = Instant::now();
            if !held(&dir)? && !result.exists() {
                let _ = std::fs::remove_file(&request);
                return Err(format!(
                    "the run on {} ended without reporting a migration outcome",
                    path.display()
                ));
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn receive(a: ReceiveArgs) -> i32 {
    let mut cfg = super::run::config_checkpointing(&a.run);
    if a.then_run && (a.stdout.is_none() || a.stderr.is_none()) {
        eprintln!(
            "error: --run needs --stdout and --stderr (this process's stdout carries the migration protocol)"
        );
        return EXIT_ERROR;
    }
    if a.run.fresh || a.run.restore.is_some() {
        eprintln!("error: receive takes neither --fresh nor --restore: it resumes what it receives");
        return EXIT_ERROR;
    }
    // Everything --run needs is checked before the sender is told anything: once the state is
    // committed, the source has let go of the guest.
    let files = match a.then_run.then(|| open_outputs(a.stdout.as_deref(), a.stderr.as_deref())).transpose() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_ERROR;
        }
    };
    let received = {
        let mut input = std::io::stdin().lock();
        let mut output = std::io::stdout().lock();
        migrate::recv::receive(&cfg, &mut input, &mut output, a.then_run)
    };
    let mut r = match received {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_ERROR;
        }
    };
    log::info!(
        "received generation {} ({}, {} instructions, {} bytes from the stream)",
        r.committed.generation,
        r.committed.path,
        r.committed.instructions,
        r.bytes
    );
    if !a.then_run {
        return 0;
    }
    cfg.preloaded = r.preloaded.take().map(|p| std::sync::Arc::new(std::sync::Mutex::new(Some(p))));
    if let Err(e) = redirect(files) {
        eprintln!("error: {e}");
        return EXIT_ERROR;
    }
    super::run::run_config(&cfg)
}

/// The files `receive --run` gives the guest: stdin /dev/null, stdout and stderr appended to.
type Outputs = (std::fs::File, std::fs::File, std::fs::File);

#[cfg(unix)]
fn open_outputs(
    stdout: Option<&std::path::Path>,
    stderr: Option<&std::path::Path>,
) -> Result<Outputs, String> {
    let open = |p: Option<&std::path::Path>| {
        let p = p.ok_or("--run needs --stdout and --stderr")?;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .map_err(|e| format!("cannot open {}: {e}", p.display()))
    };
    let null = std::fs::File::open("/dev/null").map_err(|e| format!("cannot open /dev/null: {e}"))?;
    Ok((null, open(stdout)?, open(stderr)?))
}

#[cfg(not(unix))]
fn open_outputs(_: Option<&std::path::Path>, _: Option<&std::path::Path>) -> Result<Outputs, String> {
    Err("--run needs a native chiwawa (this host cannot redirect stdout); run `chiwawa run` after receiving"
        .into())
}

/// Points this process's stdin, stdout and stderr at `files`.
#[cfg(unix)]
fn redirect(files: Option<Outputs>) -> Result<(), String> {
    use std::io::Write;
    let Some((null, out, err)) = files else { return Ok(()) };
    let _ = std::io::stdout().flush();
    rustix::stdio::dup2_stdin(null).map_err(|e| format!("cannot redirect stdin: {e}"))?;
    rustix::stdio::dup2_stdout(out).map_err(|e| format!("cannot redirect stdout: {e}"))?;
    rustix::stdio::dup2_stderr(err).map_err(|e| format!("cannot redirect stderr: {e}"))?;
    Ok(())
}

#[cfg(not(unix))]
fn redirect(files: Option<Outputs>) -> Result<(), String> {
    match files {
        None => Ok(()),
        Some(_) => Err("--run needs a native chiwawa".into()),
    }
}
