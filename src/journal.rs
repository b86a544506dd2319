//! The undo journal: a write-ahead record of the files a guest opens for writing *after* the
//! newest checkpoint, so that a restart can put them back as they were at that checkpoint.
//!
//! A checkpoint records the size of every file open for writing at that moment, and restore
//! truncates those back. Files opened later are unknown to it: without this journal, a guest
//! killed after opening `log.txt` with `O_APPEND` would append the same lines twice after the
//! restart, and one that created `out.bin` with `O_EXCL` would fail with EEXIST. So before any
//! `path_open` that may write, WASI calls a hook that appends a line to `<checkpoint dir>/journal`
//! and fsyncs it; only then is the file opened. On restore from generation G, the entries of a
//! journal started at generation ≥ G are undone newest first: a file that did not exist is
//! removed, a file that existed is truncated back to its recorded size.
//!
//! Before the first checkpoint of a run the journal's generation is 0, "the start", and its
//! header also records the sizes of stdout/stderr when they are regular files: a run killed
//! before its first checkpoint is then undone completely when the next run starts over.
//!
//! Format (text, one record per line):
//!
//! ```text
//! chiwawa-journal 1 <generation> <module sha256, hex> [<fd>:<size>]...
//! open <existed: 0|1> <size> <preopen guest name, hex> <path below the preopen, hex>
//! checkpoint <generation>
//! ```
//!
//! A `checkpoint` line marks where a generation was captured whose files were then written
//! while the guest ran on (see `snapshot::begin`): resumed from the journal's own generation,
//! every entry is undone; resumed from the marked one, only the entries after its line. Once
//! the marked generation is durable the journal is started again at it (`Journal::rebase`).
//!
//! A torn last line is ignored: it was never fsynced, so the open it announces never happened.
//!
//! The roll back resolves every path beneath its preopen's directory handle the way the guest's
//! `path_open` does (`openat2(RESOLVE_BENEATH)` on Linux; see `wasi::open_beneath`): all entries
//! are resolved first, and if one now leads outside its preopen (e.g. through a symlink the
//! guest made after the open) nothing at all is rolled back and the restart stops with an error.
//! Limits: writes in place to a file that already existed are not undone (only growth is), nor
//! are deletions, renames or new directories.

use crate::checkpoint::hash;
use crate::error::Error;
use crate::wasi::{
    is_escape, open_beneath, truncate_stdio, unlink_beneath, DirRef, OpenHow, Preopen, WriteOpen,
};
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

const MAGIC: &str = "chiwawa-journal 1";

/// The file name inside the checkpoint directory.
pub fn path(dir: &Path) -> PathBuf {
    dir.join("journal")
}

/// One recorded open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub existed: bool,
    pub size: u64,
    pub preopen: String,
    pub path: String,
}

/// An open journal, appended to by the WASI write-open hook.
#[derive(Debug)]
pub struct Journal {
    file: File,
    /// The entry lines recorded since the last [`mark`](Journal::mark) (or the start).
    since_mark: Vec<String>,
}

/// A journal field: the string's bytes in hexadecimal (`-` when empty), so that any path
/// fits in one space-separated field.
fn hex(s: &str) -> String {
    if s.is_empty() {
        return "-".into();
    }
    hash::to_hex(s.as_bytes())
}

fn unhex(s: &str) -> Option<String> {
    if s == "-" {
        return Some(String::new());
    }
    String::from_utf8(hash::from_hex_bytes(s)?).ok()
}

impl Journal {
    /// Starts an empty journal for the state of `generation` (0: the start of the run, with
    /// the sizes of regular-file stdout/stderr in `stdio`), replacing any older one atomically:
    /// the new journal is written and synced under a temp name, then renamed over the old one,
    /// so a crash at any moment leaves one complete journal (never an empty or torn header).
    pub fn reset(
        dir: &Path,
        generation: u64,
        module_hash: &[u8; 32],
        stdio: &[(u32, u64)],
    ) -> io::Result<Journal> {
        let stdio: String = stdio.iter().map(|(fd, n)| format!(" {fd}:{n}")).collect();
        let header = format!("{MAGIC} {generation} {}{stdio}\n", hash::to_hex(module_hash));
        Ok(Journal { file: write_new(dir, &header, &[])?, since_mark: Vec::new() })
    }

