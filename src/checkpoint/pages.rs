//! Incremental generations: linear-memory pages live in *pack files* shared between
//! generations, and a generation names the pages it needs in a manifest.
//!
//! * `pack-{generation:016x}.pages` holds the 64 KiB pages that generation wrote: a fixed
//!   header ([`PACK_HEADER_LEN`] bytes) and the pages back to back, slot `s` at offset
//!   `PACK_HEADER_LEN + s * 65536`. Written once (temp file, fsync, rename, fsync dir) before the
//!   generation that first references it, never modified.
//! * A generation's `Pages` section (kind 7), one per linear memory, lists every non-zero page as
//!   (page index, pack, slot, XXH3-128 fingerprint of the contents). Restoring reads each page
//!   from its pack and checks the fingerprint, so a torn, stale or corrupt page — or a pack
//!   from another run — is detected and the generation rejected like any damaged file.
//! * The writer ([`PageTracker`]) keeps the manifest of the last committed generation. At a
//!   checkpoint it fingerprints every page (zero pages are recognised without hashing) and
//!   writes to the new pack only pages whose fingerprint changed, plus the live pages of any
//!   pack that has become mostly garbage (fewer than half of its pages still referenced), so the
//!   directory never holds more than about twice the guest's memory plus what the kept
//!   generations changed.
//! * Pruning deletes a pack once no kept generation references it.
//!
//! Byte layouts and the failure analysis are in docs/FORMAT.md, "Incremental generations".

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::format::{
    is_zero, le_u32, le_u64, memory_prefix, try_zeroed_vec, FormatError, SectionKind, MEMORY_PREFIX_LEN,
    PAGE_SIZE,
};
use super::softdirty::{best_tracker, clear_or_drop, states_or_drop, PageState, WriteTracker};

/// What a generation does once write tracking has failed.
const EVERY_PAGE: &str = "fingerprinting every page from now on";

/// First 8 bytes of a pack file: `\x89CHP\r\n\x1a\n` (the checkpoint magic's pattern, `P` for
/// pages).
pub const PACK_MAGIC: [u8; 8] = [0x89, b'C', b'H', b'P', b'\r', b'\n', 0x1a, b'\n'];
/// Pack format version.
pub const PACK_VERSION: u32 = 1;
/// Length of a pack file's header; page slot 0 starts here.
pub const PACK_HEADER_LEN: usize = 80;
/// Fixed prefix of a `Pages` section payload (index, size, max, count): the Memory section's.
pub const PAGES_PREFIX_LEN: usize = MEMORY_PREFIX_LEN;
/// One manifest entry: page index, pack, slot (u64 each) and the 16-byte fingerprint.
pub const PAGES_ENTRY_LEN: usize = 40;
/// Largest slot number a manifest may name (a pack holds the pages of one generation; 2^32 pages
/// is 256 TiB).
pub const MAX_SLOT: u64 = u32::MAX as u64;

const PACK_PREFIX: &str = "pack-";
const PACK_SUFFIX: &str = ".pages";

/// The fingerprint of a page: XXH3-128 of its 65536 bytes.
pub fn fingerprint(page: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(page)
}

/// `pack-{generation:016x}.pages`.
pub fn pack_file_name(generation: u64) -> String {
    format!("{PACK_PREFIX}{generation:016x}{PACK_SUFFIX}")
}

/// The generation of a pack file name, if it is exactly one.
pub fn parse_pack_file_name(name: &str) -> Option<u64> {
    let hex = name.strip_prefix(PACK_PREFIX)?.strip_suffix(PACK_SUFFIX)?;
    if hex.len() != 16 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

/// The directory where the packs of the generation file `file` are: the file's own.
pub fn pack_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Where a page's contents are: a slot of a pack, and what they hash to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRef {
    /// The generation whose pack holds the page.
    pub pack: u64,
    /// The page's slot in that pack.
    pub slot: u64,
    /// [`fingerprint`] of the contents.
    pub hash: u128,
}

/// One linear memory of an incremental generation (the payload of a `Pages` section).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    pub index: u32,
    pub size_pages: u64,
    pub max_pages: Option<u64>,
    /// Every non-zero page, ascending by page index.
    pub entries: Vec<(u64, PageRef)>,
}

