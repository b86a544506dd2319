//! Sandboxed resolution of guest paths.
//!
//! Every guest path is resolved relative to a directory descriptor, one
//! component at a time, the way Wasmtime's `cap-std` does it (and with the
//! same errnos), without trusting host canonicalization:
//!
//! * an absolute path, a `..` that would climb above the directory descriptor
//!   the path is relative to, or a symlink whose target is absolute or climbs
//!   out that way → `PERM` (Wasmtime reports the same "a path led outside of
//!   the filesystem" error as `EPERM`; libc turns paths outside every preopen
//!   into `ENOTCAPABLE` before they reach the host);
//! * every component is `lstat`ed; a symlink met *before* the last component
//!   is read with `read_link` and its target resolved within the sandbox from
//!   the directory holding the link (`..` in a target follows the physical
//!   directory stack, as the kernel does);
//! * the last component is followed only when asked (`SYMLINK_FOLLOW`) or when
//!   the path ends in `/`;
//! * at most [`MAX_SYMLINKS`] expansions per lookup, then `LOOP`;
//! * an empty path is `NOENT`, an interior NUL byte `INVAL`.
//!
//! The result is a list of plain directory names below the start directory,
//! which the caller turns into a host path (`start/a/b/...`) for `std::fs`.
//!
//! # Limitation: time of check to time of use
//!
//! `std` offers no `openat`/`O_NOFOLLOW`/`O_BENEATH` (and none of it exists on
//! the `wasm32-wasip1` build), so most host operations are finally performed
//! on a host *path* that was verified component by component just before.
//! Another host process that swaps a checked directory for a symlink between
//! the check and the use can make that single operation escape the sandbox.
//! The guest itself cannot race this (it is single-threaded and every WASI
//! call runs to completion). Do not preopen directories that untrusted host
//! processes can write to if that matters.
//!
//! `path_open` on Unix is not affected: its final open is relative to the
//! directory descriptor's handle, beneath it and refusing every symlink
//! (`host_os::open_resolved`: `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`
//! on Linux), so whatever was swapped in since the walk makes it fail rather
//! than escape. The other `path_*` calls still use host paths.
//!
//! Host-side operations chiwawa performs on its own (reopening descriptors on
//! restore, the undo journal's roll back) resolve the same way, beneath the
//! preopen's handle (`host_os::open_beneath`).

use super::abi::{Errno, WResult};
use std::fs::Metadata;
use std::path::{Path, PathBuf};

/// Symlink expansions allowed in one lookup (Linux and cap-std use 40).
pub const MAX_SYMLINKS: u32 = 40;

#[derive(Debug)]
pub(crate) enum Comp {
    Root,
    Cur,
    Parent,
    Normal(String),
}

/// Push the components of `path` onto the work stack (last component first
/// out is the *first* component, so they are pushed in reverse).
pub(crate) fn push_components(work: &mut Vec<Comp>, path: &str) {
    let mut comps = Vec::new();
    if path.starts_with('/') {
        comps.push(Comp::Root);
    }
    for seg in path.split('/') {
        match seg {
            "" => {}
            "." => comps.push(Comp::Cur),
            ".." => comps.push(Comp::Parent),
            s => comps.push(Comp::Normal(s.to_owned())),
        }
    }
    work.extend(comps.into_iter().rev());
}

/// The last component of a walk, not descended into.
#[derive(Debug)]
pub struct Last {
    pub name: String,
    /// Its `lstat` (a symlink only when it was not to be followed); `None`
    /// when nothing exists under that name.
    pub meta: Option<Metadata>,
}

/// Result of [`walk`].
#[derive(Debug)]
pub struct Walked {
    /// Directories below the start directory, symlink-free and verified.
    pub stack: Vec<String>,
    /// The final component, unless the path ended in `.`, `..` or resolved to
    /// the start directory itself (then the target is the directory `stack`).
    pub last: Option<Last>,
    /// The path (or the target of a trailing symlink) ended in `/`.
    pub dir_required: bool,
}

impl Walked {
    /// All components of the target (`stack` + `last`), relative to the start.
    pub fn components(&self) -> Vec<String> {
        let mut v = self.stack.clone();
        if let Some(l) = &self.last {
            v.push(l.name.clone());
        }
        v
    }
}

/// Host path of `rel` (directory names) below `start`.
pub fn host_path(start: &Path, rel: &[String]) -> PathBuf {
    let mut p = start.to_path_buf();
    for c in rel {
        p.push(c);
    }
    p
}

