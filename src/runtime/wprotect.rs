//! Write tracking of linear memory by page protection (Linux): after a checkpoint the pages of
//! guest memory are made read-only; the first write to one faults, and the `SIGSEGV` handler
//! records its 64 KiB guest page as written and makes it writable again. The interpreter's
//! store path is untouched (no per-store cost); a page costs one fault per checkpoint interval,
//! and only if it is written. This is the mechanism of Boehm GC's `MPROTECT_VDB` and of
//! userspace dirty tracking where the kernel's soft-dirty bits are missing.
//!
//! Conservative by construction:
//! - Only the OS pages that lie wholly inside a memory are protected. A guest page that shares
//!   an OS page with bytes outside the protected span (the first and last page when the buffer
//!   is not OS-page aligned) always reads written.
//! - A fault inside the OS pages wholly within one guest page unprotects those; a fault in an
//!   OS page shared by two guest pages (an unaligned buffer) unprotects that OS page alone and
//!   records both guest pages.
//! - If `mprotect` fails in the handler (for example at the kernel's mapping-count limit),
//!   the whole memory is made writable and all of it reads written until the next clear.
//! - A memory that grows or is dropped is released first ([`release`]): all of it is made
//!   writable and reads written; a reallocation cannot carry protected pages elsewhere.
//! - The kernel does not fault when it writes guest memory for a system call (`read`,
//!   `getrandom`): it fails with `EFAULT`. Hosts that hand guest memory to the kernel call
//!   [`will_write`] on it first (the WASI layer's `slice_mut` does).
//!
//! Faults at addresses outside every tracked memory go to the handler that was installed
//! before (Rust's stack-overflow handler, or the default action).

/// Size of a guest page.
const GUEST_PAGE: usize = 65536;