impl Manifest {
    /// The `Pages` section payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(PAGES_PREFIX_LEN + self.entries.len() * PAGES_ENTRY_LEN);
        out.extend_from_slice(&self.index.to_le_bytes());
        out.extend_from_slice(&self.size_pages.to_le_bytes());
        out.extend_from_slice(&self.max_pages.unwrap_or(u64::MAX).to_le_bytes());
        out.extend_from_slice(&(self.entries.len() as u64).to_le_bytes());
        for (page, r) in &self.entries {
            out.extend_from_slice(&page.to_le_bytes());
            out.extend_from_slice(&r.pack.to_le_bytes());
            out.extend_from_slice(&r.slot.to_le_bytes());
            out.extend_from_slice(&r.hash.to_le_bytes());
        }
        out
    }

    /// Decodes and validates a `Pages` payload of generation `generation`: exact length, sizes
    /// within the 32-bit limit and the maximum, page indices strictly ascending and in range,
    /// packs in `1..=generation` (a generation never references a later one), slots ≤
    /// [`MAX_SLOT`]. Nothing is allocated from a length field before it is checked against the
    /// payload.
    pub fn decode(payload: &[u8], generation: u64) -> Result<Manifest, FormatError> {
        let err = |reason: String| FormatError::Pages { reason };
        let info = memory_prefix(payload, PAGES_ENTRY_LEN, &err)?;
        let (index, size_pages, max_pages, count) =
            (info.index, info.size_pages, info.max_pages, info.stored_pages);
        let mut entries = Vec::with_capacity(count as usize);
        let mut prev: Option<u64> = None;
        for e in payload[PAGES_PREFIX_LEN..].chunks_exact(PAGES_ENTRY_LEN) {
            let page = le_u64(e, 0);
            let pack = le_u64(e, 8);
            let slot = le_u64(e, 16);
            let hash = u128::from_le_bytes(e[24..40].try_into().unwrap_or_default());
            if page >= size_pages {
                return Err(err(format!(
                    "memory {index}: page {page} is beyond the size of {size_pages} pages"
                )));
            }
            if let Some(p) = prev.filter(|p| page <= *p) {
                return Err(err(format!(
                    "memory {index}: page indices not strictly ascending ({p} then {page})"
                )));
            }
            if pack == 0 || pack > generation {
                return Err(err(format!(
                    "memory {index}: page {page} is in the pack of generation {pack}, which generation \
                     {generation} cannot reference"
                )));
            }
            if slot > MAX_SLOT {
                return Err(err(format!("memory {index}: page {page} has slot {slot}, beyond {MAX_SLOT}")));
            }
            prev = Some(page);
            entries.push((page, PageRef { pack, slot, hash }));
        }
        Ok(Manifest { index, size_pages, max_pages, entries })
    }
}

/// A pack file's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackHeader {
    pub generation: u64,
    pub pages: u64,
    pub module_hash: [u8; 32],
}

impl PackHeader {
    /// The 80 header bytes: magic, version, flags (0), generation, page count, module SHA-256,
    /// 12 reserved zero bytes, CRC-32 of bytes 0..76.
    pub fn to_bytes(&self) -> [u8; PACK_HEADER_LEN] {
        let mut b = [0u8; PACK_HEADER_LEN];
        b[0..8].copy_from_slice(&PACK_MAGIC);
        b[8..12].copy_from_slice(&PACK_VERSION.to_le_bytes());
        b[16..24].copy_from_slice(&self.generation.to_le_bytes());
        b[24..32].copy_from_slice(&self.pages.to_le_bytes());
        b[32..64].copy_from_slice(&self.module_hash);
        let crc = crc32fast::hash(&b[..76]);
        b[76..80].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Parses and verifies a header (magic, version, CRC, reserved bits and bytes).
    pub fn parse(b: &[u8]) -> Result<PackHeader, String> {
        if b.len() < PACK_HEADER_LEN {
            return Err(format!(
                "the pack is {} bytes, shorter than its {PACK_HEADER_LEN}-byte header",
                b.len()
            ));
        }
        if b[0..8] != PACK_MAGIC {
            return Err("not a chiwawa pack file (bad magic)".to_string());
        }
        let version = le_u32(b, 8);
        if version != PACK_VERSION {
            return Err(format!("unsupported pack version {version} (this chiwawa reads {PACK_VERSION})"));
        }
        let stored = le_u32(b, 76);
        let computed = crc32fast::hash(&b[..76]);
        if stored != computed {
            return Err(format!(
                "CRC mismatch in the pack header: stored {stored:#010x} computed {computed:#010x}"
            ));
        }
        if le_u32(b, 12) != 0 || b[64..76].iter().any(|&x| x != 0) {
            return Err("reserved pack header bits are set".to_string());
        }
        let mut module_hash = [0u8; 32];
        module_hash.copy_from_slice(&b[32..64]);
        Ok(PackHeader { generation: le_u64(b, 16), pages: le_u64(b, 24), module_hash })
    }
}

/// The packs (by generation) that a generation file's `Pages` sections reference. `Err` when the
/// file is not a valid checkpoint (its references cannot count: it can never be restored).
pub fn referenced_packs(bytes: &[u8]) -> Result<BTreeSet<u64>, FormatError> {
    let c = super::format::parse_checkpoint(bytes)?;
    let mut packs = BTreeSet::new();
    for s in c.sections_of(SectionKind::Pages) {
        for (_, r) in Manifest::decode(s.payload, c.header.generation)?.entries {
            packs.insert(r.pack);
        }
    }
    Ok(packs)
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/// What the writer knows of the last committed generation: where each page of each memory is
/// (`None`: a zero page) and how many pages each referenced pack holds; and, where the kernel
/// offers it, tracking of which pages were written since (see [`best_tracker`]): then only
/// those are fingerprinted.
#[derive(Default)]
pub struct PageTracker {
    mems: Vec<Vec<Option<PageRef>>>,
    packs: BTreeMap<u64, u64>,
    /// Cleared whenever `mems` is made to match memory (a commit, a restore).
    writes: Option<Box<dyn WriteTracker>>,
    /// Plans made: every [`VERIFY_EVERY`]th fingerprints every page and checks the write
    /// bits against it.
    plans: u64,
}

impl PageTracker {
    /// Bytes of the non-zero pages of the last generation (what a generation's copy holds at
    /// most: a sparse memory of many GiB may have a few MiB of them).
    pub fn live_bytes(&self) -> usize {
        self.mems.iter().map(|m| m.iter().filter(|p| p.is_some()).count()).sum::<usize>() * PAGE_SIZE
    }
}

impl std::fmt::Debug for PageTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageTracker")
            .field("memories", &self.mems.len())
            .field("packs", &self.packs)
            .field("write_tracking", &self.writes.as_ref().map(|w| w.name()))
            .finish()
    }
}

