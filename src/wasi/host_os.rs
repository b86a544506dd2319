//! **The only platform-specific file of `crate::wasi`.**
//!
//! Everything that differs between a native Unix host (`#[cfg(unix)]`) and
//! chiwawa itself running as a `wasm32-wasip1` program (`#[cfg(target_os =
//! "wasi")]`, where `std::fs` calls go to the *host's* WASI) lives here:
//!
//! * mapping `io::Error` to a WASI errno (Linux errno numbers vs. WASI errnos,
//!   which is what `raw_os_error` holds under wasip1),
//! * device/inode/link-count numbers of files,
//! * symlink creation (unstable in `std::os::wasi` → raw host import) and
//!   setting a symlink's own times (`utimensat` on Linux, raw import on wasi),
//! * positional reads and writes (`FileExt` is unstable on wasi → seek + I/O),
//! * borrowing the process's stdio descriptors as `std::fs::File`,
//! * random bytes (`/dev/urandom` vs. the host's `random_get`),
//! * classifying special file types (block/char devices, sockets).
//!
//! Only `std` is used; the wasi arm declares the few host imports it needs.

use super::abi::{filetype, Errno};
use std::fs::{File, FileType, Metadata};
use std::io;
use std::mem::ManuallyDrop;
use std::path::Path;

// ---------------------------------------------------------------- errno mapping

/// Map a host I/O error to the WASI errno Wasmtime would report.
///
/// Wasmtime maps a fixed list of raw OS errors and falls back on the error
/// kind for the rest (NotFound → NOENT, PermissionDenied → PERM,
/// AlreadyExists → EXIST, InvalidInput → INVAL, anything else → IO).
pub fn errno_from_io(e: &io::Error) -> Errno {
    if let Some(errno) = e.raw_os_error().and_then(errno_from_raw) {
        return errno;
    }
    match e.kind() {
        io::ErrorKind::NotFound => Errno::NOENT,
        io::ErrorKind::PermissionDenied => Errno::PERM,
        io::ErrorKind::AlreadyExists => Errno::EXIST,
        io::ErrorKind::InvalidInput => Errno::INVAL,
        _ => kind_extra(e.kind()).unwrap_or(Errno::IO),
    }
}

/// Linux errno numbers (asm-generic, as on x86_64/aarch64/riscv) → WASI,
/// exactly the list Wasmtime's `from_raw_os_error` maps.
#[cfg(target_os = "linux")]
fn errno_from_raw(raw: i32) -> Option<Errno> {
    Some(match raw {
        32 => Errno::PIPE,
        1 => Errno::PERM,
        2 => Errno::NOENT,
        12 => Errno::NOMEM,
        5 => Errno::IO,
        9 => Errno::BADF,
        16 => Errno::BUSY,
        13 => Errno::ACCES,
        20 => Errno::NOTDIR,
        21 => Errno::ISDIR,
        22 => Errno::INVAL,
        17 => Errno::EXIST,
        27 => Errno::FBIG,
        28 => Errno::NOSPC,
        29 => Errno::SPIPE,
        31 => Errno::MLINK,
        36 => Errno::NAMETOOLONG,
        39 => Errno::NOTEMPTY,
        40 => Errno::LOOP,
        75 => Errno::OVERFLOW,
        84 => Errno::ILSEQ,
        95 => Errno::NOTSUP,
        114 => Errno::ALREADY,
        115 => Errno::INPROGRESS,
        4 => Errno::INTR,
        _ => return None,
    })
}

/// Other Unix hosts: errno numbers differ per OS, so rely on the error kind.
#[cfg(all(unix, not(target_os = "linux")))]
fn errno_from_raw(_raw: i32) -> Option<Errno> {
    None
}

/// Under wasip1 the raw OS error *is* the host's WASI errno.
#[cfg(target_os = "wasi")]
fn errno_from_raw(raw: i32) -> Option<Errno> {
    match u16::try_from(raw) {
        Ok(v) if (1..=76).contains(&v) => Some(Errno(v)),
        _ => None,
    }
}

