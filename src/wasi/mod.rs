//! A sandboxed `wasi_snapshot_preview1` implementation whose whole state can be
//! checkpointed and restored.
//!
//! # Shape
//!
//! * [`WasiFunc`] names every preview1 import (its field name, its core-wasm
//!   signature); the interpreter resolves imports with [`WasiFunc::from_name`].
//! * [`WasiCtx::call`] executes one call against the guest's linear memory
//!   with raw 64-bit argument slots and returns the errno (or a [`HostExit`]).
//! * [`WasiCtx::state`] captures everything the guest can observe as a plain,
//!   serializable [`WasiState`]; [`WasiCtx::restore`] rebuilds a live context
//!   from it (reopening files by path, repositioning them, truncating writable
//!   files that grew since the capture).
//!
//! Behaviour follows Wasmtime's preview1 implementation (errno choices, fd
//! numbering, `.`/`..` in `fd_readdir`, rights reported by `fd_fdstat_get`, one
//! iovec per read/write call, ...); deviations are listed in the docs of the
//! functions concerned. Paths are confined to preopens by [`path`]'s resolver.
//!
//! # Known differences from Wasmtime
//!
//! Checked by running a raw-syscall probe under both (see the commit log):
//!
//! * Out-of-bounds guest pointers give errno FAULT; Wasmtime traps. Misaligned
//!   pointers are accepted; Wasmtime traps.
//! * `clock_time_get`/`clock_res_get` answer for the CPU-time clocks (with the
//!   monotonic clock, see `clock`); Wasmtime returns BADF.
//! * `poll_oneoff` treats stdin as always readable.
//! * Inode numbers are Wasmtime's hash of (dev, ino), so they are stable for
//!   a file but differ from the host's.
//! * Calls that Wasmtime fails with a host error ([`HostExit::Trap`]) make
//!   `wasmtime run` exit with status 1 (it reserves 134 for Wasm traps).
//!
//! Files: `abi` (errnos, layouts, guest memory), `fd` (descriptor table),
//! `path` (sandboxed resolution), `fs` (fd_* and path_* calls), `poll`
//! (`poll_oneoff`), `clock`, `state` (checkpoint data), `host_os` (the only
//! platform-specific code: native Unix vs. chiwawa itself built for wasip1).

#[path = "abi.rs"]
pub mod abi;
#[path = "clock.rs"]
mod clock;
#[path = "fd.rs"]
mod fd;
#[path = "fs.rs"]
pub(crate) mod fs;
#[path = "host_os.rs"]
mod host_os;
#[path = "path.rs"]
pub mod path;
#[path = "poll.rs"]
mod poll;
#[path = "state.rs"]
mod state;
#[cfg(test)]
#[path = "tests.rs"]
mod tests;

pub use abi::Errno;
pub use fd::FdKind;
pub(crate) use host_os::{is_escape, open_beneath, unlink_beneath, DirRef, OpenHow};
pub use state::{stdio_sizes, truncate_stdio, FdState, PendingSleep, PreopenState, WasiState, STATE_VERSION};

use abi::{Mem, WResult};
use clock::Clock;
use fd::{FdEntry, FdTable, PreopenDir};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

// ---------------------------------------------------------------- configuration

/// What the guest gets: its arguments (including `argv[0]`), environment and
/// preopened directories (fd 3, 4, ... in this order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WasiConfig {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub preopens: Vec<Preopen>,
}

/// A preopened directory: `--dir HOST[::GUEST]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preopen {
    pub host: std::path::PathBuf,
    pub guest: String,
}

impl Preopen {
    /// Parse Wasmtime's `--dir HOST[::GUEST]` syntax; without `::GUEST` the
    /// guest name is `HOST` as written.
    pub fn from_dir_arg(arg: &str) -> Preopen {
        match arg.split_once("::") {
            Some((host, guest)) => Preopen { host: host.into(), guest: guest.to_owned() },
            None => Preopen { host: arg.into(), guest: arg.to_owned() },
        }
    }
}

// ---------------------------------------------------------------- function table

/// Core-wasm value types of the preview1 ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValKind {
    I32,
    I64,
}

