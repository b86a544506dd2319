//! Linear memory: its bytes ([`Bytes`]), its index type (32- or 64-bit) and its limits.
//!
//! A guest asking for more than the host can give sees `memory.grow` return -1 (or
//! instantiation fail with a clear error), never an abort. On Linux the bytes are an anonymous
//! mapping that grows with `mremap`: pages the guest never touches cost nothing, so a 64-bit
//! memory of many GiB written sparsely takes the memory it writes, and growth copies nothing.

pub const PAGE_SIZE: usize = 65536;
/// Wasm32 memories have at most 65536 pages (4 GiB).
pub const MAX_PAGES: u64 = 65536;
/// Wasm64 memories have at most 2^48 pages (2^64 bytes).
pub const MAX_PAGES64: u64 = 1 << 48;
/// The default resource limit on one memory: 2^20 pages (64 GiB), more than a 32-bit memory
/// can have. A 64-bit memory larger than the host can back fails to grow (the kernel refuses
/// the mapping), it does not abort.
pub const DEFAULT_LIMIT_PAGES: u64 = 1 << 20;

/// Zero-initialised bytes that can grow, keeping their contents (they may move).
pub struct Bytes {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
    /// Bytes allocated (mapped: a multiple of the OS page, `SKEW` included).
    cap: usize,
    /// An anonymous mapping (Linux, past [`MAP_FROM`] bytes) rather than a heap allocation.
    mapped: bool,
    /// The bytes from `len` up to here are known to be zero (a mapping's all are; a heap
    /// allocation's as far as `alloc_zeroed` or [`Bytes::grow_to`] made them).
    zeroed: usize,
}

// SAFETY: `Bytes` owns its allocation, like a `Vec<u8>`.
unsafe impl Send for Bytes {}
// SAFETY: shared access only reads.
unsafe impl Sync for Bytes {}

impl Bytes {
    /// No bytes.
    pub const fn new() -> Bytes {
        Bytes { ptr: std::ptr::NonNull::dangling(), len: 0, cap: 0, mapped: false, zeroed: 0 }
    }

    /// `len` zero bytes, or `None` if the host refuses them.
    pub fn zeroed(len: usize) -> Option<Bytes> {
        let mut b = Bytes::new();
        b.grow_to(len).then_some(b)
    }

    /// A copy of `data`.
    pub fn from_slice(data: &[u8]) -> Option<Bytes> {
        let mut b = Bytes::zeroed(data.len())?;
        b.copy_from_slice(data);
        Some(b)
    }

    /// The number of bytes.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline(always)]
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    #[inline(always)]
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Grows to `new_len` bytes (not smaller), the new ones zero; `false` if the host refuses
    /// (the bytes are unchanged then).
    pub fn grow_to(&mut self, new_len: usize) -> bool {
        if new_len <= self.len {
            return new_len == self.len;
        }
        if new_len > isize::MAX as usize {
            return false;
        }
        if new_len > self.cap {
            let ok = if cfg!(target_os = "linux") && (self.mapped || new_len > MAP_FROM) {
                self.reserve_mapped(new_len)
            } else {
                self.reserve(new_len)
            };
            if !ok {
                return false;
            }
        }
        // Nothing writes past `len`: what a mapping or `alloc_zeroed` gave is still zero. A
        // heap reallocation's new capacity is zeroed only as far as it is used (zeroing all of
        // a doubled capacity would make the host back memory the guest never asked for).
        if new_len > self.zeroed {
            let from = self.zeroed.max(self.len);
            // SAFETY: `from..new_len` lies within the `cap` bytes allocated.
            unsafe { std::ptr::write_bytes(self.ptr.as_ptr().add(from), 0, new_len - from) };
            self.zeroed = new_len;
        }
        self.len = new_len;
        true
    }

