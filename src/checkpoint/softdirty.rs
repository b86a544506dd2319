//! Which pages of guest memory were written since a point in time, from the kernel's soft-dirty
//! page-table bits (Linux: `/proc/self/clear_refs` + `/proc/self/pagemap`, the mechanism CRIU's
//! incremental dumps use). It lets an incremental checkpoint fingerprint only the pages that may
//! have changed instead of all of memory, at no cost while the guest runs: the kernel sets the
//! bit on the first write to a page after a clear.
//!
//! Conservative by construction: a 64 KiB guest page is "clean" only if every 4 KiB page under
//! it is present or swapped and has its soft-dirty bit clear. Pages moved by `mremap` (a
//! `memory.grow` reallocation), new mappings and anything the kernel cannot vouch for read as
//! dirty. [`SoftDirty::probe`] checks the mechanism on this kernel before it is trusted, and the
//! page tracker cross-checks it against a full fingerprint pass from time to time.
//!
//! Elsewhere (other systems, wasm32) [`SoftDirty::probe`] returns `None` and every page is
//! fingerprinted.

use crate::runtime::wprotect::Tracked;
use std::io;

/// What the page tables say about one 64 KiB guest page since the last clear.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageState {
    /// Written (or possibly written) since the last clear.
    Dirty,
    /// Not written since the last clear.
    Clean,
    /// Never backed by memory (reads as zero) and not swapped: unchanged if it was zero.
    Absent,
}

/// Environment variable: `hash` turns write tracking off (every page fingerprinted);
/// `soft-dirty` or `mprotect` allows only that tracker.
pub const TRACKING_ENV: &str = "CHIWAWA_DIRTY_TRACKING";

/// A source of "which pages were written since the last clear" (the kernel's soft-dirty bits,
/// page protection; tests substitute their own).
pub trait WriteTracker: Send {
    /// Starts a new interval on the memories `mems` (by index).
    fn clear(&mut self, mems: &[&[u8]]) -> io::Result<()>;
    /// The state of each 64 KiB page of memory `index` (contents `mem`) since the last clear.
    fn states(&mut self, index: usize, mem: &[u8]) -> io::Result<Vec<PageState>>;
    /// What the tracker is, for the log.
    fn name(&self) -> &'static str;
}

impl WriteTracker for SoftDirty {
    fn clear(&mut self, _mems: &[&[u8]]) -> io::Result<()> {
        SoftDirty::clear(self)
    }
    fn states(&mut self, _index: usize, mem: &[u8]) -> io::Result<Vec<PageState>> {
        SoftDirty::states(self, mem)
    }
    fn name(&self) -> &'static str {
        "soft-dirty page tracking"
    }
}

/// Write tracking by page protection ([`crate::runtime::wprotect`]): guest memory is read-only
/// between checkpoints and the first write to a page faults once.
pub struct WriteProtect {
    tracked: Vec<Tracked>,
}

impl WriteProtect {
    /// Page protection, when it works here: a self-test on a buffer of its own first. `None`
    /// (and a debug log line) otherwise.
    pub fn probe() -> Option<WriteProtect> {
        match Self::self_test() {
            Ok(()) => Some(WriteProtect { tracked: Vec::new() }),
            Err(e) => {
                log::debug!("page-protection write tracking unavailable ({e})");
                None
            }
        }
    }

    fn self_test() -> io::Result<()> {
        let fail = |what: &str| io::Error::other(format!("self-test: {what}"));
        let mut buf = vec![1u8; 8 * 65536];
        let t = Tracked::new(&buf)?;
        if t.written(&buf)[1..7].iter().any(|w| *w) {
            return Err(fail("pages read written before any write"));
        }
        // SAFETY: in bounds; volatile so that the write happens where it is.
        unsafe { std::ptr::write_volatile(buf.as_mut_ptr().add(2 * 65536 + 30000), 2) };
        // Page 2 is written (inside: its neighbours are untouched).
        let w = t.written(&buf);
        if !w[2] || w[1] || w[3] || w[5] || buf[2 * 65536 + 30000] != 2 {
            return Err(fail("a write was not recorded by its page"));
        }
        drop(t);
        std::hint::black_box(&buf);
        Ok(())
    }
}

impl WriteTracker for WriteProtect {
    fn clear(&mut self, mems: &[&[u8]]) -> io::Result<()> {
        self.tracked.truncate(mems.len());
        for (i, mem) in mems.iter().enumerate() {
            match self.tracked.get_mut(i) {
                Some(t) => t.reset(mem)?,
                None => self.tracked.push(Tracked::new(mem)?),
            }
        }
        Ok(())
    }
    fn states(&mut self, index: usize, mem: &[u8]) -> io::Result<Vec<PageState>> {
        Ok(match self.tracked.get(index) {
            Some(t) => t
                .written(mem)
                .into_iter()
                .map(|w| if w { PageState::Dirty } else { PageState::Clean })
                .collect(),
            None => vec![PageState::Dirty; mem.len() / 65536],
        })
    }
    fn name(&self) -> &'static str {
        "page-protection write tracking"
    }
}