/// Finer kind mapping for hosts without a raw errno table.
#[cfg(not(target_os = "linux"))]
fn kind_extra(kind: io::ErrorKind) -> Option<Errno> {
    use io::ErrorKind as K;
    Some(match kind {
        K::NotADirectory => Errno::NOTDIR,
        K::IsADirectory => Errno::ISDIR,
        K::DirectoryNotEmpty => Errno::NOTEMPTY,
        K::FileTooLarge => Errno::FBIG,
        K::ResourceBusy => Errno::BUSY,
        K::StorageFull => Errno::NOSPC,
        K::NotSeekable => Errno::SPIPE,
        K::TooManyLinks => Errno::MLINK,
        K::InvalidFilename => Errno::NAMETOOLONG,
        K::BrokenPipe => Errno::PIPE,
        K::Interrupted => Errno::INTR,
        K::OutOfMemory => Errno::NOMEM,
        K::Unsupported => Errno::NOTSUP,
        _ => return None,
    })
}

#[cfg(target_os = "linux")]
fn kind_extra(_kind: io::ErrorKind) -> Option<Errno> {
    None
}

// ---------------------------------------------------------------- file identity

/// Device, inode and link count of a file as the host reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostIds {
    pub dev: u64,
    pub ino: u64,
    pub nlink: u64,
}

/// Fallback identity when the host cannot tell: a hash of the path, so that
/// distinct paths still get distinct inode numbers.
#[cfg_attr(unix, allow(dead_code))]
fn ids_from_path(path: &Path) -> HostIds {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    path.hash(&mut h);
    HostIds { dev: 0, ino: h.finish(), nlink: 1 }
}

#[cfg(unix)]
fn ids_from_meta(meta: &Metadata) -> HostIds {
    use std::os::unix::fs::MetadataExt;
    HostIds { dev: meta.dev(), ino: meta.ino(), nlink: meta.nlink() }
}

/// Identity of an open file (`meta` is `file.metadata()`, `path` its host path).
#[cfg(unix)]
pub fn ids_of_file(_file: &File, meta: &Metadata, _path: &Path) -> HostIds {
    ids_from_meta(meta)
}

/// Identity of `parent/name` (`meta` is its (l)stat, per `follow`).
#[cfg(unix)]
pub fn ids_at(_parent: &Path, _name: &str, _follow: bool, meta: &Metadata) -> HostIds {
    ids_from_meta(meta)
}

#[cfg(target_os = "wasi")]
mod raw {
    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    extern "C" {
        pub fn fd_filestat_get(fd: i32, buf: *mut u8) -> i32;
        pub fn path_filestat_get(fd: i32, flags: i32, path: *const u8, path_len: usize, buf: *mut u8) -> i32;
        pub fn path_symlink(
            old_path: *const u8,
            old_path_len: usize,
            fd: i32,
            new_path: *const u8,
            new_path_len: usize,
        ) -> i32;
        pub fn path_filestat_set_times(
            fd: i32,
            flags: i32,
            path: *const u8,
            path_len: usize,
            atim: i64,
            mtim: i64,
            fst_flags: i32,
        ) -> i32;
    }
}

/// Decode dev/ino/nlink from a raw 64-byte `$filestat`.
#[cfg(target_os = "wasi")]
fn ids_from_filestat(buf: &[u64; 8]) -> HostIds {
    HostIds { dev: buf[0], ino: buf[1], nlink: buf[3] }
}

#[cfg(target_os = "wasi")]
pub fn ids_of_file(file: &File, _meta: &Metadata, path: &Path) -> HostIds {
    use std::os::fd::AsRawFd;
    let mut buf = [0u64; 8];
    // SAFETY: `buf` is 64 writable, 8-aligned bytes, the size of `$filestat`.
    let rc = unsafe { raw::fd_filestat_get(file.as_raw_fd(), buf.as_mut_ptr().cast()) };
    if rc == 0 {
        ids_from_filestat(&buf)
    } else {
        ids_from_path(path)
    }
}

