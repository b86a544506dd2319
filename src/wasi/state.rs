//! Checkpoint data of a [`WasiCtx`] and the capture/restore logic.
//!
//! [`WasiState`] is plain data with a platform-independent serde shape (no
//! `usize`, `PathBuf` or `HashMap`), so it encodes to the same bytes on
//! x86_64 and wasm32.
//!
//! # What a restore does
//!
//! * args and environment come from the checkpoint (the guest has already
//!   seen them), preopens from the *new* configuration, matched by guest name
//!   (the n-th preopen named `/data` in the checkpoint is the n-th preopen
//!   named `/data` in the configuration), so a checkpoint can move to another
//!   machine or directory. A preopen the checkpoint still uses but the
//!   configuration lacks is an error naming it.
//! * Descriptors keep their numbers; the set of freed numbers is restored too,
//!   so later `path_open`s return the same numbers as in an uninterrupted run.
//! * The state is checked before anything is opened ([`validate`]): unique
//!   descriptor numbers, preopen indices in range, paths that are plain
//!   relative names (no NUL, not absolute, no `.`/`..`/empty component),
//!   fields that fit each kind, positions and sizes that fit a file offset.
//! * Files and directories are reopened by their path below their preopen,
//!   never with `O_CREAT`/`O_TRUNC`/`O_EXCL`, with the recorded read/write
//!   mode, position and fdflags. A path that no longer exists is an error
//!   naming it. The path is resolved *beneath* the preopen's directory handle
//!   exactly as the guest's `path_open` resolves (see `host_os::open_beneath`:
//!   `openat2(RESOLVE_BENEATH)` on Linux): a path that now leads outside it
//!   (the guest can replace its open file with a symlink to `../x`) is an
//!   error naming the descriptor, and nothing is changed on disk.
//! * Only once every descriptor has been reopened are files truncated (next
//!   point) and stdio repositioned, so a refused restore touches nothing.
//! * A writable regular file that is now longer than it was at capture time
//!   is truncated back to the captured size (the rerun from the checkpoint
//!   writes that tail again). The same holds for stdout/stderr when they are
//!   regular files (e.g. a supervisor's `>> app.log`); stdin, when it is a
//!   regular file, is repositioned to its captured offset.
//! * The monotonic clock continues from its captured value; a `poll_oneoff`
//!   sleep cut short by a checkpoint keeps its remaining time.
//!
//! Not rolled back: other changes to the preopened directories made after the
//! checkpoint (created, renamed or deleted files, writes that did not extend a
//! file). A file that was unlinked while open cannot be reopened.

use super::fd::{rel_from_string, FdEntry, FdKind, FdTable, PreopenDir};
use super::{host_os, is_escape, open_beneath, Clock, DirRef, OpenHow, WasiConfig, WasiCtx, WasiError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Seek, SeekFrom};

/// Version of the [`WasiState`] layout; bumped on incompatible changes.
pub const STATE_VERSION: u32 = 1;

/// Everything about the WASI side of a running guest that must survive a
/// checkpoint.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct WasiState {
    /// [`STATE_VERSION`] of the code that captured it.
    pub version: u32,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// The preopens of the capturing context, in fd order of creation.
    pub preopens: Vec<PreopenState>,
    /// Open descriptors, ascending by `fd`.
    pub fds: Vec<FdState>,
    /// Freed descriptor numbers awaiting reuse (highest is reused first).
    pub free_fds: Vec<u32>,
    /// Value of the monotonic clock at capture, in nanoseconds.
    pub monotonic_ns: u64,
    /// A `poll_oneoff` sleep interrupted for this checkpoint.
    pub pending_sleep: Option<PendingSleep>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct PreopenState {
    /// Name the guest sees (`fd_prestat_dir_name`); used to match on restore.
    pub guest: String,
    /// Host directory at capture time, for information and messages only.
    pub host: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct FdState {
    pub fd: u32,
    pub kind: FdKind,
    /// Index into [`WasiState::preopens`] (directories and files).
    pub preopen: Option<u32>,
    /// Path below the preopen root, `/`-separated, empty for the root itself.
    pub path: String,
    /// `path_open` oflags (informational; never replayed).
    pub oflags: u16,
    pub rights_base: u64,
    pub rights_inheriting: u64,
    /// Current fdflags (`APPEND`, `NONBLOCK`).
    pub fdflags: u16,
    pub read: bool,
    pub write: bool,
    /// File position (files; stdin when it is a regular file).
    pub offset: u64,
    /// Size at capture of a writable regular file, or of stdout/stderr when
    /// they are regular files: restore truncates anything beyond it.
    pub size: Option<u64>,
}

/// A `poll_oneoff` call suspended by the interrupt flag (see `poll`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct PendingSleep {
    /// The call's arguments: subscriptions, events, count, result pointer.
    pub subscriptions: u32,
    pub events: u32,
    pub nsubscriptions: u32,
    pub result: u32,
    /// FNV-1a digest of the subscription bytes.
    pub digest: u64,
    /// Nanoseconds still to sleep.
    pub remaining_ns: u64,
    /// Indices of the subscriptions to report once the sleep is over.
    pub ready: Vec<u32>,
}

