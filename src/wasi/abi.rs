//! The `wasi_snapshot_preview1` ABI: errno numbers, flag bits, struct layouts
//! (exactly as in `typenames.witx`) and bounds-checked guest-memory access.
//!
//! Every accessor returns [`Errno::FAULT`] for an out-of-bounds or overflowing
//! guest pointer, so no guest input can make the host panic.

use std::fmt;

/// A WASI errno (`$errno`, `u16`). `Errno::SUCCESS` is never used as an error.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub u16);

macro_rules! errnos {
    ($($name:ident = $val:expr),* $(,)?) => {
        impl Errno {
            $(pub const $name: Errno = Errno($val);)*
            /// The witx name of this errno (`"badf"`, ...), for logs and test messages.
            pub fn name(self) -> &'static str {
                match self.0 {
                    $($val => stringify!($name),)*
                    _ => "unknown",
                }
            }
        }
    };
}

errnos! {
    SUCCESS = 0, TOOBIG = 1, ACCES = 2, ADDRINUSE = 3, ADDRNOTAVAIL = 4, AFNOSUPPORT = 5,
    AGAIN = 6, ALREADY = 7, BADF = 8, BADMSG = 9, BUSY = 10, CANCELED = 11, CHILD = 12,
    CONNABORTED = 13, CONNREFUSED = 14, CONNRESET = 15, DEADLK = 16, DESTADDRREQ = 17,
    DOM = 18, DQUOT = 19, EXIST = 20, FAULT = 21, FBIG = 22, HOSTUNREACH = 23, IDRM = 24,
    ILSEQ = 25, INPROGRESS = 26, INTR = 27, INVAL = 28, IO = 29, ISCONN = 30, ISDIR = 31,
    LOOP = 32, MFILE = 33, MLINK = 34, MSGSIZE = 35, MULTIHOP = 36, NAMETOOLONG = 37,
    NETDOWN = 38, NETRESET = 39, NETUNREACH = 40, NFILE = 41, NOBUFS = 42, NODEV = 43,
    NOENT = 44, NOEXEC = 45, NOLCK = 46, NOLINK = 47, NOMEM = 48, NOMSG = 49,
    NOPROTOOPT = 50, NOSPC = 51, NOSYS = 52, NOTCONN = 53, NOTDIR = 54, NOTEMPTY = 55,
    NOTRECOVERABLE = 56, NOTSOCK = 57, NOTSUP = 58, NOTTY = 59, NXIO = 60, OVERFLOW = 61,
    OWNERDEAD = 62, PERM = 63, PIPE = 64, PROTO = 65, PROTONOSUPPORT = 66, PROTOTYPE = 67,
    RANGE = 68, ROFS = 69, SPIPE = 70, SRCH = 71, STALE = 72, TIMEDOUT = 73, TXTBSY = 74,
    XDEV = 75, NOTCAPABLE = 76,
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Errno({} {})", self.0, self.name())
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "errno {} ({})", self.0, self.name())
    }
}

impl From<std::io::Error> for Errno {
    fn from(e: std::io::Error) -> Errno {
        super::host_os::errno_from_io(&e)
    }
}

pub type WResult<T> = Result<T, Errno>;

// ---------------------------------------------------------------- flags & enums

/// `$rights` bits.
pub mod rights {
    pub const FD_DATASYNC: u64 = 1 << 0;
    pub const FD_READ: u64 = 1 << 1;
    pub const FD_SEEK: u64 = 1 << 2;
    pub const FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
    pub const FD_SYNC: u64 = 1 << 4;
    pub const FD_TELL: u64 = 1 << 5;
    pub const FD_WRITE: u64 = 1 << 6;
    pub const FD_ADVISE: u64 = 1 << 7;
    pub const FD_ALLOCATE: u64 = 1 << 8;
    pub const PATH_CREATE_DIRECTORY: u64 = 1 << 9;
    pub const PATH_CREATE_FILE: u64 = 1 << 10;
    pub const PATH_LINK_SOURCE: u64 = 1 << 11;
    pub const PATH_LINK_TARGET: u64 = 1 << 12;
    pub const PATH_OPEN: u64 = 1 << 13;
    pub const FD_READDIR: u64 = 1 << 14;
    pub const PATH_READLINK: u64 = 1 << 15;
    pub const PATH_RENAME_SOURCE: u64 = 1 << 16;
    pub const PATH_RENAME_TARGET: u64 = 1 << 17;
    pub const PATH_FILESTAT_GET: u64 = 1 << 18;
    pub const PATH_FILESTAT_SET_SIZE: u64 = 1 << 19;
    pub const PATH_FILESTAT_SET_TIMES: u64 = 1 << 20;
    pub const FD_FILESTAT_GET: u64 = 1 << 21;
    pub const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
    pub const FD_FILESTAT_SET_TIMES: u64 = 1 << 23;
    pub const PATH_SYMLINK: u64 = 1 << 24;
    pub const PATH_REMOVE_DIRECTORY: u64 = 1 << 25;
    pub const PATH_UNLINK_FILE: u64 = 1 << 26;
    pub const POLL_FD_READWRITE: u64 = 1 << 27;
    pub const SOCK_SHUTDOWN: u64 = 1 << 28;
    pub const SOCK_ACCEPT: u64 = 1 << 29;
    pub const ALL: u64 = (1 << 30) - 1;
}