/// Every this many generations the tracker fingerprints all pages, tracked or not, and
/// checks that no page changed unrecorded (if one did, write tracking is turned
/// off for the rest of the run, with a warning). `CHIWAWA_DIRTY_VERIFY=1` checks every time.
pub const VERIFY_EVERY: u64 = 64;

/// Where each page of each memory is, by memory index (`None`: a zero page), from manifests.
fn page_maps(manifests: &[Manifest]) -> Vec<Vec<Option<PageRef>>> {
    let mut mems: Vec<Vec<Option<PageRef>>> = Vec::new();
    for m in manifests {
        let i = m.index as usize;
        if mems.len() <= i {
            mems.resize(i + 1, Vec::new());
        }
        let mut pages = vec![None; m.size_pages as usize];
        for (p, r) in &m.entries {
            pages[*p as usize] = Some(*r);
        }
        mems[i] = pages;
    }
    mems
}

/// The fingerprint of each page of `data` that is wanted and not all zero (`None` otherwise).
/// Memories of 64 MiB and more are split over up to four threads where threads exist (the
/// guest is paused meanwhile: the checkpoint is the only work there is).
fn fingerprints(data: &[u8], want: &[bool]) -> Vec<Option<u128>> {
    let one = |chunk: &[u8], first: usize| -> Vec<Option<u128>> {
        chunk
            .chunks_exact(PAGE_SIZE)
            .enumerate()
            .map(|(k, page)| {
                if want.get(first + k) != Some(&true) || is_zero(page) {
                    None
                } else {
                    Some(fingerprint(page))
                }
            })
            .collect()
    };
    let n = data.len() / PAGE_SIZE;
    let threads = if n >= 1024 && !cfg!(target_os = "wasi") {
        std::thread::available_parallelism().map_or(1, |t| t.get().min(4))
    } else {
        1
    };
    if threads <= 1 {
        return one(data, 0);
    }
    let per = n.div_ceil(threads);
    std::thread::scope(|s| {
        let parts: Vec<_> = (0..threads)
            .map(|t| {
                let (lo, hi) = ((t * per).min(n), ((t + 1) * per).min(n));
                let chunk = &data[lo * PAGE_SIZE..hi * PAGE_SIZE];
                let one = &one;
                (lo, chunk, std::thread::Builder::new().spawn_scoped(s, move || one(chunk, lo)).ok())
            })
            .collect();
        let mut out = Vec::with_capacity(n);
        for (lo, chunk, handle) in parts {
            // A thread that could not start (or failed) is done here instead.
            match handle.map(|h| h.join()) {
                Some(Ok(v)) => out.extend(v),
                _ => out.extend(one(chunk, lo)),
            }
        }
        out
    })
}

/// Page `p` of memory `m` of `mems` (an error if the memory changed size since the plan).
fn page_of<'a>(mems: &[(&'a [u8], Option<u64>)], m: u32, p: u64) -> io::Result<&'a [u8]> {
    let data = mems.get(m as usize).map(|(d, _)| *d).unwrap_or(&[]);
    let start = p as usize * PAGE_SIZE;
    data.get(start..start + PAGE_SIZE)
        .ok_or_else(|| io::Error::other(format!("memory {m} page {p} vanished since the plan")))
}

/// A page to copy into the new pack: (memory, page index).
pub type NewPage = (u32, u64);

/// The outcome of [`PageTracker::plan`]: the new generation's manifests and the pages its pack
/// must hold, in slot order.
#[derive(Debug)]
pub struct Plan {
    pub generation: u64,
    pub manifests: Vec<Manifest>,
    pub new_pages: Vec<NewPage>,
    /// Pages referenced from older packs.
    pub reused: u64,
    /// Of `new_pages`, those copied only because their pack had become mostly garbage.
    pub compacted: u64,
    /// For each of `new_pages`: where a page copied by compaction is now (its contents there
    /// are those of memory: it is unchanged since), `None` for a changed page.
    pub moved_from: Vec<Option<PageRef>>,
}

impl PageTracker {
    /// A tracker that knows nothing: the next generation writes every non-zero page.
    pub fn new() -> Self {
        PageTracker::default()
    }

    /// Tracks which pages of the memories `mems` are written (the kernel's soft-dirty bits or
    /// page protection, see [`best_tracker`]) to fingerprint only those at the next
    /// generation. Call once memory matches what the tracker knows (a fresh tracker knows
    /// nothing, so any time before its first plan).
    pub fn track_writes(&mut self, mems: &[&[u8]]) {
        self.track_writes_with(best_tracker(), mems);
    }

    /// [`track_writes`](Self::track_writes) with a given source of written pages.
    pub fn track_writes_with(&mut self, tracker: Option<Box<dyn WriteTracker>>, mems: &[&[u8]]) {
        self.writes = tracker;
        self.restart_tracking(mems);
        log::debug!(
            "incremental generations: {}",
            self.writes.as_ref().map_or("every page fingerprinted", |s| s.name())
        );
    }

    /// Whether write tracking is on.
    pub fn tracks_writes(&self) -> bool {
        self.writes.is_some()
    }

    /// Seeds the tracker from the manifests of the generation just restored, whose packs hold
    /// `packs[g]` pages each (as read from their headers).
    pub fn from_restored(manifests: &[Manifest], packs: BTreeMap<u64, u64>) -> Self {
        PageTracker { mems: page_maps(manifests), packs, writes: None, plans: 0 }
    }