fn stdio_fd(kind: FdKind) -> Option<i32> {
    match kind {
        FdKind::Stdin => Some(0),
        FdKind::Stdout => Some(1),
        FdKind::Stderr => Some(2),
        _ => None,
    }
}

/// Length of a stdio descriptor if it is a regular file.
fn stdio_regular_len(fd: i32) -> std::io::Result<Option<u64>> {
    let f = host_os::stdio_file(fd);
    match f.metadata() {
        Ok(m) if m.is_file() => Ok(Some(m.len())),
        Ok(_) => Ok(None),
        // Closed or unusable stdio: nothing to record.
        Err(_) => Ok(None),
    }
}

/// Sizes of stdout (fd 1) and stderr (fd 2) when they are regular files, as `(fd, size)`.
/// The undo journal records them at a fresh start, to cut them back if the run crashes before
/// its first checkpoint.
pub fn stdio_sizes() -> Vec<(u32, u64)> {
    [1, 2].into_iter().filter_map(|fd| stdio_regular_len(fd).ok().flatten().map(|n| (fd as u32, n))).collect()
}

/// Truncates a regular-file stdout or stderr back to `size` bytes (no-op if it is shorter or
/// not a regular file).
pub fn truncate_stdio(fd: u32, size: u64) -> Result<(), WasiError> {
    let kind = match fd {
        1 => FdKind::Stdout,
        2 => FdKind::Stderr,
        _ => return Ok(()),
    };
    let mut s = FdState {
        fd,
        kind,
        preopen: None,
        path: String::new(),
        oflags: 0,
        rights_base: 0,
        rights_inheriting: 0,
        fdflags: 0,
        read: false,
        write: true,
        offset: 0,
        size: None,
    };
    s.size = Some(size);
    restore_stdio(fd as i32, &s)
}

impl WasiCtx {
    /// Capture the current state (queries live sizes of writable files and
    /// stdio; positions are tracked by the context itself).
    pub fn state(&mut self) -> std::io::Result<WasiState> {
        let mut fds = Vec::with_capacity(self.fds.used.len());
        for (&fd, e) in &self.fds.used {
            let mut offset = e.offset;
            let mut size = None;
            match e.kind {
                FdKind::File => {
                    if e.write {
                        if let Some(f) = &e.file {
                            let meta = f.metadata()?;
                            if meta.is_file() {
                                size = Some(meta.len());
                            }
                        }
                    }
                }
                FdKind::Stdout | FdKind::Stderr => {
                    size = stdio_regular_len(stdio_fd(e.kind).unwrap_or(1))?;
                }
                FdKind::Stdin => {
                    if stdio_regular_len(0)?.is_some() {
                        let f = host_os::stdio_file(0);
                        offset = (&*f).stream_position()?;
                    }
                }
                FdKind::PreopenDir | FdKind::Dir => {}
            }
            fds.push(FdState {
                fd,
                kind: e.kind,
                preopen: e.preopen,
                path: e.rel_string(),
                oflags: e.oflags,
                rights_base: e.rights_base,
                rights_inheriting: e.rights_inheriting,
                fdflags: e.fdflags,
                read: e.read,
                write: e.write,
                offset,
                size,
            });
        }
        Ok(WasiState {
            version: STATE_VERSION,
            args: self.args.clone(),
            env: self.env.clone(),
            preopens: self
                .preopens
                .iter()
                .map(|p| PreopenState { guest: p.guest.clone(), host: p.host.to_string_lossy().into_owned() })
                .collect(),
            fds,
            free_fds: self.fds.free.iter().copied().collect(),
            monotonic_ns: self.clock.monotonic(),
            pending_sleep: self.pending.clone(),
        })
    }