    /// Records an open before it happens; durable when this returns.
    pub fn record(&mut self, w: &WriteOpen) -> io::Result<()> {
        let line = format!("open {} {} {} {}\n", w.existed as u8, w.size, hex(&w.preopen), hex(&w.path));
        self.file.write_all(line.as_bytes())?;
        self.since_mark.push(line);
        self.file.sync_data()
    }

    /// Records that generation `generation` was captured here, before it is durable (it is
    /// being written while the guest runs on): a resume from the generation the journal started
    /// at undoes every entry, one from `generation` only those after this line.
    ///
    /// Not synced here: the next [`record`](Self::record) syncs it with its own line, before the
    /// open it announces. A mark lost in a crash had no entries after it, and then a resume
    /// from `generation` has nothing to undo either way.
    pub fn mark(&mut self, generation: u64) -> io::Result<()> {
        // Cleared first: if the line cannot be written the caller waits for the generation and
        // rebases on it at once, and no entry from before it may follow into that journal.
        self.since_mark.clear();
        writeln!(self.file, "checkpoint {generation}")
    }

    /// Generation `generation`, marked last, is durable: the journal starts at it again, with
    /// the entries recorded since its mark (replaced atomically, as [`reset`](Self::reset)).
    pub fn rebase(&mut self, dir: &Path, generation: u64, module_hash: &[u8; 32]) -> io::Result<()> {
        let header = format!("{MAGIC} {generation} {}\n", hash::to_hex(module_hash));
        self.file = write_new(dir, &header, &self.since_mark)?;
        Ok(())
    }
}

/// Replaces the journal atomically with one of `header` and `lines`: written and synced under
/// a temp name, renamed over the old one, the directory synced (after a power loss the old
/// journal must not come back without what was recorded in the new one). Returns the new
/// journal's file, positioned at its end.
fn write_new(dir: &Path, header: &str, lines: &[String]) -> io::Result<File> {
    let mut tmp = tempfile::Builder::new().prefix(".journal-").suffix(".tmp").tempfile_in(dir)?;
    tmp.write_all(header.as_bytes())?;
    for line in lines {
        tmp.write_all(line.as_bytes())?;
    }
    tmp.as_file().sync_data()?;
    let file = tmp.persist(path(dir)).map_err(|e| e.error)?;
    crate::checkpoint::dir::sync_dir(dir)?;
    Ok(file)
}

/// A journal as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    pub generation: u64,
    /// Module SHA-256, hex.
    pub module: String,
    /// Regular-file stdout/stderr sizes at the start (generation 0 only).
    pub stdio: Vec<(u32, u64)>,
    pub entries: Vec<Entry>,
    /// `checkpoint` lines: a generation captured after the first `n` entries.
    pub marks: Vec<(u64, usize)>,
}

/// Reads the journal (complete entries only).
pub fn load(dir: &Path) -> io::Result<Option<Loaded>> {
    let text = match std::fs::read(path(dir)) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut lines = text.split_inclusive('\n');
    let Some(head) = lines.next().and_then(|l| l.strip_suffix('\n')) else { return Ok(None) };
    let Some(rest) = head.strip_prefix(MAGIC) else { return Ok(None) };
    let mut parts = rest.split_whitespace();
    let (Some(generation), Some(module)) = (parts.next().and_then(|g| g.parse().ok()), parts.next()) else {
        return Ok(None);
    };
    let mut stdio = Vec::new();
    for p in parts {
        match p.split_once(':').and_then(|(fd, n)| Some((fd.parse().ok()?, n.parse().ok()?))) {
            Some(x) => stdio.push(x),
            None => return Ok(None),
        }
    }
    let mut entries = Vec::new();
    let mut marks = Vec::new();
    for line in lines {
        let Some(line) = line.strip_suffix('\n') else { break }; // torn: never fsynced
        let f: Vec<&str> = line.split(' ').collect();
        if let ["checkpoint", g] = f.as_slice() {
            match g.parse() {
                Ok(g) => {
                    marks.push((g, entries.len()));
                    continue;
                }
                Err(_) => break,
            }
        }
        let parsed = match f.as_slice() {
            ["open", e, size, pre, p] => (|| {
                Some(Entry {
                    existed: *e == "1",
                    size: size.parse().ok()?,
                    preopen: unhex(pre)?,
                    path: unhex(p)?,
                })
            })(),
            _ => None,
        };
        match parsed {
            Some(entry) => entries.push(entry),
            None => break,
        }
    }
    Ok(Some(Loaded { generation, module: module.to_string(), stdio, entries, marks }))
}