#[cfg(target_os = "linux")]
mod imp {
    use super::GUEST_PAGE;
    use std::io;
    use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicUsize, Ordering::*};
    use std::sync::OnceLock;

    /// How many memories can be tracked at once in the process (a run has one or a few; tests
    /// run many machines in parallel threads).
    const SLOTS: usize = 64;
    const FREE: usize = 0;
    const BUSY: usize = 1;
    const LIVE: usize = 2;

    /// One tracked memory. Written only by the thread that owns the memory, while that thread
    /// is not running the guest; read by the signal handler of that same thread.
    struct Slot {
        state: AtomicUsize,
        /// The memory's buffer: start and length.
        base: AtomicUsize,
        len: AtomicUsize,
        /// The protected span: whole OS pages inside the buffer.
        lo: AtomicUsize,
        hi: AtomicUsize,
        /// One byte per guest page: 1 once written (or unprotected).
        bits: AtomicPtr<AtomicU8>,
        /// Everything reads written (the handler could not unprotect one page).
        lost: AtomicBool,
    }

    #[allow(clippy::declare_interior_mutable_const)]
    const EMPTY: Slot = Slot {
        state: AtomicUsize::new(FREE),
        base: AtomicUsize::new(0),
        len: AtomicUsize::new(0),
        lo: AtomicUsize::new(0),
        hi: AtomicUsize::new(0),
        bits: AtomicPtr::new(std::ptr::null_mut()),
        lost: AtomicBool::new(false),
    };
    static TABLE: [Slot; SLOTS] = [EMPTY; SLOTS];
    /// Slots in use: when 0, [`release`] and [`will_write`] return at once.
    static IN_USE: AtomicUsize = AtomicUsize::new(0);
    /// The handler installed before ours (for faults that are not ours).
    static PREVIOUS: OnceLock<Result<usize, String>> = OnceLock::new();
    static mut OLD_ACTION: std::mem::MaybeUninit<libc::sigaction> = std::mem::MaybeUninit::uninit();

    static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);

    /// The OS page size (read once; afterwards an atomic load, so the handler may call it).
    fn os_page() -> usize {
        match PAGE_SIZE.load(Relaxed) {
            0 => {
                // SAFETY: sysconf has no preconditions.
                let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
                let p = if p > 0 { p as usize } else { 4096 };
                PAGE_SIZE.store(p, Relaxed);
                p
            }
            p => p,
        }
    }

    fn install() -> Result<(), String> {
        PREVIOUS
            .get_or_init(|| {
                // SAFETY: a zeroed `sigaction` is a valid value; `OLD_ACTION` is written once,
                // here, before the handler that reads it can run.
                unsafe {
                    let mut act: libc::sigaction = std::mem::zeroed();
                    act.sa_sigaction = on_fault as *const () as usize;
                    act.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                    libc::sigemptyset(&mut act.sa_mask);
                    let old = &raw mut OLD_ACTION;
                    if libc::sigaction(libc::SIGSEGV, &act, (*old).as_mut_ptr()) != 0 {
                        return Err(format!("sigaction: {}", io::Error::last_os_error()));
                    }
                }
                Ok(0)
            })
            .clone()
            .map(|_| ())
    }

    /// The `SIGSEGV` handler: a write to a protected page of a tracked memory marks and
    /// unprotects it; any other fault goes to the previous handler. Async-signal-safe: atomics
    /// and `mprotect` only.
    extern "C" fn on_fault(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
        let (addr, code) = unsafe { ((*info).si_addr() as usize, (*info).si_code) };
        // Only a fault the kernel raised (not a SIGSEGV sent by kill/tgkill) can be ours.
        if code > 0 && IN_USE.load(Acquire) > 0 {
            for s in &TABLE {
                // A slot whose memory was released (or lost) no longer owns its range: the
                // range may belong to another memory by now.
                if s.state.load(Acquire) != LIVE || s.lost.load(Acquire) {
                    continue;
                }
                let (lo, hi) = (s.lo.load(Relaxed), s.hi.load(Relaxed));
                if addr < lo || addr >= hi {
                    continue;
                }
                let base = s.base.load(Relaxed);
                let page = (addr - base) / GUEST_PAGE;
                let ps = os_page();
                // The OS pages wholly inside the guest page, if the write is there; else the one
                // OS page it hit, which the guest page shares with a neighbour.
                let (start, end) = (base + page * GUEST_PAGE, base + (page + 1) * GUEST_PAGE);
                let (inner_lo, inner_hi) = (start.div_ceil(ps) * ps, end / ps * ps);
                let (from, to) = if inner_lo <= addr && addr < inner_hi {
                    (inner_lo, inner_hi)
                } else {
                    (addr / ps * ps, addr / ps * ps + ps)
                };
                let (from, to) = (from.max(lo), to.min(hi));
                // mprotect may set errno; the interrupted code must not see it change.
                // SAFETY: errno is thread-local; reading and writing it is async-signal-safe.
                let errno = unsafe { *libc::__errno_location() };
                mark(s, from - base, to - base);
                // SAFETY: [from, to) lies inside the tracked buffer, which its owner keeps
                // allocated while the slot is live.
                let ok = unsafe {
                    libc::mprotect(from as *mut libc::c_void, to - from, libc::PROT_READ | libc::PROT_WRITE)
                } == 0;
                if !ok {
                    s.lost.store(true, Release);
                    // SAFETY: as above, for the whole protected span (one mapping again).
                    unsafe {
                        libc::mprotect(lo as *mut libc::c_void, hi - lo, libc::PROT_READ | libc::PROT_WRITE)
                    };
                }
                // SAFETY: as above.
                unsafe { *libc::__errno_location() = errno };
                return;
            }
        }
        // Not ours: what would have happened without us.
        // SAFETY: OLD_ACTION was initialised before this handler was installed.
        unsafe {
            let old = &*(&raw const OLD_ACTION as *const libc::sigaction);
            let h = old.sa_sigaction;
            if old.sa_flags & libc::SA_SIGINFO != 0 && h > 1 {
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    std::mem::transmute(h);
                f(sig, info, ctx);
            } else if h > 1 {
                let f: extern "C" fn(libc::c_int) = std::mem::transmute(h);
                f(sig);
            } else {
                // Default (or ignored, which for a fault would loop): the default action, when
                // the faulting instruction runs again.
                let mut dfl: libc::sigaction = std::mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(sig, &dfl, std::ptr::null_mut());
            }
        }
    }

    /// Marks the guest pages that bytes [from, to) of the buffer (offsets) touch.
    fn mark(s: &Slot, from: usize, to: usize) {
        let bits = s.bits.load(Relaxed);
        if bits.is_null() || to <= from {
            return;
        }
        let pages = s.len.load(Relaxed) / GUEST_PAGE;
        for p in from / GUEST_PAGE..((to - 1) / GUEST_PAGE + 1).min(pages) {
            // SAFETY: `bits` has one entry per guest page of the buffer.
            unsafe { (*bits.add(p)).store(1, Relaxed) };
        }
    }

    fn protect(from: usize, to: usize, prot: libc::c_int) -> io::Result<()> {
        if to <= from {
            return Ok(());
        }
        // SAFETY: callers pass spans inside a buffer they own and keep allocated.
        if unsafe { libc::mprotect(from as *mut libc::c_void, to - from, prot) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// One memory tracked by page protection. Dropping it makes the memory writable again.
    pub struct Tracked {
        slot: usize,
        bits: Box<[AtomicU8]>,
    }

    impl Tracked {
        /// Starts tracking `mem`: all of it read-only, nothing recorded as written.
        pub fn new(mem: &[u8]) -> io::Result<Tracked> {
            install().map_err(io::Error::other)?;
            // Read now: the handler then only loads it.
            os_page();
            let slot = TABLE
                .iter()
                .position(|s| s.state.compare_exchange(FREE, BUSY, AcqRel, Relaxed).is_ok())
                .ok_or_else(|| io::Error::other("too many memories tracked at once"))?;
            IN_USE.fetch_add(1, AcqRel);
            let mut t = Tracked { slot, bits: Box::new([]) };
            t.reset(mem)?;
            Ok(t)
        }

        fn slot(&self) -> &'static Slot {
            &TABLE[self.slot]
        }

        /// Whether the recorded state is about this buffer (not lost, not moved or resized).
        fn valid_for(&self, mem: &[u8]) -> bool {
            let s = self.slot();
            s.state.load(Acquire) == LIVE
                && !s.lost.load(Acquire)
                && s.base.load(Relaxed) == mem.as_ptr() as usize
                && s.len.load(Relaxed) == mem.len()
        }

        /// Starts a new interval on `mem`: every page read-only and unrecorded. Only the pages
        /// recorded in the last interval are protected again when `mem` is the same buffer.
        pub fn reset(&mut self, mem: &[u8]) -> io::Result<()> {
            let s = self.slot();
            let (base, len) = (mem.as_ptr() as usize, mem.len());
            let ps = os_page();
            let (lo, hi) = (base.div_ceil(ps) * ps, (base + len) / ps * ps);
            if self.valid_for(mem) {
                // Protect again what was unprotected: the OS pages over each run of recorded
                // guest pages (the handler unprotects only pages it records).
                let n = self.bits.len();
                let mut p = 0;
                while p < n {
                    if self.bits[p].load(Relaxed) == 0 {
                        p += 1;
                        continue;
                    }
                    let start = p;
                    while p < n && self.bits[p].load(Relaxed) != 0 {
                        self.bits[p].store(0, Relaxed);
                        p += 1;
                    }
                    let from = ((base + start * GUEST_PAGE) / ps * ps).max(lo);
                    let to = (base + p * GUEST_PAGE).div_ceil(ps).saturating_mul(ps).min(hi);
                    if let Err(e) = protect(from, to, libc::PROT_READ) {
                        self.unprotect_all();
                        return Err(e);
                    }
                }
                return Ok(());
            }
            // A new buffer (or tracking was lost): start over.
            self.unprotect_all();
            let pages = len / GUEST_PAGE;
            self.bits = (0..pages).map(|_| AtomicU8::new(0)).collect();
            s.base.store(base, Relaxed);
            s.len.store(len, Relaxed);
            s.lo.store(lo, Relaxed);
            s.hi.store(hi.max(lo), Relaxed);
            s.bits.store(self.bits.as_ptr() as *mut AtomicU8, Relaxed);
            s.lost.store(false, Relaxed);
            s.state.store(LIVE, Release);
            if let Err(e) = protect(lo, hi, libc::PROT_READ) {
                self.unprotect_all();
                return Err(e);
            }
            Ok(())
        }

        /// Which guest pages of `mem` were (or may have been) written since the last reset.
        pub fn written(&self, mem: &[u8]) -> Vec<bool> {
            let pages = mem.len() / GUEST_PAGE;
            if !self.valid_for(mem) {
                return vec![true; pages];
            }
            let s = self.slot();
            let (base, lo, hi) = (s.base.load(Relaxed), s.lo.load(Relaxed), s.hi.load(Relaxed));
            (0..pages)
                .map(|p| {
                    let (a, b) = (base + p * GUEST_PAGE, base + (p + 1) * GUEST_PAGE);
                    // Bytes outside the protected span are never tracked.
                    a < lo || b > hi || self.bits[p].load(Relaxed) != 0
                })
                .collect()
        }

        /// Makes the whole buffer writable; the slot stays claimed but records nothing.
        fn unprotect_all(&mut self) {
            let s = self.slot();
            // A lost slot was made writable already (and its buffer may be gone since).
            if s.state.swap(BUSY, AcqRel) == LIVE && !s.lost.load(Acquire) {
                let (lo, hi) = (s.lo.load(Relaxed), s.hi.load(Relaxed));
                let _ = protect(lo, hi, libc::PROT_READ | libc::PROT_WRITE);
            }
            s.bits.store(std::ptr::null_mut(), Relaxed);
        }
    }

    impl Drop for Tracked {
        fn drop(&mut self) {
            self.unprotect_all();
            self.slot().state.store(FREE, Release);
            IN_USE.fetch_sub(1, AcqRel);
        }
    }

    /// Before `buf` is reallocated or freed: any tracking of it is lost (made writable, all of
    /// it reads written until its tracker resets).
    pub fn release(buf: &[u8]) {
        if IN_USE.load(Acquire) == 0 {
            return;
        }
        let (base, len) = (buf.as_ptr() as usize, buf.len());
        for s in &TABLE {
            if s.state.load(Acquire) == LIVE && s.base.load(Relaxed) == base && s.len.load(Relaxed) == len {
                // Out of the handler's sight first (the range may be reused by another memory
                // once freed), then writable; the owner's next reset starts over.
                s.lost.store(true, Release);
                s.state.store(BUSY, Release);
                let _ = protect(s.lo.load(Relaxed), s.hi.load(Relaxed), libc::PROT_READ | libc::PROT_WRITE);
            }
        }
    }

    /// Before the kernel writes into `buf` (part of a tracked memory) for a system call: the
    /// pages under it are recorded and made writable, as a write fault would.
    pub fn will_write(buf: &mut [u8]) {
        if IN_USE.load(Acquire) == 0 || buf.is_empty() {
            return;
        }
        let ps = os_page();
        let start = buf.as_mut_ptr();
        let mut off = 0;
        while off < buf.len() {
            // SAFETY: `off` is in bounds; a volatile read and write of the same byte (the
            // buffer is exclusively borrowed) takes the write fault where the page is protected.
            unsafe {
                let p = start.add(off);
                std::ptr::write_volatile(p, std::ptr::read_volatile(p));
            }
            off = ((start as usize + off) / ps + 1) * ps - start as usize;
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::io;

    /// Page-protection tracking is not available on this system.
    pub struct Tracked;

    impl Tracked {
        pub fn new(_mem: &[u8]) -> io::Result<Tracked> {
            Err(io::Error::new(io::ErrorKind::Unsupported, "page protection tracking needs Linux"))
        }
        pub fn reset(&mut self, _mem: &[u8]) -> io::Result<()> {
            Ok(())
        }
        pub fn written(&self, mem: &[u8]) -> Vec<bool> {
            vec![true; mem.len() / super::GUEST_PAGE]
        }
    }

    pub fn release(_buf: &[u8]) {}
    pub fn will_write(_buf: &mut [u8]) {}
}

pub use imp::{release, will_write, Tracked};

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// A released memory's slot must not catch faults in its old range: here a second tracker
    /// takes the same buffer (as a new memory would reuse a freed range), and its writes must be
    /// recorded by it, not swallowed by the stale slot (which comes first in the table).
    #[test]
    fn a_released_range_belongs_to_its_next_owner() {
        let mut mem = vec![1u8; 8 * GUEST_PAGE];
        let a = Tracked::new(&mem).unwrap();
        release(&mem);
        let b = Tracked::new(&mem).unwrap();
        write(&mut mem, 4 * GUEST_PAGE + 20000);
        let w = b.written(&mem);
        assert!(w[4], "the write went to the released slot");
        assert!(!w[6]);
        drop(a);
        drop(b);
        write(&mut mem, 6 * GUEST_PAGE + 20000);
    }

    /// Random writes (single bytes, runs across page boundaries, kernel reads prepared by
    /// `will_write`), resets and growth: every page whose bytes changed since the last reset
    /// reads written, and the memory always holds exactly what was written.
    #[test]
    fn random_writes_are_never_missed() {
        let mut rng = crate::test_util::Rng(0x7a11_5eed);
        let mut mem = vec![0u8; 24 * GUEST_PAGE];
        let mut model = mem.clone();
        let mut t = Tracked::new(&mem).unwrap();
        let mut before = mem.clone();
        let mut zero = std::fs::File::open("/dev/zero").unwrap();
        for round in 0..400 {
            for _ in 0..rng.below(12) {
                let len = mem.len();
                match rng.below(4) {
                    0 => {
                        let at = rng.below(len);
                        let v = rng.next() as u8;
                        mem[at] = v;
                        model[at] = v;
                    }
                    1 => {
                        // A run that may cross guest and OS page boundaries.
                        let at = rng.below(len);
                        let n = (1 + rng.below(3 * 4096)).min(len - at);
                        let v = rng.next() as u8;
                        mem[at..at + n].fill(v);
                        model[at..at + n].fill(v);
                    }
                    2 => {
                        // The kernel writes (a read from /dev/zero), prepared as WASI does.
                        let at = rng.below(len);
                        let n = (1 + rng.below(2 * GUEST_PAGE)).min(len - at);
                        will_write(&mut mem[at..at + n]);
                        std::io::Read::read_exact(&mut zero, &mut mem[at..at + n]).unwrap();
                        model[at..at + n].fill(0);
                    }
                    _ => {
                        let (a, b) = (rng.below(len), rng.below(len));
                        let n = (1 + rng.below(5000)).min(len - a.max(b));
                        mem.copy_within(a..a + n, b);
                        model.copy_within(a..a + n, b);
                    }
                }
            }
            assert!(mem == model, "round {round}: memory differs from what was written");
            let w = t.written(&mem);
            for (p, written) in w.iter().enumerate() {
                let range = p * GUEST_PAGE..(p + 1) * GUEST_PAGE;
                if before.get(range.clone()) != Some(&mem[range]) {
                    assert!(written, "round {round}: page {p} changed but reads unwritten");
                }
            }
            match rng.below(10) {
                0 => {
                    // Growth (possibly moving the buffer): released first, as Memory::grow does.
                    release(&mem);
                    let extra = (1 + rng.below(3)) * GUEST_PAGE;
                    mem.resize(mem.len() + extra, 0);
                    model.resize(model.len() + extra, 0);
                    assert!(t.written(&mem).iter().all(|w| *w), "a released memory reads all written");
                    t.reset(&mem).unwrap();
                }
                1..=6 => t.reset(&mem).unwrap(),
                // No reset: writes accumulate over several rounds.
                _ => continue,
            }
            before = mem.clone();
        }
        drop(t);
        std::hint::black_box(&mem);
    }

    fn write(mem: &mut [u8], at: usize) {
        // SAFETY: in bounds; volatile so that the write happens.
        unsafe { std::ptr::write_volatile(mem.as_mut_ptr().add(at), 7) };
    }

    #[test]
    fn writes_are_recorded_by_page_and_reset_clears_them() {
        let mut mem = vec![1u8; 16 * GUEST_PAGE];
        let mut t = Tracked::new(&mem).unwrap();
        assert_eq!(t.written(&mem).iter().filter(|w| **w).count(), 2, "only the unaligned edges");
        write(&mut mem, 5 * GUEST_PAGE + 10000);
        write(&mut mem, 5 * GUEST_PAGE + 30000);
        write(&mut mem, 9 * GUEST_PAGE + 50000);
        let w = t.written(&mem);
        for p in [5, 9] {
            assert!(w[p], "page {p}");
        }
        for p in [2, 3, 4, 6, 7, 8, 10, 12, 13] {
            assert!(!w[p], "page {p}");
        }
        // Every byte of a page written: at most three faults (its inner OS pages and the two
        // it shares), and its neighbours read written only where they share an OS page.
        for i in 0..GUEST_PAGE {
            mem[12 * GUEST_PAGE + i] = 3;
        }
        let w = t.written(&mem);
        assert!(w[12]);
        assert!(!w[2] && !w[7]);
        assert_eq!(mem[5 * GUEST_PAGE + 10000], 7);
        t.reset(&mem).unwrap();
        let w = t.written(&mem);
        assert!(!w[5] && !w[9], "a reset starts a new interval");
        write(&mut mem, 9 * GUEST_PAGE + 8);
        assert!(t.written(&mem)[9], "protected again after the reset");
        // The kernel writing for a system call: prepared by will_write.
        will_write(&mut mem[3 * GUEST_PAGE..4 * GUEST_PAGE]);
        let mut f = std::fs::File::open("/dev/zero").unwrap();
        std::io::Read::read_exact(&mut f, &mut mem[3 * GUEST_PAGE..4 * GUEST_PAGE]).unwrap();
        assert!(t.written(&mem)[3]);
        // Growth: released first, then everything reads written.
        release(&mem);
        assert!(t.written(&mem).iter().all(|w| *w));
        mem.resize(32 * GUEST_PAGE, 0);
        write(&mut mem, 20 * GUEST_PAGE);
        t.reset(&mem).unwrap();
        assert_eq!(t.written(&mem).len(), 32);
        drop(t);
        // Writable again after the tracker is gone.
        for p in 0..32 {
            write(&mut mem, p * GUEST_PAGE + 17);
        }
    }
}