#[cfg(target_os = "wasi")]
pub fn ids_at(parent: &Path, name: &str, follow: bool, _meta: &Metadata) -> HostIds {
    use std::os::fd::AsRawFd;
    let fallback = || ids_from_path(&parent.join(name));
    let Ok(dir) = File::open(parent) else {
        return fallback();
    };
    let mut buf = [0u64; 8];
    // SAFETY: `name` is a valid byte slice and `buf` is 64 writable, 8-aligned bytes.
    let rc = unsafe {
        raw::path_filestat_get(
            dir.as_raw_fd(),
            i32::from(follow),
            name.as_ptr(),
            name.len(),
            buf.as_mut_ptr().cast(),
        )
    };
    if rc == 0 {
        ids_from_filestat(&buf)
    } else {
        fallback()
    }
}

// ---------------------------------------------------------------- file types

/// The WASI filetype of anything that is not a directory, regular file or
/// symlink (those are classified portably by the caller).
#[cfg(unix)]
pub fn filetype_other(ft: &FileType) -> u8 {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_block_device() {
        filetype::BLOCK_DEVICE
    } else if ft.is_char_device() {
        filetype::CHARACTER_DEVICE
    } else if ft.is_socket() {
        filetype::SOCKET_STREAM
    } else {
        // FIFOs: preview1 has no code for them; Wasmtime reports unknown.
        filetype::UNKNOWN
    }
}

#[cfg(target_os = "wasi")]
pub fn filetype_other(_ft: &FileType) -> u8 {
    filetype::UNKNOWN
}

// ---------------------------------------------------------------- symlinks

/// Create a symlink `parent/name` whose content is `target` (not interpreted).
#[cfg(unix)]
pub fn symlink(target: &str, parent: &Path, name: &str) -> io::Result<()> {
    std::os::unix::fs::symlink(target, parent.join(name))
}