    /// Plans generation `generation` of the memories `mems` (index, contents, maximum): every
    /// page is fingerprinted; a page whose fingerprint equals the last generation's keeps its
    /// reference, others go to the new pack; then the live pages of packs that fewer than half
    /// of their pages are still referenced from are moved into the new pack as well.
    pub fn plan(&mut self, generation: u64, mems: &[(&[u8], Option<u64>)]) -> Plan {
        self.plans += 1;
        let verify = self.plans.is_multiple_of(VERIFY_EVERY)
            || std::env::var("CHIWAWA_DIRTY_VERIFY").is_ok_and(|v| v == "1");
        let mut manifests = Vec::with_capacity(mems.len());
        let mut missed: Option<(usize, usize)> = None;
        for (i, (data, max)) in mems.iter().enumerate() {
            let states = states_or_drop(&mut self.writes, i, data, "", EVERY_PAGE);
            let old = self.mems.get(i).map(Vec::as_slice).unwrap_or(&[]);
            let pages = data.len() / PAGE_SIZE;
            // Unwritten since the last generation: as that generation recorded it. A page the
            // last generation did not have (a fresh tracker, grown memory) is never taken as
            // unwritten: it is not known what it held.
            let unwritten: Vec<bool> = (0..pages)
                .map(|p| match states.as_ref().and_then(|s| s.get(p)).filter(|_| p < old.len()) {
                    // Present and not written (a zero page stays zero).
                    Some(PageState::Clean) => true,
                    Some(PageState::Absent) => old.get(p).copied().flatten().is_none(),
                    _ => false,
                })
                .collect();
            let want: Vec<bool> = unwritten.iter().map(|u| verify || !u).collect();
            let fps = fingerprints(data, &want);
            let mut entries = Vec::new();
            for p in 0..pages {
                let before = old.get(p).copied().flatten();
                if !want[p] {
                    if let Some(r) = before {
                        entries.push((p as u64, r));
                    }
                    continue;
                }
                let Some(hash) = fps[p] else {
                    // A zero page.
                    if unwritten[p] && before.is_some() {
                        missed = missed.or(Some((i, p)));
                    }
                    continue;
                };
                if unwritten[p] && before.is_none_or(|r| r.hash != hash) {
                    missed = missed.or(Some((i, p)));
                }
                let r = match before {
                    Some(r) if r.hash == hash => r,
                    // Marked new (pack 0) until slots are assigned below.
                    _ => PageRef { pack: 0, slot: 0, hash },
                };
                entries.push((p as u64, r));
            }
            manifests.push(Manifest {
                index: i as u32,
                size_pages: (data.len() / PAGE_SIZE) as u64,
                max_pages: *max,
                entries,
            });
        }
        if let Some((i, p)) = missed {
            self.missed(i, p);
        }
        // Compaction: packs whose live share has fallen below one half are rewritten.
        let mut live: HashMap<u64, u64> = HashMap::new();
        for m in &manifests {
            for (_, r) in &m.entries {
                if r.pack != 0 {
                    *live.entry(r.pack).or_default() += 1;
                }
            }
        }
        let sparse: BTreeSet<u64> = live
            .iter()
            .filter(|(pack, n)| n.saturating_mul(2) < self.packs.get(pack).copied().unwrap_or(0))
            .map(|(pack, _)| *pack)
            .collect();
        let (mut new_pages, mut reused, mut compacted, mut moved_from) = (Vec::new(), 0u64, 0u64, Vec::new());
        for m in &mut manifests {
            for (p, r) in &mut m.entries {
                if r.pack != 0 && !sparse.contains(&r.pack) {
                    reused += 1;
                    continue;
                }
                if r.pack != 0 {
                    compacted += 1;
                    moved_from.push(Some(*r));
                } else {
                    moved_from.push(None);
                }
                *r = PageRef { pack: generation, slot: new_pages.len() as u64, hash: r.hash };
                new_pages.push((m.index, *p));
            }
        }
        Plan { generation, manifests, new_pages, reused, compacted, moved_from }
    }

    /// A page changed although the write tracker said it was not written: stop trusting it.
    fn missed(&mut self, memory: usize, page: usize) {
        if let Some(s) = self.writes.take() {
            log::warn!(
                "{} missed a write (memory {memory} page {page}); fingerprinting every page from now on",
                s.name()
            );
        }
    }

    /// Streams the plan's new pages (contents taken from `mems`, which must be unchanged since
    /// [`plan`](Self::plan)) into `w`, after the pack header.
    pub fn write_pack(
        plan: &Plan,
        module_hash: [u8; 32],
        mems: &[(&[u8], Option<u64>)],
        w: &mut dyn Write,
    ) -> io::Result<()> {
        let header =
            PackHeader { generation: plan.generation, pages: plan.new_pages.len() as u64, module_hash };
        w.write_all(&header.to_bytes())?;
        for &(m, p) in &plan.new_pages {
            w.write_all(page_of(mems, m, p)?)?;
        }
        Ok(())
    }

    /// The changed pages of the plan (not those compaction moves), copied out of `mems` in slot
    /// order, appended to `out`: what [`write_pack_from`](Self::write_pack_from) needs besides
    /// the older packs.
    pub fn copy_changed(plan: &Plan, mems: &[(&[u8], Option<u64>)], out: &mut Vec<u8>) -> io::Result<()> {
        for (&(m, p), from) in plan.new_pages.iter().zip(&plan.moved_from) {
            if from.is_some() {
                continue;
            }
            out.extend_from_slice(page_of(mems, m, p)?);
        }
        Ok(())
    }

