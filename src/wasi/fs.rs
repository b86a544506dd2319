//! `fd_*` and `path_*` calls.
//!
//! Which descriptor kinds each call accepts, and the errno otherwise, follow
//! Wasmtime's preview1 adapter: calls on "a file" answer BADF for directories
//! and stdio, calls on "a directory" answer BADF for files and stdio (except
//! `path_open`, which answers NOTDIR for a file), seeking stdio is SPIPE.
//!
//! `fd_read`/`fd_write`/`fd_pread`/`fd_pwrite` transfer only the first
//! non-empty iovec per call, exactly like Wasmtime (libc loops on short
//! transfers). File positions are kept in the descriptor and positional host
//! I/O is used, so the position is plain checkpoint data.

use super::abi::{
    self, dirent_bytes, fdflags, filetype, fstflags, lookupflags, oflags, rights, size, whence, Errno,
    Fdstat, Filestat, Mem, WResult,
};
use super::fd::{filestat_of, filetype_of, metadata_hash, FdEntry, FdKind};
use super::host_os;
use super::path::{host_path, resolve_parent, strip_dir_suffix, walk, walk_dir, Base, Last};
use super::{DirRef, OpenHow, WasiCtx};
use std::fs::{File, FileTimes, OpenOptions};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Arguments of `path_open` (too many for a plain method).
pub(crate) struct OpenArgs {
    pub dirfd: u32,
    pub dirflags: u32,
    pub path: u32,
    pub path_len: u32,
    pub oflags: u32,
    pub rights_base: u64,
    pub rights_inheriting: u64,
    pub fdflags: u32,
    pub ret: u32,
}

/// Rights Wasmtime reports for a preopened directory (base).
const PREOPEN_RIGHTS_BASE: u64 = rights::PATH_CREATE_DIRECTORY
    | rights::PATH_CREATE_FILE
    | rights::PATH_LINK_SOURCE
    | rights::PATH_LINK_TARGET
    | rights::PATH_OPEN
    | rights::FD_READDIR
    | rights::PATH_READLINK
    | rights::PATH_RENAME_SOURCE
    | rights::PATH_RENAME_TARGET
    | rights::PATH_SYMLINK
    | rights::PATH_REMOVE_DIRECTORY
    | rights::PATH_UNLINK_FILE
    | rights::PATH_FILESTAT_GET
    | rights::PATH_FILESTAT_SET_TIMES
    | rights::FD_FILESTAT_GET
    | rights::FD_FILESTAT_SET_TIMES;

/// Rights Wasmtime reports for a preopened directory (inheriting).
const PREOPEN_RIGHTS_INHERITING: u64 = PREOPEN_RIGHTS_BASE
    | rights::FD_DATASYNC
    | rights::FD_READ
    | rights::FD_SEEK
    | rights::FD_FDSTAT_SET_FLAGS
    | rights::FD_SYNC
    | rights::FD_TELL
    | rights::FD_WRITE
    | rights::FD_ADVISE
    | rights::FD_ALLOCATE
    | rights::FD_FILESTAT_GET
    | rights::FD_FILESTAT_SET_SIZE
    | rights::FD_FILESTAT_SET_TIMES
    | rights::POLL_FD_READWRITE;

const SYNC_FLAGS: u16 = fdflags::DSYNC | fdflags::RSYNC | fdflags::SYNC;
const KEPT_FDFLAGS: u16 = fdflags::APPEND | fdflags::NONBLOCK;

fn handle(e: &FdEntry) -> WResult<&File> {
    e.file.as_ref().ok_or(Errno::BADF)
}

fn stdio_is_tty(kind: FdKind) -> bool {
    match kind {
        FdKind::Stdin => std::io::stdin().is_terminal(),
        FdKind::Stdout => std::io::stdout().is_terminal(),
        FdKind::Stderr => std::io::stderr().is_terminal(),
        _ => false,
    }
}

fn stdio_filetype(kind: FdKind) -> u8 {
    if stdio_is_tty(kind) {
        filetype::CHARACTER_DEVICE
    } else {
        filetype::UNKNOWN
    }
}

fn read_stdin(buf: &mut [u8]) -> std::io::Result<usize> {
    let f = host_os::stdio_file(0);
    loop {
        match (&*f).read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // The host's fd 0 may be non-blocking (Node's WASI makes stdio pipes so); the
            // guest's stdin is blocking: wait for data or EOF.
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => stdio_backoff(),
            r => return r,
        }
    }
}