#[cfg(target_os = "wasi")]
pub fn symlink(target: &str, parent: &Path, name: &str) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let dir = File::open(parent)?;
    // SAFETY: both strings are valid byte slices for the duration of the call.
    let rc = unsafe {
        raw::path_symlink(target.as_ptr(), target.len(), dir.as_raw_fd(), name.as_ptr(), name.len())
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

// ---------------------------------------------------------------- symlink times

/// Set the access/modification times of the symlink `parent/name` itself
/// (`None` leaves one unchanged). `ErrorKind::Unsupported` where impossible.
///
/// Linux: `utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW)` from the C
/// library `std` already links (no crate involved); the constants and the
/// `timespec` layout are those of 64-bit Linux.
#[cfg(unix)]
pub fn set_symlink_times(
    parent: &Path,
    name: &str,
    atime: Option<std::time::SystemTime>,
    mtime: Option<std::time::SystemTime>,
) -> io::Result<()> {
    use rustix::fs::{utimensat, AtFlags, Timespec, Timestamps, CWD, UTIME_OMIT};
    let ts = |t: Option<std::time::SystemTime>| match t {
        None => Timespec { tv_sec: 0, tv_nsec: UTIME_OMIT },
        Some(t) => {
            let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            Timespec {
                tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: d.subsec_nanos().into(),
            }
        }
    };
    let times = Timestamps { last_access: ts(atime), last_modification: ts(mtime) };
    utimensat(CWD, parent.join(name), &times, AtFlags::SYMLINK_NOFOLLOW).map_err(io::Error::from)
}

#[cfg(target_os = "wasi")]
pub fn set_symlink_times(
    parent: &Path,
    name: &str,
    atime: Option<std::time::SystemTime>,
    mtime: Option<std::time::SystemTime>,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let ns = |t: Option<std::time::SystemTime>| {
        t.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    };
    // fstflags: ATIM = 1, MTIM = 4.
    let flags = if atime.is_some() { 1 } else { 0 } | if mtime.is_some() { 4 } else { 0 };
    let dir = File::open(parent)?;
    // SAFETY: `name` is a valid byte slice for the duration of the call.
    let rc = unsafe {
        raw::path_filestat_set_times(
            dir.as_raw_fd(),
            0,
            name.as_ptr(),
            name.len(),
            ns(atime) as i64,
            ns(mtime) as i64,
            flags,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

// ---------------------------------------------------------------- positional I/O

/// Read at `pos` without using (unix) or caring about (wasi) the OS cursor.
#[cfg(unix)]
pub fn read_at(file: &File, buf: &mut [u8], pos: u64) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    loop {
        match file.read_at(buf, pos) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

#[cfg(unix)]
pub fn write_at(file: &File, buf: &[u8], pos: u64) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    loop {
        match file.write_at(buf, pos) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

#[cfg(target_os = "wasi")]
pub fn read_at(mut file: &File, buf: &mut [u8], pos: u64) -> io::Result<usize> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(pos))?;
    file.read(buf)
}

#[cfg(target_os = "wasi")]
pub fn write_at(mut file: &File, buf: &[u8], pos: u64) -> io::Result<usize> {
    use std::io::{Seek, SeekFrom, Write};
    file.seek(SeekFrom::Start(pos))?;
    file.write(buf)
}

/// Append `buf` at the current end of file (the file is never opened with
/// `O_APPEND`, so the APPEND fdflag can be toggled at any time).
pub fn append(mut file: &File, buf: &[u8]) -> io::Result<usize> {
    use std::io::{Seek, SeekFrom, Write};
    file.seek(SeekFrom::End(0))?;
    loop {
        match file.write(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

// ---------------------------------------------------------------- stdio

/// The process's descriptor `fd` (0, 1 or 2) as a `File` that is never closed.
pub fn stdio_file(fd: i32) -> ManuallyDrop<File> {
    use std::os::fd::FromRawFd;
    debug_assert!((0..=2).contains(&fd), "not a standard descriptor: {fd}");
    // SAFETY: 0, 1 and 2 belong to the process for its whole life; the
    // `ManuallyDrop` guarantees we never close them. If one is not open, the
    // I/O calls on it fail with EBADF, which is reported to the guest.
    ManuallyDrop::new(unsafe { File::from_raw_fd(fd) })
}

/// Waits up to `timeout_ms` for the host's stdin to be readable (data or end of file): `true`
/// when a read would not block. Hosts without `poll` say `true` at once (the read blocks).
#[cfg(unix)]
pub fn stdin_ready(timeout_ms: i32) -> bool {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let stdin = stdio_file(0);
    let mut fds = [PollFd::new(&*stdin, PollFlags::IN)];
    let timeout = Timespec { tv_sec: 0, tv_nsec: i64::from(timeout_ms) * 1_000_000 };
    match poll(&mut fds, Some(&timeout)) {
        Ok(0) => false,
        // Readable, hung up, or an error on the descriptor: the read itself will tell.
        Ok(_) => true,
        Err(rustix::io::Errno::INTR) => false,
        Err(_) => true,
    }
}

#[cfg(not(unix))]
pub fn stdin_ready(_timeout_ms: i32) -> bool {
    true
}

// ---------------------------------------------------------------- randomness

/// The host's secure random source (`getrandom`: getrandom(2) natively, `random_get` under
/// WASI).
pub fn random_fill(buf: &mut [u8]) -> io::Result<()> {
    getrandom::fill(buf).map_err(|e| io::Error::other(e.to_string()))
}

// ---------------------------------------------------------------- confined opens

/// A directory that host-side opens must stay beneath: its open handle (what the Unix
/// implementation resolves from) and its host path (what the `wasm32-wasip1` one resolves
/// from, with [`path::walk`](super::path::walk), under the host's own WASI sandbox).
#[derive(Clone, Copy, Debug)]
pub struct DirRef<'a> {
    #[cfg_attr(target_os = "wasi", allow(dead_code))]
    pub file: &'a File,
    #[cfg_attr(unix, allow(dead_code))]
    pub host: &'a Path,
}

/// How [`open_beneath`] opens its target (never `O_CREAT` unless asked).
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenHow {
    pub read: bool,
    pub write: bool,
    pub create: bool,
    pub create_new: bool,
    pub truncate: bool,
    /// The target must be a directory (`O_DIRECTORY`).
    pub directory: bool,
    /// The path was just verified symlink-free by the sandboxed walk: any symlink met now was
    /// put there since (a race) and fails the open with `ELOOP` instead of being followed.
    pub no_symlinks: bool,
}

/// The error of an open whose path leads outside the directory it must stay beneath.
#[derive(Debug)]
struct Escape;

impl std::fmt::Display for Escape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "the path leads outside its preopened directory (through '..', an absolute path or a symlink)",
        )
    }
}

impl std::error::Error for Escape {}

fn escape() -> io::Error {
    // PermissionDenied: a guest sees it as PERM, as for an escape found by `path::walk`.
    io::Error::new(io::ErrorKind::PermissionDenied, Escape)
}

/// Whether `e` is the error of an open that would have left its directory.
pub fn is_escape(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<Escape>())
}

/// Opens `rel` (`/`-separated, relative) beneath `dir`, resolving it the way a guest's
/// `path_open` does: `..` never above `dir`, absolute paths and symlinks that lead out refused
/// (an [`is_escape`] error), symlinks inside followed (the last one too).
///
/// On Linux this is one `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)` from `dir`'s handle,
/// so there is no window between the check and the use; where `openat2` does not exist (Linux
/// before 5.6, seccomp filters that refuse it, other Unix systems) a walk from the handle, one
/// `openat(O_NOFOLLOW)` per component, symlinks read and resolved by the same rules.
#[cfg(unix)]
pub fn open_beneath(dir: DirRef<'_>, rel: &str, how: OpenHow) -> io::Result<File> {
    if rel.starts_with('/') {
        return Err(escape());
    }
    if rel.contains('\0') {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "the path contains a NUL byte"));
    }
    #[cfg(target_os = "linux")]
    if openat2_available() {
        return openat2_beneath(dir.file, rel, how);
    }
    walk_beneath(dir.file, rel, how)
}