/// Deletes the journal (the guest finished, or a fresh start).
pub fn remove(dir: &Path) {
    let _ = std::fs::remove_file(path(dir));
}

/// A roll back step, decided before any is taken.
enum Undo<'a> {
    /// Cut a file that existed back to its size (through the handle opened beneath the preopen).
    Truncate { file: File, size: u64, target: PathBuf },
    /// Remove a file created since (its parent resolved beneath the preopen again).
    Remove { preopen: usize, path: &'a str, target: PathBuf },
}

/// What a restart resumes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resume {
    /// A generation of the checkpoint directory.
    Generation(u64),
    /// The beginning: no generation could be used.
    Start,
}

/// Before resuming: undoes the opens recorded since that point, if the journal belongs to this
/// module and was started at that point or later (for [`Resume::Start`]: only a journal of a run
/// that never reached a checkpoint, whose stdout/stderr are cut back too). Returns how many
/// entries were undone.
pub fn undo(
    dir: &Path,
    resume: Resume,
    module_hash: &[u8; 32],
    preopens: &[Preopen],
) -> Result<usize, Error> {
    let Some(j) = load(dir).map_err(|e| Error::Other(format!("cannot read the undo journal: {e}")))? else {
        return Ok(0);
    };
    // The entries recorded after that point: all of a journal started there (or later), those
    // after its mark in one started earlier, none otherwise.
    let from = match resume {
        Resume::Generation(g) if j.generation >= g => Some(0),
        // The last mark of that number: an earlier one is of an attempt that failed before its
        // generation was committed (the number was then used again).
        Resume::Generation(g) => j.marks.iter().rev().find(|(m, _)| *m == g).map(|(_, n)| *n),
        Resume::Start => (j.generation == 0).then_some(0),
    };
    let Some(from) = from.filter(|_| j.module == hash::to_hex(module_hash)) else {
        return Ok(0);
    };
    let entries = &j.entries[from.min(j.entries.len())..];
    // First resolve every entry beneath its preopen (the way the guest's own `path_open` does)
    // and decide what to do; only when all of them are fine is anything changed. An entry whose
    // path now leads out of its preopen (e.g. through a symlink the guest made) stops the roll
    // back before it touched anything.
    let mut roots: Vec<Option<Option<File>>> = preopens.iter().map(|_| None).collect();
    let mut actions = Vec::new();
    for e in entries.iter().rev() {
        let Some(pi) = preopens.iter().position(|p| p.guest == e.preopen) else {
            return Err(Error::Environment(format!(
                "the preopen {:?} is not given (files below it must be rolled back)",
                e.preopen
            )));
        };
        let p = &preopens[pi];
        let comps: Vec<&str> = e.path.split('/').collect();
        if e.path.contains('\0') || comps.iter().any(|c| c.is_empty() || *c == "." || *c == "..") {
            return Err(Error::Refused(format!("the undo journal holds a bad path {:?}", e.path)));
        }
        let target = comps.iter().fold(p.host.clone(), |acc, c| acc.join(c));
        let fail = |err: io::Error| {
            if is_escape(&err) {
                Error::Refused(format!(
                    "refusing to roll back '{}' (preopen {:?}, path {:?}): {err}; nothing was rolled back",
                    target.display(),
                    e.preopen,
                    e.path
                ))
            } else {
                Error::Other(format!("cannot roll back {}: {err}", target.display()))
            }
        };
        let root = match &mut roots[pi] {
            Some(r) => r,
            slot => slot.insert(match File::open(&p.host) {
                Ok(f) => Some(f),
                // Nothing below a missing preopen to roll back.
                Err(err) if err.kind() == io::ErrorKind::NotFound => None,
                Err(err) => return Err(fail(err)),
            }),
        };
        let Some(root) = root.as_ref() else { continue };
        let dir = DirRef { file: root, host: &p.host };
        if e.existed {
            let how = OpenHow { write: true, ..OpenHow::default() };
            match open_beneath(dir, &e.path, how) {
                Ok(f) => {
                    let len = f.metadata().map_err(fail)?.len();
                    if len > e.size {
                        actions.push(Undo::Truncate { file: f, size: e.size, target });
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(fail(err)),
            }
        } else {
            let parent = e.path.rsplit_once('/').map_or("", |(d, _)| d);
            let how = OpenHow { read: true, directory: true, ..OpenHow::default() };
            match open_beneath(dir, parent, how) {
                Ok(_) => actions.push(Undo::Remove { preopen: pi, path: &e.path, target }),
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(fail(err)),
            }
        }
    }
    for a in actions {
        match a {
            Undo::Truncate { file, size, target } => {
                file.set_len(size)
                    .map_err(|err| Error::Other(format!("cannot roll back {}: {err}", target.display())))?;
                log::debug!("rolled back {} (truncated)", target.display());
            }
            Undo::Remove { preopen, path, target } => {
                let root = roots[preopen].as_ref().and_then(Option::as_ref);
                let Some(root) = root else { continue };
                let dir = DirRef { file: root, host: &preopens[preopen].host };
                match unlink_beneath(dir, path) {
                    Err(err) if err.kind() != io::ErrorKind::NotFound => {
                        return Err(Error::Other(format!("cannot roll back {}: {err}", target.display())))
                    }
                    _ => log::debug!("rolled back {} (removed)", target.display()),
                }
            }
        }
    }
    if resume == Resume::Start {
        for &(fd, size) in &j.stdio {
            truncate_stdio(fd, size).map_err(|e| Error::Other(e.to_string()))?;
        }
    }
    Ok(entries.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_load_undo() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("old.txt"), b"0123456789").unwrap();
        let h = [7u8; 32];
        let mut j = Journal::reset(d.path(), 5, &h, &[]).unwrap();
        let pre = vec![Preopen { host: root.clone(), guest: "/data".into() }];
        j.record(&WriteOpen { preopen: "/data".into(), path: "old.txt".into(), existed: true, size: 4 })
            .unwrap();
        j.record(&WriteOpen {
            preopen: "/data".into(),
            path: "sub/new file".into(),
            existed: false,
            size: 0,
        })
        .unwrap();
        std::fs::write(root.join("sub/new file"), b"x").unwrap();
        // A torn record at the end is ignored.
        std::fs::OpenOptions::new()
            .append(true)
            .open(path(d.path()))
            .unwrap()
            .write_all(b"open 0 0 2f")
            .unwrap();
        let j = load(d.path()).unwrap().unwrap();
        assert_eq!((j.generation, j.module.len(), j.entries.len()), (5, 64, 2));
        // A journal older than the generation being restored is left alone, and so is one
        // that is not from before the first checkpoint when starting over.
        assert_eq!(undo(d.path(), Resume::Generation(6), &h, &pre).unwrap(), 0);
        assert_eq!(undo(d.path(), Resume::Start, &h, &pre).unwrap(), 0);
        // Another module's journal too.
        assert_eq!(undo(d.path(), Resume::Generation(5), &[8u8; 32], &pre).unwrap(), 0);
        assert_eq!(undo(d.path(), Resume::Generation(5), &h, &pre).unwrap(), 2);
        assert_eq!(std::fs::read(root.join("old.txt")).unwrap(), b"0123");
        assert!(!root.join("sub/new file").exists());
        // Missing preopen: an environment error.
        assert!(matches!(undo(d.path(), Resume::Generation(5), &h, &[]), Err(Error::Environment(_))));
    }

    /// A generation written in the background: marked when captured, the journal started again
    /// at it once durable; a resume from either undoes exactly the opens after it.
    #[test]
    fn marks_split_the_journal_between_two_generations() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(&root).unwrap();
        let h = [9u8; 32];
        let pre = vec![Preopen { host: root.clone(), guest: "/d".into() }];
        let new = |name: &str| WriteOpen { preopen: "/d".into(), path: name.into(), existed: false, size: 0 };
        let touch = |name: &str| std::fs::write(root.join(name), b"x").unwrap();
        let mut j = Journal::reset(d.path(), 3, &h, &[]).unwrap();
        j.record(&new("before")).unwrap();
        touch("before");
        j.mark(4).unwrap();
        j.record(&new("after")).unwrap();
        touch("after");
        let loaded = load(d.path()).unwrap().unwrap();
        assert_eq!((loaded.generation, loaded.entries.len(), loaded.marks.clone()), (3, 2, vec![(4, 1)]));
        // Generation 4 durable: a resume from it undoes only what came after its mark.
        assert_eq!(undo(d.path(), Resume::Generation(4), &h, &pre).unwrap(), 1);
        assert!(root.join("before").exists() && !root.join("after").exists());
        touch("after");
        // Generation 4 never durable: from 3, everything.
        assert_eq!(undo(d.path(), Resume::Generation(3), &h, &pre).unwrap(), 2);
        assert!(!root.join("before").exists() && !root.join("after").exists());
        // An older generation: everything (all of it came later); a newer one the journal has
        // no mark of: nothing.
        touch("before");
        touch("after");
        assert_eq!(undo(d.path(), Resume::Generation(2), &h, &pre).unwrap(), 2);
        touch("after");
        assert_eq!(undo(d.path(), Resume::Generation(5), &h, &pre).unwrap(), 0);
        // Rebased at 4: it keeps the entries after the mark.
        j.rebase(d.path(), 4, &h).unwrap();
        j.record(&new("later")).unwrap();
        let loaded = load(d.path()).unwrap().unwrap();
        assert_eq!(loaded.generation, 4);
        let names: Vec<&str> = loaded.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(names, ["after", "later"]);
        assert!(loaded.marks.is_empty());
    }

    /// A generation that failed before it was committed leaves its mark; the next generation
    /// gets the same number and its own mark: a resume from it undoes from the last mark.
    #[test]
    fn a_reused_generation_number_undoes_from_its_last_mark() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(&root).unwrap();
        let h = [5u8; 32];
        let pre = vec![Preopen { host: root.clone(), guest: "/d".into() }];
        let new = |name: &str| WriteOpen { preopen: "/d".into(), path: name.into(), existed: false, size: 0 };
        let mut j = Journal::reset(d.path(), 3, &h, &[]).unwrap();
        j.mark(4).unwrap();
        j.record(&new("between")).unwrap();
        j.mark(4).unwrap();
        j.record(&new("after")).unwrap();
        for f in ["between", "after"] {
            std::fs::write(root.join(f), b"x").unwrap();
        }
        assert_eq!(undo(d.path(), Resume::Generation(4), &h, &pre).unwrap(), 1);
        assert!(root.join("between").exists() && !root.join("after").exists());
    }

    #[test]
    fn hostile_paths_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let h = [1u8; 32];
        let mut j = Journal::reset(d.path(), 1, &h, &[(1, 10)]).unwrap();
        j.record(&WriteOpen { preopen: "p".into(), path: "../escape".into(), existed: false, size: 0 })
            .unwrap();
        let pre = vec![Preopen { host: d.path().join("x"), guest: "p".into() }];
        assert_eq!(load(d.path()).unwrap().unwrap().stdio, [(1, 10)]);
        assert!(undo(d.path(), Resume::Generation(1), &h, &pre).is_err());
    }

    /// Entries whose paths lead out through symlinks made after the open: nothing outside is
    /// touched, and nothing inside either (the roll back is all or nothing).
    #[cfg(unix)]
    #[test]
    fn symlinks_out_of_the_preopen_stop_the_roll_back() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        let outside = d.path().join("outside");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("big.txt"), b"0123456789").unwrap();
        std::fs::write(outside.join("victim"), b"v").unwrap();
        std::fs::write(root.join("grown.txt"), b"0123456789").unwrap();
        std::os::unix::fs::symlink("../outside", root.join("dir")).unwrap();
        std::os::unix::fs::symlink("../outside/big.txt", root.join("file.txt")).unwrap();
        let h = [3u8; 32];
        let pre = vec![Preopen { host: root.clone(), guest: "/data".into() }];
        for (hostile, existed) in [("dir/big.txt", true), ("file.txt", true), ("dir/victim", false)] {
            let mut j = Journal::reset(d.path(), 2, &h, &[]).unwrap();
            let w = |path: &str, existed| WriteOpen {
                preopen: "/data".into(),
                path: path.into(),
                existed,
                size: 2,
            };
            j.record(&w(hostile, existed)).unwrap();
            j.record(&w("grown.txt", true)).unwrap();
            let err = undo(d.path(), Resume::Generation(2), &h, &pre).unwrap_err().to_string();
            assert!(err.contains("outside"), "{hostile}: {err}");
            assert_eq!(std::fs::read(outside.join("big.txt")).unwrap(), b"0123456789", "{hostile}");
            assert!(outside.join("victim").exists(), "{hostile}");
            assert_eq!(std::fs::read(root.join("grown.txt")).unwrap(), b"0123456789", "{hostile}");
        }
    }
}
