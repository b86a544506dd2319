//! Linear memory: a byte vector plus its limits.
//!
//! Growth uses `try_reserve`, so a guest asking for more than the host can give sees
//! `memory.grow` return -1 (or instantiation fail with a clear error), never an abort.

pub const PAGE_SIZE: usize = 65536;
/// Wasm32 memories have at most 65536 pages (4 GiB).
pub const MAX_PAGES: u32 = 65536;

#[derive(Clone, Debug)]
pub struct Memory {
    pub(crate) data: Vec<u8>,
    /// The declared maximum, if any.
    pub(crate) max_pages: Option<u32>,
    /// The embedder's resource limit (pages); growth beyond it fails like the declared maximum.
    pub(crate) limit_pages: u32,
}

impl Drop for Memory {
    fn drop(&mut self) {
        super::wprotect::release(&self.data);
    }
}

impl Memory {
    pub fn new(min_pages: u32, max_pages: Option<u32>, limit_pages: u32) -> Result<Memory, String> {
        if min_pages > limit_pages.min(MAX_PAGES) {
            return Err(format!(
                "memory of {min_pages} pages exceeds the limit of {} pages",
                limit_pages.min(MAX_PAGES)
            ));
        }
        let mut data = Vec::new();
        let bytes = min_pages as usize * PAGE_SIZE;
        data.try_reserve_exact(bytes)
            .map_err(|_| format!("cannot allocate {min_pages} pages of linear memory"))?;
        data.resize(bytes, 0);
        Ok(Memory { data, max_pages, limit_pages })
    }

    /// Current size in pages.
    pub fn pages(&self) -> u32 {
        (self.data.len() / PAGE_SIZE) as u32
    }

    /// Grows by `delta` pages; returns the old size, or `None` if the growth is refused.
    pub fn grow(&mut self, delta: u32) -> Option<u32> {
        let old = self.pages();
        let new = old.checked_add(delta)?;
        let cap = self.max_pages.unwrap_or(MAX_PAGES).min(MAX_PAGES).min(self.limit_pages);
        if new > cap {
            return None;
        }
        if delta == 0 {
            return Some(old);
        }
        let extra = delta as usize * PAGE_SIZE;
        // The buffer may move: write tracking by page protection lets go of it first.
        super::wprotect::release(&self.data);
        self.data.try_reserve(extra).ok()?;
        self.data.resize(new as usize * PAGE_SIZE, 0);
        Some(old)
    }

    /// Replaces the memory's bytes (a restore).
    pub(crate) fn set_data(&mut self, data: Vec<u8>) {
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
    pub fn max_pages(&self) -> Option<u32> {
        self.max_pages
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