/// `wasm32-wasip1`: resolve with the sandboxed walk, then open the host path (the host's own
/// WASI sandbox confines it further).
#[cfg(target_os = "wasi")]
pub fn open_beneath(dir: DirRef<'_>, rel: &str, how: OpenHow) -> io::Result<File> {
    use super::path::{host_path, walk, Last};
    let to_io = |e: Errno| if e == Errno::PERM { escape() } else { io::Error::from_raw_os_error(e.0 as i32) };
    let rel = if rel.is_empty() { "." } else { rel };
    let w = walk(dir.host, rel, !how.no_symlinks).map_err(to_io)?;
    let parent = host_path(dir.host, &w.stack);
    let target = match &w.last {
        None => parent,
        Some(Last { meta: Some(m), .. }) if m.file_type().is_symlink() => return Err(to_io(Errno::LOOP)),
        Some(Last { meta: None, .. }) if w.dir_required || !(how.create || how.create_new) => {
            return Err(to_io(Errno::NOENT))
        }
        Some(Last { name, .. }) => parent.join(name),
    };
    let f = open_options(how).open(&target)?;
    if (how.directory || w.dir_required) && !f.metadata()?.is_dir() {
        return Err(to_io(Errno::NOTDIR));
    }
    Ok(f)
}

/// The final open of the guest's `path_open`, once [`path::walk`](super::path::walk) verified
/// `rel` (plain names, symlink-free) below `dir` and found `target` (`dir.host` + `rel`).
///
/// Unix: [`open_beneath`] from `dir`'s handle with `no_symlinks`, so a directory or symlink
/// swapped in by another host process since the walk cannot lead the open anywhere else (the
/// time-of-check-to-time-of-use window of `path.rs`). `wasm32-wasip1`: the host path.
#[cfg(unix)]
pub fn open_resolved(dir: DirRef<'_>, rel: &str, _target: &Path, how: OpenHow) -> io::Result<File> {
    open_beneath(dir, rel, OpenHow { no_symlinks: true, ..how })
}