/// `$fdflags` bits.
pub mod fdflags {
    pub const APPEND: u16 = 1 << 0;
    pub const DSYNC: u16 = 1 << 1;
    pub const NONBLOCK: u16 = 1 << 2;
    pub const RSYNC: u16 = 1 << 3;
    pub const SYNC: u16 = 1 << 4;
    pub const ALL: u16 = (1 << 5) - 1;
}

/// `$oflags` bits.
pub mod oflags {
    pub const CREAT: u16 = 1 << 0;
    pub const DIRECTORY: u16 = 1 << 1;
    pub const EXCL: u16 = 1 << 2;
    pub const TRUNC: u16 = 1 << 3;
    pub const ALL: u16 = (1 << 4) - 1;
}

/// `$lookupflags` bits.
pub mod lookupflags {
    pub const SYMLINK_FOLLOW: u32 = 1 << 0;
    pub const ALL: u32 = 1;
}

/// `$fstflags` bits.
pub mod fstflags {
    pub const ATIM: u16 = 1 << 0;
    pub const ATIM_NOW: u16 = 1 << 1;
    pub const MTIM: u16 = 1 << 2;
    pub const MTIM_NOW: u16 = 1 << 3;
    pub const ALL: u16 = (1 << 4) - 1;
}

/// `$filetype` values.
pub mod filetype {
    pub const UNKNOWN: u8 = 0;
    pub const BLOCK_DEVICE: u8 = 1;
    pub const CHARACTER_DEVICE: u8 = 2;
    pub const DIRECTORY: u8 = 3;
    pub const REGULAR_FILE: u8 = 4;
    pub const SOCKET_DGRAM: u8 = 5;
    pub const SOCKET_STREAM: u8 = 6;
    pub const SYMBOLIC_LINK: u8 = 7;
}

/// `$clockid` values.
pub mod clockid {
    pub const REALTIME: u32 = 0;
    pub const MONOTONIC: u32 = 1;
    pub const PROCESS_CPUTIME_ID: u32 = 2;
    pub const THREAD_CPUTIME_ID: u32 = 3;
}

/// `$whence` values.
pub mod whence {
    pub const SET: u8 = 0;
    pub const CUR: u8 = 1;
    pub const END: u8 = 2;
}

/// `$eventtype` values.
pub mod eventtype {
    pub const CLOCK: u8 = 0;
    pub const FD_READ: u8 = 1;
    pub const FD_WRITE: u8 = 2;
}

pub const SUBCLOCKFLAGS_ABSTIME: u16 = 1;
pub const EVENTRWFLAGS_HANGUP: u16 = 1;
pub const PREOPENTYPE_DIR: u8 = 0;
/// Highest `$advice` value (`noreuse`).
pub const ADVICE_MAX: u8 = 5;
/// Highest `$signal` value (`sys`).
pub const SIGNAL_MAX: u8 = 30;
pub const RIFLAGS_ALL: u16 = 3;
pub const SDFLAGS_ALL: u8 = 3;

// ---------------------------------------------------------------- struct layouts

/// Byte sizes of the preview1 records (all little-endian, natural alignment).
pub mod size {
    pub const IOVEC: u32 = 8;
    pub const FDSTAT: u32 = 24;
    pub const FILESTAT: u32 = 64;
    pub const PRESTAT: u32 = 8;
    pub const DIRENT: u32 = 24;
    pub const SUBSCRIPTION: u32 = 48;
    pub const EVENT: u32 = 32;
}

// ---------------------------------------------------------------- argument decoding
//
// Parameters are validated by `WasiCtx::call` before a function runs (a bad
// enum/flag parameter is a host error there, as in Wasmtime), so on parameters
// these helpers never fail; on values read from guest memory (poll
// subscriptions) their OVERFLOW/INVAL is what Wasmtime answers too.

pub fn dec_u8(v: u32) -> WResult<u8> {
    u8::try_from(v).map_err(|_| Errno::OVERFLOW)
}

pub fn dec_u16(v: u32) -> WResult<u16> {
    u16::try_from(v).map_err(|_| Errno::OVERFLOW)
}

/// A `u16` flags value with every bit inside `all`.
pub fn dec_flags16(v: u32, all: u16) -> WResult<u16> {
    let v = dec_u16(v)?;
    if v & !all != 0 {
        return Err(Errno::INVAL);
    }
    Ok(v)
}