macro_rules! wasi_funcs {
    ($($variant:ident = $name:literal ($($p:ident),*) -> ($($r:ident),*);)*) => {
        /// One `wasi_snapshot_preview1` import. The `u16` discriminants are
        /// dense from 0 in declaration order (stable: they may be stored).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u16)]
        pub enum WasiFunc {
            $($variant),*
        }

        impl WasiFunc {
            /// Every function, indexed by its `u16` value.
            pub const ALL: &'static [WasiFunc] = &[$(WasiFunc::$variant),*];

            /// The function imported under field `name` of module
            /// `wasi_snapshot_preview1`.
            pub fn from_name(name: &str) -> Option<WasiFunc> {
                match name {
                    $($name => Some(WasiFunc::$variant),)*
                    _ => None,
                }
            }

            /// The import field name.
            pub fn name(self) -> &'static str {
                match self {
                    $(WasiFunc::$variant => $name),*
                }
            }

            /// `(params, results)` of the core-wasm function type the witx ABI
            /// lowers this function to.
            pub fn signature(self) -> (&'static [ValKind], &'static [ValKind]) {
                match self {
                    $(WasiFunc::$variant => (&[$(ValKind::$p),*], &[$(ValKind::$r),*])),*
                }
            }
        }
    };
}

wasi_funcs! {
    ArgsGet = "args_get" (I32, I32) -> (I32);
    ArgsSizesGet = "args_sizes_get" (I32, I32) -> (I32);
    EnvironGet = "environ_get" (I32, I32) -> (I32);
    EnvironSizesGet = "environ_sizes_get" (I32, I32) -> (I32);
    ClockResGet = "clock_res_get" (I32, I32) -> (I32);
    ClockTimeGet = "clock_time_get" (I32, I64, I32) -> (I32);
    FdAdvise = "fd_advise" (I32, I64, I64, I32) -> (I32);
    FdAllocate = "fd_allocate" (I32, I64, I64) -> (I32);
    FdClose = "fd_close" (I32) -> (I32);
    FdDatasync = "fd_datasync" (I32) -> (I32);
    FdFdstatGet = "fd_fdstat_get" (I32, I32) -> (I32);
    FdFdstatSetFlags = "fd_fdstat_set_flags" (I32, I32) -> (I32);
    FdFdstatSetRights = "fd_fdstat_set_rights" (I32, I64, I64) -> (I32);
    FdFilestatGet = "fd_filestat_get" (I32, I32) -> (I32);
    FdFilestatSetSize = "fd_filestat_set_size" (I32, I64) -> (I32);
    FdFilestatSetTimes = "fd_filestat_set_times" (I32, I64, I64, I32) -> (I32);
    FdPread = "fd_pread" (I32, I32, I32, I64, I32) -> (I32);
    FdPrestatGet = "fd_prestat_get" (I32, I32) -> (I32);
    FdPrestatDirName = "fd_prestat_dir_name" (I32, I32, I32) -> (I32);
    FdPwrite = "fd_pwrite" (I32, I32, I32, I64, I32) -> (I32);
    FdRead = "fd_read" (I32, I32, I32, I32) -> (I32);
    FdReaddir = "fd_readdir" (I32, I32, I32, I64, I32) -> (I32);
    FdRenumber = "fd_renumber" (I32, I32) -> (I32);
    FdSeek = "fd_seek" (I32, I64, I32, I32) -> (I32);
    FdSync = "fd_sync" (I32) -> (I32);
    FdTell = "fd_tell" (I32, I32) -> (I32);
    FdWrite = "fd_write" (I32, I32, I32, I32) -> (I32);
    PathCreateDirectory = "path_create_directory" (I32, I32, I32) -> (I32);
    PathFilestatGet = "path_filestat_get" (I32, I32, I32, I32, I32) -> (I32);
    PathFilestatSetTimes = "path_filestat_set_times" (I32, I32, I32, I32, I64, I64, I32) -> (I32);
    PathLink = "path_link" (I32, I32, I32, I32, I32, I32, I32) -> (I32);
    PathOpen = "path_open" (I32, I32, I32, I32, I32, I64, I64, I32, I32) -> (I32);
    PathReadlink = "path_readlink" (I32, I32, I32, I32, I32, I32) -> (I32);
    PathRemoveDirectory = "path_remove_directory" (I32, I32, I32) -> (I32);
    PathRename = "path_rename" (I32, I32, I32, I32, I32, I32) -> (I32);
    PathSymlink = "path_symlink" (I32, I32, I32, I32, I32) -> (I32);
    PathUnlinkFile = "path_unlink_file" (I32, I32, I32) -> (I32);
    PollOneoff = "poll_oneoff" (I32, I32, I32, I32) -> (I32);
    ProcExit = "proc_exit" (I32) -> ();
    ProcRaise = "proc_raise" (I32) -> (I32);
    SchedYield = "sched_yield" () -> (I32);
    RandomGet = "random_get" (I32, I32) -> (I32);
    SockAccept = "sock_accept" (I32, I32, I32) -> (I32);
    SockRecv = "sock_recv" (I32, I32, I32, I32, I32, I32) -> (I32);
    SockSend = "sock_send" (I32, I32, I32, I32, I32) -> (I32);
    SockShutdown = "sock_shutdown" (I32, I32) -> (I32);
}