#[cfg(target_os = "wasi")]
pub fn open_resolved(_dir: DirRef<'_>, _rel: &str, target: &Path, how: OpenHow) -> io::Result<File> {
    open_options(how).open(target)
}

#[cfg(target_os = "wasi")]
fn open_options(how: OpenHow) -> std::fs::OpenOptions {
    let mut o = std::fs::OpenOptions::new();
    o.read(how.read || !how.write).write(how.write).create(how.create).truncate(how.truncate);
    if how.create_new {
        o.create_new(true);
    }
    o
}

/// Removes the file (or symlink: never followed) `rel` beneath `dir`; its parent directory is
/// resolved by [`open_beneath`], the name removed relative to that handle (`unlinkat`).
pub fn unlink_beneath(dir: DirRef<'_>, rel: &str) -> io::Result<()> {
    let (parent, name) = match rel.rsplit_once('/') {
        Some((p, n)) => (p, n),
        None => ("", rel),
    };
    if name.is_empty() || name == "." || name == ".." {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a file name"));
    }
    let how = OpenHow { directory: true, read: true, ..OpenHow::default() };
    let parent_dir = open_beneath(dir, parent, how)?;
    #[cfg(unix)]
    {
        rustix::fs::unlinkat(&parent_dir, name, rustix::fs::AtFlags::empty())?;
        Ok(())
    }
    #[cfg(target_os = "wasi")]
    {
        drop(parent_dir);
        let w = super::path::walk_dir(dir.host, if parent.is_empty() { "." } else { parent })
            .map_err(|e| io::Error::from_raw_os_error(e.0 as i32))?;
        std::fs::remove_file(super::path::host_path(dir.host, &w).join(name))
    }
}

#[cfg(unix)]
fn oflags(how: OpenHow) -> rustix::fs::OFlags {
    use rustix::fs::OFlags;
    let mut f = OFlags::CLOEXEC | OFlags::NOCTTY;
    f |= match (how.read || !how.write, how.write) {
        (true, true) => OFlags::RDWR,
        (false, true) => OFlags::WRONLY,
        _ => OFlags::RDONLY,
    };
    if how.create || how.create_new {
        f |= OFlags::CREATE;
    }
    if how.create_new {
        f |= OFlags::EXCL;
    }
    if how.truncate {
        f |= OFlags::TRUNC;
    }
    if how.directory {
        f |= OFlags::DIRECTORY;
    }
    f
}

/// Whether this kernel lets us call `openat2` (asked once: `ENOSYS` before Linux 5.6, `EPERM`
/// or `ENOSYS` under seccomp filters that predate it).
#[cfg(target_os = "linux")]
fn openat2_available() -> bool {
    use rustix::fs::{openat2, Mode, OFlags, ResolveFlags, CWD};
    use rustix::io::Errno as E;
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let probe = openat2(CWD, "/", OFlags::PATH | OFlags::CLOEXEC, Mode::empty(), ResolveFlags::empty());
        !matches!(probe, Err(E::NOSYS) | Err(E::PERM))
    })
}

