//! The command line: `chiwawa run`, `chiwawa wast`, `chiwawa inspect`, `chiwawa export`.
//!
//! Modelled on `wasmtime run`: everything after the module goes to the guest; `--dir`, `--env`,
//! `--argv0` and `--invoke` mean what they mean there; a trap exits with 134; the guest's exit
//! code is chiwawa's. chiwawa itself speaks only on stderr.

pub mod export;
pub mod inspect;
pub mod invoke;
pub mod migrate;
pub mod run;
pub mod wast;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Exit code for a Wasm trap (like wasmtime on Unix: 128 + SIGABRT).
pub const EXIT_TRAP: i32 = 134;
/// Exit code for chiwawa's own errors (bad module, bad flags, I/O).
pub const EXIT_ERROR: i32 = 1;

#[derive(Parser, Debug)]
#[command(name = "chiwawa", version, about = "A WebAssembly interpreter that checkpoints WASI programs so they survive crashes and move between hosts", long_about = None)]
pub struct Cli {
    /// Append chiwawa's own log lines to this file instead of stderr (stderr then belongs to the
    /// guest alone; a regular-file stderr is rolled back with the guest on restore)
    #[arg(long, global = true, value_name = "PATH")]
    pub log_file: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
#[allow(clippy::large_enum_variant)] // parsed once
pub enum Command {
    /// Run a WebAssembly module (a WASI command's `_start`, or an export with --invoke)
    Run(RunArgs),
    /// Run WebAssembly spec test scripts (.wast) and report `N passed, M failed`
    Wast(WastArgs),
    /// List the checkpoint generations in a directory (or describe one file): validity and why
    /// not, module, instruction count, memory, frames and a short backtrace
    Inspect(InspectArgs),
    /// Write one self-contained checkpoint file (all memory pages inline) from a generation of a
    /// checkpoint directory, to copy elsewhere and resume with `run --restore FILE`
    Export(ExportArgs),
    /// Move the guest of a running `chiwawa run` to another host while it runs: pre-copy rounds
    /// through TRANSPORT (a command whose stdin/stdout reach `chiwawa receive`, e.g. `ssh host
    /// chiwawa receive --checkpoint-dir D app.wasm`), then a short stop. Exits 0 when the guest
    /// migrated, 1 when it did not (it runs on here), 91 when the outcome is unknown
    Migrate(MigrateArgs),
    /// Receive a migrating guest on stdin (from `chiwawa migrate`'s transport), commit it as a
    /// generation of the checkpoint directory and acknowledge on stdout; the next `chiwawa run`
    /// with that directory resumes it (or give --run)
    Receive(ReceiveArgs),
}

#[derive(Args, Debug, Clone)]
pub struct MigrateArgs {
    /// The checkpoint directory of the run to migrate
    #[arg(long, value_name = "DIR")]
    pub checkpoint_dir: PathBuf,
    /// How long to wait for each answer of the receiver (its readiness; its acknowledgement
    /// of the final state)
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = crate::trigger::parse_duration)]
    pub timeout: std::time::Duration,
    /// Pre-copy ends when a round would send at most this many MiB (then the guest stops and
    /// the rest follows)
    #[arg(long, value_name = "MIB", default_value_t = 16)]
    pub remainder_mib: u64,
    /// At most this many pre-copy rounds
    #[arg(long, value_name = "N", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_rounds: u64,
    /// The transport command and its arguments
    #[arg(value_name = "TRANSPORT", required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub transport: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct ReceiveArgs {
    /// After committing, run the guest in this process (its stdout and stderr go to --stdout
    /// and --stderr: this process's own stdout carries the migration protocol)
    #[arg(long = "run")]
    pub then_run: bool,
    /// With --run: the guest's stdout (appended to)
    #[arg(long, value_name = "PATH", requires = "then_run")]
    pub stdout: Option<PathBuf>,
    /// With --run: the guest's stderr (appended to)
    #[arg(long, value_name = "PATH", requires = "then_run")]
    pub stderr: Option<PathBuf>,
    /// The options of the run that will resume the guest (--checkpoint-dir, --dir, limits...);
    /// the guest's arguments and environment come with it
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    /// A generation file (its page packs are read from beside it), or a checkpoint directory
    /// (its newest generation that verifies in full)
    #[arg(value_name = "GENERATION|DIR")]
    pub checkpoint: PathBuf,
    /// The file to write (must not exist)
    #[arg(value_name = "OUT")]
    pub out: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct InspectArgs {
    /// Print one JSON object per generation (JSON Lines)
    #[arg(long)]
    pub json: bool,
    /// A checkpoint directory or a single checkpoint file
    #[arg(value_name = "DIR|FILE")]
    pub path: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Call this exported function instead of `_start`; the values after the module are its
    /// arguments (i32/i64/f32/f64; floats accept `nan`, `inf`, hex floats) and its results are
    /// printed one per line
    #[arg(long, value_name = "NAME")]
    pub invoke: Option<String>,

    /// Grant the guest access to a host directory, as GUEST (default: the same path)
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    pub dirs: Vec<String>,

    /// Set an environment variable for the guest; without `=VALUE` it is inherited
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    pub envs: Vec<String>,

    /// The guest's argv[0] (default: the module's file name)
    #[arg(long, value_name = "NAME")]
    pub argv0: Option<String>,

    /// Checkpoint directory (default: .chiwawa/<module stem>/). Giving any checkpoint option
    /// turns checkpointing on; a run started again resumes from the newest valid generation
    #[arg(long, value_name = "DIR")]
    pub checkpoint_dir: Option<PathBuf>,

    /// Checkpoint every DURATION of wall time (humantime: 10s, 5m, 1h30m; a bare number is seconds)
    #[arg(long, value_name = "DURATION", value_parser = crate::trigger::parse_duration)]
    pub every: Option<std::time::Duration>,

    /// Checkpoint every N instruction units (deterministic: the same positions on every host)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub every_instructions: Option<u64>,

    /// Checkpoint as soon as this file appears; it is removed once the checkpoint is durable
    /// (default: <checkpoint dir>/checkpoint.trigger)
    #[arg(long, value_name = "PATH")]
    pub trigger_file: Option<PathBuf>,

    /// How many generations to keep
    #[arg(long, value_name = "K", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub keep: u32,

    /// Start from the beginning even if the checkpoint directory has generations
    #[arg(long, conflicts_with = "restore")]
    pub fresh: bool,

    /// Resume from this checkpoint file: a self-contained one (`chiwawa export`, e.g. copied
    /// from another machine), or a generation file whose page packs are beside it
    #[arg(long, value_name = "FILE")]
    pub restore: Option<PathBuf>,

    /// Write every generation as one self-contained file with all memory pages inline, instead
    /// of incremental generations (only the pages changed since the previous generation, in
    /// page packs shared between generations)
    #[arg(long)]
    pub self_contained: bool,

    /// When the guest finishes, archive its generations instead of deleting them
    #[arg(long)]
    pub keep_on_exit: bool,

    /// If another run holds the checkpoint directory, wait for it to end instead of refusing
    #[arg(long)]
    pub wait_lock: bool,

    /// Maximum call depth before a "call stack exhausted" trap
    #[arg(long, value_name = "FRAMES", default_value_t = 200_000)]
    pub max_call_depth: u32,

    /// Maximum value-stack size, in 8-byte slots
    #[arg(long, value_name = "SLOTS", default_value_t = 16 << 20)]
    pub max_stack_slots: u32,

    /// Maximum size of each linear memory, in 64 KiB pages (the default, 1048576, is 64 GiB;
    /// a 32-bit memory has at most 65536 pages = 4 GiB anyway)
    #[arg(long, value_name = "PAGES", default_value_t = crate::runtime::memory::DEFAULT_LIMIT_PAGES)]
    pub max_memory_pages: u64,

    /// The module: a binary .wasm or a text .wat file
    #[arg(value_name = "MODULE")]
    pub module: PathBuf,

    /// Arguments for the guest (or for the --invoke'd function)
    #[arg(value_name = "ARGS", trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct WastArgs {
    /// Print every failing check, not just the first ones per file
    #[arg(long)]
    pub verbose: bool,
    /// The .wast scripts
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
}

/// Runs a parsed command line; returns the process exit code.
pub fn main(cli: Cli) -> i32 {
    match cli.command {
        Command::Run(a) => run::run(a),
        Command::Wast(a) => wast::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Export(a) => export::run(a),
        Command::Migrate(a) => migrate::migrate(a),
        Command::Receive(a) => migrate::receive(a),
    }
}