/// A `u8` enum value no larger than `max`.
pub fn dec_enum8(v: u32, max: u8) -> WResult<u8> {
    let v = dec_u8(v)?;
    if v > max {
        return Err(Errno::INVAL);
    }
    Ok(v)
}

pub fn dec_rights(v: u64) -> WResult<u64> {
    if v & !rights::ALL != 0 {
        return Err(Errno::INVAL);
    }
    Ok(v)
}

pub fn dec_lookupflags(v: u32) -> WResult<u32> {
    if v & !lookupflags::ALL != 0 {
        return Err(Errno::INVAL);
    }
    Ok(v)
}

pub fn dec_clockid(v: u32) -> WResult<u32> {
    if v > clockid::THREAD_CPUTIME_ID {
        return Err(Errno::INVAL);
    }
    Ok(v)
}

// ---------------------------------------------------------------- guest memory

/// Bytes a single call may copy between guest and host (Wasmtime's default
/// "hostcall fuel", 128 MiB): iovec arrays, the transferred buffer, path
/// strings and poll arrays count against it; beyond it the call fails NOMEM.
pub const HOSTCALL_FUEL: u64 = 128 << 20;

/// Bounds-checked little-endian view of the guest's linear memory, with the
/// hostcall fuel of the current call.
pub struct Mem<'a> {
    bytes: &'a mut [u8],
    fuel: u64,
}

impl<'a> Mem<'a> {
    pub fn new(bytes: &'a mut [u8]) -> Mem<'a> {
        Mem { bytes, fuel: HOSTCALL_FUEL }
    }

    /// Account for `n` bytes copied by this call: NOMEM once over budget.
    pub fn consume(&mut self, n: u64) -> WResult<()> {
        if n > self.fuel {
            return Err(Errno::NOMEM);
        }
        self.fuel -= n;
        Ok(())
    }

    /// Account for an array of `count` records of `size` bytes.
    pub fn consume_array(&mut self, count: u32, size: u32) -> WResult<()> {
        let n = u64::from(count).checked_mul(u64::from(size)).ok_or(Errno::OVERFLOW)?;
        self.consume(n)
    }

    /// The host range of `len` guest bytes at `ptr`, or FAULT.
    fn range(&self, ptr: u32, len: u32) -> WResult<std::ops::Range<usize>> {
        let start = ptr as usize;
        let end = start.checked_add(len as usize).ok_or(Errno::FAULT)?;
        if end > self.bytes.len() {
            return Err(Errno::FAULT);
        }
        Ok(start..end)
    }

    /// Succeeds if `len` bytes at `ptr` are inside memory.
    pub fn check(&self, ptr: u32, len: u32) -> WResult<()> {
        self.range(ptr, len).map(|_| ())
    }

    /// Succeeds if `count` records of `size` bytes at `ptr` are inside memory.
    pub fn check_array(&self, ptr: u32, count: u32, size: u32) -> WResult<()> {
        let len = count.checked_mul(size).ok_or(Errno::FAULT)?;
        self.check(ptr, len)
    }

    pub fn slice(&self, ptr: u32, len: u32) -> WResult<&[u8]> {
        let r = self.range(ptr, len)?;
        Ok(&self.bytes[r])
    }

    /// The guest bytes at `ptr`, to write; also when the kernel writes them (a `read` into
    /// guest memory): pages protected for write tracking are made writable first.
    pub fn slice_mut(&mut self, ptr: u32, len: u32) -> WResult<&mut [u8]> {
        let r = self.range(ptr, len)?;
        let out = &mut self.bytes[r];
        crate::runtime::wprotect::will_write(out);
        Ok(out)
    }

    pub fn write_bytes(&mut self, ptr: u32, data: &[u8]) -> WResult<()> {
        let len = u32::try_from(data.len()).map_err(|_| Errno::FAULT)?;
        self.slice_mut(ptr, len)?.copy_from_slice(data);
        Ok(())
    }

    fn array<const N: usize>(&self, ptr: u32) -> WResult<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.slice(ptr, N as u32)?);
        Ok(out)
    }

    pub fn read_u8(&self, ptr: u32) -> WResult<u8> {
        Ok(self.array::<1>(ptr)?[0])
    }
    pub fn read_u16(&self, ptr: u32) -> WResult<u16> {
        Ok(u16::from_le_bytes(self.array(ptr)?))
    }
    pub fn read_u32(&self, ptr: u32) -> WResult<u32> {
        Ok(u32::from_le_bytes(self.array(ptr)?))
    }
    pub fn read_u64(&self, ptr: u32) -> WResult<u64> {
        Ok(u64::from_le_bytes(self.array(ptr)?))
    }
    pub fn write_u8(&mut self, ptr: u32, v: u8) -> WResult<()> {
        self.write_bytes(ptr, &[v])
    }
    pub fn write_u16(&mut self, ptr: u32, v: u16) -> WResult<()> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }
    pub fn write_u32(&mut self, ptr: u32, v: u32) -> WResult<()> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }
    pub fn write_u64(&mut self, ptr: u32, v: u64) -> WResult<()> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    /// A guest string (`ptr`, `len`), counted against the fuel: NOMEM if too
    /// long, FAULT if out of bounds, ILSEQ if not UTF-8.
    pub fn read_str(&mut self, ptr: u32, len: u32) -> WResult<String> {
        self.consume(u64::from(len))?;
        self.read_str_unmetered(ptr, len)
    }

    /// [`Mem::read_str`] without fuel (Wasmtime's `path_unlink_file`).
    pub fn read_str_unmetered(&self, ptr: u32, len: u32) -> WResult<String> {
        let bytes = self.slice(ptr, len)?;
        std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| Errno::ILSEQ)
    }

    /// The first iovec of the array (`iovs`, `count`) whose length is not zero,
    /// as Wasmtime reads and writes only that one buffer per call; `(0, 0)` when
    /// all are empty. The array and the chosen buffer count against the fuel;
    /// the chosen buffer must be inside memory.
    pub fn first_nonempty_iovec(&mut self, iovs: u32, count: u32) -> WResult<(u32, u32)> {
        self.consume_array(count, size::IOVEC)?;
        for i in 0..count {
            let at = i.checked_mul(size::IOVEC).and_then(|o| iovs.checked_add(o)).ok_or(Errno::FAULT)?;
            let buf = self.read_u32(at)?;
            let len = self.read_u32(at.checked_add(4).ok_or(Errno::FAULT)?)?;
            if len == 0 {
                continue;
            }
            self.consume(u64::from(len))?;
            self.check(buf, len)?;
            return Ok((buf, len));
        }
        Ok((0, 0))
    }
}