    /// Whether `state` could be restored here: its descriptors reopen beneath the preopens of
    /// `cfg` (matched by guest name), and every file open for writing is at least as long as
    /// when the state was captured. Changes nothing on disk (a migration receiver checks this
    /// before it commits).
    pub fn check_restorable(cfg: &WasiConfig, state: &WasiState) -> Result<(), WasiError> {
        let r = reopen_all(cfg, state)?;
        for s in &state.fds {
            let (Some(size), Some(f)) = (s.size, r.used.get(&s.fd).and_then(|e| e.file.as_ref())) else {
                continue;
            };
            if stdio_fd(s.kind).is_some() || !s.write {
                continue;
            }
            let len =
                f.metadata().map_err(|e| WasiError::io(format!("cannot stat descriptor {}", s.fd), e))?.len();
            if len < size {
                return Err(WasiError::new(format!(
                    "descriptor {} ('{}') is {len} bytes here but was {size} bytes at the source: the \
                     guest's files must be the same here (shared storage, or synced beforehand)",
                    s.fd, s.path
                )));
            }
        }
        Ok(())
    }

    /// The guest paths of the preopens, in order.
    pub fn preopen_guest_paths(&self) -> Vec<String> {
        self.preopens.iter().map(|p| p.guest.clone()).collect()
    }

    /// Rebuild a live context from `state`, taking preopen host directories
    /// from `cfg` (matched by guest name). See the module docs for details.
    ///
    /// Nothing on disk changes unless the whole state is usable: the state is checked first
    /// ([`validate`]), then every descriptor is reopened beneath its preopen (a path that now
    /// leads out of it, e.g. through a symlink the guest made, is an error naming the
    /// descriptor), and only then are grown files truncated back and stdio repositioned.
    pub fn restore(cfg: &WasiConfig, state: &WasiState) -> Result<WasiCtx, WasiError> {
        let Reopened { preopens, used, truncations, stdio } = reopen_all(cfg, state)?;
        // Every descriptor is valid: now cut grown files back (through the handles just
        // opened) and restore stdio.
        for (fd, t) in truncations {
            t.apply(used.get(&fd).and_then(|e: &FdEntry| e.file.as_ref()))?;
        }
        for (fd, s) in stdio {
            restore_stdio(fd, s)?;
        }
        let free: BTreeSet<u32> =
            state.free_fds.iter().copied().filter(|fd| !used.contains_key(fd)).collect();
        // Preopens the checkpoint no longer uses keep a placeholder so that
        // preopen indices stay those of the checkpoint.
        let preopens = preopens
            .into_iter()
            .zip(&state.preopens)
            .map(|(p, s)| {
                p.unwrap_or_else(|| PreopenDir { guest: s.guest.clone(), host: s.host.clone().into() })
            })
            .collect();
        Ok(WasiCtx {
            args: state.args.clone(),
            env: state.env.clone(),
            preopens,
            fds: FdTable { used, free },
            clock: Clock::starting_at(state.monotonic_ns),
            pending: state.pending_sleep.clone(),
            interrupt: None,
            write_open_hook: None,
        })
    }
}

/// Descriptors reopened from a checkpoint's WASI state, nothing on disk changed yet.
struct Reopened<'a> {
    preopens: Vec<Option<PreopenDir>>,
    used: std::collections::BTreeMap<u32, FdEntry>,
    truncations: Vec<(u32, Truncation)>,
    stdio: Vec<(i32, &'a FdState)>,
}