    /// Writes the pack of generation `generation` into `w`: the header, then for each slot the
    /// page compaction moves (read from its older pack in `store`, its fingerprint checked) or
    /// the next changed page of `changed` (from [`copy_changed`](Self::copy_changed)).
    pub fn write_pack_from(
        generation: u64,
        module_hash: [u8; 32],
        moved_from: &[Option<PageRef>],
        changed: &[u8],
        store: &mut PageStore,
        w: &mut dyn Write,
    ) -> io::Result<()> {
        let header = PackHeader { generation, pages: moved_from.len() as u64, module_hash };
        w.write_all(&header.to_bytes())?;
        let mut fresh = changed.chunks_exact(PAGE_SIZE);
        let mut page = vec![0u8; PAGE_SIZE];
        for (slot, from) in moved_from.iter().enumerate() {
            match from {
                Some(r) => {
                    store.read_page(r, &mut page).map_err(|e| {
                        io::Error::other(format!("slot {slot} of the new pack, moved from an older one: {e}"))
                    })?;
                    w.write_all(&page)?;
                }
                None => {
                    w.write_all(fresh.next().ok_or_else(|| io::Error::other("too few changed pages"))?)?
                }
            }
        }
        Ok(())
    }

    /// The plan was committed: it is now the last generation (of the memories `mems`, unchanged
    /// since the plan).
    pub fn committed(&mut self, plan: Plan, mems: &[&[u8]]) {
        self.mems = page_maps(&plan.manifests);
        let referenced: BTreeSet<u64> =
            plan.manifests.iter().flat_map(|m| m.entries.iter().map(|(_, r)| r.pack)).collect();
        if !plan.new_pages.is_empty() {
            self.packs.insert(plan.generation, plan.new_pages.len() as u64);
        }
        self.packs.retain(|g, _| referenced.contains(g));
        // Memory matches the manifests again: a new interval of write tracking.
        self.restart_tracking(mems);
    }

    /// Starts a new interval of write tracking; a tracker that fails is dropped (every page is
    /// fingerprinted from then on).
    fn restart_tracking(&mut self, mems: &[&[u8]]) {
        clear_or_drop(&mut self.writes, mems, "", EVERY_PAGE);
    }
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/// Reads pages out of the packs of one checkpoint directory, verifying each.
pub struct PageStore {
    dir: PathBuf,
    module_hash: [u8; 32],
    open: HashMap<u64, (File, u64)>,
    /// Memories already assembled (by index), given by whoever verified them page by page
    /// against the same manifests (a migration receiver): [`load`](Self::load) takes them as
    /// they are instead of reading the packs.
    preloaded: HashMap<u32, crate::runtime::memory::Bytes>,
}

impl PageStore {
    /// Packs in `dir`, which must have been written for the module with this SHA-256.
    pub fn new(dir: &Path, module_hash: [u8; 32]) -> Self {
        PageStore { dir: dir.to_path_buf(), module_hash, open: HashMap::new(), preloaded: HashMap::new() }
    }

    /// Memories (by index) that [`load`](Self::load) returns as they are; see the field.
    pub fn preload(&mut self, memories: Vec<(u32, crate::runtime::memory::Bytes)>) {
        self.preloaded.extend(memories);
    }

    /// The directory the packs are read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Page counts of the packs opened so far (to seed a [`PageTracker`]).
    pub fn pack_sizes(&self) -> BTreeMap<u64, u64> {
        self.open.iter().map(|(g, (_, n))| (*g, *n)).collect()
    }

    fn pack(&mut self, generation: u64) -> Result<&mut (File, u64), String> {
        if !self.open.contains_key(&generation) {
            let name = pack_file_name(generation);
            let path = self.dir.join(&name);
            let mut f = File::open(&path).map_err(|e| format!("cannot open its page pack {name}: {e}"))?;
            let mut head = [0u8; PACK_HEADER_LEN];
            let len = f.metadata().map_err(|e| format!("cannot stat {name}: {e}"))?.len();
            f.read_exact(&mut head).map_err(|e| format!("cannot read the header of {name}: {e}"))?;
            let h = PackHeader::parse(&head).map_err(|e| format!("page pack {name}: {e}"))?;
            if h.generation != generation {
                return Err(format!("page pack {name}: its header says generation {}", h.generation));
            }
            if h.module_hash != self.module_hash {
                return Err(format!("page pack {name} was written for another module"));
            }
            let expected =
                h.pages.checked_mul(PAGE_SIZE as u64).and_then(|n| n.checked_add(PACK_HEADER_LEN as u64));
            if expected != Some(len) {
                return Err(format!(
                    "page pack {name} is {len} bytes, but its {} pages need {} (truncated?)",
                    h.pages,
                    expected.map_or_else(|| "more than 2^64".to_string(), |n| n.to_string())
                ));
            }
            self.open.insert(generation, (f, h.pages));
        }
        self.open.get_mut(&generation).ok_or_else(|| "pack vanished".to_string())
    }

    /// Assembles one memory from its manifest: a zeroed buffer of `size_pages` pages, every
    /// listed page read from its pack and checked against its fingerprint. The caller has
    /// checked `size_pages` against the module's limits.
    pub fn load(&mut self, m: &Manifest) -> Result<crate::runtime::memory::Bytes, String> {
        let bytes = usize::try_from(m.size_pages)
            .ok()
            .and_then(|p| p.checked_mul(PAGE_SIZE))
            .filter(|&n| n <= isize::MAX as usize)
            .ok_or_else(|| {
                format!(
                    "memory {} of {} pages does not fit in this host's address space",
                    m.index, m.size_pages
                )
            })?;
        if let Some(mem) = self.preloaded.remove(&m.index).filter(|b| b.len() == bytes) {
            // Its packs are opened all the same (their headers checked): the next generation's
            // tracker needs their sizes to compact them.
            let packs: BTreeSet<u64> = m.entries.iter().map(|(_, r)| r.pack).collect();
            for g in packs {
                self.pack(g)?;
            }
            return Ok(mem);
        }
        let mut mem = try_zeroed_vec(bytes)
            .ok_or_else(|| format!("cannot allocate {bytes} bytes for memory {}", m.index))?;
        for (p, r) in &m.entries {
            let start = *p as usize * PAGE_SIZE;
            let page = &mut mem[start..start + PAGE_SIZE];
            self.read_page(r, page).map_err(|e| format!("memory {} page {p}: {e}", m.index))?;
        }
        Ok(mem)
    }