/// The states of memory `index` (contents `mem`) from `tracker`; a tracker that fails is
/// dropped with a warning (`who` prefixes it, `then` says what happens instead) and `None` is
/// returned, as without one.
pub fn states_or_drop(
    tracker: &mut Option<Box<dyn WriteTracker>>,
    index: usize,
    mem: &[u8],
    who: &str,
    then: &str,
) -> Option<Vec<PageState>> {
    match tracker.as_mut()?.states(index, mem) {
        Ok(s) => Some(s),
        Err(e) => {
            log::warn!("{who}write tracking failed ({e}); {then}");
            *tracker = None;
            None
        }
    }
}

/// Starts a new interval of `tracker` on `mems`; a tracker that fails is dropped as in
/// [`states_or_drop`].
pub fn clear_or_drop(tracker: &mut Option<Box<dyn WriteTracker>>, mems: &[&[u8]], who: &str, then: &str) {
    if let Some(Err(e)) = tracker.as_mut().map(|t| t.clear(mems)) {
        log::warn!("{who}write tracking failed ({e}); {then}");
        *tracker = None;
    }
}

/// The best write tracker this system offers: the kernel's soft-dirty bits, else page
/// protection, each only after its self-test; `None` when [`TRACKING_ENV`] is `hash` or
/// neither works (every page is then fingerprinted). [`TRACKING_ENV`] = `soft-dirty` or
/// `mprotect` allows only that one.
pub fn best_tracker() -> Option<Box<dyn WriteTracker>> {
    let only = std::env::var(TRACKING_ENV).unwrap_or_default();
    if only == "hash" {
        return None;
    }
    if only != "mprotect" {
        if let Some(s) = SoftDirty::probe() {
            return Some(Box::new(s));
        }
    }
    if only != "soft-dirty" {
        if let Some(w) = WriteProtect::probe() {
            return Some(Box::new(w));
        }
    }
    None
}

#[cfg(target_os = "linux")]
mod imp {
    use super::PageState;
    use std::fs::{File, OpenOptions};
    use std::io::{self, Read, Seek, SeekFrom, Write};

    const SMALL: usize = 4096;
    const GUEST_PAGE: usize = 65536;
    const PRESENT: u64 = 1 << 63;
    const SWAPPED: u64 = 1 << 62;
    const SOFT_DIRTY: u64 = 1 << 55;

    pub struct SoftDirty {
        pagemap: File,
        clear_refs: File,
        buf: Vec<u8>,
    }

    impl SoftDirty {
        pub fn open() -> io::Result<SoftDirty> {
            let pagemap = File::open("/proc/self/pagemap")?;
            let clear_refs = OpenOptions::new().write(true).open("/proc/self/clear_refs")?;
            Ok(SoftDirty { pagemap, clear_refs, buf: Vec::new() })
        }

        /// Clears the soft-dirty bits of the whole process.
        pub fn clear(&mut self) -> io::Result<()> {
            self.clear_refs.write_all(b"4")
        }

        fn entries(&mut self, first: usize, count: usize) -> io::Result<&[u8]> {
            self.buf.resize(count * 8, 0);
            self.pagemap.seek(SeekFrom::Start(first as u64 * 8))?;
            self.pagemap.read_exact(&mut self.buf)?;
            Ok(&self.buf)
        }

        /// The entry of the 4 KiB page holding `addr`.
        pub fn entry(&mut self, addr: usize) -> io::Result<u64> {
            let e = self.entries(addr / SMALL, 1)?;
            Ok(u64::from_le_bytes(e[..8].try_into().unwrap_or_default()))
        }

        pub fn states(&mut self, mem: &[u8]) -> io::Result<Vec<PageState>> {
            let pages = mem.len() / GUEST_PAGE;
            if pages == 0 {
                return Ok(Vec::new());
            }
            let start = mem.as_ptr() as usize;
            let first = start / SMALL;
            let last = (start + mem.len() - 1) / SMALL;
            let entries = self.entries(first, last - first + 1)?;
            let entry = |small: usize| {
                let i = (small - first) * 8;
                u64::from_le_bytes(entries[i..i + 8].try_into().unwrap_or_default())
            };
            Ok((0..pages)
                .map(|p| {
                    let lo = (start + p * GUEST_PAGE) / SMALL;
                    let hi = (start + (p + 1) * GUEST_PAGE - 1) / SMALL;
                    let mut absent = true;
                    for small in lo..=hi {
                        let e = entry(small);
                        if e & SOFT_DIRTY != 0 {
                            return PageState::Dirty;
                        }
                        if e & (PRESENT | SWAPPED) != 0 {
                            absent = false;
                        }
                    }
                    if absent {
                        PageState::Absent
                    } else {
                        PageState::Clean
                    }
                })
                .collect())
        }
    }
}