impl WasiFunc {
    pub fn from_u16(v: u16) -> Option<WasiFunc> {
        Self::ALL.get(usize::from(v)).copied()
    }

    /// The parameters with a narrower witx type than their core-wasm slot
    /// (enums, flags, `u8`/`u16`), by index. Wasmtime's bindings convert them
    /// before the call and fail the call with a host error (not an errno) if
    /// the value does not convert; [`WasiCtx::call`] does the same.
    fn typed_params(self) -> &'static [(usize, Param)] {
        use Param::*;
        use WasiFunc as F;
        const CLOCKID: Param = Enum32("Clockid", abi::clockid::THREAD_CPUTIME_ID);
        const FDFLAGS: Param = Flags16("Fdflags", abi::fdflags::ALL);
        const RIGHTS: Param = Flags64("Rights", abi::rights::ALL);
        const LOOKUP: Param = Flags32("Lookupflags", abi::lookupflags::ALL);
        const FST: Param = Flags16("Fstflags", abi::fstflags::ALL);
        match self {
            F::ClockResGet | F::ClockTimeGet => &[(0, CLOCKID)],
            F::FdAdvise => &[(3, Enum8("Advice", abi::ADVICE_MAX))],
            F::FdFdstatSetFlags => &[(1, FDFLAGS)],
            F::FdFdstatSetRights => &[(1, RIGHTS), (2, RIGHTS)],
            F::FdFilestatSetTimes => &[(3, FST)],
            F::FdSeek => &[(2, Enum8("Whence", abi::whence::END))],
            F::PathFilestatGet | F::PathLink => &[(1, LOOKUP)],
            F::PathFilestatSetTimes => &[(1, LOOKUP), (6, FST)],
            F::PathOpen => &[
                (1, LOOKUP),
                (4, Flags16("Oflags", abi::oflags::ALL)),
                (5, RIGHTS),
                (6, RIGHTS),
                (7, FDFLAGS),
            ],
            F::ProcRaise => &[(0, Enum8("Signal", abi::SIGNAL_MAX))],
            F::SockAccept => &[(1, FDFLAGS)],
            F::SockRecv => &[(3, Flags16("Riflags", abi::RIFLAGS_ALL))],
            F::SockSend => &[(3, Flags16("u16", u16::MAX))],
            F::SockShutdown => &[(1, Flags8("Sdflags", abi::SDFLAGS_ALL))],
            _ => &[],
        }
    }
}