/// `$filestat` as written to guest memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Filestat {
    pub dev: u64,
    pub ino: u64,
    pub filetype: u8,
    pub nlink: u64,
    pub size: u64,
    pub atim: u64,
    pub mtim: u64,
    pub ctim: u64,
}

impl Filestat {
    pub fn write(&self, mem: &mut Mem<'_>, ptr: u32) -> WResult<()> {
        mem.check(ptr, size::FILESTAT)?;
        mem.write_u64(ptr, self.dev)?;
        mem.write_u64(ptr + 8, self.ino)?;
        mem.write_u8(ptr + 16, self.filetype)?;
        mem.write_u64(ptr + 24, self.nlink)?;
        mem.write_u64(ptr + 32, self.size)?;
        mem.write_u64(ptr + 40, self.atim)?;
        mem.write_u64(ptr + 48, self.mtim)?;
        mem.write_u64(ptr + 56, self.ctim)
    }
}

/// `$fdstat` as written to guest memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fdstat {
    pub filetype: u8,
    pub flags: u16,
    pub rights_base: u64,
    pub rights_inheriting: u64,
}

impl Fdstat {
    pub fn write(&self, mem: &mut Mem<'_>, ptr: u32) -> WResult<()> {
        mem.check(ptr, size::FDSTAT)?;
        mem.write_u8(ptr, self.filetype)?;
        mem.write_u16(ptr + 2, self.flags)?;
        mem.write_u64(ptr + 8, self.rights_base)?;
        mem.write_u64(ptr + 16, self.rights_inheriting)
    }
}

/// Serialize a `$dirent` header (24 bytes, padding zeroed).
pub fn dirent_bytes(d_next: u64, d_ino: u64, d_namlen: u32, d_type: u8) -> [u8; 24] {
    let mut b = [0u8; 24];
    b[0..8].copy_from_slice(&d_next.to_le_bytes());
    b[8..16].copy_from_slice(&d_ino.to_le_bytes());
    b[16..20].copy_from_slice(&d_namlen.to_le_bytes());
    b[20] = d_type;
    b
}

/// `$event` as written to guest memory (fields only; padding untouched, as
/// Wasmtime does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    pub userdata: u64,
    pub error: Errno,
    pub kind: u8,
    pub nbytes: u64,
    pub flags: u16,
}

impl Event {
    pub fn write(&self, mem: &mut Mem<'_>, ptr: u32) -> WResult<()> {
        mem.check(ptr, size::EVENT)?;
        mem.write_u64(ptr, self.userdata)?;
        mem.write_u16(ptr + 8, self.error.0)?;
        mem.write_u8(ptr + 10, self.kind)?;
        mem.write_u64(ptr + 16, self.nbytes)?;
        mem.write_u16(ptr + 24, self.flags)
    }
}