/// Soft-dirty tracking, when this kernel offers it and it passed its self-test.
pub struct SoftDirty {
    #[cfg(target_os = "linux")]
    inner: imp::SoftDirty,
}

impl SoftDirty {
    /// Opens the kernel interfaces and checks that they work as documented: a page written
    /// after a clear reads dirty, one not written reads clean. `None` (and a debug log line)
    /// otherwise. ([`best_tracker`] applies [`TRACKING_ENV`].)
    pub fn probe() -> Option<SoftDirty> {
        match Self::self_test() {
            Ok(s) => Some(s),
            Err(e) => {
                log::debug!("soft-dirty page tracking unavailable ({e}): every page is fingerprinted");
                None
            }
        }
    }

    #[cfg(target_os = "linux")]
    fn self_test() -> io::Result<SoftDirty> {
        let mut inner = imp::SoftDirty::open()?;
        // Two whole 4 KiB pages inside a heap buffer.
        let mut buf = vec![0u8; 4 * 4096];
        let base = buf.as_ptr() as usize;
        let a = base.div_ceil(4096) * 4096 - base;
        let b = a + 4096;
        let fail = |what: &str| io::Error::other(format!("self-test: {what}"));
        // SAFETY: `a` and `b` are in bounds of `buf` (a < 4096, b + 1 < 4 * 4096); volatile
        // writes so that they happen exactly where they are in program order.
        unsafe {
            std::ptr::write_volatile(buf.as_mut_ptr().add(a), 1);
            std::ptr::write_volatile(buf.as_mut_ptr().add(b), 1);
        }
        inner.clear()?;
        let sd = |e: u64| e & (1 << 55) != 0;
        if sd(inner.entry(base + a)?) || sd(inner.entry(base + b)?) {
            return Err(fail("bits still set after a clear"));
        }
        // SAFETY: as above.
        unsafe { std::ptr::write_volatile(buf.as_mut_ptr().add(a), 2) };
        if !sd(inner.entry(base + a)?) {
            return Err(fail("a written page does not read dirty"));
        }
        if sd(inner.entry(base + b)?) {
            return Err(fail("an unwritten page reads dirty"));
        }
        std::hint::black_box(&buf);
        Ok(SoftDirty { inner })
    }

    #[cfg(not(target_os = "linux"))]
    fn self_test() -> io::Result<SoftDirty> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "not Linux"))
    }

    /// Starts a new interval: every page reads clean until written again.
    pub fn clear(&mut self) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        {
            self.inner.clear()
        }
        #[cfg(not(target_os = "linux"))]
        {
            Ok(())
        }
    }

    /// The state of each 64 KiB page of `mem` since the last [`clear`](Self::clear).
    pub fn states(&mut self, mem: &[u8]) -> io::Result<Vec<PageState>> {
        #[cfg(target_os = "linux")]
        {
            self.inner.states(mem)
        }
        #[cfg(not(target_os = "linux"))]
        {
            Ok(vec![PageState::Dirty; mem.len() / 65536])
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn written_pages_read_dirty_and_others_clean() {
        let Some(mut sd) = SoftDirty::probe() else {
            eprintln!("soft-dirty unavailable here; nothing to test");
            return;
        };
        let mut mem = vec![1u8; 8 * 65536];
        sd.clear().unwrap();
        assert!(sd.states(&mem).unwrap().iter().all(|s| *s != PageState::Dirty));
        for p in [1usize, 6] {
            // SAFETY: in bounds; volatile so the write is not elided.
            unsafe { std::ptr::write_volatile(mem.as_mut_ptr().add(p * 65536 + 100), 7) };
        }
        let s = sd.states(&mem).unwrap();
        for (p, st) in s.iter().enumerate() {
            // Pages 1 and 6 are dirty; the others clean unless they share a 4 KiB page with
            // the written bytes (the buffer need not be 4 KiB-aligned).
            if p == 1 || p == 6 {
                assert_eq!(*st, PageState::Dirty, "page {p}");
            } else if p != 0 && p != 5 {
                assert_eq!(*st, PageState::Clean, "page {p}");
            }
        }
        std::hint::black_box(&mem);
    }
}