/// How one typed parameter converts from its core-wasm value.
#[derive(Clone, Copy, Debug)]
enum Param {
    /// A `u8` enum with values `0..=max`.
    Enum8(&'static str, u8),
    /// `u8` flags within the mask.
    Flags8(&'static str, u8),
    /// `u16` flags within the mask (`u16::MAX`: a plain `u16`).
    Flags16(&'static str, u16),
    /// A `u32` enum with values `0..=max`.
    Enum32(&'static str, u32),
    /// `u32` flags within the mask.
    Flags32(&'static str, u32),
    /// `u64` flags within the mask.
    Flags64(&'static str, u64),
}

impl Param {
    /// Convert like wiggle: out of the integer range (a negative `i32`/`i64`
    /// included) is a conversion error, then unknown values/bits.
    fn check(self, raw: u64) -> Result<(), String> {
        let int_err = |neg: bool| {
            let which = if neg { "NegOverflow" } else { "PosOverflow" };
            format!("Int conversion error: TryFromIntError({which})")
        };
        let v32 = raw as u32 as i32;
        let (name, ok, kind) = match self {
            Param::Enum8(n, max) => {
                let v = u8::try_from(v32).map_err(|_| (n, int_err(v32 < 0)));
                (n, v.map(|v| v <= max), "enum")
            }
            Param::Flags8(n, all) => {
                let v = u8::try_from(v32).map_err(|_| (n, int_err(v32 < 0)));
                (n, v.map(|v| v & !all == 0), "flag")
            }
            Param::Flags16(n, all) => {
                let v = u16::try_from(v32).map_err(|_| (n, int_err(v32 < 0)));
                (n, v.map(|v| v & !all == 0), "flag")
            }
            Param::Enum32(n, max) => {
                let v = u32::try_from(v32).map_err(|_| (n, int_err(true)));
                (n, v.map(|v| v <= max), "enum")
            }
            Param::Flags32(n, all) => {
                let v = u32::try_from(v32).map_err(|_| (n, int_err(true)));
                (n, v.map(|v| v & !all == 0), "flag")
            }
            Param::Flags64(n, all) => {
                let v = u64::try_from(raw as i64).map_err(|_| (n, int_err(true)));
                (n, v.map(|v| v & !all == 0), "flag")
            }
        };
        match ok {
            Ok(true) => Ok(()),
            Ok(false) => Err(format!("{name}: Invalid {kind} value {name}")),
            Err((n, e)) => Err(format!("{n}: {e}")),
        }
    }
}

// ---------------------------------------------------------------- outcomes & errors

/// Why a call did not return normally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostExit {
    /// `proc_exit(code)`: the program is finished with this exit status.
    Exit(i32),
    /// The call fails with a host error instead of returning an errno, as in
    /// Wasmtime: a parameter that does not convert to its witx type (unknown
    /// enum value or flag bit, out-of-range integer), `proc_exit` with a
    /// status ≥ 126, or the wrong number of arguments from the interpreter.
    /// (`wasmtime run` prints such errors and exits with status 1, not 134.)
    Trap(String),
    /// The interrupt flag was seen during a long `poll_oneoff` sleep. The
    /// remaining sleep is recorded in the context (and in [`WasiState`]);
    /// call the very same function again with the same arguments (after a
    /// checkpoint/restore if wanted, and after clearing the flag) to finish it.
    Suspend,
}

impl fmt::Display for HostExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostExit::Exit(c) => write!(f, "exit with status {c}"),
            HostExit::Trap(m) => write!(f, "trap: {m}"),
            HostExit::Suspend => f.write_str("suspended for a checkpoint"),
        }
    }
}

/// Setting up or restoring a context failed.
#[derive(Debug)]
pub struct WasiError {
    message: String,
    source: Option<std::io::Error>,
    refused: bool,
}

impl WasiError {
    pub(crate) fn new(message: impl Into<String>) -> WasiError {
        WasiError { message: message.into(), source: None, refused: false }
    }

    pub(crate) fn io(message: impl Into<String>, e: std::io::Error) -> WasiError {
        WasiError { message: message.into(), source: Some(e), refused: false }
    }

    /// A restore refused because the checkpoint's WASI state is inconsistent or a descriptor
    /// path leads outside its preopen (see [`is_refusal`](Self::is_refusal)).
    pub(crate) fn refused(message: impl Into<String>) -> WasiError {
        WasiError { message: message.into(), source: None, refused: true }
    }

    /// Whether this is a refusal (a checkpoint that must not be applied at all) rather than an
    /// environment problem the user can fix with other `--dir` options.
    pub fn is_refusal(&self) -> bool {
        self.refused
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for WasiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(e) => write!(f, "{}: {}", self.message, e),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for WasiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

// ---------------------------------------------------------------- the context

/// A live preview1 context: configuration, descriptor table and clocks.
#[derive(Debug)]
pub struct WasiCtx {
    args: Vec<String>,
    env: Vec<(String, String)>,
    preopens: Vec<PreopenDir>,
    fds: FdTable,
    clock: Clock,
    /// A `poll_oneoff` sleep cut short by the interrupt flag.
    pending: Option<PendingSleep>,
    interrupt: Option<InterruptCheck>,
    /// Called before `path_open` may write to a file (see [`WasiCtx::set_write_open_hook`]).
    write_open_hook: Option<WriteOpenHook>,
}

/// A file about to be opened with write access: where it is and what it was before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteOpen {
    /// The guest name of the preopen the path is below.
    pub preopen: String,
    /// `/`-separated path below the preopen root.
    pub path: String,
    /// Whether the file existed before this open.
    pub existed: bool,
    /// Its size before this open (0 when it did not exist).
    pub size: u64,
}

type WriteOpenFn = dyn FnMut(&WriteOpen) -> std::io::Result<()> + Send;

pub(crate) struct WriteOpenHook(Box<WriteOpenFn>);

impl std::fmt::Debug for WriteOpenHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriteOpenHook")
    }
}

/// How a sliced sleep asks whether to suspend for a checkpoint.
pub(crate) struct InterruptCheck(Box<dyn Fn() -> bool + Send>);

impl InterruptCheck {
    pub(crate) fn requested(&self) -> bool {
        (self.0)()
    }
}

impl fmt::Debug for InterruptCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InterruptCheck")
    }
}