/// Checks `state` ([`validate`]), matches its preopens with `cfg` and reopens every descriptor
/// beneath its preopen; changes nothing on disk.
fn reopen_all<'a>(cfg: &WasiConfig, state: &'a WasiState) -> Result<Reopened<'a>, WasiError> {
    if state.version != STATE_VERSION {
        return Err(WasiError::new(format!(
            "checkpoint WASI state has version {}, this chiwawa reads version {}",
            state.version, STATE_VERSION
        )));
    }
    validate(state)?;
    let preopens = match_preopens(cfg, state)?;
    // The root of every preopen a descriptor needs, opened once: descriptors are reopened
    // relative to it, never by a host path.
    let mut roots: Vec<Option<File>> = Vec::with_capacity(preopens.len());
    for (i, p) in preopens.iter().enumerate() {
        let needed = state.fds.iter().any(|f| f.preopen == Some(i as u32));
        roots.push(match p {
            Some(p) if needed => Some(File::open(&p.host).map_err(|err| {
                WasiError::io(format!("cannot open preopen '{}' (host '{}')", p.guest, p.host.display()), err)
            })?),
            _ => None,
        });
    }
    // Reopen everything; no change on disk yet.
    let mut used = std::collections::BTreeMap::new();
    let mut truncations = Vec::new();
    let mut stdio = Vec::new();
    let mut stdio_done = BTreeSet::new();
    for s in &state.fds {
        let e = match stdio_fd(s.kind) {
            Some(fd) => {
                if stdio_done.insert(fd) {
                    stdio.push((fd, s));
                }
                restored_entry(s)
            }
            None => {
                let (e, truncate) = reopen_fd(s, &preopens, &roots)?;
                truncations.extend(truncate.map(|t| (s.fd, t)));
                e
            }
        };
        if used.insert(s.fd, e).is_some() {
            return Err(WasiError::refused(format!("checkpoint lists descriptor {} twice", s.fd)));
        }
    }
    Ok(Reopened { preopens, used, truncations, stdio })
}

/// Why a descriptor path from a checkpoint is not a plain relative path of names, if it is not.
/// Captured paths are always `name/name/...` (the symlink-free names the sandboxed walk
/// descended through), so anything else was not written by chiwawa.
fn bad_path(path: &str) -> Option<&'static str> {
    if path.contains('\0') {
        return Some("it contains a NUL byte");
    }
    if path.starts_with('/') {
        return Some("it is absolute");
    }
    if path.is_empty() {
        return None;
    }
    for c in path.split('/') {
        match c {
            "" => return Some("it has an empty component"),
            "." => return Some("it has a '.' component"),
            ".." => return Some("it has a '..' component (it could lead outside its preopen)"),
            _ => {}
        }
    }
    None
}