#[cfg(target_os = "linux")]
fn openat2_beneath(dir: &File, rel: &str, how: OpenHow) -> io::Result<File> {
    use rustix::fs::{openat2, Mode, ResolveFlags};
    use rustix::io::Errno as E;
    let mut resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    if how.no_symlinks {
        resolve |= ResolveFlags::NO_SYMLINKS;
    }
    let path = if rel.is_empty() { "." } else { rel };
    // openat2 refuses a mode without O_CREAT.
    let mode = if how.create || how.create_new { Mode::from_bits_truncate(0o666) } else { Mode::empty() };
    // EAGAIN: a rename raced with a `..` lookup; the kernel asks to retry.
    for _ in 0..16 {
        match openat2(dir, path, oflags(how), mode, resolve) {
            Ok(fd) => return Ok(File::from(fd)),
            Err(E::XDEV) => return Err(escape()),
            Err(E::AGAIN) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    walk_beneath(dir, rel, how)
}

/// The portable fallback of [`open_beneath`]: one component at a time from `dir`'s handle, every
/// `openat` with `O_NOFOLLOW` (intermediate directories with `O_DIRECTORY`), a symlink met on the
/// way read with `readlinkat` and its target resolved by [`path::walk`](super::path::walk)'s
/// rules (absolute or climbing above `dir` → escape; `..` pops the handle stack).
#[cfg(unix)]
pub(crate) fn walk_beneath(dir: &File, rel: &str, how: OpenHow) -> io::Result<File> {
    use super::path::{push_components, Comp, MAX_SYMLINKS};
    use rustix::fs::{openat, readlinkat, Mode, OFlags};
    use rustix::io::Errno as E;
    use std::os::fd::{AsFd, OwnedFd};

    #[cfg(target_os = "linux")]
    let dir_flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    #[cfg(not(target_os = "linux"))]
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mode = Mode::from_bits_truncate(0o666);
    let last_flags = oflags(how) | OFlags::NOFOLLOW;

    // Handles of the directories below `dir` on the current path.
    let mut stack: Vec<OwnedFd> = Vec::new();
    let mut work = Vec::new();
    push_components(&mut work, rel);
    let mut dir_required = rel.ends_with('/');
    let mut expansions = 0u32;
    let symlink_target = |cur: &dyn AsFd, name: &str, err: E| -> io::Result<String> {
        if how.no_symlinks {
            return Err(err.into());
        }
        match readlinkat(cur.as_fd(), name, Vec::new()) {
            Ok(t) => t.into_string().map_err(|_| io::Error::from(E::ILSEQ)),
            // Not a symlink after all: the open's own error stands.
            Err(_) => Err(err.into()),
        }
    };
    while let Some(c) = work.pop() {
        let cur: &dyn AsFd = match stack.last() {
            Some(fd) => fd,
            None => dir,
        };
        match c {
            Comp::Root => return Err(escape()),
            Comp::Cur => {}
            Comp::Parent => {
                if stack.pop().is_none() {
                    return Err(escape());
                }
            }
            Comp::Normal(name) => {
                let is_last = work.is_empty();
                let flags = if is_last {
                    if dir_required {
                        last_flags | OFlags::DIRECTORY
                    } else {
                        last_flags
                    }
                } else {
                    dir_flags
                };
                match openat(cur.as_fd(), name.as_str(), flags, mode) {
                    Ok(fd) if is_last => return Ok(File::from(fd)),
                    Ok(fd) => stack.push(fd),
                    // A symlink refused by O_NOFOLLOW (ELOOP; ENOTDIR with O_DIRECTORY on some
                    // systems; EEXIST with O_CREAT|O_EXCL, which must not follow it anyway).
                    Err(e @ (E::LOOP | E::NOTDIR | E::MLINK)) => {
                        let target = symlink_target(cur, &name, e)?;
                        expansions += 1;
                        if expansions > MAX_SYMLINKS {
                            return Err(E::LOOP.into());
                        }
                        if target.is_empty() {
                            return Err(E::NOENT.into());
                        }
                        if is_last && target.ends_with('/') {
                            dir_required = true;
                        }
                        push_components(&mut work, &target);
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    // The path ended in `.` or `..` (or resolved to `dir` itself): open that directory.
    let cur: &dyn AsFd = match stack.last() {
        Some(fd) => fd,
        None => dir,
    };
    let fd = openat(cur.as_fd(), ".", oflags(how) | OFlags::DIRECTORY, mode)?;
    Ok(File::from(fd))
}