impl WasiCtx {
    /// A fresh context: stdio on 0, 1, 2 and the preopens on 3, 4, ... in
    /// order. Fails with a message naming the preopen if its host directory
    /// cannot be opened.
    pub fn new(cfg: &WasiConfig) -> Result<WasiCtx, WasiError> {
        let mut fds = FdTable::default();
        for kind in [FdKind::Stdin, FdKind::Stdout, FdKind::Stderr] {
            push_infallible(&mut fds, FdEntry::stdio(kind))?;
        }
        let mut preopens = Vec::with_capacity(cfg.preopens.len());
        for (i, p) in cfg.preopens.iter().enumerate() {
            let handle = open_preopen_dir(p)?;
            let idx = u32::try_from(i).map_err(|_| WasiError::new("too many preopens"))?;
            let mut e = FdEntry::stdio(FdKind::PreopenDir);
            e.preopen = Some(idx);
            e.read = true;
            e.write = false;
            e.file = Some(handle);
            push_infallible(&mut fds, e)?;
            preopens.push(PreopenDir { guest: p.guest.clone(), host: p.host.clone() });
        }
        Ok(WasiCtx {
            args: cfg.args.clone(),
            env: cfg.env.clone(),
            preopens,
            fds,
            clock: Clock::starting_at(0),
            pending: None,
            interrupt: None,
            write_open_hook: None,
        })
    }

    /// The flag checked between the ≤ 50 ms slices of `poll_oneoff` sleeps.
    /// The context only reads it; whoever handles the resulting
    /// [`HostExit::Suspend`] must clear it before calling again.
    pub fn set_interrupt(&mut self, flag: Arc<AtomicBool>) {
        self.interrupt = Some(InterruptCheck(Box::new(move || flag.load(Ordering::SeqCst))));
    }

    /// Like [`set_interrupt`](Self::set_interrupt), but with a function
    /// asked between the slices (replaces any flag). For hosts without
    /// threads (`wasm32-wasip1`), where nothing can set a flag while the
    /// guest sleeps, the function can itself look at the clock or a trigger
    /// file, e.g. `ctx.set_interrupt_probe(move || probe.check())`.
    pub fn set_interrupt_probe(&mut self, probe: impl Fn() -> bool + Send + 'static) {
        self.interrupt = Some(InterruptCheck(Box::new(probe)));
    }

    /// Installs a function called *before* every `path_open` that may write to a regular file,
    /// with what the file was before. The checkpoint session uses it to keep a write-ahead undo
    /// journal, so that files opened after the last checkpoint can be rolled back after a crash.
    /// If it fails, the open fails with EIO (the guest never writes without the undo record).
    pub fn set_write_open_hook(
        &mut self,
        hook: impl FnMut(&WriteOpen) -> std::io::Result<()> + Send + 'static,
    ) {
        self.write_open_hook = Some(WriteOpenHook(Box::new(hook)));
    }

    /// Calls the write-open hook, if any.
    pub(crate) fn before_write_open(
        &mut self,
        preopen: Option<u32>,
        rel: &[String],
        target: &std::path::Path,
    ) -> Result<(), Errno> {
        let Some(hook) = self.write_open_hook.as_mut() else { return Ok(()) };
        let Some(p) = preopen.and_then(|i| self.preopens.get(i as usize)) else { return Ok(()) };
        let (existed, size) = match std::fs::metadata(target) {
            Ok(m) if m.is_dir() => return Ok(()),
            Ok(m) => (true, m.len()),
            Err(_) => (false, 0),
        };
        let w = WriteOpen { preopen: p.guest.clone(), path: rel.join("/"), existed, size };
        (hook.0)(&w).map_err(|e| {
            log::warn!("cannot record the open of {} for undo: {e}", w.path);
            Errno::IO
        })
    }