    /// Grows the mapping (a heap allocation becomes one: its bytes are copied once).
    #[cfg(target_os = "linux")]
    fn reserve_mapped(&mut self, new_len: usize) -> bool {
        if !self.mapped && self.cap > 0 {
            let mut m = Bytes::new();
            if !m.reserve_mapped(new_len) {
                return false;
            }
            // SAFETY: `len` bytes at each; `m` has at least `new_len` > `len`.
            unsafe { std::ptr::copy_nonoverlapping(self.ptr.as_ptr(), m.ptr.as_ptr(), self.len) };
            m.len = self.len;
            *self = m;
            return true;
        }
        let page = os_page();
        let Some(cap) = new_len.checked_add(SKEW + page - 1).map(|n| n & !(page - 1)) else { return false };
        // SAFETY: a fresh anonymous mapping, or `mremap` of the one this value owns (`cap`
        // bytes at `ptr - SKEW`); on failure nothing changes.
        let p = unsafe {
            if self.cap == 0 {
                libc::mmap(
                    std::ptr::null_mut(),
                    cap,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            } else {
                libc::mremap(self.ptr.as_ptr().sub(SKEW).cast(), self.cap, cap, libc::MREMAP_MAYMOVE)
            }
        };
        if p == libc::MAP_FAILED || p.is_null() {
            return false;
        }
        // SAFETY: the mapping is at least `SKEW` bytes long.
        self.ptr = std::ptr::NonNull::new(unsafe { p.cast::<u8>().add(SKEW) }).expect("not null");
        self.cap = cap;
        self.mapped = true;
        self.zeroed = usize::MAX;
        true
    }

    #[cfg(not(target_os = "linux"))]
    fn reserve_mapped(&mut self, new_len: usize) -> bool {
        self.reserve(new_len)
    }

    /// Grows the heap allocation.
    fn reserve(&mut self, new_len: usize) -> bool {
        use std::alloc::{alloc_zeroed, realloc, Layout};
        // Amortised: twice the capacity if the host gives it, else exactly what is asked.
        let doubled = self.cap.saturating_mul(2).min(isize::MAX as usize & !15);
        for cap in [doubled.max(new_len), new_len] {
            let Ok(layout) = Layout::from_size_align(cap, 16) else { continue };
            // SAFETY: `layout` is non-zero; a reallocation keeps the old layout's alignment
            // (the bytes it adds are zeroed by `grow_to` as they are used).
            let (p, zeroed) = unsafe {
                if self.cap == 0 {
                    (alloc_zeroed(layout), cap)
                } else {
                    let old = Layout::from_size_align_unchecked(self.cap, 16);
                    (realloc(self.ptr.as_ptr(), old, cap), self.zeroed.min(self.cap))
                }
            };
            if let Some(p) = std::ptr::NonNull::new(p) {
                self.ptr = p;
                self.cap = cap;
                self.zeroed = zeroed;
                return true;
            }
        }
        false
    }
}

/// Memories up to this size are heap allocations (as a `Vec` would be); larger ones are
/// anonymous mappings grown with `mremap` (Linux), whose untouched pages cost nothing. Not
/// all memories are mappings: with guest memory in its own mapping, SHA-256 ran 35 % slower
/// and nbody 10 % (measured, whatever the offset in the mapping; the heap keeps guest memory
/// where it was).
const MAP_FROM: usize = 1 << 30;

/// Where the bytes start in their mapping: cache-line aligned, not page aligned (write
/// tracking copes with that: see `wprotect`).
#[cfg(target_os = "linux")]
const SKEW: usize = 2048 + 64;

#[cfg(target_os = "linux")]
fn os_page() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    match PAGE.load(Relaxed) {
        0 => {
            // SAFETY: a plain query.
            let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            let p = if p > 0 && (p as usize).is_power_of_two() { p as usize } else { 4096 };
            PAGE.store(p, Relaxed);
            p
        }
        p => p,
    }
}

impl Drop for Bytes {
    fn drop(&mut self) {
        if self.cap == 0 {
            return;
        }
        // SAFETY: the allocation this value owns.
        unsafe {
            #[cfg(target_os = "linux")]
            if self.mapped {
                libc::munmap(self.ptr.as_ptr().sub(SKEW).cast(), self.cap);
                return;
            }
            std::alloc::dealloc(
                self.ptr.as_ptr(),
                std::alloc::Layout::from_size_align_unchecked(self.cap, 16),
            );
        }
    }
}

impl Default for Bytes {
    fn default() -> Self {
        Bytes::new()
    }
}

