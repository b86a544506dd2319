//! `chiwawa run`.

use super::{RunArgs, EXIT_ERROR, EXIT_TRAP};
use crate::guest::Outcome;
use crate::runtime::store::Limits;
use crate::session::{self, CheckpointOptions, EntrySpec, RunConfig};
use crate::trigger::Policy;
use crate::wasi::{Preopen, WasiConfig};
use std::path::PathBuf;

fn wasi_config(a: &RunArgs) -> WasiConfig {
    let argv0 = a.argv0.clone().unwrap_or_else(|| {
        a.module.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
    });
    let mut args = vec![argv0];
    args.extend(a.args.iter().cloned());
    let env = a
        .envs
        .iter()
        .filter_map(|e| match e.split_once('=') {
            Some((k, v)) => Some((k.to_string(), v.to_string())),
            None => std::env::var(e).ok().map(|v| (e.clone(), v)),
        })
        .collect();
    let preopens = a.dirs.iter().map(|d| Preopen::from_dir_arg(d)).collect();
    WasiConfig { args, env, preopens }
}

/// Checkpointing is on when any checkpoint option is given, or `always` (`receive`).
fn checkpoint_options(a: &RunArgs, always: bool) -> Option<CheckpointOptions> {
    let on = always
        || a.checkpoint_dir.is_some()
        || a.every.is_some()
        || a.every_instructions.is_some()
        || a.trigger_file.is_some()
        || a.restore.is_some()
        || a.wait_lock
        || a.self_contained;
    if !on {
        return None;
    }
    let dir = a.checkpoint_dir.clone().unwrap_or_else(|| {
        let stem =
            a.module.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "module".into());
        PathBuf::from(".chiwawa").join(stem)
    });
    let trigger_file = Some(a.trigger_file.clone().unwrap_or_else(|| dir.join("checkpoint.trigger")));
    Some(CheckpointOptions {
        policy: Policy {
            every: a.every,
            every_instructions: a.every_instructions,
            trigger_file,
            migrate_file: Some(dir.join(crate::migrate::REQUEST_FILE)),
        },
        dir,
        keep: a.keep,
        fresh: a.fresh,
        restore: a.restore.clone(),
        keep_on_exit: a.keep_on_exit,
        wait_lock: a.wait_lock,
        incremental: !a.self_contained,
    })
}

pub fn config(a: &RunArgs) -> RunConfig {
    config_with(a, false)
}

/// [`config`] with checkpointing on whatever the options (a migration receiver always has a
/// checkpoint directory).
pub fn config_checkpointing(a: &RunArgs) -> RunConfig {
    config_with(a, true)
}

fn config_with(a: &RunArgs, checkpointing: bool) -> RunConfig {
    RunConfig {
        module_path: a.module.clone(),
        wasi: wasi_config(a),
        entry: match &a.invoke {
            Some(name) => EntrySpec::Invoke { name: name.clone(), args: a.args.clone() },
            None => EntrySpec::Command,
        },
        limits: Limits {
            max_memory_pages: a.max_memory_pages,
            max_stack_slots: a.max_stack_slots,
            max_frames: a.max_call_depth,
        },
        checkpoint: checkpoint_options(a, checkpointing),
        preloaded: None,
    }
}

/// Prints the outcome the way `wasmtime run` does and returns the exit code.
pub fn report(outcome: Outcome) -> i32 {
    match outcome {
        Outcome::Exit(code) => code,
        Outcome::Returned(vals) => {
            for v in vals {
                println!("{v}");
            }
            0
        }
        Outcome::Trap(t) => {
            eprintln!("error: {t}");
            eprint!("{}", t.backtrace_text());
            EXIT_TRAP
        }
    }
}

/// The environment variable naming a file where chiwawa records that the *guest* finished
/// (`exit CODE`), so a supervisor can tell a finished guest from a crash of chiwawa itself
/// whatever the exit code (a guest may well exit 137, and a trap and SIGABRT both give 134).
pub const STATUS_FILE_ENV: &str = "CHIWAWA_STATUS_FILE";

fn write_status(code: i32) {
    write_status_line(&format!("exit {code}"));
}

/// Writes one line to the status file (`exit CODE`, `migrated GENERATION`, `migration-unknown`).
fn write_status_line(line: &str) {
    let Some(path) = std::env::var_os(STATUS_FILE_ENV) else { return };
    let path = PathBuf::from(path);
    let tmp = path.with_extension("tmp");
    let r = std::fs::write(&tmp, format!("{line}\n")).and_then(|_| std::fs::rename(&tmp, &path));
    if let Err(e) = r {
        log::warn!("cannot write {STATUS_FILE_ENV} {}: {e}", path.display());
    }
}

pub fn run(a: RunArgs) -> i32 {
    run_config(&config(&a))
}

/// Runs a configured guest and returns the exit code.
pub fn run_config(cfg: &session::RunConfig) -> i32 {
    match session::run(cfg) {
        Ok(session::Ended::Guest(o)) => {
            let code = report(o);
            write_status(code);
            code
        }
        // Stopped by a signal, resumable: 128 + the signal, as a shell reports a process the
        // signal ended (no status file: the guest has not finished).
        Ok(session::Ended::Stopped { signal, .. }) => 128 + signal,
        // The guest goes on elsewhere: done here (the status file tells a supervisor so).
        Ok(session::Ended::Migrated { generation, .. }) => {
            write_status_line(&format!("migrated {generation}"));
            crate::migrate::EXIT_MIGRATED
        }
        Ok(session::Ended::MigrationUnknown { message }) => {
            eprintln!("error: {message}");
            write_status_line("migration-unknown");
            crate::migrate::EXIT_MIGRATION_UNKNOWN
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_ERROR
        }
    }
}