    /// Execute one call. `mem` is the guest's whole linear memory 0; `args`
    /// are raw 64-bit slots (an `i32` argument is in the low 32 bits).
    /// Returns `Ok(Some(errno))` for functions with an `i32` result, `Ok(None)`
    /// for functions without one (none return normally: `proc_exit` exits).
    /// Guest pointers out of bounds give errno FAULT; nothing panics.
    /// Before a read of stdin: waits for input in slices, and suspends the call (it runs again
    /// on resume, as an interrupted sleep does) when a checkpoint or a stop is requested
    /// meanwhile, so that a guest blocked on its input still reaches a safe point.
    fn wait_for_stdin(&mut self, fd: u32) -> Result<(), HostExit> {
        if !matches!(self.fds.get(fd).map(|e| e.kind), Ok(FdKind::Stdin)) {
            return Ok(());
        }
        let Some(interrupt) = &self.interrupt else { return Ok(()) };
        loop {
            if interrupt.requested() {
                return Err(HostExit::Suspend);
            }
            if host_os::stdin_ready(50) {
                return Ok(());
            }
        }
    }

    pub fn call(&mut self, f: WasiFunc, mem: &mut [u8], args: &[u64]) -> Result<Option<u64>, HostExit> {
        let (params, results) = f.signature();
        if args.len() != params.len() {
            return Err(HostExit::Trap(format!(
                "wasi {} called with {} arguments, expected {}",
                f.name(),
                args.len(),
                params.len()
            )));
        }
        for &(i, p) in f.typed_params() {
            if let Err(e) = p.check(args[i]) {
                return Err(HostExit::Trap(format!(
                    "In func wasi_snapshot_preview1::{} at convert {e}",
                    f.name()
                )));
            }
        }
        let a = |i: usize| args[i] as u32;
        let l = |i: usize| args[i];
        let mut m = Mem::new(mem);
        let m = &mut m;
        use WasiFunc as F;
        let r: WResult<()> = match f {
            F::ArgsGet => self.args_get(m, a(0), a(1)),
            F::ArgsSizesGet => self.args_sizes_get(m, a(0), a(1)),
            F::EnvironGet => self.environ_get(m, a(0), a(1)),
            F::EnvironSizesGet => self.environ_sizes_get(m, a(0), a(1)),
            F::ClockResGet => self.clock_res_get(m, a(0), a(1)),
            F::ClockTimeGet => self.clock_time_get(m, a(0), l(1), a(2)),
            F::FdAdvise => self.fd_advise(a(0), l(1), l(2), a(3)),
            F::FdAllocate => self.fd_allocate(a(0), l(1), l(2)),
            F::FdClose => self.fd_close(a(0)),
            F::FdDatasync => self.fd_datasync(a(0)),
            F::FdFdstatGet => self.fd_fdstat_get(m, a(0), a(1)),
            F::FdFdstatSetFlags => self.fd_fdstat_set_flags(a(0), a(1)),
            F::FdFdstatSetRights => self.fd_fdstat_set_rights(a(0), l(1), l(2)),
            F::FdFilestatGet => self.fd_filestat_get(m, a(0), a(1)),
            F::FdFilestatSetSize => self.fd_filestat_set_size(a(0), l(1)),
            F::FdFilestatSetTimes => self.fd_filestat_set_times(a(0), l(1), l(2), a(3)),
            F::FdPread => self.fd_pread(m, a(0), a(1), a(2), l(3), a(4)),
            F::FdPrestatGet => self.fd_prestat_get(m, a(0), a(1)),
            F::FdPrestatDirName => self.fd_prestat_dir_name(m, a(0), a(1), a(2)),
            F::FdPwrite => self.fd_pwrite(m, a(0), a(1), a(2), l(3), a(4)),
            F::FdRead => {
                self.wait_for_stdin(a(0))?;
                self.fd_read(m, a(0), a(1), a(2), a(3))
            }
            F::FdReaddir => self.fd_readdir(m, a(0), a(1), a(2), l(3), a(4)),
            F::FdRenumber => self.fds.renumber(a(0), a(1)),
            F::FdSeek => self.fd_seek(m, a(0), l(1), a(2), a(3)),
            F::FdSync => self.fd_sync(a(0)),
            F::FdTell => self.fd_tell(m, a(0), a(1)),
            F::FdWrite => self.fd_write(m, a(0), a(1), a(2), a(3)),
            F::PathCreateDirectory => self.path_create_directory(m, a(0), a(1), a(2)),
            F::PathFilestatGet => self.path_filestat_get(m, a(0), a(1), a(2), a(3), a(4)),
            F::PathFilestatSetTimes => {
                self.path_filestat_set_times(m, a(0), a(1), a(2), a(3), l(4), l(5), a(6))
            }
            F::PathLink => self.path_link(m, a(0), a(1), a(2), a(3), a(4), a(5), a(6)),
            F::PathOpen => self.path_open(
                m,
                fs::OpenArgs {
                    dirfd: a(0),
                    dirflags: a(1),
                    path: a(2),
                    path_len: a(3),
                    oflags: a(4),
                    rights_base: l(5),
                    rights_inheriting: l(6),
                    fdflags: a(7),
                    ret: a(8),
                },
            ),
            F::PathReadlink => self.path_readlink(m, a(0), a(1), a(2), a(3), a(4), a(5)),
            F::PathRemoveDirectory => self.path_remove_directory(m, a(0), a(1), a(2)),
            F::PathRename => self.path_rename(m, a(0), a(1), a(2), a(3), a(4), a(5)),
            F::PathSymlink => self.path_symlink(m, a(0), a(1), a(2), a(3), a(4)),
            F::PathUnlinkFile => self.path_unlink_file(m, a(0), a(1), a(2)),
            F::PollOneoff => self.poll_oneoff(m, a(0), a(1), a(2), a(3))?,
            F::ProcExit => return Err(proc_exit(a(0))),
            F::ProcRaise => abi::dec_enum8(a(0), abi::SIGNAL_MAX).and(Err(Errno::NOTSUP)),
            F::SchedYield => {
                std::thread::yield_now();
                Ok(())
            }
            F::RandomGet => self.random_get(m, a(0), a(1)),
            F::SockAccept => self.sock_accept(a(0), a(1)),
            F::SockRecv => self.sock_recv(a(0), a(3)),
            F::SockSend => self.sock_send(a(0), a(3)),
            F::SockShutdown => self.sock_shutdown(a(0), a(1)),
        };
        let errno = match r {
            Ok(()) => Errno::SUCCESS,
            Err(e) => e,
        };
        if log::log_enabled!(log::Level::Trace) {
            log::trace!("wasi {}{:?} -> {}", f.name(), &args, errno.name());
        }
        debug_assert_eq!(results.len(), 1);
        Ok(Some(u64::from(errno.0)))
    }