    /// Reads one page into `out` and verifies its fingerprint.
    pub fn read_page(&mut self, r: &PageRef, out: &mut [u8]) -> Result<(), String> {
        let (f, pages) = self.pack(r.pack)?;
        if r.slot >= *pages {
            return Err(format!("slot {} is beyond the {pages} pages of {}", r.slot, pack_file_name(r.pack)));
        }
        let offset = PACK_HEADER_LEN as u64 + r.slot * PAGE_SIZE as u64;
        f.seek(SeekFrom::Start(offset))
            .and_then(|_| f.read_exact(out))
            .map_err(|e| format!("cannot read slot {} of {}: {e}", r.slot, pack_file_name(r.pack)))?;
        let got = fingerprint(out);
        if got != r.hash {
            return Err(format!(
                "slot {} of {} is damaged (fingerprint {got:032x}, the generation expects {:032x})",
                r.slot,
                pack_file_name(r.pack),
                r.hash
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem(pages: &[u8]) -> Vec<u8> {
        let mut m = vec![0u8; pages.len() * PAGE_SIZE];
        for (i, &b) in pages.iter().enumerate() {
            m[i * PAGE_SIZE..(i + 1) * PAGE_SIZE].fill(b);
        }
        m
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(pack_file_name(0x2a), "pack-000000000000002a.pages");
        assert_eq!(parse_pack_file_name("pack-000000000000002a.pages"), Some(0x2a));
        assert_eq!(parse_pack_file_name("pack-000000000000002A.pages"), None);
        assert_eq!(parse_pack_file_name("pack-2a.pages"), None);
    }

    #[test]
    fn manifest_round_trips_and_rejects_malformed_payloads() {
        let m = Manifest {
            index: 1,
            size_pages: 10,
            max_pages: Some(20),
            entries: vec![
                (2, PageRef { pack: 3, slot: 0, hash: 7 }),
                (9, PageRef { pack: 5, slot: 4, hash: u128::MAX }),
            ],
        };
        let bytes = m.encode();
        assert_eq!(bytes.len(), PAGES_PREFIX_LEN + 2 * PAGES_ENTRY_LEN);
        assert_eq!(Manifest::decode(&bytes, 5).unwrap(), m);
        // a generation cannot reference a later pack
        assert!(Manifest::decode(&bytes, 4).unwrap_err().to_string().contains("cannot reference"));
        // length, order, range
        assert!(Manifest::decode(&bytes[..bytes.len() - 1], 5).is_err());
        let mut swapped = m.clone();
        swapped.entries.reverse();
        assert!(Manifest::decode(&swapped.encode(), 5).unwrap_err().to_string().contains("ascending"));
        let mut beyond = m.clone();
        beyond.entries[1].0 = 10;
        assert!(Manifest::decode(&beyond.encode(), 5).is_err());
        let mut huge = bytes.clone();
        huge[20..28].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(Manifest::decode(&huge, 5).is_err());
        let mut zero_pack = m.clone();
        zero_pack.entries[0].1.pack = 0;
        assert!(Manifest::decode(&zero_pack.encode(), 5).is_err());
    }

    /// A pack assembled from the changed pages copied out of memory and the pages compaction
    /// moves read from their older pack is byte-identical to one written from memory; a damaged
    /// older pack fails it.
    #[test]
    fn packs_written_from_copies_and_older_packs_match_packs_written_from_memory() {
        let dir = tempfile::tempdir().unwrap();
        let hash = [4u8; 32];
        let mut t = PageTracker::new();
        let mut m = mem(&[1, 2, 3, 4]);
        let p1 = t.plan(1, &[(&m, None)]);
        let mut b1 = Vec::new();
        PageTracker::write_pack(&p1, hash, &[(&m, None)], &mut b1).unwrap();
        std::fs::write(dir.path().join(pack_file_name(1)), &b1).unwrap();
        t.committed(p1, &[]);
        // Three of four pages change: pack 1 is mostly garbage and its last live page moves.
        for p in [0, 1, 3] {
            m[p * PAGE_SIZE] = 9;
        }
        let p2 = t.plan(2, &[(&m, None)]);
        assert_eq!(p2.compacted, 1);
        assert_eq!(p2.moved_from.iter().filter(|f| f.is_some()).count(), 1);
        let mut from_memory = Vec::new();
        PageTracker::write_pack(&p2, hash, &[(&m, None)], &mut from_memory).unwrap();
        let mut changed = Vec::new();
        PageTracker::copy_changed(&p2, &[(&m, None)], &mut changed).unwrap();
        assert_eq!(changed.len(), 3 * PAGE_SIZE);
        let mut store = PageStore::new(dir.path(), hash);
        let mut split = Vec::new();
        PageTracker::write_pack_from(2, hash, &p2.moved_from, &changed, &mut store, &mut split).unwrap();
        assert!(split == from_memory, "the two ways of writing a pack differ");
        // The older pack damaged where the moved page is: refused.
        let slot = p2.moved_from.iter().flatten().next().unwrap().slot as usize;
        b1[PACK_HEADER_LEN + slot * PAGE_SIZE + 3] ^= 1;
        std::fs::write(dir.path().join(pack_file_name(1)), &b1).unwrap();
        let mut store = PageStore::new(dir.path(), hash);
        let e = PageTracker::write_pack_from(2, hash, &p2.moved_from, &changed, &mut store, &mut Vec::new())
            .unwrap_err();
        assert!(e.to_string().contains("damaged"), "{e}");
    }

    #[test]
    fn mutated_manifests_never_panic() {
        let mut rng = crate::test_util::Rng(0x5eed_9a6e);
        let valid = Manifest {
            index: 0,
            size_pages: 40,
            max_pages: None,
            entries: (0..30).map(|p| (p, PageRef { pack: 1 + p % 3, slot: p, hash: p as u128 })).collect(),
        }
        .encode();
        for _ in 0..20_000 {
            let mut b = valid.clone();
            for _ in 0..1 + rng.below(4) {
                match rng.below(3) {
                    0 if !b.is_empty() => {
                        let i = rng.below(b.len());
                        b[i] = rng.next() as u8;
                    }
                    1 => b.truncate(rng.below(b.len() + 1)),
                    _ => {
                        let n = rng.below(64);
                        b.extend((0..n).map(|_| rng.next() as u8));
                    }
                }
            }
            if let Ok(m) = Manifest::decode(&b, 3) {
                assert!(m.entries.len() as u64 <= m.size_pages);
                assert!(m.entries.windows(2).all(|w| w[0].0 < w[1].0));
                assert!(m.entries.iter().all(|(p, r)| *p < m.size_pages && (1..=3).contains(&r.pack)));
            }
            let _ = PackHeader::parse(&b);
        }
    }

    #[test]
    fn pack_header_round_trips_and_is_checked() {
        let h = PackHeader { generation: 9, pages: 3, module_hash: [7; 32] };
        let b = h.to_bytes();
        assert_eq!(PackHeader::parse(&b).unwrap(), h);
        for i in 0..PACK_HEADER_LEN {
            let mut bad = b;
            bad[i] ^= 0x10;
            assert!(PackHeader::parse(&bad).is_err(), "flipping byte {i} went unnoticed");
        }
    }

    #[test]
    fn only_changed_pages_are_planned_and_sparse_packs_are_compacted() {
        let mut t = PageTracker::new();
        let m1 = mem(&[1, 0, 2, 3]);
        let p1 = t.plan(1, &[(&m1, None)]);
        assert_eq!(p1.new_pages, vec![(0, 0), (0, 2), (0, 3)]);
        t.committed(p1, &[]);
        // change page 2 only
        let m2 = mem(&[1, 0, 9, 3]);
        let p2 = t.plan(2, &[(&m2, None)]);
        assert_eq!(p2.new_pages, vec![(0, 2)]);
        assert_eq!(p2.reused, 2);
        assert_eq!(p2.manifests[0].entries[0].1.pack, 1);
        assert_eq!(
            p2.manifests[0].entries[1].1,
            PageRef { pack: 2, slot: 0, hash: fingerprint(&m2[2 * PAGE_SIZE..3 * PAGE_SIZE]) }
        );
        t.committed(p2, &[]);
        // change page 3 too: pack 1 keeps only page 0 of its 3 → compacted into pack 3
        let m3 = mem(&[1, 0, 9, 4]);
        let p3 = t.plan(3, &[(&m3, None)]);
        assert_eq!(p3.new_pages, vec![(0, 0), (0, 3)]);
        assert_eq!(p3.compacted, 1);
        t.committed(p3, &[]);
        assert_eq!(t.packs.keys().copied().collect::<Vec<_>>(), vec![2, 3]);
        // nothing changed: nothing written
        let p4 = t.plan(4, &[(&m3, None)]);
        assert!(p4.new_pages.is_empty());
    }

    /// A write tracker that reports the pages whose bytes differ from its copy taken at the
    /// last clear — or, when `lie` is set, reports every page clean.
    struct Diffing {
        shared: std::sync::Arc<std::sync::Mutex<(Vec<u8>, bool)>>,
    }

    impl WriteTracker for Diffing {
        fn clear(&mut self, _mems: &[&[u8]]) -> io::Result<()> {
            Ok(())
        }
        fn name(&self) -> &'static str {
            "diffing"
        }
        fn states(&mut self, _index: usize, mem: &[u8]) -> io::Result<Vec<PageState>> {
            let g = self.shared.lock().unwrap();
            Ok(mem
                .chunks_exact(PAGE_SIZE)
                .enumerate()
                .map(|(p, page)| {
                    let was = g.0.get(p * PAGE_SIZE..(p + 1) * PAGE_SIZE);
                    if g.1 || was == Some(page) {
                        PageState::Clean
                    } else {
                        PageState::Dirty
                    }
                })
                .collect())
        }
    }

    #[test]
    fn write_tracking_skips_clean_pages_and_detects_a_lying_tracker() {
        let shared = std::sync::Arc::new(std::sync::Mutex::new((Vec::new(), false)));
        let mut t = PageTracker::new();
        t.track_writes_with(Some(Box::new(Diffing { shared: shared.clone() })), &[]);
        let mut m = mem(&[1, 2, 0, 4]);
        let p1 = t.plan(1, &[(&m, None)]);
        assert_eq!(p1.new_pages.len(), 3);
        t.committed(p1, &[]);
        shared.lock().unwrap().0 = m.clone();
        // A page written, a zero page written, and memory grown by a page.
        m[PAGE_SIZE + 5] = 9;
        m[2 * PAGE_SIZE] = 7;
        m.extend_from_slice(&[3u8; PAGE_SIZE]);
        let p2 = t.plan(2, &[(&m, None)]);
        assert_eq!(p2.new_pages, vec![(0, 1), (0, 2), (0, 4)]);
        assert_eq!(p2.reused, 2);
        t.committed(p2, &[]);
        shared.lock().unwrap().0 = m.clone();
        assert!(t.plan(3, &[(&m, None)]).new_pages.is_empty());
        // The tracker lies (a write it does not report): a verifying plan notices, turns it
        // off and takes the changed page.
        m[3 * PAGE_SIZE] = 0;
        shared.lock().unwrap().1 = true;
        let unverified = t.plan(3, &[(&m, None)]);
        assert!(unverified.new_pages.is_empty(), "trusted: the lie goes unnoticed between checks");
        assert!(t.tracks_writes());
        while t.plans % VERIFY_EVERY != VERIFY_EVERY - 1 {
            t.plans += 1;
        }
        let verified = t.plan(3, &[(&m, None)]);
        // Page 3 changed; page 0 is then the last live page of pack 1 and moves too.
        assert_eq!(verified.new_pages, vec![(0, 0), (0, 3)]);
        assert_eq!(verified.compacted, 1);
        assert!(!t.tracks_writes(), "a tracker caught lying is dropped");
    }

    #[test]
    fn write_tracking_fingerprints_only_written_pages() {
        use crate::checkpoint::softdirty::{SoftDirty, WriteProtect};
        let trackers: Vec<Box<dyn WriteTracker>> = [
            SoftDirty::probe().map(|s| Box::new(s) as Box<dyn WriteTracker>),
            WriteProtect::probe().map(|s| Box::new(s) as Box<dyn WriteTracker>),
        ]
        .into_iter()
        .flatten()
        .collect();
        if cfg!(target_os = "linux") {
            assert!(!trackers.is_empty(), "page protection works on every Linux");
        }
        for tracker in trackers {
            let name = tracker.name();
            // Memory outlives the tracker (a `Memory` releases itself when dropped).
            let mut m = mem(&[1, 2, 3, 4, 5, 6, 7, 8]);
            let mut t = PageTracker::new();
            t.track_writes_with(Some(tracker), &[&m]);
            let p1 = t.plan(1, &[(&m, None)]);
            assert_eq!(p1.new_pages.len(), 8);
            t.committed(p1, &[&m]);
            // SAFETY: in bounds; volatile so that the write happens where it is.
            unsafe { std::ptr::write_volatile(m.as_mut_ptr().add(3 * PAGE_SIZE + 4000), 99) };
            let p2 = t.plan(2, &[(&m, None)]);
            assert_eq!(p2.new_pages, vec![(0, 3)], "{name}");
            t.committed(p2, &[&m]);
            // Nothing written: nothing planned; a write that restores the old contents is a
            // fingerprint match, so nothing either.
            assert!(t.plan(3, &[(&m, None)]).new_pages.is_empty(), "{name}");
            // SAFETY: as above.
            unsafe { std::ptr::write_volatile(m.as_mut_ptr().add(3 * PAGE_SIZE + 4000), 99) };
            assert!(t.plan(3, &[(&m, None)]).new_pages.is_empty(), "{name}");
            assert!(t.tracks_writes(), "{name}");
            drop(t);
            m[5 * PAGE_SIZE] = 1;
        }
    }

    #[test]
    fn pages_round_trip_through_a_pack_and_damage_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let hash = [1u8; 32];
        let mut t = PageTracker::new();
        let m = mem(&[5, 0, 6]);
        let plan = t.plan(1, &[(&m, Some(8))]);
        let mut bytes = Vec::new();
        PageTracker::write_pack(&plan, hash, &[(&m, Some(8))], &mut bytes).unwrap();
        std::fs::write(dir.path().join(pack_file_name(1)), &bytes).unwrap();
        let mut store = PageStore::new(dir.path(), hash);
        assert_eq!(store.load(&plan.manifests[0]).unwrap()[..], m[..]);
        assert_eq!(store.pack_sizes(), BTreeMap::from([(1, 2)]));
        // another module's store refuses the pack
        assert!(PageStore::new(dir.path(), [2; 32])
            .load(&plan.manifests[0])
            .unwrap_err()
            .contains("another module"));
        // a flipped byte in a page
        bytes[PACK_HEADER_LEN + PAGE_SIZE + 17] ^= 1;
        std::fs::write(dir.path().join(pack_file_name(1)), &bytes).unwrap();
        let e = PageStore::new(dir.path(), hash).load(&plan.manifests[0]).unwrap_err();
        assert!(e.contains("page 2") && e.contains("damaged"), "{e}");
        // a truncated pack
        std::fs::write(dir.path().join(pack_file_name(1)), &bytes[..bytes.len() - 1]).unwrap();
        let e = PageStore::new(dir.path(), hash).load(&plan.manifests[0]).unwrap_err();
        assert!(e.contains("truncated"), "{e}");
        // a missing pack
        std::fs::remove_file(dir.path().join(pack_file_name(1))).unwrap();
        let e = PageStore::new(dir.path(), hash).load(&plan.manifests[0]).unwrap_err();
        assert!(e.contains("cannot open"), "{e}");
    }
}