impl Clone for Bytes {
    fn clone(&self) -> Self {
        Bytes::from_slice(self).expect("memory for a copy of linear memory")
    }
}

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bytes({} bytes)", self.len)
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `len` initialised bytes at `ptr` (dangling and 0 when empty).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl std::ops::DerefMut for Bytes {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `deref`, and `&mut self` is exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl PartialEq for Bytes {
    fn eq(&self, other: &Bytes) -> bool {
        self[..] == other[..]
    }
}

/// One linear memory.
#[derive(Clone, Debug)]
pub struct Memory {
    pub(crate) data: Bytes,
    /// The declared maximum, if any.
    pub(crate) max_pages: Option<u64>,
    /// The embedder's resource limit (pages); growth beyond it fails like the declared maximum.
    pub(crate) limit_pages: u64,
    /// A 64-bit memory (memory64): addresses and sizes are `i64`.
    pub(crate) is64: bool,
}

impl Drop for Memory {
    fn drop(&mut self) {
        super::wprotect::release(&self.data);
    }
}

impl Memory {
    pub fn new(
        min_pages: u64,
        max_pages: Option<u64>,
        limit_pages: u64,
        is64: bool,
    ) -> Result<Memory, String> {
        let mut m = Memory { data: Bytes::new(), max_pages, limit_pages, is64 };
        let cap = m.cap();
        if min_pages > cap {
            return Err(format!("memory of {min_pages} pages exceeds the limit of {cap} pages"));
        }
        let bytes = usize::try_from(min_pages).ok().and_then(|p| p.checked_mul(PAGE_SIZE));
        if !bytes.is_some_and(|b| m.data.grow_to(b)) {
            return Err(format!("cannot allocate {min_pages} pages of linear memory"));
        }
        Ok(m)
    }

    /// The most pages the memory may have: its declared maximum, the index type's and the
    /// resource limit.
    pub fn cap(&self) -> u64 {
        let arch = if self.is64 { MAX_PAGES64 } else { MAX_PAGES };
        self.max_pages.unwrap_or(arch).min(arch).min(self.limit_pages)
    }

    /// Current size in pages.
    pub fn pages(&self) -> u64 {
        (self.data.len() / PAGE_SIZE) as u64
    }

    /// Grows by `delta` pages; returns the old size, or `None` if the growth is refused.
    pub fn grow(&mut self, delta: u64) -> Option<u64> {
        let old = self.pages();
        let new = old.checked_add(delta)?;
        if new > self.cap() {
            return None;
        }
        if delta == 0 {
            return Some(old);
        }
        let bytes = usize::try_from(new).ok()?.checked_mul(PAGE_SIZE)?;
        // The buffer may move: write tracking by page protection lets go of it first.
        super::wprotect::release(&self.data);
        self.data.grow_to(bytes).then_some(old)
    }

    /// `memory.grow`'s result: the old size, or -1 (of the memory's index type) if refused.
    pub fn grow_result(&mut self, delta: u64) -> u64 {
        match self.grow(delta) {
            Some(old) => old,
            None if self.is64 => u64::MAX,
            None => u32::MAX as u64,
        }
    }

    /// An address or size operand of this memory's index type, from a slot's bits.
    #[inline(always)]
    pub fn index(&self, bits: u64) -> u64 {
        if self.is64 {
            bits
        } else {
            bits as u32 as u64
        }
    }

    /// Replaces the memory's bytes (a restore).
    pub(crate) fn set_data(&mut self, data: Bytes) {
        super::wprotect::release(&self.data);
        self.data = data;
    }

    /// The memory's bytes (their number is [`Memory::pages`] × [`PAGE_SIZE`]).
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The memory's bytes, to write (the size changes only through [`Memory::grow`]).
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.data
    }

    /// The declared maximum in pages, if any.
    pub fn max_pages(&self) -> Option<u64> {
        self.max_pages
    }

    /// Whether addresses are 64-bit (memory64).
    pub fn is64(&self) -> bool {
        self.is64
    }

    /// A checked sub-slice, for hosts.
    pub fn slice(&self, addr: u64, len: u64) -> Option<&[u8]> {
        let end = addr.checked_add(len)?;
        if end > self.data.len() as u64 {
            return None;
        }
        Some(&self.data[addr as usize..end as usize])
    }

    pub fn slice_mut(&mut self, addr: u64, len: u64) -> Option<&mut [u8]> {
        let end = addr.checked_add(len)?;
        if end > self.data.len() as u64 {
            return None;
        }
        Some(&mut self.data[addr as usize..end as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_grow_zeroed_and_keep_contents() {
        let mut b = Bytes::zeroed(3).unwrap();
        b[..].copy_from_slice(&[1, 2, 3]);
        for n in [10, 5000, 70_000, 1 << 20] {
            assert!(b.grow_to(n));
            assert_eq!(b.len(), n);
            assert_eq!(&b[..3], &[1, 2, 3]);
            assert!(b[3..].iter().all(|&x| x == 0));
            let last = b.len() - 1;
            b[last] = 9;
            b[last] = 0;
        }
        assert!(!b.grow_to(10), "shrinking is refused");
        assert!(!b.grow_to(usize::MAX));
        assert_eq!(b.len(), 1 << 20);
        assert_eq!(b.clone(), b);
        assert_eq!(Bytes::zeroed(0).unwrap().len(), 0);
    }

    #[test]
    fn memory_limits_by_index_type() {
        let m = Memory::new(0, None, u64::MAX, false).unwrap();
        assert_eq!(m.cap(), MAX_PAGES);
        let mut m = Memory::new(1, None, 1 << 20, true).unwrap();
        assert_eq!(m.cap(), 1 << 20);
        assert_eq!(m.grow_result(1 << 20), u64::MAX);
        assert_eq!(m.grow_result(1), 1);
        assert_eq!(m.index(u64::MAX), u64::MAX);
        let mut m = Memory::new(1, Some(1), 10, false).unwrap();
        assert_eq!(m.grow_result(1), u32::MAX as u64);
        assert_eq!(m.index(u64::MAX), u32::MAX as u64);
        assert!(Memory::new(11, None, 10, false).is_err());
    }
}