    // ------------------------------------------------------------ args & env

    fn args_get(&self, m: &mut Mem<'_>, argv: u32, buf: u32) -> WResult<()> {
        let items: Vec<&[u8]> = self.args.iter().map(|a| a.as_bytes()).collect();
        write_string_list(m, &items, None, argv, buf)
    }

    fn args_sizes_get(&self, m: &mut Mem<'_>, count_ptr: u32, size_ptr: u32) -> WResult<()> {
        let items: Vec<&[u8]> = self.args.iter().map(|a| a.as_bytes()).collect();
        write_string_sizes(m, &items, None, count_ptr, size_ptr)
    }

    fn environ_get(&self, m: &mut Mem<'_>, environ: u32, buf: u32) -> WResult<()> {
        let items: Vec<(&[u8], &[u8])> = self.env.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())).collect();
        let keys: Vec<&[u8]> = items.iter().map(|(k, _)| *k).collect();
        let vals: Vec<&[u8]> = items.iter().map(|(_, v)| *v).collect();
        write_string_list(m, &keys, Some(&vals), environ, buf)
    }

    fn environ_sizes_get(&self, m: &mut Mem<'_>, count_ptr: u32, size_ptr: u32) -> WResult<()> {
        let keys: Vec<&[u8]> = self.env.iter().map(|(k, _)| k.as_bytes()).collect();
        let vals: Vec<&[u8]> = self.env.iter().map(|(_, v)| v.as_bytes()).collect();
        write_string_sizes(m, &keys, Some(&vals), count_ptr, size_ptr)
    }

    // ------------------------------------------------------------ clocks

    fn clock_res_get(&self, m: &mut Mem<'_>, id: u32, ret: u32) -> WResult<()> {
        let id = abi::dec_clockid(id)?;
        m.write_u64(ret, Clock::resolution(id))
    }

    fn clock_time_get(&self, m: &mut Mem<'_>, id: u32, _precision: u64, ret: u32) -> WResult<()> {
        let id = abi::dec_clockid(id)?;
        m.check(ret, 8)?;
        m.write_u64(ret, self.clock.now(id))
    }

    // ------------------------------------------------------------ random

    fn random_get(&self, m: &mut Mem<'_>, buf: u32, len: u32) -> WResult<()> {
        let out = m.slice_mut(buf, len)?;
        host_os::random_fill(out).map_err(Errno::from)
    }

    // ------------------------------------------------------------ sockets
    //
    // Preview1 programs cannot obtain sockets here (no socket is ever
    // preopened), so like Wasmtime: BADF for a closed fd, NOTSOCK otherwise.

    fn sock_accept(&self, fd: u32, flags: u32) -> WResult<()> {
        abi::dec_flags16(flags, abi::fdflags::ALL)?;
        self.fds.get(fd)?;
        Err(Errno::NOTSOCK)
    }

    fn sock_recv(&self, fd: u32, riflags: u32) -> WResult<()> {
        abi::dec_flags16(riflags, abi::RIFLAGS_ALL)?;
        self.fds.get(fd)?;
        Err(Errno::NOTSOCK)
    }

    fn sock_send(&self, fd: u32, siflags: u32) -> WResult<()> {
        abi::dec_u16(siflags)?;
        self.fds.get(fd)?;
        Err(Errno::NOTSOCK)
    }

    fn sock_shutdown(&self, fd: u32, how: u32) -> WResult<()> {
        let how = abi::dec_u8(how)?;
        if how & !abi::SDFLAGS_ALL != 0 {
            return Err(Errno::INVAL);
        }
        self.fds.get(fd)?;
        Err(Errno::NOTSOCK)
    }
}