/// A short wait before retrying a stdio transfer that would block.
pub(crate) fn stdio_backoff() {
    std::thread::sleep(Duration::from_millis(1));
}

fn write_stdio(kind: FdKind, mut data: &[u8]) -> std::io::Result<()> {
    let fd = if kind == FdKind::Stdout { 1 } else { 2 };
    let f = host_os::stdio_file(fd);
    // Like `write_all`, but a full non-blocking host fd (Node's WASI stdio pipes) is waited
    // for instead of failing and losing the rest of the guest's output.
    while !data.is_empty() {
        match (&*f).write(data) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => stdio_backoff(),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn ns_to_time(ns: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(ns)
}

/// New (access, modification) times; `None` leaves one unchanged.
type NewTimes = (Option<SystemTime>, Option<SystemTime>);

fn to_file_times((a, m): NewTimes) -> FileTimes {
    let mut t = FileTimes::new();
    if let Some(a) = a {
        t = t.set_accessed(a);
    }
    if let Some(m) = m {
        t = t.set_modified(m);
    }
    t
}

/// The new timestamps of `fd_filestat_set_times`/`path_filestat_set_times`;
/// `None` when nothing changes. Setting a time and "now" at once is INVAL.
fn file_times(atim: u64, mtim: u64, fst: u16) -> WResult<Option<NewTimes>> {
    let pick = |set: u16, now: u16, ts: u64| -> WResult<Option<SystemTime>> {
        match (fst & set != 0, fst & now != 0) {
            (true, true) => Err(Errno::INVAL),
            (true, false) => Ok(Some(ns_to_time(ts))),
            (false, true) => Ok(Some(SystemTime::now())),
            (false, false) => Ok(None),
        }
    };
    let a = pick(fstflags::ATIM, fstflags::ATIM_NOW, atim)?;
    let m = pick(fstflags::MTIM, fstflags::MTIM_NOW, mtim)?;
    if a.is_none() && m.is_none() {
        return Ok(None);
    }
    Ok(Some((a, m)))
}

/// Open an existing path only to change its times (read, else write access).
fn open_for_times(p: &Path) -> std::io::Result<File> {
    match File::open(p) {
        Ok(f) => Ok(f),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => OpenOptions::new().write(true).open(p),
        Err(e) => Err(e),
    }
}

impl WasiCtx {
    /// Host path of a descriptor (for a directory: where its `path_*` calls start).
    ///
    /// A directory's names below its preopen were symlink-free when it was opened, but the
    /// guest may since have renamed one and put a symlink in its place (`a -> ..`): they are
    /// resolved again by the sandboxed walk rather than joined, so the start of every later
    /// lookup is still inside the preopen (PERM otherwise).
    fn host_of(&self, e: &FdEntry) -> WResult<PathBuf> {
        let p = e.preopen.and_then(|i| self.preopens.get(i as usize)).ok_or(Errno::BADF)?;
        if e.is_dir() && !e.rel.is_empty() {
            let stack = walk_dir(&p.host, &e.rel.join("/"))?;
            return Ok(host_path(&p.host, &stack));
        }
        Ok(host_path(&p.host, &e.rel))
    }

    /// Host directory of directory descriptor `fd` (BADF if it is not one).
    fn dir_start(&self, fd: u32) -> WResult<PathBuf> {
        let e = self.fds.dir(fd)?;
        self.host_of(e)
    }

    fn stat_entry(&self, e: &FdEntry) -> WResult<Filestat> {
        let f = handle(e)?;
        let meta = f.metadata()?;
        let host = self.host_of(e).unwrap_or_default();
        Ok(filestat_of(&meta, host_os::ids_of_file(f, &meta, &host)))
    }

    // ------------------------------------------------------------ fd_*

    pub(super) fn fd_advise(&self, fd: u32, offset: u64, len: u64, advice: u32) -> WResult<()> {
        abi::dec_enum8(advice, abi::ADVICE_MAX)?;
        self.fds.file(fd)?;
        // Advice is only a hint and std has no fadvise: accepted and ignored,
        // after the range check posix_fadvise makes (negative → INVAL).
        if i64::try_from(offset).is_err() || i64::try_from(len).is_err() {
            return Err(Errno::INVAL);
        }
        Ok(())
    }

    pub(super) fn fd_allocate(&self, fd: u32, _offset: u64, _len: u64) -> WResult<()> {
        self.fds.file(fd)?;
        Err(Errno::NOTSUP)
    }

    pub(super) fn fd_close(&mut self, fd: u32) -> WResult<()> {
        self.fds.close(fd).map(drop)
    }

    pub(super) fn fd_datasync(&self, fd: u32) -> WResult<()> {
        Ok(handle(self.fds.file(fd)?)?.sync_data()?)
    }

    pub(super) fn fd_sync(&self, fd: u32) -> WResult<()> {
        Ok(handle(self.fds.file(fd)?)?.sync_all()?)
    }

    pub(super) fn fd_fdstat_get(&self, m: &mut Mem<'_>, fd: u32, ret: u32) -> WResult<()> {
        m.check(ret, size::FDSTAT)?;
        let e = self.fds.get(fd)?;
        let st = match e.kind {
            FdKind::Stdin | FdKind::Stdout | FdKind::Stderr => {
                let r = if e.kind == FdKind::Stdin { rights::FD_READ } else { rights::FD_WRITE };
                Fdstat { filetype: stdio_filetype(e.kind), flags: 0, rights_base: r, rights_inheriting: r }
            }
            FdKind::PreopenDir => Fdstat {
                filetype: filetype::DIRECTORY,
                flags: 0,
                rights_base: PREOPEN_RIGHTS_BASE,
                rights_inheriting: PREOPEN_RIGHTS_INHERITING,
            },
            FdKind::Dir | FdKind::File => {
                let ft = if e.kind == FdKind::Dir {
                    filetype::DIRECTORY
                } else {
                    filetype_of(&handle(e)?.metadata()?.file_type())
                };
                let mut r = rights::ALL;
                if ft == filetype::DIRECTORY {
                    r &= !(rights::FD_SEEK | rights::FD_FILESTAT_SET_SIZE | rights::PATH_FILESTAT_SET_SIZE);
                }
                if !e.read {
                    r &= !(rights::FD_READ | rights::FD_READDIR);
                }
                // A directory's write mode is "mutate directory", not FD_WRITE.
                if !e.write || e.kind == FdKind::Dir {
                    r &= !rights::FD_WRITE;
                }
                Fdstat { filetype: ft, flags: e.fdflags & KEPT_FDFLAGS, rights_base: r, rights_inheriting: r }
            }
        };
        st.write(m, ret)
    }

    pub(super) fn fd_fdstat_set_flags(&mut self, fd: u32, flags: u32) -> WResult<()> {
        let flags = abi::dec_flags16(flags, fdflags::ALL)?;
        let e = self.fds.file_mut(fd)?;
        if flags & SYNC_FLAGS != 0 {
            return Err(Errno::INVAL);
        }
        e.fdflags = flags & KEPT_FDFLAGS;
        Ok(())
    }

    pub(super) fn fd_fdstat_set_rights(&self, fd: u32, base: u64, inh: u64) -> WResult<()> {
        abi::dec_rights(base)?;
        abi::dec_rights(inh)?;
        self.fds.fs_entry(fd)?;
        Err(Errno::NOTSUP)
    }

    pub(super) fn fd_filestat_get(&self, m: &mut Mem<'_>, fd: u32, ret: u32) -> WResult<()> {
        m.check(ret, size::FILESTAT)?;
        let e = self.fds.get(fd)?;
        let st = match e.kind {
            FdKind::Stdin | FdKind::Stdout | FdKind::Stderr => {
                Filestat { filetype: stdio_filetype(e.kind), ..Filestat::default() }
            }
            _ => self.stat_entry(e)?,
        };
        st.write(m, ret)
    }

    pub(super) fn fd_filestat_set_size(&self, fd: u32, size: u64) -> WResult<()> {
        Ok(handle(self.fds.file(fd)?)?.set_len(size)?)
    }

    pub(super) fn fd_filestat_set_times(&self, fd: u32, atim: u64, mtim: u64, fst: u32) -> WResult<()> {
        let fst = abi::dec_flags16(fst, fstflags::ALL)?;
        let times = file_times(atim, mtim, fst)?;
        let e = self.fds.fs_entry(fd)?;
        if let Some(t) = times {
            handle(e)?.set_times(to_file_times(t))?;
        }
        Ok(())
    }

    pub(super) fn fd_pread(
        &self,
        m: &mut Mem<'_>,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        offset: u64,
        ret: u32,
    ) -> WResult<()> {
        m.check(ret, 4)?;
        let (buf, len) = m.first_nonempty_iovec(iovs, iovs_len)?;
        let e = self.fds.get(fd)?;
        let n = match e.kind {
            FdKind::File => host_os::read_at(handle(e)?, m.slice_mut(buf, len)?, offset)?,
            FdKind::Stdin => return Err(Errno::SPIPE),
            _ => return Err(Errno::BADF),
        };
        m.write_u32(ret, n as u32)
    }

    pub(super) fn fd_read(
        &mut self,
        m: &mut Mem<'_>,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        ret: u32,
    ) -> WResult<()> {
        m.check(ret, 4)?;
        let (buf, len) = m.first_nonempty_iovec(iovs, iovs_len)?;
        let e = self.fds.get_mut(fd)?;
        let n = match e.kind {
            FdKind::File => {
                let n = host_os::read_at(handle(e)?, m.slice_mut(buf, len)?, e.offset)?;
                e.offset = e.offset.checked_add(n as u64).ok_or(Errno::OVERFLOW)?;
                n
            }
            FdKind::Stdin => read_stdin(m.slice_mut(buf, len)?)?,
            _ => return Err(Errno::BADF),
        };
        m.write_u32(ret, n as u32)
    }

    pub(super) fn fd_write(
        &mut self,
        m: &mut Mem<'_>,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        ret: u32,
    ) -> WResult<()> {
        self.write_impl(m, fd, iovs, iovs_len, None, ret)
    }

    pub(super) fn fd_pwrite(
        &mut self,
        m: &mut Mem<'_>,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        offset: u64,
        ret: u32,
    ) -> WResult<()> {
        self.write_impl(m, fd, iovs, iovs_len, Some(offset), ret)
    }

    /// `fd_write` (`at == None`) and `fd_pwrite`. In APPEND mode both append
    /// (Linux `pwrite` semantics, as in Wasmtime).
    fn write_impl(
        &mut self,
        m: &mut Mem<'_>,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        at: Option<u64>,
        ret: u32,
    ) -> WResult<()> {
        m.check(ret, 4)?;
        let (buf, len) = m.first_nonempty_iovec(iovs, iovs_len)?;
        let data = m.slice(buf, len)?;
        let e = self.fds.get_mut(fd)?;
        let n = match e.kind {
            FdKind::File => {
                let f = handle(e)?;
                let append = e.fdflags & fdflags::APPEND != 0;
                let n = if append {
                    host_os::append(f, data)?
                } else {
                    host_os::write_at(f, data, at.unwrap_or(e.offset))?
                };
                if at.is_none() {
                    e.offset = if append {
                        f.metadata()?.len()
                    } else {
                        e.offset.checked_add(n as u64).ok_or(Errno::OVERFLOW)?
                    };
                }
                n
            }
            FdKind::Stdout | FdKind::Stderr => {
                if at.is_some() {
                    return Err(Errno::SPIPE);
                }
                write_stdio(e.kind, data)?;
                data.len()
            }
            _ => return Err(Errno::BADF),
        };
        m.write_u32(ret, n as u32)
    }

    pub(super) fn fd_prestat_get(&self, m: &mut Mem<'_>, fd: u32, ret: u32) -> WResult<()> {
        m.check(ret, size::PRESTAT)?;
        let e = self.fds.get(fd)?;
        let name = self.preopen_name(e).ok_or(Errno::BADF)?;
        let len = u32::try_from(name.len()).map_err(|_| Errno::OVERFLOW)?;
        m.write_u8(ret, abi::PREOPENTYPE_DIR)?;
        m.write_u32(ret + 4, len)
    }

    pub(super) fn fd_prestat_dir_name(&self, m: &mut Mem<'_>, fd: u32, ptr: u32, len: u32) -> WResult<()> {
        let e = self.fds.get(fd)?;
        let name = self.preopen_name(e).ok_or(Errno::NOTDIR)?;
        if name.len() > len as usize {
            return Err(Errno::NAMETOOLONG);
        }
        m.write_bytes(ptr, name.as_bytes())
    }

    fn preopen_name(&self, e: &FdEntry) -> Option<&str> {
        if e.kind != FdKind::PreopenDir {
            return None;
        }
        let p = self.preopens.get(e.preopen? as usize)?;
        Some(&p.guest)
    }

    /// `fd_readdir` as Wasmtime does it: `.` and `..` first (both with the
    /// directory's own inode), then the host's entries in host order; the
    /// cookie is the index of the next entry; entries are cut at the buffer
    /// end (header first, then name), and a full buffer means "more".
    pub(super) fn fd_readdir(
        &self,
        m: &mut Mem<'_>,
        fd: u32,
        buf: u32,
        buf_len: u32,
        cookie: u64,
        ret: u32,
    ) -> WResult<()> {
        m.check(ret, 4)?;
        let e = self.fds.dir(fd)?;
        let host = self.host_of(e)?;
        let dir_ino = metadata_hash(match &e.file {
            Some(f) => host_os::ids_of_file(f, &f.metadata()?, &host),
            None => host_os::ids_at(&host, ".", true, &std::fs::metadata(&host)?),
        });
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(&host)? {
            let entry = entry?;
            let name = entry.file_name().into_string().map_err(|_| Errno::ILSEQ)?;
            entries.push((name, entry));
        }
        let cap = buf_len as usize;
        let mut out: Vec<u8> = Vec::with_capacity(cap.min(64 * 1024));
        let total = entries.len() as u64 + 2;
        let mut idx = cookie;
        while idx < total && out.len() < cap {
            let (name, ino, ty): (&str, u64, u8) = match idx {
                0 => (".", dir_ino, filetype::DIRECTORY),
                1 => ("..", dir_ino, filetype::DIRECTORY),
                i => {
                    let (name, entry) = &entries[(i - 2) as usize];
                    let meta = entry.metadata()?;
                    let ids = host_os::ids_at(&host, name, false, &meta);
                    (name, metadata_hash(ids), filetype_of(&meta.file_type()))
                }
            };
            let namlen = u32::try_from(name.len()).map_err(|_| Errno::OVERFLOW)?;
            let header = dirent_bytes(idx + 1, ino, namlen, ty);
            let take = header.len().min(cap - out.len());
            out.extend_from_slice(&header[..take]);
            let take = name.len().min(cap - out.len());
            out.extend_from_slice(&name.as_bytes()[..take]);
            idx += 1;
        }
        m.write_bytes(buf, &out)?;
        m.write_u32(ret, out.len() as u32)
    }

    pub(super) fn fd_seek(
        &mut self,
        m: &mut Mem<'_>,
        fd: u32,
        offset: u64,
        how: u32,
        ret: u32,
    ) -> WResult<()> {
        let how = abi::dec_enum8(how, whence::END)?;
        m.check(ret, 8)?;
        let e = self.seekable(fd)?;
        let off = offset as i64;
        let pos = match how {
            whence::SET => u64::try_from(off).map_err(|_| Errno::INVAL)?,
            whence::CUR => e.offset.checked_add_signed(off).ok_or(Errno::INVAL)?,
            _ => {
                let size = handle(e)?.metadata()?.len();
                size.checked_add_signed(off).ok_or(Errno::INVAL)?
            }
        };
        e.offset = pos;
        m.write_u64(ret, pos)
    }

    pub(super) fn fd_tell(&mut self, m: &mut Mem<'_>, fd: u32, ret: u32) -> WResult<()> {
        m.check(ret, 8)?;
        let pos = self.seekable(fd)?.offset;
        m.write_u64(ret, pos)
    }

    /// Wasmtime's `get_seekable`: files; SPIPE for stdio; BADF otherwise.
    fn seekable(&mut self, fd: u32) -> WResult<&mut FdEntry> {
        let e = self.fds.get_mut(fd)?;
        match e.kind {
            FdKind::File => Ok(e),
            FdKind::Stdin | FdKind::Stdout | FdKind::Stderr => Err(Errno::SPIPE),
            _ => Err(Errno::BADF),
        }
    }

    // ------------------------------------------------------------ path_*

    pub(super) fn path_create_directory(&self, m: &mut Mem<'_>, fd: u32, p: u32, len: u32) -> WResult<()> {
        let start = self.dir_start(fd)?;
        let path = m.read_str(p, len)?;
        match resolve_parent(&start, strip_dir_suffix(&path))? {
            (stack, Base::Name(n)) => Ok(std::fs::create_dir(host_path(&start, &stack).join(n))?),
            (_, Base::Dot) => Err(Errno::EXIST),
        }
    }

    pub(super) fn path_filestat_get(
        &self,
        m: &mut Mem<'_>,
        fd: u32,
        flags: u32,
        p: u32,
        len: u32,
        ret: u32,
    ) -> WResult<()> {
        let flags = abi::dec_lookupflags(flags)?;
        m.check(ret, size::FILESTAT)?;
        let start = self.dir_start(fd)?;
        let path = m.read_str(p, len)?;
        let w = walk(&start, &path, flags & lookupflags::SYMLINK_FOLLOW != 0)?;
        let parent = host_path(&start, &w.stack);
        let st = match &w.last {
            None => {
                let meta = std::fs::metadata(&parent)?;
                filestat_of(&meta, host_os::ids_at(&parent, ".", true, &meta))
            }
            Some(Last { meta: None, .. }) => return Err(Errno::NOENT),
            Some(Last { name, meta: Some(meta) }) => {
                if w.dir_required && !meta.is_dir() {
                    return Err(Errno::NOTDIR);
                }
                filestat_of(meta, host_os::ids_at(&parent, name, false, meta))
            }
        };
        st.write(m, ret)
    }

    /// The times of a symlink itself (no SYMLINK_FOLLOW) are set through
    /// `host_os::set_symlink_times` (NOTSUP where the host cannot).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn path_filestat_set_times(
        &self,
        m: &mut Mem<'_>,
        fd: u32,
        flags: u32,
        p: u32,
        len: u32,
        atim: u64,
        mtim: u64,
        fst: u32,
    ) -> WResult<()> {
        let flags = abi::dec_lookupflags(flags)?;
        let fst = abi::dec_flags16(fst, fstflags::ALL)?;
        let times = file_times(atim, mtim, fst)?;
        let start = self.dir_start(fd)?;
        let path = m.read_str(p, len)?;
        let w = walk(&start, &path, flags & lookupflags::SYMLINK_FOLLOW != 0)?;
        let parent = host_path(&start, &w.stack);
        let target = match &w.last {
            None => parent,
            Some(Last { meta: None, .. }) => return Err(Errno::NOENT),
            Some(Last { name, meta: Some(meta) }) => {
                if w.dir_required && !meta.is_dir() {
                    return Err(Errno::NOTDIR);
                }
                if meta.file_type().is_symlink() {
                    if let Some((a, m)) = times {
                        host_os::set_symlink_times(&parent, name, a, m).map_err(|e| {
                            if e.kind() == std::io::ErrorKind::Unsupported {
                                Errno::NOTSUP
                            } else {
                                Errno::from(e)
                            }
                        })?;
                    }
                    return Ok(());
                }
                parent.join(name)
            }
        };
        if let Some(t) = times {
            open_for_times(&target)?.set_times(to_file_times(t))?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn path_link(
        &self,
        m: &mut Mem<'_>,
        old_fd: u32,
        old_flags: u32,
        old_p: u32,
        old_len: u32,
        new_fd: u32,
        new_p: u32,
        new_len: u32,
    ) -> WResult<()> {
        let flags = abi::dec_lookupflags(old_flags)?;
        let old_start = self.dir_start(old_fd)?;
        let new_start = self.dir_start(new_fd)?;
        let old = m.read_str(old_p, old_len)?;
        let new = m.read_str(new_p, new_len)?;
        if flags & lookupflags::SYMLINK_FOLLOW != 0 {
            return Err(Errno::INVAL);
        }
        let (os, ob) = resolve_parent(&old_start, &old)?;
        let (ns, nb) = resolve_parent(&new_start, &new)?;
        match (ob, nb) {
            (Base::Dot, _) => Err(Errno::PERM),
            (_, Base::Dot) => Err(Errno::EXIST),
            (Base::Name(o), Base::Name(n)) => Ok(std::fs::hard_link(
                host_path(&old_start, &os).join(o),
                host_path(&new_start, &ns).join(n),
            )?),
        }
    }

    /// `path_open`, with Wasmtime's open-mode rules: CREAT and TRUNC imply
    /// write; without the FD_WRITE right the file is opened for reading;
    /// SYNC/DSYNC/RSYNC are NOTSUP; DIRECTORY with CREAT/EXCL/TRUNC is INVAL;
    /// a final symlink that is not followed is LOOP; with CREAT|EXCL a final
    /// symlink is never followed and is EXIST (POSIX `O_EXCL`).
    pub(super) fn path_open(&mut self, m: &mut Mem<'_>, a: OpenArgs) -> WResult<()> {
        let dirflags = abi::dec_lookupflags(a.dirflags)?;
        let of = abi::dec_flags16(a.oflags, oflags::ALL)?;
        let rights_base = abi::dec_rights(a.rights_base)?;
        let rights_inheriting = abi::dec_rights(a.rights_inheriting)?;
        let fdfl = abi::dec_flags16(a.fdflags, fdflags::ALL)?;
        m.check(a.ret, 4)?;
        let path = m.read_str(a.path, a.path_len)?;
        let dir = self.fds.get(a.dirfd)?;
        match dir.kind {
            FdKind::PreopenDir | FdKind::Dir => {}
            FdKind::File => return Err(Errno::NOTDIR),
            _ => return Err(Errno::BADF),
        }
        let (preopen, mut rel) = (dir.preopen, dir.rel.clone());
        let start = self.host_of(dir)?;

        if fdfl & SYNC_FLAGS != 0 {
            return Err(Errno::NOTSUP);
        }
        let creat = of & oflags::CREAT != 0;
        let excl = of & oflags::EXCL != 0;
        let want_dir = of & oflags::DIRECTORY != 0;
        if want_dir && of & (oflags::CREAT | oflags::EXCL | oflags::TRUNC) != 0 {
            return Err(Errno::INVAL);
        }
        let truncate = of & oflags::TRUNC != 0;
        let (mut read, mut write) = (false, creat || truncate);
        if rights_base & rights::FD_READ != 0 {
            read = true;
        }
        if rights_base & rights::FD_WRITE != 0 {
            write = true;
        } else {
            read = true;
        }
        let how = OpenHow {
            read,
            write,
            create: creat && !excl,
            create_new: creat && excl,
            truncate,
            ..OpenHow::default()
        };

        let follow = dirflags & lookupflags::SYMLINK_FOLLOW != 0 && !(creat && excl);
        let w = walk(&start, &path, follow)?;
        let parent = host_path(&start, &w.stack);
        let target = match &w.last {
            None => parent,
            Some(Last { name, meta: None }) => {
                if w.dir_required {
                    return Err(if creat { Errno::ISDIR } else { Errno::NOENT });
                }
                parent.join(name)
            }
            Some(Last { name, meta: Some(meta) }) => {
                if meta.file_type().is_symlink() {
                    return Err(if creat && excl { Errno::EXIST } else { Errno::LOOP });
                }
                if w.dir_required && !meta.is_dir() {
                    return Err(Errno::NOTDIR);
                }
                parent.join(name)
            }
        };
        if write {
            let mut full = rel.clone();
            full.extend(w.components());
            self.before_write_open(preopen, &full, &target)?;
        }
        // The open itself is relative to the directory descriptor's handle and refuses any
        // symlink (the walk found none), so nothing swapped in since the walk can redirect it.
        let names = w.components().join("/");
        let dir_file = handle(self.fds.get(a.dirfd)?)?;
        let file = host_os::open_resolved(DirRef { file: dir_file, host: &start }, &names, &target, how)?;
        let is_dir = file.metadata()?.is_dir();
        if !is_dir && want_dir {
            return Err(Errno::NOTDIR);
        }
        rel.extend(w.components());
        let e = FdEntry {
            kind: if is_dir { FdKind::Dir } else { FdKind::File },
            preopen,
            rel,
            oflags: of,
            rights_base,
            rights_inheriting,
            fdflags: if is_dir { 0 } else { fdfl & KEPT_FDFLAGS },
            read,
            write,
            offset: 0,
            file: Some(file),
        };
        let fd = self.fds.push(e)?;
        m.write_u32(a.ret, fd)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn path_readlink(
        &self,
        m: &mut Mem<'_>,
        fd: u32,
        p: u32,
        len: u32,
        buf: u32,
        buf_len: u32,
        ret: u32,
    ) -> WResult<()> {
        m.check(ret, 4)?;
        let start = self.dir_start(fd)?;
        let path = m.read_str(p, len)?;
        let target = match resolve_parent(&start, &path)? {
            (stack, Base::Name(n)) => std::fs::read_link(host_path(&start, &stack).join(n))?,
            (_, Base::Dot) => return Err(Errno::INVAL),
        };
        let target = target.into_os_string().into_string().map_err(|_| Errno::ILSEQ)?;
        // Like cap-std: never reveal an absolute target (host layout).
        if target.starts_with('/') {
            return Err(Errno::PERM);
        }
        let bytes = &target.as_bytes()[..target.len().min(buf_len as usize)];
        m.write_bytes(buf, bytes)?;
        m.write_u32(ret, bytes.len() as u32)
    }

    pub(super) fn path_remove_directory(&self, m: &mut Mem<'_>, fd: u32, p: u32, len: u32) -> WResult<()> {
        let start = self.dir_start(fd)?;
        let path = m.read_str(p, len)?;
        match resolve_parent(&start, &path)? {
            (stack, Base::Name(n)) => Ok(std::fs::remove_dir(host_path(&start, &stack).join(n))?),
            (_, Base::Dot) => Err(Errno::INVAL),
        }
    }

    pub(super) fn path_unlink_file(&self, m: &mut Mem<'_>, fd: u32, p: u32, len: u32) -> WResult<()> {
        let start = self.dir_start(fd)?;
        let path = m.read_str_unmetered(p, len)?;
        match resolve_parent(&start, &path)? {
            (stack, Base::Name(n)) => Ok(std::fs::remove_file(host_path(&start, &stack).join(n))?),
            (_, Base::Dot) => Err(Errno::ISDIR),
        }
    }

    pub(super) fn path_symlink(
        &self,
        m: &mut Mem<'_>,
        old_p: u32,
        old_len: u32,
        fd: u32,
        new_p: u32,
        new_len: u32,
    ) -> WResult<()> {
        let start = self.dir_start(fd)?;
        let old = m.read_str(old_p, old_len)?;
        let new = m.read_str(new_p, new_len)?;
        // Like cap-std: no symlink may point at an absolute path, so that other
        // host programs cannot be tricked into following one.
        if old.starts_with('/') {
            return Err(Errno::PERM);
        }
        match resolve_parent(&start, &new)? {
            (stack, Base::Name(n)) => Ok(host_os::symlink(&old, &host_path(&start, &stack), &n)?),
            (_, Base::Dot) => Err(Errno::EXIST),
        }
    }

    /// `path_rename`. Trailing slashes are stripped from both paths (a source
    /// with one must be a directory), as cap-std does. Open descriptors at or
    /// below the old path follow the rename, so a checkpoint taken later
    /// reopens them under their new name.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn path_rename(
        &mut self,
        m: &mut Mem<'_>,
        old_fd: u32,
        old_p: u32,
        old_len: u32,
        new_fd: u32,
        new_p: u32,
        new_len: u32,
    ) -> WResult<()> {
        let old_start = self.dir_start(old_fd)?;
        let new_start = self.dir_start(new_fd)?;
        let old = m.read_str(old_p, old_len)?;
        let new = m.read_str(new_p, new_len)?;
        let old_must_be_dir = old.ends_with('/');
        let (os, ob) = resolve_parent(&old_start, strip_dir_suffix(&old))?;
        let (ns, nb) = resolve_parent(&new_start, strip_dir_suffix(&new))?;
        let (Base::Name(o), Base::Name(n)) = (ob, nb) else {
            return Err(Errno::BUSY);
        };
        let from = host_path(&old_start, &os).join(&o);
        if old_must_be_dir && !std::fs::symlink_metadata(&from)?.is_dir() {
            return Err(Errno::NOTDIR);
        }
        std::fs::rename(&from, host_path(&new_start, &ns).join(&n))?;

        // Keep the checkpointable paths of open descriptors current.
        let (od, nd) = (self.fds.get(old_fd)?, self.fds.get(new_fd)?);
        let (old_pre, new_pre) = (od.preopen, nd.preopen);
        let mut old_rel = od.rel.clone();
        old_rel.extend(os);
        old_rel.push(o);
        let mut new_rel = nd.rel.clone();
        new_rel.extend(ns);
        new_rel.push(n);
        for e in self.fds.used.values_mut() {
            if e.preopen == old_pre && e.rel.starts_with(&old_rel) {
                let mut rel = new_rel.clone();
                rel.extend_from_slice(&e.rel[old_rel.len()..]);
                e.rel = rel;
                e.preopen = new_pre;
            }
        }
        Ok(())
    }
}