fn check_path(path: &str) -> WResult<()> {
    if path.is_empty() {
        return Err(Errno::NOENT);
    }
    if path.contains('\0') {
        return Err(Errno::INVAL);
    }
    Ok(())
}

/// Resolve `path` below the host directory `start`.
///
/// Intermediate components must be directories (symlinks are followed inside
/// the sandbox); the last one is followed if it is a symlink and `follow` is
/// set or the path ends in `/`.
pub fn walk(start: &Path, path: &str, follow: bool) -> WResult<Walked> {
    check_path(path)?;
    let mut work = Vec::new();
    push_components(&mut work, path);
    let mut dir_required = path.ends_with('/');
    let mut stack: Vec<String> = Vec::new();
    let mut last = None;
    let mut expansions = 0u32;

    while let Some(c) = work.pop() {
        match c {
            Comp::Root => return Err(Errno::PERM),
            Comp::Cur => {}
            Comp::Parent => {
                if stack.pop().is_none() {
                    return Err(Errno::PERM);
                }
            }
            Comp::Normal(name) => {
                let is_last = work.is_empty();
                let host = host_path(start, &stack).join(&name);
                let meta = match std::fs::symlink_metadata(&host) {
                    Ok(m) => m,
                    Err(e) if is_last && e.kind() == std::io::ErrorKind::NotFound => {
                        last = Some(Last { name, meta: None });
                        break;
                    }
                    Err(e) => return Err(e.into()),
                };
                let ft = meta.file_type();
                if ft.is_symlink() && (!is_last || follow || dir_required) {
                    expansions += 1;
                    if expansions > MAX_SYMLINKS {
                        return Err(Errno::LOOP);
                    }
                    let target = std::fs::read_link(&host)?;
                    let target = target.to_str().ok_or(Errno::ILSEQ)?.to_owned();
                    if target.is_empty() {
                        return Err(Errno::NOENT);
                    }
                    if is_last && target.ends_with('/') {
                        dir_required = true;
                    }
                    push_components(&mut work, &target);
                } else if is_last {
                    last = Some(Last { name, meta: Some(meta) });
                } else if ft.is_dir() {
                    stack.push(name);
                } else {
                    return Err(Errno::NOTDIR);
                }
            }
        }
    }
    Ok(Walked { stack, last, dir_required })
}

/// Resolve `path` to an existing directory, following every symlink (the
/// "open the parent directory" step of Wasmtime's `via_parent` operations).
pub fn walk_dir(start: &Path, path: &str) -> WResult<Vec<String>> {
    let w = walk(start, path, true)?;
    let mut stack = w.stack;
    match w.last {
        None => Ok(stack),
        Some(Last { meta: None, .. }) => Err(Errno::NOENT),
        Some(Last { name, meta: Some(m) }) => {
            if m.is_dir() {
                stack.push(name);
                Ok(stack)
            } else {
                Err(Errno::NOTDIR)
            }
        }
    }
}

/// The final name of a `via_parent` operation: a plain name, or the directory
/// itself (`.`) when the path ends in `/`, `/.`, `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    Name(String),
    Dot,
}

/// Split `path` into the directory to open and the name to operate on, as
/// cap-std's `split_parent` does.
pub fn split_parent(path: &str) -> WResult<(String, Base)> {
    check_path(path)?;
    let requires_dir = path.ends_with('/') || path.ends_with("/.");
    if !requires_dir {
        let (dir, name) = match path.rfind('/') {
            Some(0) => ("/", &path[1..]),
            Some(i) => (&path[..i], &path[i + 1..]),
            None => ("", path),
        };
        match name {
            "." => return Ok((dir.to_owned(), Base::Dot)),
            ".." => {}
            n => return Ok((dir.to_owned(), Base::Name(n.to_owned()))),
        }
    }
    Ok((path.to_owned(), Base::Dot))
}

/// Strip trailing slashes unless that leaves nothing (cap-std `strip_dir_suffix`).
pub fn strip_dir_suffix(path: &str) -> &str {
    let mut p = path;
    while p.len() > 1 && p.ends_with('/') {
        p = &p[..p.len() - 1];
    }
    p
}

/// Resolve the parent directory of `path` below `start` and return it (as
/// names below `start`) with the final name: the first half of every
/// `via_parent` operation (mkdir, rmdir, unlink, rename, link, symlink,
/// readlink).
pub fn resolve_parent(start: &Path, path: &str) -> WResult<(Vec<String>, Base)> {
    let (dir, base) = split_parent(path)?;
    let stack = if dir.is_empty() { Vec::new() } else { walk_dir(start, &dir)? };
    Ok((stack, base))
}