/// Checks a checkpoint's WASI state before anything is opened: descriptor numbers unique,
/// preopen indices in range, preopen names and descriptor paths well formed, each kind with the
/// fields it needs (stdio: no preopen, no path; preopen roots: no path; files: a path),
/// positions and sizes that fit a file offset.
pub fn validate(state: &WasiState) -> Result<(), WasiError> {
    for (i, p) in state.preopens.iter().enumerate() {
        if p.guest.contains('\0') || p.host.contains('\0') {
            return Err(WasiError::refused(format!(
                "checkpoint preopen #{i} ({:?}) has a NUL byte in its name",
                p.guest
            )));
        }
    }
    let mut seen = BTreeSet::new();
    for s in &state.fds {
        let bad =
            |why: String| WasiError::refused(format!("checkpoint descriptor {} ({:?}): {why}", s.fd, s.kind));
        if !seen.insert(s.fd) {
            return Err(WasiError::refused(format!("checkpoint lists descriptor {} twice", s.fd)));
        }
        if let Some(why) = bad_path(&s.path) {
            return Err(bad(format!("bad path {:?}: {why}", s.path)));
        }
        if s.offset > i64::MAX as u64 {
            return Err(bad(format!("position {} is beyond any file", s.offset)));
        }
        if s.size.is_some_and(|n| n > i64::MAX as u64) {
            return Err(bad(format!("size {} is beyond any file", s.size.unwrap_or(0))));
        }
        match s.kind {
            FdKind::Stdin | FdKind::Stdout | FdKind::Stderr => {
                if s.preopen.is_some() || !s.path.is_empty() {
                    return Err(bad("stdio with a preopen or a path".into()));
                }
                if s.kind == FdKind::Stdin && s.size.is_some() {
                    return Err(bad("stdin with a size to truncate to".into()));
                }
            }
            FdKind::PreopenDir | FdKind::Dir | FdKind::File => {
                let idx = s.preopen.ok_or_else(|| bad("no preopen".into()))?;
                let p = state
                    .preopens
                    .get(idx as usize)
                    .ok_or_else(|| bad(format!("refers to unknown preopen #{idx}")))?;
                if s.kind == FdKind::PreopenDir && !s.path.is_empty() {
                    return Err(bad(format!("a preopen root ('{}') with a path {:?}", p.guest, s.path)));
                }
                if s.kind == FdKind::File && s.path.is_empty() {
                    return Err(bad(format!("a file without a path below preopen '{}'", p.guest)));
                }
                if s.kind != FdKind::File && s.size.is_some() {
                    return Err(bad("a directory with a size to truncate to".into()));
                }
            }
        }
    }
    Ok(())
}

/// For each checkpoint preopen still referenced by a descriptor, the
/// configuration's preopen with the same guest name (same occurrence).
fn match_preopens(cfg: &WasiConfig, state: &WasiState) -> Result<Vec<Option<PreopenDir>>, WasiError> {
    let used: BTreeSet<u32> = state.fds.iter().filter_map(|f| f.preopen).collect();
    let mut out = Vec::with_capacity(state.preopens.len());
    for (i, p) in state.preopens.iter().enumerate() {
        let nth = state.preopens[..i].iter().filter(|q| q.guest == p.guest).count();
        let found = cfg.preopens.iter().filter(|q| q.guest == p.guest).nth(nth);
        match found {
            Some(q) => out.push(Some(PreopenDir { guest: q.guest.clone(), host: q.host.clone() })),
            None if used.contains(&(i as u32)) => {
                return Err(WasiError::new(format!(
                    "the checkpoint needs preopened directory '{}' (was host '{}'), \
                     but it is not in the configuration (add --dir HOST::{})",
                    p.guest, p.host, p.guest
                )))
            }
            None => out.push(None),
        }
    }
    Ok(out)
}

/// The descriptor fields of `s`, without a handle.
fn restored_entry(s: &FdState) -> FdEntry {
    let mut e = FdEntry::stdio(s.kind);
    e.oflags = s.oflags;
    e.rights_base = s.rights_base;
    e.rights_inheriting = s.rights_inheriting;
    e.fdflags = s.fdflags;
    e.read = s.read;
    e.write = s.write;
    e.offset = s.offset;
    e
}

/// A grown file to cut back once every descriptor is known to be valid.
/// A grown file to cut back, through the descriptor reopened for it (no second handle: a
/// `dup` is not available on every host, WASI preview 1 among them).
struct Truncation {
    size: u64,
    from: u64,
    what: String,
}

impl Truncation {
    fn apply(self, file: Option<&File>) -> Result<(), WasiError> {
        log::info!("restore: truncating {} from {} back to {} bytes", self.what, self.from, self.size);
        let file = file.ok_or_else(|| WasiError::new(format!("{}: no handle to truncate", self.what)))?;
        file.set_len(self.size).map_err(|err| WasiError::io(format!("{}: truncate failed", self.what), err))
    }
}