/// `proc_exit`: Wasmtime accepts statuses 0..126 and traps on the others.
fn proc_exit(code: u32) -> HostExit {
    if code >= 126 {
        HostExit::Trap("exit with invalid exit status outside of [0..126)".to_owned())
    } else {
        HostExit::Exit(code as i32)
    }
}

fn push_infallible(fds: &mut FdTable, e: FdEntry) -> Result<u32, WasiError> {
    fds.push(e).map_err(|e| WasiError::new(format!("descriptor table full ({e})")))
}

fn open_preopen_dir(p: &Preopen) -> Result<std::fs::File, WasiError> {
    let what = || format!("preopen '{}' (host '{}')", p.guest, p.host.display());
    let meta = std::fs::metadata(&p.host).map_err(|e| {
        // chiwawa.wasm reaches only what its own WASI host preopened; anything else looks
        // like a missing file.
        if cfg!(target_os = "wasi") && e.kind() == std::io::ErrorKind::NotFound {
            WasiError::new(format!(
                "cannot open {}: {e}; chiwawa runs inside a WASI host and sees only the \
                 directories that host preopened: give the host `--dir {}` (or a parent)",
                what(),
                p.host.display()
            ))
        } else {
            WasiError::io(format!("cannot open {}", what()), e)
        }
    })?;
    if !meta.is_dir() {
        return Err(WasiError::new(format!("{} is not a directory", what())));
    }
    std::fs::File::open(&p.host).map_err(|e| WasiError::io(format!("cannot open {}", what()), e))
}

/// Total bytes of `key[=value]\0` strings, checked to fit a `u32`.
fn string_list_size(keys: &[&[u8]], vals: Option<&[&[u8]]>) -> WResult<u32> {
    let mut total: u64 = 0;
    for (i, k) in keys.iter().enumerate() {
        total += k.len() as u64 + 1;
        if let Some(v) = vals {
            total += v.get(i).map_or(0, |v| v.len() as u64) + 1;
        }
    }
    u32::try_from(total).map_err(|_| Errno::OVERFLOW)
}

fn write_string_sizes(
    m: &mut Mem<'_>,
    keys: &[&[u8]],
    vals: Option<&[&[u8]]>,
    count_ptr: u32,
    size_ptr: u32,
) -> WResult<()> {
    let count = u32::try_from(keys.len()).map_err(|_| Errno::OVERFLOW)?;
    let size = string_list_size(keys, vals)?;
    m.check(count_ptr, 4)?;
    m.check(size_ptr, 4)?;
    m.write_u32(count_ptr, count)?;
    m.write_u32(size_ptr, size)
}

/// Write the pointer array and the `key[=value]\0` strings (args / environ).
fn write_string_list(
    m: &mut Mem<'_>,
    keys: &[&[u8]],
    vals: Option<&[&[u8]]>,
    ptrs: u32,
    buf: u32,
) -> WResult<()> {
    let count = u32::try_from(keys.len()).map_err(|_| Errno::OVERFLOW)?;
    let size = string_list_size(keys, vals)?;
    m.check_array(ptrs, count, 4)?;
    m.check(buf, size)?;
    let mut at = buf;
    for (i, k) in keys.iter().enumerate() {
        m.write_u32(ptrs + 4 * i as u32, at)?;
        let mut s = k.to_vec();
        if let Some(v) = vals {
            s.push(b'=');
            s.extend_from_slice(v.get(i).copied().unwrap_or_default());
        }
        s.push(0);
        m.write_bytes(at, &s)?;
        at += s.len() as u32;
    }
    Ok(())
}
