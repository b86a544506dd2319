//! The descriptor table: plain data plus a live `std::fs::File` per open file
//! or directory, rebuilt from the data on restore.
//!
//! Numbering follows Wasmtime exactly: a new descriptor takes the *highest*
//! previously freed number if there is one, else one past the highest number
//! in use. The freed set is part of the checkpoint so a restored program gets
//! the same numbers as an uninterrupted one.

use super::abi::{filetype, Errno, Filestat, WResult};
use super::host_os::{self, HostIds};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, FileType, Metadata};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// What a descriptor refers to.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdKind {
    /// The host process's stdin (fd 0 of chiwawa).
    Stdin,
    /// The host process's stdout.
    Stdout,
    /// The host process's stderr.
    Stderr,
    /// The root directory of a preopen (answers `fd_prestat_get`).
    PreopenDir,
    /// A directory opened with `path_open`.
    Dir,
    /// A regular file (or device) opened with `path_open`.
    File,
}

/// One open descriptor.
#[derive(Debug)]
pub(crate) struct FdEntry {
    pub kind: FdKind,
    /// Index into the context's preopens (`PreopenDir`, `Dir`, `File`).
    pub preopen: Option<u32>,
    /// Directory names from the preopen root to this file (symlink-free).
    pub rel: Vec<String>,
    /// `path_open` oflags (informational; never replayed on restore).
    pub oflags: u16,
    pub rights_base: u64,
    pub rights_inheriting: u64,
    /// Current fdflags (`APPEND`, `NONBLOCK`).
    pub fdflags: u16,
    /// Open mode of the host handle.
    pub read: bool,
    pub write: bool,
    /// The file position; positional I/O is used, the OS cursor is ignored.
    pub offset: u64,
    /// Live handle (files and directories).
    pub file: Option<File>,
}

impl FdEntry {
    pub fn stdio(kind: FdKind) -> FdEntry {
        let (read, write) = match kind {
            FdKind::Stdin => (true, false),
            _ => (false, true),
        };
        FdEntry {
            kind,
            preopen: None,
            rel: Vec::new(),
            oflags: 0,
            rights_base: 0,
            rights_inheriting: 0,
            fdflags: 0,
            read,
            write,
            offset: 0,
            file: None,
        }
    }

    pub fn is_dir(&self) -> bool {
        matches!(self.kind, FdKind::PreopenDir | FdKind::Dir)
    }

    /// The rel path as stored in a checkpoint: `a/b/c`, empty for the root.
    pub fn rel_string(&self) -> String {
        self.rel.join("/")
    }
}

/// Split a stored rel path back into names.
pub(crate) fn rel_from_string(s: &str) -> Vec<String> {
    s.split('/').filter(|c| !c.is_empty()).map(str::to_owned).collect()
}

#[derive(Debug, Default)]
pub(crate) struct FdTable {
    pub used: BTreeMap<u32, FdEntry>,
    pub free: BTreeSet<u32>,
}

impl FdTable {
    pub fn push(&mut self, e: FdEntry) -> WResult<u32> {
        let fd = match self.free.pop_last() {
            Some(fd) => fd,
            None => match self.used.last_key_value() {
                None => 0,
                Some((&last, _)) => match last.checked_add(1) {
                    Some(fd) => fd,
                    None => (0..u32::MAX).rev().find(|fd| !self.used.contains_key(fd)).ok_or(Errno::MFILE)?,
                },
            },
        };
        self.used.insert(fd, e);
        Ok(fd)
    }

    pub fn get(&self, fd: u32) -> WResult<&FdEntry> {
        self.used.get(&fd).ok_or(Errno::BADF)
    }

    pub fn get_mut(&mut self, fd: u32) -> WResult<&mut FdEntry> {
        self.used.get_mut(&fd).ok_or(Errno::BADF)
    }

    /// A regular-file descriptor (Wasmtime's `get_file`): BADF otherwise.
    pub fn file(&self, fd: u32) -> WResult<&FdEntry> {
        match self.used.get(&fd) {
            Some(e) if e.kind == FdKind::File => Ok(e),
            _ => Err(Errno::BADF),
        }
    }

    pub fn file_mut(&mut self, fd: u32) -> WResult<&mut FdEntry> {
        match self.used.get_mut(&fd) {
            Some(e) if e.kind == FdKind::File => Ok(e),
            _ => Err(Errno::BADF),
        }
    }

    /// A directory descriptor (Wasmtime's `get_dir_fd`): BADF otherwise.
    pub fn dir(&self, fd: u32) -> WResult<&FdEntry> {
        match self.used.get(&fd) {
            Some(e) if e.is_dir() => Ok(e),
            _ => Err(Errno::BADF),
        }
    }

    /// A file or directory (Wasmtime's `get_fd`): BADF for stdio.
    pub fn fs_entry(&self, fd: u32) -> WResult<&FdEntry> {
        match self.used.get(&fd) {
            Some(e) if e.kind == FdKind::File || e.is_dir() => Ok(e),
            _ => Err(Errno::BADF),
        }
    }

    pub fn close(&mut self, fd: u32) -> WResult<FdEntry> {
        let e = self.used.remove(&fd).ok_or(Errno::BADF)?;
        self.free.insert(fd);
        Ok(e)
    }

    /// `fd_renumber`: both must be open; `to` is closed and replaced.
    pub fn renumber(&mut self, from: u32, to: u32) -> WResult<()> {
        if !self.used.contains_key(&from) || !self.used.contains_key(&to) {
            return Err(Errno::BADF);
        }
        if from == to {
            return Ok(());
        }
        self.close(to)?;
        let e = self.used.remove(&from).ok_or(Errno::BADF)?;
        self.free.insert(from);
        self.free.remove(&to);
        self.used.insert(to, e);
        Ok(())
    }
}

/// A preopened directory of the running context.
#[derive(Debug, Clone)]
pub(crate) struct PreopenDir {
    pub guest: String,
    pub host: PathBuf,
}

// ---------------------------------------------------------------- stat helpers

/// Wasmtime's inode number: the low 64 bits of `DefaultHasher((dev, ino))`.
pub(crate) fn metadata_hash(ids: HostIds) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (ids.dev, ids.ino).hash(&mut h);
    h.finish()
}

pub(crate) fn filetype_of(ft: &FileType) -> u8 {
    if ft.is_dir() {
        filetype::DIRECTORY
    } else if ft.is_symlink() {
        filetype::SYMBOLIC_LINK
    } else if ft.is_file() {
        filetype::REGULAR_FILE
    } else {
        host_os::filetype_other(ft)
    }
}

/// Nanoseconds since the epoch; 0 when unknown or before 1970, saturated.
pub(crate) fn timestamp(t: std::io::Result<SystemTime>) -> u64 {
    t.ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The preview1 filestat Wasmtime reports: `dev` is always 1, `ino` the
/// metadata hash, `ctim` the creation time when the host knows it.
pub(crate) fn filestat_of(meta: &Metadata, ids: HostIds) -> Filestat {
    Filestat {
        dev: 1,
        ino: metadata_hash(ids),
        filetype: filetype_of(&meta.file_type()),
        nlink: ids.nlink,
        size: meta.len(),
        atim: timestamp(meta.accessed()),
        mtim: timestamp(meta.modified()),
        ctim: timestamp(meta.created()),
    }
}