/// Reopens a file or directory descriptor beneath its preopen (`roots[idx]`, the preopen's open
/// directory), with the recorded mode and never creating or truncating anything; returns the
/// truncation to do if it is a writable file that grew.
fn reopen_fd(
    s: &FdState,
    preopens: &[Option<PreopenDir>],
    roots: &[Option<File>],
) -> Result<(FdEntry, Option<Truncation>), WasiError> {
    let mut e = restored_entry(s);
    let idx = s
        .preopen
        .ok_or_else(|| WasiError::refused(format!("checkpoint descriptor {} has no preopen", s.fd)))?;
    let (p, root) = match (preopens.get(idx as usize), roots.get(idx as usize)) {
        (Some(Some(p)), Some(Some(root))) => (p, root),
        _ => {
            return Err(WasiError::refused(format!(
                "checkpoint descriptor {} refers to unknown preopen #{idx}",
                s.fd
            )))
        }
    };
    let rel = rel_from_string(&s.path);
    let host = super::path::host_path(&p.host, &rel);
    let guest = if s.path.is_empty() {
        p.guest.clone()
    } else {
        format!("{}/{}", p.guest.trim_end_matches('/'), s.path)
    };
    let what =
        |e: &str| format!("cannot restore descriptor {} ('{}', host '{}'): {e}", s.fd, guest, host.display());
    let dir = DirRef { file: root, host: &p.host };
    e.preopen = Some(idx);
    e.rel = rel;
    let is_dir = matches!(s.kind, FdKind::PreopenDir | FdKind::Dir);
    let how = if is_dir {
        OpenHow { read: true, directory: true, ..OpenHow::default() }
    } else {
        OpenHow { read: s.read || !s.write, write: s.write, ..OpenHow::default() }
    };
    let f = open_beneath(dir, &s.path, how).map_err(|err| {
        if is_escape(&err) {
            return WasiError::refused(what(
                "refusing to reopen it: its path now leads outside the preopened directory \
                 (through a symlink or '..'); nothing was changed on disk",
            ));
        }
        let m = if err.kind() == std::io::ErrorKind::NotFound {
            if is_dir {
                "gone"
            } else {
                "the file was deleted or moved"
            }
        } else if is_dir && err.kind() == std::io::ErrorKind::NotADirectory {
            "no longer a directory"
        } else {
            "reopen failed"
        };
        WasiError::io(what(m), err)
    })?;
    let meta = f.metadata().map_err(|err| WasiError::io(what("stat failed"), err))?;
    if is_dir && !meta.is_dir() {
        return Err(WasiError::new(what("no longer a directory")));
    }
    let mut truncation = None;
    if let (true, Some(size)) = (s.write && meta.is_file(), s.size) {
        if meta.len() > size {
            truncation = Some(Truncation { size, from: meta.len(), what: format!("'{}'", host.display()) });
        } else if meta.len() < size {
            log::warn!(
                "restore: '{}' is shorter ({} bytes) than at the checkpoint ({} bytes)",
                host.display(),
                meta.len(),
                size
            );
        }
    }
    e.file = Some(f);
    Ok((e, truncation))
}

/// Truncate a regular-file stdout/stderr that grew; reposition a
/// regular-file stdin.
fn restore_stdio(fd: i32, s: &FdState) -> Result<(), WasiError> {
    let f = host_os::stdio_file(fd);
    let Ok(meta) = f.metadata() else {
        return Ok(());
    };
    let name = ["stdin", "stdout", "stderr"][fd as usize];
    if !meta.is_file() {
        if let (Some(size), 1 | 2) = (s.size, fd) {
            // E.g. Wasmtime shows chiwawa.wasm a redirected stdout as a stream, not a file.
            log::warn!(
                "{name} was a regular file of {size} bytes at the checkpoint, but is not one now \
                 (or this host does not say so): output after the checkpoint may appear twice"
            );
        }
        return Ok(());
    }
    let err = |e| WasiError::io(format!("cannot restore {name}"), e);
    if fd == 0 {
        (&*f).seek(SeekFrom::Start(s.offset)).map_err(err)?;
    } else if let Some(size) = s.size {
        if meta.len() > size {
            log::info!("restore: truncating {name} from {} back to {size} bytes", meta.len());
            f.set_len(size).map_err(err)?;
            (&*f).seek(SeekFrom::End(0)).map_err(err)?;
        }
    }
    Ok(())
}
