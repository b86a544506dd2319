//! Unit tests: drive `WasiCtx::call` with a `Vec<u8>` as guest memory against
//! a temporary preopened directory. Expected errnos are those of Wasmtime's
//! preview1 test programs (`crates/test-programs/src/bin/p1_*.rs`) on Linux.

use super::abi::{self, fdflags, filetype, lookupflags, oflags, rights, whence};
use super::*;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const MEM: usize = 1 << 20;
const PRE: u32 = 3;
const RW: u64 = rights::FD_READ | rights::FD_WRITE;
const FOLLOW: u32 = lookupflags::SYMLINK_FOLLOW;

type R<T> = Result<T, Errno>;

fn ok(e: Errno) -> R<()> {
    if e == Errno::SUCCESS {
        Ok(())
    } else {
        Err(e)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    dev: u64,
    ino: u64,
    filetype: u8,
    nlink: u64,
    size: u64,
    mtim: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Dirent {
    next: u64,
    ino: u64,
    ty: u8,
    name: String,
}

/// A guest: a context, its memory with a bump allocator, and a temp dir
/// holding `root/` (preopened as `/sandbox`) and `outside.txt`.
struct G {
    ctx: WasiCtx,
    mem: Vec<u8>,
    top: u32,
    tmp: tempfile::TempDir,
}

fn cfg_for(root: PathBuf) -> WasiConfig {
    WasiConfig {
        args: vec!["prog.wasm".into(), "arg one".into(), "".into()],
        env: vec![("HOME".into(), "/sandbox".into()), ("EMPTY".into(), "".into())],
        preopens: vec![Preopen { host: root, guest: "/sandbox".into() }],
    }
}

/// A temp dir. When the tests themselves run as a wasm32-wasip1 program
/// (exercising `host_os`'s wasi arm), `/tmp` must be preopened.
fn tempdir() -> tempfile::TempDir {
    if cfg!(target_os = "wasi") {
        tempfile::Builder::new().tempdir_in("/tmp").unwrap()
    } else {
        tempfile::tempdir().unwrap()
    }
}

fn setup() -> G {
    let tmp = tempdir();
    std::fs::create_dir(tmp.path().join("root")).unwrap();
    std::fs::write(tmp.path().join("outside.txt"), b"secret").unwrap();
    let ctx = WasiCtx::new(&cfg_for(tmp.path().join("root"))).unwrap();
    G { ctx, mem: vec![0; MEM], top: 1024, tmp }
}

impl G {
    fn root(&self) -> PathBuf {
        self.tmp.path().join("root")
    }

    fn cfg(&self) -> WasiConfig {
        cfg_for(self.root())
    }

    fn alloc(&mut self, n: u32) -> u32 {
        let p = (self.top + 7) & !7;
        self.top = p + n.max(1);
        assert!((self.top as usize) < MEM, "test memory exhausted");
        p
    }

    fn put(&mut self, bytes: &[u8]) -> u32 {
        let p = self.alloc(bytes.len() as u32);
        self.mem[p as usize..p as usize + bytes.len()].copy_from_slice(bytes);
        p
    }

    fn s(&mut self, s: &str) -> (u64, u64) {
        (u64::from(self.put(s.as_bytes())), s.len() as u64)
    }

    fn r32(&self, p: u32) -> u32 {
        u32::from_le_bytes(self.mem[p as usize..p as usize + 4].try_into().unwrap())
    }

    fn r64(&self, p: u32) -> u64 {
        u64::from_le_bytes(self.mem[p as usize..p as usize + 8].try_into().unwrap())
    }

    fn bytes(&self, p: u32, n: u32) -> Vec<u8> {
        self.mem[p as usize..(p + n) as usize].to_vec()
    }

    /// Whether the call fails with a host error (Wasmtime: "at convert ...").
    fn traps(&mut self, f: WasiFunc, args: &[u64]) -> bool {
        match self.ctx.call(f, &mut self.mem, args) {
            Err(HostExit::Trap(m)) => {
                assert!(m.contains(f.name()), "{m}");
                true
            }
            _ => false,
        }
    }

    fn call(&mut self, f: WasiFunc, args: &[u64]) -> Errno {
        match self.ctx.call(f, &mut self.mem, args) {
            Ok(Some(v)) => Errno(u16::try_from(v).unwrap()),
            other => panic!("{} returned {other:?}", f.name()),
        }
    }

    fn open_full(&mut self, dirfd: u32, dirflags: u32, path: &str, of: u16, base: u64, fdfl: u16) -> R<u32> {
        let (p, l) = self.s(path);
        let ret = self.alloc(4);
        let args = [
            u64::from(dirfd),
            u64::from(dirflags),
            p,
            l,
            u64::from(of),
            base,
            base,
            u64::from(fdfl),
            u64::from(ret),
        ];
        ok(self.call(WasiFunc::PathOpen, &args))?;
        Ok(self.r32(ret))
    }

    fn open(&mut self, path: &str, of: u16, base: u64) -> R<u32> {
        self.open_full(PRE, 0, path, of, base, 0)
    }

    fn create(&mut self, path: &str, data: &[u8]) {
        let fd = self.open(path, oflags::CREAT | oflags::TRUNC, RW).unwrap();
        assert_eq!(self.write(fd, data), Ok(data.len() as u32));
        self.close(fd).unwrap();
    }

    fn iov(&mut self, buf: u32, len: u32) -> u32 {
        let mut v = buf.to_le_bytes().to_vec();
        v.extend_from_slice(&len.to_le_bytes());
        self.put(&v)
    }

    fn write(&mut self, fd: u32, data: &[u8]) -> R<u32> {
        let b = self.put(data);
        let iov = self.iov(b, data.len() as u32);
        let ret = self.alloc(4);
        ok(self.call(WasiFunc::FdWrite, &[fd.into(), iov.into(), 1, ret.into()]))?;
        Ok(self.r32(ret))
    }

    fn pwrite(&mut self, fd: u32, data: &[u8], off: u64) -> R<u32> {
        let b = self.put(data);
        let iov = self.iov(b, data.len() as u32);
        let ret = self.alloc(4);
        ok(self.call(WasiFunc::FdPwrite, &[fd.into(), iov.into(), 1, off, ret.into()]))?;
        Ok(self.r32(ret))
    }

    fn read(&mut self, fd: u32, n: u32) -> R<Vec<u8>> {
        let b = self.alloc(n);
        let iov = self.iov(b, n);
        let ret = self.alloc(4);
        ok(self.call(WasiFunc::FdRead, &[fd.into(), iov.into(), 1, ret.into()]))?;
        let got = self.r32(ret);
        Ok(self.bytes(b, got))
    }

    fn pread(&mut self, fd: u32, n: u32, off: u64) -> R<Vec<u8>> {
        let b = self.alloc(n);
        let iov = self.iov(b, n);
        let ret = self.alloc(4);
        ok(self.call(WasiFunc::FdPread, &[fd.into(), iov.into(), 1, off, ret.into()]))?;
        let got = self.r32(ret);
        Ok(self.bytes(b, got))
    }

    fn seek(&mut self, fd: u32, off: i64, wh: u8) -> R<u64> {
        let ret = self.alloc(8);
        ok(self.call(WasiFunc::FdSeek, &[fd.into(), off as u64, wh.into(), ret.into()]))?;
        Ok(self.r64(ret))
    }

    fn tell(&mut self, fd: u32) -> R<u64> {
        let ret = self.alloc(8);
        ok(self.call(WasiFunc::FdTell, &[fd.into(), ret.into()]))?;
        Ok(self.r64(ret))
    }

    fn close(&mut self, fd: u32) -> R<()> {
        ok(self.call(WasiFunc::FdClose, &[fd.into()]))
    }

    fn path1(&mut self, f: WasiFunc, path: &str) -> R<()> {
        let (p, l) = self.s(path);
        ok(self.call(f, &[PRE.into(), p, l]))
    }

    fn mkdir(&mut self, path: &str) -> R<()> {
        self.path1(WasiFunc::PathCreateDirectory, path)
    }

    fn rmdir(&mut self, path: &str) -> R<()> {
        self.path1(WasiFunc::PathRemoveDirectory, path)
    }

    fn unlink(&mut self, path: &str) -> R<()> {
        self.path1(WasiFunc::PathUnlinkFile, path)
    }

    fn rename(&mut self, old: &str, new: &str) -> R<()> {
        let (op, ol) = self.s(old);
        let (np, nl) = self.s(new);
        ok(self.call(WasiFunc::PathRename, &[PRE.into(), op, ol, PRE.into(), np, nl]))
    }

    fn link(&mut self, flags: u32, old: &str, new: &str) -> R<()> {
        let (op, ol) = self.s(old);
        let (np, nl) = self.s(new);
        ok(self.call(WasiFunc::PathLink, &[PRE.into(), flags.into(), op, ol, PRE.into(), np, nl]))
    }

    fn symlink(&mut self, target: &str, path: &str) -> R<()> {
        let (tp, tl) = self.s(target);
        let (pp, pl) = self.s(path);
        ok(self.call(WasiFunc::PathSymlink, &[tp, tl, PRE.into(), pp, pl]))
    }

    fn readlink(&mut self, path: &str, buf_len: u32) -> R<Vec<u8>> {
        let (p, l) = self.s(path);
        let b = self.alloc(buf_len);
        let ret = self.alloc(4);
        ok(self.call(WasiFunc::PathReadlink, &[PRE.into(), p, l, b.into(), buf_len.into(), ret.into()]))?;
        let n = self.r32(ret);
        Ok(self.bytes(b, n))
    }

    fn parse_stat(&self, p: u32) -> Stat {
        Stat {
            dev: self.r64(p),
            ino: self.r64(p + 8),
            filetype: self.mem[p as usize + 16],
            nlink: self.r64(p + 24),
            size: self.r64(p + 32),
            mtim: self.r64(p + 48),
        }
    }

    fn fstat(&mut self, fd: u32) -> R<Stat> {
        let ret = self.alloc(64);
        ok(self.call(WasiFunc::FdFilestatGet, &[fd.into(), ret.into()]))?;
        Ok(self.parse_stat(ret))
    }

    fn pstat(&mut self, flags: u32, path: &str) -> R<Stat> {
        let (p, l) = self.s(path);
        let ret = self.alloc(64);
        ok(self.call(WasiFunc::PathFilestatGet, &[PRE.into(), flags.into(), p, l, ret.into()]))?;
        Ok(self.parse_stat(ret))
    }

    /// (filetype, flags, rights_base, rights_inheriting)
    fn fdstat(&mut self, fd: u32) -> R<(u8, u16, u64, u64)> {
        let ret = self.alloc(24);
        ok(self.call(WasiFunc::FdFdstatGet, &[fd.into(), ret.into()]))?;
        let p = ret as usize;
        let flags = u16::from_le_bytes([self.mem[p + 2], self.mem[p + 3]]);
        Ok((self.mem[p], flags, self.r64(ret + 8), self.r64(ret + 16)))
    }

    fn readdir_raw(&mut self, fd: u32, buf_len: u32, cookie: u64) -> R<Vec<u8>> {
        let b = self.alloc(buf_len);
        let ret = self.alloc(4);
        ok(self.call(WasiFunc::FdReaddir, &[fd.into(), b.into(), buf_len.into(), cookie, ret.into()]))?;
        let n = self.r32(ret);
        assert!(n <= buf_len);
        Ok(self.bytes(b, n))
    }

    fn readdir(&mut self, fd: u32) -> Vec<Dirent> {
        parse_dirents(&self.readdir_raw(fd, 64 * 1024, 0).unwrap())
    }

    fn state_roundtrip(&mut self) -> WasiState {
        let s = self.ctx.state().unwrap();
        let copy = s.clone();
        assert_eq!(s, copy);
        copy
    }
}

fn parse_dirents(mut b: &[u8]) -> Vec<Dirent> {
    let mut out = Vec::new();
    while b.len() >= 24 {
        let next = u64::from_le_bytes(b[0..8].try_into().unwrap());
        let ino = u64::from_le_bytes(b[8..16].try_into().unwrap());
        let namlen = u32::from_le_bytes(b[16..20].try_into().unwrap()) as usize;
        let ty = b[20];
        assert_eq!(&b[21..24], &[0, 0, 0], "dirent padding is zeroed");
        if b.len() < 24 + namlen {
            break;
        }
        let name = String::from_utf8(b[24..24 + namlen].to_vec()).unwrap();
        out.push(Dirent { next, ino, ty, name });
        b = &b[24 + namlen..];
    }
    out
}

// ---------------------------------------------------------------- function table

#[test]
fn function_table_is_complete_and_consistent() {
    assert_eq!(WasiFunc::ALL.len(), 46);
    for (i, &f) in WasiFunc::ALL.iter().enumerate() {
        assert_eq!(f as u16 as usize, i);
        assert_eq!(WasiFunc::from_u16(i as u16), Some(f));
        assert_eq!(WasiFunc::from_name(f.name()), Some(f));
        let (_, results) = f.signature();
        if f == WasiFunc::ProcExit {
            assert!(results.is_empty());
        } else {
            assert_eq!(results, &[ValKind::I32], "{}", f.name());
        }
    }
    assert_eq!(WasiFunc::from_u16(46), None);
    assert_eq!(WasiFunc::from_name("fd_nope"), None);
    use ValKind::{I32, I64};
    let sig = |n: &str| WasiFunc::from_name(n).unwrap().signature().0;
    assert_eq!(sig("path_open"), &[I32, I32, I32, I32, I32, I64, I64, I32, I32]);
    assert_eq!(sig("fd_seek"), &[I32, I64, I32, I32]);
    assert_eq!(sig("clock_time_get"), &[I32, I64, I32]);
    assert_eq!(sig("path_filestat_set_times"), &[I32, I32, I32, I32, I64, I64, I32]);
    assert_eq!(sig("fd_pread"), &[I32, I32, I32, I64, I32]);
    assert_eq!(sig("fd_readdir"), &[I32, I32, I32, I64, I32]);
    assert_eq!(sig("sock_recv"), &[I32; 6]);
    assert_eq!(sig("sched_yield"), &[] as &[ValKind]);
    assert_eq!(sig("proc_exit"), &[I32]);
}

#[test]
fn context_and_state_are_send() {
    fn send<T: Send + 'static>() {}
    send::<WasiCtx>();
    send::<WasiState>();
    send::<HostExit>();
}

#[test]
fn wrong_argument_count_traps() {
    let mut g = setup();
    let r = g.ctx.call(WasiFunc::FdClose, &mut g.mem, &[]);
    assert!(matches!(r, Err(HostExit::Trap(_))), "{r:?}");
}

#[test]
fn preopen_arg_parsing() {
    assert_eq!(
        Preopen::from_dir_arg("/srv/data::/data"),
        Preopen { host: "/srv/data".into(), guest: "/data".into() }
    );
    assert_eq!(Preopen::from_dir_arg("."), Preopen { host: ".".into(), guest: ".".into() });
}

#[test]
fn new_fails_clearly_for_missing_preopen() {
    let tmp = tempdir();
    let cfg = cfg_for(tmp.path().join("nope"));
    let err = WasiCtx::new(&cfg).unwrap_err();
    assert!(err.to_string().contains("/sandbox"), "{err}");
    assert!(err.to_string().contains("nope"), "{err}");
}

// ---------------------------------------------------------------- args, env, clocks, random

#[test]
fn args_and_environ() {
    let mut g = setup();
    let (c, s) = (g.alloc(4), g.alloc(4));
    assert_eq!(g.call(WasiFunc::ArgsSizesGet, &[c.into(), s.into()]), Errno::SUCCESS);
    assert_eq!(g.r32(c), 3);
    assert_eq!(g.r32(s), 10 + 8 + 1);
    let (argv, buf) = (g.alloc(12), g.alloc(19));
    assert_eq!(g.call(WasiFunc::ArgsGet, &[argv.into(), buf.into()]), Errno::SUCCESS);
    assert_eq!(g.bytes(buf, 19), b"prog.wasm\0arg one\0\0");
    assert_eq!(g.r32(argv), buf);
    assert_eq!(g.r32(argv + 4), buf + 10);
    assert_eq!(g.r32(argv + 8), buf + 18);

    assert_eq!(g.call(WasiFunc::EnvironSizesGet, &[c.into(), s.into()]), Errno::SUCCESS);
    assert_eq!((g.r32(c), g.r32(s)), (2, 14 + 7));
    let (envp, ebuf) = (g.alloc(8), g.alloc(21));
    assert_eq!(g.call(WasiFunc::EnvironGet, &[envp.into(), ebuf.into()]), Errno::SUCCESS);
    assert_eq!(g.bytes(ebuf, 21), b"HOME=/sandbox\0EMPTY=\0");
    assert_eq!(g.r32(envp + 4), ebuf + 14);

    // Out of bounds: FAULT, never a panic.
    let end = MEM as u64;
    assert_eq!(g.call(WasiFunc::ArgsGet, &[argv.into(), end - 5]), Errno::FAULT);
    assert_eq!(g.call(WasiFunc::ArgsSizesGet, &[end - 2, s.into()]), Errno::FAULT);
    assert_eq!(g.call(WasiFunc::EnvironGet, &[u64::from(u32::MAX), ebuf.into()]), Errno::FAULT);
}

#[test]
fn clocks() {
    let mut g = setup();
    let ret = g.alloc(8);
    for id in 0..4u64 {
        assert_eq!(g.call(WasiFunc::ClockResGet, &[id, ret.into()]), Errno::SUCCESS);
        assert_eq!(g.r64(ret), 1);
    }
    // Parameters that do not convert are host errors, as in Wasmtime.
    assert!(g.traps(WasiFunc::ClockResGet, &[4, ret.into()]));
    assert!(g.traps(WasiFunc::ClockTimeGet, &[9, 0, ret.into()]));
    assert!(g.traps(WasiFunc::ClockTimeGet, &[u64::from(u32::MAX), 0, ret.into()]));

    assert_eq!(g.call(WasiFunc::ClockTimeGet, &[0, 0, ret.into()]), Errno::SUCCESS);
    let rt = g.r64(ret);
    let now = Clock::realtime();
    assert!(rt <= now && now - rt < 5_000_000_000, "{rt} vs {now}");

    let mut last = 0;
    for id in [1u64, 1, 2, 3, 1] {
        assert_eq!(g.call(WasiFunc::ClockTimeGet, &[id, 0, ret.into()]), Errno::SUCCESS);
        let t = g.r64(ret);
        assert!(t >= last, "clock {id} went backwards");
        last = t;
    }
    assert_eq!(g.call(WasiFunc::ClockTimeGet, &[1, 0, MEM as u64 - 4]), Errno::FAULT);
}

#[test]
fn random_get_fills_and_checks_bounds() {
    let mut g = setup();
    let a = g.alloc(64);
    let b = g.alloc(64);
    assert_eq!(g.call(WasiFunc::RandomGet, &[a.into(), 64]), Errno::SUCCESS);
    assert_eq!(g.call(WasiFunc::RandomGet, &[b.into(), 64]), Errno::SUCCESS);
    assert_ne!(g.bytes(a, 64), vec![0; 64]);
    assert_ne!(g.bytes(a, 64), g.bytes(b, 64));
    assert_eq!(g.call(WasiFunc::RandomGet, &[MEM as u64 - 10, 64]), Errno::FAULT);
    assert_eq!(g.call(WasiFunc::RandomGet, &[0, 0]), Errno::SUCCESS);
}

#[test]
fn proc_and_sched_and_sockets() {
    let mut g = setup();
    assert_eq!(g.ctx.call(WasiFunc::ProcExit, &mut g.mem, &[3]), Err(HostExit::Exit(3)));
    assert_eq!(g.ctx.call(WasiFunc::ProcExit, &mut g.mem, &[0]), Err(HostExit::Exit(0)));
    assert!(matches!(g.ctx.call(WasiFunc::ProcExit, &mut g.mem, &[126]), Err(HostExit::Trap(_))));
    assert_eq!(g.call(WasiFunc::ProcRaise, &[2]), Errno::NOTSUP);
    assert!(g.traps(WasiFunc::ProcRaise, &[31]));
    assert!(g.traps(WasiFunc::ProcRaise, &[256]));
    assert_eq!(g.call(WasiFunc::SchedYield, &[]), Errno::SUCCESS);

    let ret = g.alloc(8);
    assert_eq!(g.call(WasiFunc::SockAccept, &[1, 0, ret.into()]), Errno::NOTSOCK);
    assert_eq!(g.call(WasiFunc::SockAccept, &[77, 0, ret.into()]), Errno::BADF);
    assert!(g.traps(WasiFunc::SockAccept, &[1, 0x100, ret.into()]));
    assert!(g.traps(WasiFunc::SockAccept, &[1, 0x10000, ret.into()]));
    assert!(g.traps(WasiFunc::SockSend, &[1, 0, 0, 0x10000, ret.into()]));
    assert_eq!(g.call(WasiFunc::SockRecv, &[0, 0, 0, 0, ret.into(), ret.into()]), Errno::NOTSOCK);
    assert_eq!(g.call(WasiFunc::SockSend, &[PRE.into(), 0, 0, 0, ret.into()]), Errno::NOTSOCK);
    assert_eq!(g.call(WasiFunc::SockShutdown, &[2, 3]), Errno::NOTSOCK);
    assert!(g.traps(WasiFunc::SockShutdown, &[2, 4]));
    assert_eq!(g.call(WasiFunc::SockShutdown, &[50, 1]), Errno::BADF);
}

// ---------------------------------------------------------------- stdio & preopens

#[test]
fn stdio_descriptors() {
    let mut g = setup();
    let (_, flags, base, inh) = g.fdstat(0).unwrap();
    assert_eq!((flags, base, inh), (0, rights::FD_READ, rights::FD_READ));
    let (_, _, base, _) = g.fdstat(1).unwrap();
    assert_eq!(base, rights::FD_WRITE);
    assert_eq!(g.seek(0, 0, whence::CUR), Err(Errno::SPIPE));
    assert_eq!(g.tell(2), Err(Errno::SPIPE));
    assert_eq!(g.pwrite(1, b"x", 0), Err(Errno::SPIPE));
    assert_eq!(g.pread(0, 4, 0), Err(Errno::SPIPE));
    assert_eq!(g.read(1, 4), Err(Errno::BADF));
    assert_eq!(g.write(0, b"x"), Err(Errno::BADF));
    let st = g.fstat(2).unwrap();
    assert_eq!((st.dev, st.ino, st.size, st.nlink), (0, 0, 0, 0));
    // An fd_write whose iovecs are all empty writes nothing and returns 0.
    let iov = g.iov(0, 0);
    let ret = g.alloc(4);
    assert_eq!(g.call(WasiFunc::FdWrite, &[2, iov.into(), 1, ret.into()]), Errno::SUCCESS);
    assert_eq!(g.r32(ret), 0);
    assert_eq!(g.fd_sync_errno(1), Errno::BADF);
}

impl G {
    fn fd_sync_errno(&mut self, fd: u32) -> Errno {
        self.call(WasiFunc::FdSync, &[fd.into()])
    }
}

#[test]
fn prestat_and_preopen_rights() {
    let mut g = setup();
    let ret = g.alloc(8);
    assert_eq!(g.call(WasiFunc::FdPrestatGet, &[3, ret.into()]), Errno::SUCCESS);
    assert_eq!(g.mem[ret as usize], 0);
    assert_eq!(g.r32(ret + 4), 8);
    let name = g.alloc(16);
    assert_eq!(g.call(WasiFunc::FdPrestatDirName, &[3, name.into(), 7]), Errno::NAMETOOLONG);
    assert_eq!(g.call(WasiFunc::FdPrestatDirName, &[3, name.into(), 16]), Errno::SUCCESS);
    assert_eq!(g.bytes(name, 8), b"/sandbox");
    assert_eq!(g.call(WasiFunc::FdPrestatGet, &[4, ret.into()]), Errno::BADF);
    assert_eq!(g.call(WasiFunc::FdPrestatGet, &[1, ret.into()]), Errno::BADF);
    assert_eq!(g.call(WasiFunc::FdPrestatDirName, &[1, name.into(), 16]), Errno::NOTDIR);
    assert_eq!(g.call(WasiFunc::FdPrestatDirName, &[9, name.into(), 16]), Errno::BADF);

    let (ft, flags, base, inh) = g.fdstat(PRE).unwrap();
    assert_eq!((ft, flags), (filetype::DIRECTORY, 0));
    for r in [rights::PATH_OPEN, rights::FD_READDIR, rights::PATH_CREATE_FILE, rights::PATH_SYMLINK] {
        assert_eq!(base & r, r);
    }
    assert_eq!(base & (rights::FD_READ | rights::FD_WRITE | rights::FD_SEEK), 0);
    assert_eq!(base.count_ones(), 16);
    assert_eq!(inh & rights::FD_WRITE, rights::FD_WRITE);
    assert_eq!(inh & rights::FD_SEEK, rights::FD_SEEK);

    // Re-opening "." gives a plain directory with all rights but seek/size/write.
    let d = g.open(".", oflags::DIRECTORY, 0).unwrap();
    assert_eq!(d, 4);
    let (ft, _, base, inh) = g.fdstat(d).unwrap();
    assert_eq!(ft, filetype::DIRECTORY);
    assert_eq!(
        base,
        rights::ALL
            & !(rights::FD_SEEK
                | rights::FD_FILESTAT_SET_SIZE
                | rights::PATH_FILESTAT_SET_SIZE
                | rights::FD_WRITE)
    );
    assert_eq!(base, inh);
    assert_eq!(g.open(".", oflags::DIRECTORY, RW), Err(Errno::ISDIR), "opening a directory read/write");
}

// ---------------------------------------------------------------- files

#[test]
fn file_create_write_read_seek_tell() {
    let mut g = setup();
    let fd = g.open("f.txt", oflags::CREAT, RW).unwrap();
    assert_eq!(fd, 4);
    assert_eq!(g.write(fd, b"hello world"), Ok(11));
    assert_eq!(g.tell(fd), Ok(11));
    assert_eq!(std::fs::read(g.root().join("f.txt")).unwrap(), b"hello world");
    assert_eq!(g.seek(fd, 0, whence::SET), Ok(0));
    assert_eq!(g.read(fd, 5).unwrap(), b"hello");
    assert_eq!(g.tell(fd), Ok(5));
    assert_eq!(g.seek(fd, 1, whence::CUR), Ok(6));
    assert_eq!(g.read(fd, 100).unwrap(), b"world");
    assert_eq!(g.read(fd, 100).unwrap(), b"", "EOF reads 0 bytes");
    assert_eq!(g.seek(fd, -5, whence::END), Ok(6));
    assert_eq!(g.seek(fd, -7, whence::CUR), Err(Errno::INVAL));
    assert_eq!(g.seek(fd, -1, whence::SET), Err(Errno::INVAL));
    assert!(g.traps(WasiFunc::FdSeek, &[fd.into(), 0, 3, 64]));
    assert!(g.traps(WasiFunc::FdSeek, &[fd.into(), 0, 256, 64]));
    assert_eq!(g.tell(fd), Ok(6), "a failed seek keeps the position");
    // Seeking past the end and writing leaves a hole.
    assert_eq!(g.seek(fd, 20, whence::SET), Ok(20));
    assert_eq!(g.write(fd, b"!"), Ok(1));
    assert_eq!(g.fstat(fd).unwrap().size, 21);

    // pread/pwrite do not move the position.
    assert_eq!(g.pwrite(fd, b"HELLO", 0), Ok(5));
    assert_eq!(g.pread(fd, 11, 0).unwrap(), b"HELLO world");
    assert_eq!(g.pread(fd, 11, 100).unwrap(), b"");
    assert_eq!(g.tell(fd), Ok(21));

    // Only the first non-empty iovec is transferred (like Wasmtime).
    let b1 = g.put(b"abc");
    let b2 = g.put(b"def");
    let iovs = {
        let mut v = Vec::new();
        for (p, l) in [(0u32, 0u32), (b1, 3), (b2, 3)] {
            v.extend_from_slice(&p.to_le_bytes());
            v.extend_from_slice(&l.to_le_bytes());
        }
        g.put(&v)
    };
    let ret = g.alloc(4);
    assert_eq!(g.call(WasiFunc::FdWrite, &[fd.into(), iovs.into(), 3, ret.into()]), Errno::SUCCESS);
    assert_eq!(g.r32(ret), 3);
    assert_eq!(g.pread(fd, 3, 21).unwrap(), b"abc");

    assert_eq!(g.close(fd), Ok(()));
    assert_eq!(g.close(fd), Err(Errno::BADF));
    assert_eq!(g.read(fd, 1), Err(Errno::BADF));
}

#[test]
fn open_modes_and_rights() {
    let mut g = setup();
    g.create("file", b"");
    let ro = g.open("file", 0, rights::FD_READ).unwrap();
    let (ft, _, base, _) = g.fdstat(ro).unwrap();
    assert_eq!(ft, filetype::REGULAR_FILE);
    assert_eq!(base & rights::FD_WRITE, 0);
    assert_eq!(base & rights::FD_READ, rights::FD_READ);
    assert_eq!(g.read(ro, 10).unwrap(), b"");
    assert_eq!(g.write(ro, &[1; 50]), Err(Errno::BADF));
    g.close(ro).unwrap();

    let wo = g.open("file", 0, rights::FD_WRITE).unwrap();
    let (_, _, base, _) = g.fdstat(wo).unwrap();
    assert_eq!(base & (rights::FD_READ | rights::FD_READDIR), 0);
    assert_eq!(g.read(wo, 10), Err(Errno::BADF));
    assert_eq!(g.write(wo, &[1; 50]), Ok(50));
    g.close(wo).unwrap();

    // No rights at all: opened for reading.
    let none = g.open("file", 0, 0).unwrap();
    assert_eq!(g.read(none, 100).unwrap().len(), 50);
    g.close(none).unwrap();

    // TRUNC truncates, EXCL on existing → EXIST, missing → NOENT.
    let t = g.open("file", oflags::TRUNC, RW).unwrap();
    assert_eq!(g.fstat(t).unwrap().size, 0);
    assert_eq!(g.open("file", oflags::CREAT | oflags::EXCL, RW), Err(Errno::EXIST));
    assert_eq!(g.open("missing", 0, RW), Err(Errno::NOENT));
    assert_eq!(g.open("file", oflags::DIRECTORY, 0), Err(Errno::NOTDIR));
    assert_eq!(g.open("d", oflags::DIRECTORY | oflags::CREAT, 0), Err(Errno::INVAL));
    assert_eq!(g.open_full(PRE, 0, "file", 0, RW, fdflags::SYNC), Err(Errno::NOTSUP));
    // Unknown flag bits, out-of-range and negative values: host errors.
    let (pp, pl) = g.s("file");
    let ret = g.alloc(4);
    for (dirflags, of, base, fdfl) in [
        (0, 0x10, 0, 0),
        (0, 0x10000, 0, 0),
        (0, 0, 1u64 << 40, 0),
        (0, 0, u64::MAX, 0),
        (0, 0, 0, 0x20),
        (2, 0, 0, 0),
    ] {
        let args = [3, dirflags, pp, pl, of, base, 0, fdfl, u64::from(ret)];
        assert!(g.traps(WasiFunc::PathOpen, &args), "{args:?}");
    }
    // A file as directory fd → NOTDIR; a closed fd → BADF; stdio → BADF.
    assert_eq!(g.open_full(t, 0, "x", oflags::CREAT, 0, 0), Err(Errno::NOTDIR));
    assert_eq!(g.open_full(99, 0, "x", 0, 0, 0), Err(Errno::BADF));
    assert_eq!(g.open_full(1, 0, "x", 0, 0, 0), Err(Errno::BADF));
    // Bad UTF-8 path.
    let p = g.put(&[0xff, 0xfe]);
    let ret = g.alloc(4);
    assert_eq!(g.call(WasiFunc::PathOpen, &[3, 0, p.into(), 2, 0, 0, 0, 0, ret.into()]), Errno::ILSEQ);
    assert_eq!(g.open("file\0", 0, 0), Err(Errno::INVAL));
    assert_eq!(g.open("", 0, 0), Err(Errno::NOENT));
    // Result pointer out of bounds: FAULT and no descriptor is created.
    let (pp, pl) = g.s("file");
    assert_eq!(g.call(WasiFunc::PathOpen, &[3, 0, pp, pl, 0, 0, 0, 0, MEM as u64 - 2]), Errno::FAULT);
    let next = g.open("file", 0, 0).unwrap();
    assert_eq!(next, t + 1);
}

#[test]
fn append_mode_and_fdflags() {
    let mut g = setup();
    let fd = g.open_full(PRE, 0, "log", oflags::CREAT, RW, fdflags::APPEND).unwrap();
    assert_eq!(g.fdstat(fd).unwrap().1, fdflags::APPEND);
    assert_eq!(g.write(fd, &[0; 100]), Ok(100));
    assert_eq!(g.seek(fd, 0, whence::SET), Ok(0));
    assert_eq!(g.write(fd, &[1; 100]), Ok(100));
    assert_eq!(g.tell(fd), Ok(200), "append moves the position to the end");
    assert_eq!(g.pwrite(fd, b"zz", 0), Ok(2), "pwrite appends too");
    assert_eq!(g.fstat(fd).unwrap().size, 202);
    assert_eq!(g.pread(fd, 2, 0).unwrap(), vec![0, 0]);

    let ret = g.call(WasiFunc::FdFdstatSetFlags, &[fd.into(), 0]);
    assert_eq!(ret, Errno::SUCCESS);
    assert_eq!(g.fdstat(fd).unwrap().1, 0);
    assert_eq!(g.seek(fd, 0, whence::SET), Ok(0));
    assert_eq!(g.write(fd, &[2; 10]), Ok(10));
    assert_eq!(g.pread(fd, 10, 0).unwrap(), vec![2; 10]);
    assert_eq!(g.fstat(fd).unwrap().size, 202);

    assert_eq!(g.call(WasiFunc::FdFdstatSetFlags, &[fd.into(), fdflags::SYNC.into()]), Errno::INVAL);
    assert_eq!(g.call(WasiFunc::FdFdstatSetFlags, &[fd.into(), fdflags::NONBLOCK.into()]), Errno::SUCCESS);
    assert_eq!(g.fdstat(fd).unwrap().1, fdflags::NONBLOCK);
    assert_eq!(g.call(WasiFunc::FdFdstatSetFlags, &[PRE.into(), 0]), Errno::BADF);
    assert_eq!(g.call(WasiFunc::FdFdstatSetFlags, &[1, 0]), Errno::BADF);
}

#[test]
fn file_only_operations_on_directories_are_badf() {
    // Wasmtime's p1_dir_fd_op_failures.
    let mut g = setup();
    let d = PRE;
    assert_eq!(g.fstat(d).unwrap().filetype, filetype::DIRECTORY);
    assert_eq!(g.read(d, 8), Err(Errno::BADF));
    assert_eq!(g.pread(d, 8, 0), Err(Errno::BADF));
    assert_eq!(g.write(d, b"x"), Err(Errno::BADF));
    assert_eq!(g.pwrite(d, b"x", 0), Err(Errno::BADF));
    for wh in [whence::CUR, whence::SET, whence::END] {
        assert_eq!(g.seek(d, 0, wh), Err(Errno::BADF));
    }
    assert_eq!(g.tell(d), Err(Errno::BADF));
    assert_eq!(g.call(WasiFunc::FdAdvise, &[3, 0, 0, 4]), Errno::BADF);
    assert_eq!(g.call(WasiFunc::FdAllocate, &[3, 0, 0]), Errno::BADF);
    assert_eq!(g.call(WasiFunc::FdDatasync, &[3]), Errno::BADF);
    assert_eq!(g.call(WasiFunc::FdSync, &[3]), Errno::BADF);
    assert_eq!(g.call(WasiFunc::FdFilestatSetSize, &[3, 0]), Errno::BADF);
    assert_eq!(g.call(WasiFunc::FdFdstatSetRights, &[3, 0, 0]), Errno::NOTSUP);
    assert_eq!(g.call(WasiFunc::FdFdstatSetRights, &[1, 0, 0]), Errno::BADF);

    // And their success on a file.
    let f = g.open("x", oflags::CREAT, RW).unwrap();
    assert_eq!(g.call(WasiFunc::FdAdvise, &[f.into(), 0, 0, 4]), Errno::SUCCESS);
    assert!(g.traps(WasiFunc::FdAdvise, &[f.into(), 0, 0, 6]));
    assert_eq!(g.call(WasiFunc::FdAdvise, &[f.into(), u64::MAX, 0, 0]), Errno::INVAL);
    assert_eq!(g.call(WasiFunc::FdAdvise, &[f.into(), 0, 1 << 63, 0]), Errno::INVAL);
    assert_eq!(g.call(WasiFunc::FdAllocate, &[f.into(), 0, 1]), Errno::NOTSUP);
    assert_eq!(g.call(WasiFunc::FdDatasync, &[f.into()]), Errno::SUCCESS);
    assert_eq!(g.call(WasiFunc::FdSync, &[f.into()]), Errno::SUCCESS);
    assert_eq!(g.call(WasiFunc::FdFilestatSetSize, &[f.into(), 1000]), Errno::SUCCESS);
    assert_eq!(g.fstat(f).unwrap().size, 1000);
    assert_eq!(g.call(WasiFunc::FdFilestatSetSize, &[f.into(), 3]), Errno::SUCCESS);
    assert_eq!(std::fs::metadata(g.root().join("x")).unwrap().len(), 3);
    // Directory-only operations on a file.
    let b = g.alloc(64);
    let ret = g.alloc(4);
    assert_eq!(g.call(WasiFunc::FdReaddir, &[f.into(), b.into(), 64, 0, ret.into()]), Errno::BADF);
    let (p, l) = g.s("y");
    assert_eq!(g.call(WasiFunc::PathCreateDirectory, &[f.into(), p, l]), Errno::BADF);
}

// ---------------------------------------------------------------- directories

#[test]
fn mkdir_rmdir_unlink_rename_errors() {
    let mut g = setup();
    assert_eq!(g.mkdir("d"), Ok(()));
    assert!(g.root().join("d").is_dir());
    assert_eq!(g.mkdir("d"), Err(Errno::EXIST));
    assert_eq!(g.mkdir("d/"), Err(Errno::EXIST));
    assert_eq!(g.mkdir("e/"), Ok(()), "trailing slash is stripped");
    assert_eq!(g.mkdir("missing/x"), Err(Errno::NOENT));
    assert_eq!(g.mkdir("."), Err(Errno::EXIST));
    g.create("d/f", b"data");
    assert_eq!(g.mkdir("d/f/x"), Err(Errno::NOTDIR));
    assert_eq!(g.rmdir("d"), Err(Errno::NOTEMPTY));
    assert_eq!(g.rmdir("d/f"), Err(Errno::NOTDIR));
    assert_eq!(g.rmdir("d/f/"), Err(Errno::NOTDIR));
    assert_eq!(g.rmdir("nope"), Err(Errno::NOENT));
    assert_eq!(g.rmdir("e/"), Err(Errno::INVAL), "rmdir of dir/ is rmdir('.')");
    assert_eq!(g.unlink("d"), Err(Errno::ISDIR));
    assert_eq!(g.unlink("d/"), Err(Errno::ISDIR));
    assert_eq!(g.unlink("d/f/"), Err(Errno::NOTDIR));
    assert_eq!(g.unlink("d/nope"), Err(Errno::NOENT));

    // rename: files, directories, and the errors of p1_path_rename.
    assert_eq!(g.rename("d/f", "g"), Ok(()));
    assert_eq!(std::fs::read(g.root().join("g")).unwrap(), b"data");
    assert_eq!(g.open("d/f", 0, 0), Err(Errno::NOENT));
    g.create("h", b"other");
    assert_eq!(g.rename("g", "h"), Ok(()), "replacing a file");
    assert_eq!(std::fs::read(g.root().join("h")).unwrap(), b"data");
    assert_eq!(g.rename("h", "d"), Err(Errno::ISDIR));
    g.create("e/inner", b"");
    assert_eq!(g.rename("d", "e"), Err(Errno::NOTEMPTY));
    assert_eq!(g.rename("d", "h"), Err(Errno::NOTDIR));
    assert_eq!(g.rename("d/", "d2"), Ok(()), "source with trailing slash");
    assert_eq!(g.rename("d2", "d/"), Ok(()), "destination with trailing slash");
    assert_eq!(g.rename("h/", "h2"), Err(Errno::NOTDIR));
    assert_eq!(g.rename(".", "x"), Err(Errno::BUSY));
    assert_eq!(g.rename("nope", "x"), Err(Errno::NOENT));
    assert_eq!(g.rmdir("d"), Ok(()));
    assert!(!g.root().join("d").exists());
    assert_eq!(g.unlink("h"), Ok(()));
    assert!(!g.root().join("h").exists());
}

#[test]
fn readdir_matches_wasmtime() {
    let mut g = setup();
    let entries = g.readdir(PRE);
    let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, [".", ".."]);
    let pre_ino = g.fstat(PRE).unwrap().ino;
    assert_eq!(entries[0].ino, pre_ino);
    assert_eq!(entries[1].ino, pre_ino);
    assert_eq!((entries[0].next, entries[1].next), (1, 2), "cookies are entry indices");
    assert!(entries.iter().all(|e| e.ty == filetype::DIRECTORY));

    let f = g.open("file", oflags::CREAT, RW).unwrap();
    let file_ino = g.fstat(f).unwrap().ino;
    g.close(f).unwrap();
    g.mkdir("nested").unwrap();
    g.symlink("file", "link").unwrap();
    let n = g.open("nested", 0, 0).unwrap();
    let nested_ino = g.fstat(n).unwrap().ino;

    let all = g.readdir(PRE);
    assert_eq!(all.len(), 5);
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e.next, i as u64 + 1);
    }
    let find = |name: &str| all.iter().find(|e| e.name == name).unwrap().clone();
    assert_eq!(find("file").ty, filetype::REGULAR_FILE);
    assert_eq!(find("file").ino, file_ino);
    assert_eq!(find("nested").ty, filetype::DIRECTORY);
    assert_eq!(find("nested").ino, nested_ino);
    assert_eq!(find("link").ty, filetype::SYMBOLIC_LINK);
    assert_eq!(
        find("link").ino,
        g.pstat(0, "link").unwrap().ino,
        "symlink entries carry the link's own inode"
    );

    // Resuming from a cookie returns the rest.
    let rest = parse_dirents(&g.readdir_raw(PRE, 4096, all[2].next).unwrap());
    assert_eq!(rest, all[3..].to_vec());
    assert_eq!(g.readdir_raw(PRE, 4096, 5).unwrap(), b"");
    assert_eq!(g.readdir_raw(PRE, 4096, 500).unwrap(), b"");

    // A full buffer: the last entry is cut (header first, then name).
    let raw = g.readdir_raw(PRE, 30, 0).unwrap();
    assert_eq!(raw.len(), 30);
    assert_eq!(&raw[24..25], b".");
    assert_eq!(raw[25..30], all[1].next.to_le_bytes()[..5]);
    let raw = g.readdir_raw(PRE, 26, 1).unwrap();
    assert_eq!(&raw[24..26], b"..");

    // The nested directory is empty: "." and ".." with its own inode.
    let inner = g.readdir(n);
    assert_eq!(inner.len(), 2);
    assert_eq!(inner[0].ino, nested_ino);

    // Many entries, paged by cookie with a small buffer.
    for i in 0..300 {
        g.create(&format!("nested/file.{i}"), b"");
    }
    let (mut total, mut cookie) = (0, 0);
    loop {
        let raw = g.readdir_raw(n, 256, cookie).unwrap();
        let ents = parse_dirents(&raw);
        total += ents.len();
        if raw.len() < 256 {
            break;
        }
        cookie = ents.last().unwrap().next;
    }
    assert_eq!(total, 302);
}

// ---------------------------------------------------------------- symlinks & links

#[test]
fn symlinks_readlink_and_nofollow() {
    let mut g = setup();
    g.mkdir("target").unwrap();
    g.symlink("target", "symlink").unwrap();
    assert_eq!(std::fs::read_link(g.root().join("symlink")).unwrap(), PathBuf::from("target"));
    // p1_nofollow_errors
    assert_eq!(g.open("symlink", oflags::DIRECTORY, 0), Err(Errno::LOOP));
    assert_eq!(g.open("symlink", 0, 0), Err(Errno::LOOP));
    let d = g.open_full(PRE, FOLLOW, "symlink", oflags::DIRECTORY, 0, 0).unwrap();
    assert_eq!(g.fdstat(d).unwrap().0, filetype::DIRECTORY);
    assert_eq!(g.open("symlink/", 0, 0).map(|_| ()), Ok(()), "trailing slash follows");
    g.unlink("symlink").unwrap();
    assert!(g.root().join("target").is_dir(), "unlink removes the link only");
    g.rmdir("target").unwrap();

    g.create("target", b"0123456789");
    g.symlink("target", "symlink").unwrap();
    assert_eq!(g.open("symlink", 0, 0), Err(Errno::LOOP));
    assert_eq!(g.open("symlink", oflags::CREAT | oflags::EXCL, RW), Err(Errno::EXIST));
    assert_eq!(g.open_full(PRE, FOLLOW, "symlink", oflags::DIRECTORY, 0, 0), Err(Errno::NOTDIR));
    let f = g.open_full(PRE, FOLLOW, "symlink", 0, RW, 0).unwrap();
    assert_eq!(g.read(f, 3).unwrap(), b"012");

    // readlink truncates silently and leaves the rest of the buffer.
    assert_eq!(g.readlink("symlink", 10).unwrap(), b"target");
    assert_eq!(g.readlink("symlink", 4).unwrap(), b"targ");
    assert_eq!(g.readlink("target", 10), Err(Errno::INVAL));
    assert_eq!(g.readlink("nope", 10), Err(Errno::NOENT));
    assert_eq!(g.readlink(".", 10), Err(Errno::INVAL));

    // Symlink creation errors (p1_path_symlink_trailing_slashes).
    assert_eq!(g.symlink("source", "target"), Err(Errno::EXIST));
    assert_eq!(g.symlink("source", "target/"), Err(Errno::NOTDIR));
    assert_eq!(g.symlink("source", "newdir/"), Err(Errno::NOENT));
    g.mkdir("dir").unwrap();
    assert_eq!(g.symlink("source", "dir/"), Err(Errno::EXIST));

    // Dangling symlinks and loops.
    g.symlink("nowhere", "dangling").unwrap();
    assert_eq!(g.open("dangling", 0, 0), Err(Errno::LOOP));
    assert_eq!(g.open_full(PRE, FOLLOW, "dangling", 0, 0, 0), Err(Errno::NOENT));
    assert_eq!(
        g.open_full(PRE, FOLLOW, "dangling", oflags::CREAT | oflags::EXCL, RW, 0),
        Err(Errno::EXIST),
        "O_EXCL never follows the last symlink"
    );
    assert!(!g.root().join("nowhere").exists());
    let c = g.open_full(PRE, FOLLOW, "dangling", oflags::CREAT, RW, 0).unwrap();
    g.close(c).unwrap();
    assert!(g.root().join("nowhere").is_file(), "created through the link");
    g.symlink("loop", "loop").unwrap();
    assert_eq!(g.open("loop", 0, 0), Err(Errno::LOOP));
    assert_eq!(g.open_full(PRE, FOLLOW, "loop", 0, 0, 0), Err(Errno::LOOP));
    assert_eq!(g.pstat(FOLLOW, "loop"), Err(Errno::LOOP));
    assert_eq!(g.pstat(0, "loop").unwrap().filetype, filetype::SYMBOLIC_LINK);

    // Symlinks in the middle of a path are followed; `..` is physical.
    g.mkdir("a").unwrap();
    g.mkdir("a/b").unwrap();
    g.create("a/b/deep", b"deep");
    g.symlink("a/b", "ab").unwrap();
    let f = g.open("ab/deep", 0, 0).unwrap();
    assert_eq!(g.read(f, 10).unwrap(), b"deep");
    let f = g.open("ab/../b/deep", 0, 0).unwrap();
    assert_eq!(g.read(f, 10).unwrap(), b"deep", "ab/.. is a, not the root");
}

#[test]
fn hard_links() {
    let mut g = setup();
    g.create("file", b"x");
    let a = g.open("file", 0, 0).unwrap();
    g.link(0, "file", "link").unwrap();
    let b = g.open("link", 0, 0).unwrap();
    let (sa, sb) = (g.fstat(a).unwrap(), g.fstat(b).unwrap());
    assert_eq!(sa, sb);
    assert_eq!(sa.nlink, 2);
    assert_eq!(sa.dev, 1, "Wasmtime reports dev 1");
    assert_eq!(g.link(0, "file", "link"), Err(Errno::EXIST));
    assert_eq!(g.link(0, "file", "file"), Err(Errno::EXIST));
    g.mkdir("dir").unwrap();
    assert_eq!(g.link(0, "file", "dir"), Err(Errno::EXIST));
    assert_eq!(g.link(0, "dir", "dirlink"), Err(Errno::PERM));
    assert_eq!(g.link(0, "file", "newlink/"), Err(Errno::NOENT));
    g.symlink("target", "symlink").unwrap();
    assert_eq!(g.link(FOLLOW, "symlink", "l2"), Err(Errno::INVAL));
    assert_eq!(g.link(0, "symlink", "l2"), Ok(()), "links the dangling symlink itself");
    assert_eq!(g.link(0, "missing", "l3"), Err(Errno::NOENT));
}

// ---------------------------------------------------------------- stat & times

#[test]
fn filestat_and_times() {
    let mut g = setup();
    g.create("file", b"12345");
    g.symlink("file", "sl").unwrap();
    let st = g.pstat(0, "file").unwrap();
    assert_eq!((st.filetype, st.size, st.nlink), (filetype::REGULAR_FILE, 5, 1));
    let lst = g.pstat(0, "sl").unwrap();
    assert_eq!((lst.filetype, lst.size), (filetype::SYMBOLIC_LINK, 4));
    assert_ne!(lst.ino, st.ino);
    assert_eq!(g.pstat(FOLLOW, "sl").unwrap(), st);
    assert_eq!(g.pstat(0, "file/"), Err(Errno::NOTDIR));
    assert_eq!(g.pstat(0, "nope"), Err(Errno::NOENT));
    assert!(g.traps(WasiFunc::PathFilestatGet, &[3, 2, 0, 0, 0]), "unknown lookup flag");
    let root = g.pstat(0, ".").unwrap();
    assert_eq!(root.filetype, filetype::DIRECTORY);
    assert_eq!(root.ino, g.fstat(PRE).unwrap().ino);

    // fd_filestat_set_times / path_filestat_set_times.
    let fd = g.open("file", 0, RW).unwrap();
    let t = 1_000_000_000_123_000_000u64; // 2001-09-09, µs precision
    let r = g.call(
        WasiFunc::FdFilestatSetTimes,
        &[fd.into(), t, t, u64::from(abi::fstflags::ATIM | abi::fstflags::MTIM)],
    );
    assert_eq!(r, Errno::SUCCESS);
    assert_eq!(g.fstat(fd).unwrap().mtim, t);
    let r = g.call(
        WasiFunc::FdFilestatSetTimes,
        &[fd.into(), 0, 0, u64::from(abi::fstflags::MTIM | abi::fstflags::MTIM_NOW)],
    );
    assert_eq!(r, Errno::INVAL);
    let (p, l) = g.s("sl");
    let t2 = 2_000_000_000_000_000_000u64;
    let r = g.call(
        WasiFunc::PathFilestatSetTimes,
        &[3, FOLLOW.into(), p, l, t2, t2, u64::from(abi::fstflags::MTIM)],
    );
    assert_eq!(r, Errno::SUCCESS);
    assert_eq!(g.pstat(0, "file").unwrap().mtim, t2);
    // The times of the symlink itself (Linux: utimensat AT_SYMLINK_NOFOLLOW).
    let t3 = 1_500_000_000_000_000_000u64;
    let r = g.call(WasiFunc::PathFilestatSetTimes, &[3, 0, p, l, t3, t3, u64::from(abi::fstflags::MTIM)]);
    assert_eq!(r, Errno::SUCCESS, "times of a symlink itself");
    assert_eq!(g.pstat(0, "sl").unwrap().mtim, t3);
    assert_eq!(g.pstat(0, "file").unwrap().mtim, t2, "the target is unchanged");
    let before = Clock::realtime();
    let r = g.call(WasiFunc::PathFilestatSetTimes, &[3, 0, 0, 0, 0, 0, u64::from(abi::fstflags::MTIM_NOW)]);
    assert_eq!(r, Errno::NOENT, "empty path");
    let (p, l) = g.s("file");
    let r = g.call(WasiFunc::PathFilestatSetTimes, &[3, 0, p, l, 0, 0, u64::from(abi::fstflags::MTIM_NOW)]);
    assert_eq!(r, Errno::SUCCESS);
    assert!(g.pstat(0, "file").unwrap().mtim + 1_000_000_000 >= before);
    // Directory times through its descriptor.
    let r = g.call(WasiFunc::FdFilestatSetTimes, &[3, t, t, u64::from(abi::fstflags::MTIM)]);
    assert_eq!(r, Errno::SUCCESS);
    assert_eq!(g.fstat(PRE).unwrap().mtim, t);
}

// ---------------------------------------------------------------- descriptors

#[test]
fn renumber_and_fd_allocation() {
    let mut g = setup();
    let a = g.open("a", oflags::CREAT, RW).unwrap();
    let b = g.open("b", oflags::CREAT, RW).unwrap();
    let c = g.open("c", oflags::CREAT, RW).unwrap();
    assert_eq!((a, b, c), (4, 5, 6));
    g.write(a, b"from a").unwrap();
    let r = g.call(WasiFunc::FdRenumber, &[a.into(), b.into()]);
    assert_eq!(r, Errno::SUCCESS);
    assert_eq!(g.close(a), Err(Errno::BADF));
    assert_eq!(g.tell(b), Ok(6), "b is now a's description");
    assert_eq!(g.call(WasiFunc::FdRenumber, &[b.into(), 127]), Errno::BADF);
    assert_eq!(g.call(WasiFunc::FdRenumber, &[127, b.into()]), Errno::BADF);
    assert_eq!(g.call(WasiFunc::FdRenumber, &[0, 0]), Errno::SUCCESS);
    // The highest freed number is reused first (Wasmtime's allocator).
    g.close(c).unwrap(); // free {4, 6}
    assert_eq!(g.open("a", 0, 0), Ok(6));
    assert_eq!(g.open("a", 0, 0), Ok(4));
    assert_eq!(g.open("a", 0, 0), Ok(7));
    // Closing a preopen is allowed (p1_close_preopen); its number is reused.
    let d = g.open(".", oflags::DIRECTORY, 0).unwrap();
    assert_eq!(d, 8);
    g.close(PRE).unwrap();
    assert_eq!(g.fdstat(PRE), Err(Errno::BADF));
    assert_eq!(g.open("a", 0, 0), Err(Errno::BADF));
    assert_eq!(g.open_full(d, 0, "a", 0, 0, 0), Ok(3));
}

#[test]
fn renumber_over_preopen() {
    // p1_overwrite_preopen
    let mut g = setup();
    let d = g.open(".", oflags::DIRECTORY, 0).unwrap();
    let before = g.fstat(d).unwrap();
    assert_eq!(g.call(WasiFunc::FdRenumber, &[d.into(), 3]), Errno::SUCCESS);
    assert_eq!(g.fstat(3).unwrap().ino, before.ino);
    assert_eq!(g.fdstat(d), Err(Errno::BADF));
    let ret = g.alloc(8);
    assert_eq!(g.call(WasiFunc::FdPrestatGet, &[3, ret.into()]), Errno::BADF, "fd 3 is no longer a preopen");
}

// ---------------------------------------------------------------- sandbox

#[test]
fn escapes_are_refused_and_touch_nothing_outside() {
    let mut g = setup();
    let outside = g.tmp.path().join("outside.txt");
    g.mkdir("a").unwrap();
    g.create("a/inner", b"in");
    for path in
        ["../outside.txt", "/etc/passwd", "/", "a/../../outside.txt", "..", "a/../..", "./../root/a/inner"]
    {
        assert_eq!(g.open(path, 0, 0), Err(Errno::PERM), "{path}");
        assert_eq!(g.pstat(FOLLOW, path), Err(Errno::PERM), "{path}");
    }
    // `..` that stays inside is fine.
    assert!(g.open("a/../a/./inner", 0, 0).is_ok());
    assert_eq!(g.open("a/../../root/a/inner", 0, 0), Err(Errno::PERM), "even when it would come back inside");

    // Symlinks that lead out: relative and absolute targets.
    let abs = outside.to_str().unwrap().to_owned();
    g.symlink("../..", "up").unwrap();
    // Absolute targets cannot be created by the guest (cap-std: EPERM), so
    // plant them from the host, as another program might.
    assert_eq!(g.symlink("/", "slash"), Err(Errno::PERM));
    assert_eq!(g.symlink(&abs, "abs"), Err(Errno::PERM));
    // (A host that is itself WASI refuses them too; use escaping relative
    // targets there instead.)
    let planted =
        host_os::symlink("/", &g.root(), "slash").is_ok() && host_os::symlink(&abs, &g.root(), "abs").is_ok();
    if planted {
        assert_eq!(g.readlink("abs", 64), Err(Errno::PERM), "absolute targets are not revealed");
    } else {
        let host_is_wasi = cfg!(target_os = "wasi");
        assert!(host_is_wasi, "planting host symlinks failed");
        let _ = std::fs::remove_file(g.root().join("slash"));
        g.symlink("../../../../../../..", "slash").unwrap();
        g.symlink("../outside.txt", "abs").unwrap();
    }
    assert_eq!(g.readlink("up", 64).unwrap(), b"../..");
    g.symlink("../outside.txt", "rel").unwrap();
    g.symlink("a/../../x", "sneaky").unwrap();
    for (path, flags) in [
        ("up/outside.txt", 0),
        ("up", FOLLOW),
        ("slash/etc/passwd", 0),
        ("slash", FOLLOW),
        ("abs", FOLLOW),
        ("rel", FOLLOW),
        ("sneaky", FOLLOW),
        ("a/../rel", FOLLOW),
    ] {
        assert_eq!(g.open_full(PRE, flags, path, 0, RW, 0), Err(Errno::PERM), "{path}");
        assert_eq!(g.pstat(flags, path), Err(Errno::PERM), "{path}");
    }
    assert_eq!(g.open("abs", 0, 0), Err(Errno::LOOP), "not followed");
    // Creating through an escaping symlink must not create anything.
    g.symlink("../created.txt", "esc").unwrap();
    assert_eq!(g.open_full(PRE, FOLLOW, "esc", oflags::CREAT, RW, 0), Err(Errno::PERM));
    assert_eq!(g.open_full(PRE, FOLLOW, "up/created.txt", oflags::CREAT, RW, 0), Err(Errno::PERM));
    // Mutations aimed outside.
    assert_eq!(g.mkdir("../evil"), Err(Errno::PERM));
    assert_eq!(g.mkdir("up/evil"), Err(Errno::PERM));
    assert_eq!(g.unlink("../outside.txt"), Err(Errno::PERM));
    assert_eq!(g.unlink("up/outside.txt"), Err(Errno::PERM));
    assert_eq!(g.rename("a/inner", "../stolen"), Err(Errno::PERM));
    assert_eq!(g.rename("up/outside.txt", "mine"), Err(Errno::PERM));
    assert_eq!(g.link(0, "../outside.txt", "mine"), Err(Errno::PERM));
    assert_eq!(g.link(0, "up/outside.txt", "mine"), Err(Errno::PERM));
    assert_eq!(g.symlink("x", "../evil-link"), Err(Errno::PERM));
    assert_eq!(g.readlink("up/outside.txt", 10), Err(Errno::PERM));
    assert_eq!(g.rmdir("up/root"), Err(Errno::PERM));

    assert_eq!(std::fs::read(&outside).unwrap(), b"secret");
    let mut names: Vec<_> = std::fs::read_dir(g.tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["outside.txt", "root"], "nothing created outside");

    // A directory descriptor is a boundary too (cap-std semantics).
    let sub = g.open("a", oflags::DIRECTORY, 0).unwrap();
    assert_eq!(g.open_full(sub, 0, "../a/inner", 0, 0, 0), Err(Errno::PERM));
    assert!(g.open_full(sub, 0, "inner", 0, 0, 0).is_ok());
}

#[test]
fn symlink_chain_limit() {
    let mut g = setup();
    g.create("end", b"");
    g.symlink("end", "l0").unwrap();
    for i in 1..45 {
        g.symlink(&format!("l{}", i - 1), &format!("l{i}")).unwrap();
    }
    assert!(g.open_full(PRE, FOLLOW, "l39", 0, 0, 0).is_ok(), "40 expansions");
    assert_eq!(g.open_full(PRE, FOLLOW, "l40", 0, 0, 0), Err(Errno::LOOP));
}

#[test]
fn path_ops_fault_on_bad_pointers() {
    let mut g = setup();
    let end = MEM as u64;
    assert_eq!(g.call(WasiFunc::PathCreateDirectory, &[3, end - 1, 5]), Errno::FAULT);
    assert_eq!(g.call(WasiFunc::PathUnlinkFile, &[3, u64::from(u32::MAX), 2]), Errno::FAULT);
    let ret = g.alloc(4);
    assert_eq!(g.call(WasiFunc::FdRead, &[3, end - 4, 1, ret.into()]), Errno::FAULT);
    let f = g.open("f", oflags::CREAT, RW).unwrap();
    let iov = g.iov(end as u32 - 2, 10);
    assert_eq!(g.call(WasiFunc::FdWrite, &[f.into(), iov.into(), 1, ret.into()]), Errno::FAULT);
    assert_eq!(g.call(WasiFunc::FdFilestatGet, &[f.into(), end - 63]), Errno::FAULT);
    assert_eq!(g.call(WasiFunc::FdReaddir, &[3, end - 10, 100, 0, ret.into()]), Errno::FAULT);
}

#[test]
fn hostcall_fuel_limits_copies() {
    let mut g = setup();
    let f = g.open("f", oflags::CREAT, RW).unwrap();
    let iovs = g.alloc(8);
    let ret = g.alloc(4);
    // An iovec array of 160 MB exceeds Wasmtime's 128 MiB per call: NOMEM,
    // before any element is read.
    assert_eq!(g.call(WasiFunc::FdWrite, &[f.into(), iovs.into(), 20_000_000, ret.into()]), Errno::NOMEM);
    assert_eq!(
        g.call(WasiFunc::FdRead, &[f.into(), iovs.into(), u64::from(u32::MAX), ret.into()]),
        Errno::NOMEM
    );
    // So does a single buffer, and a path string.
    let big = g.iov(0, 200 << 20);
    assert_eq!(g.call(WasiFunc::FdPwrite, &[f.into(), big.into(), 1, 0, ret.into()]), Errno::NOMEM);
    assert_eq!(g.call(WasiFunc::PathCreateDirectory, &[3, 0, 200 << 20]), Errno::NOMEM);
    // path_unlink_file is unmetered in Wasmtime: the bounds check answers.
    assert_eq!(g.call(WasiFunc::PathUnlinkFile, &[3, 0, 200 << 20]), Errno::FAULT);
    assert_eq!(g.call(WasiFunc::PollOneoff, &[0, 0, 2_000_000, ret.into()]), Errno::NOMEM);
    // 10 000 empty iovecs are fine.
    let many = g.alloc(80_000);
    assert_eq!(g.call(WasiFunc::FdWrite, &[f.into(), many.into(), 10_000, ret.into()]), Errno::SUCCESS);
    assert_eq!(g.r32(ret), 0);
}

// ---------------------------------------------------------------- poll_oneoff

impl G {
    /// Write subscriptions; returns (subs_ptr, events_ptr, ret_ptr).
    fn subs(&mut self, subs: &[(u64, u8, u32, u64, u16)]) -> (u32, u32, u32) {
        let mut v = Vec::new();
        for &(userdata, tag, a, timeout, flags) in subs {
            let mut s = [0u8; 48];
            s[0..8].copy_from_slice(&userdata.to_le_bytes());
            s[8] = tag;
            s[16..20].copy_from_slice(&a.to_le_bytes());
            s[24..32].copy_from_slice(&timeout.to_le_bytes());
            s[40..42].copy_from_slice(&flags.to_le_bytes());
            v.extend_from_slice(&s);
        }
        let sp = self.put(&v);
        let ep = self.alloc(32 * subs.len() as u32);
        let rp = self.alloc(4);
        (sp, ep, rp)
    }

    fn poll(&mut self, p: (u32, u32, u32), n: u32) -> Result<R<Vec<Event>>, HostExit> {
        let r = self.ctx.call(
            WasiFunc::PollOneoff,
            &mut self.mem,
            &[p.0.into(), p.1.into(), n.into(), p.2.into()],
        )?;
        let e = Errno(r.unwrap() as u16);
        if e != Errno::SUCCESS {
            return Ok(Err(e));
        }
        let count = self.r32(p.2);
        Ok(Ok((0..count)
            .map(|i| {
                let at = p.1 + 32 * i;
                let b = &self.mem[at as usize..at as usize + 32];
                (
                    u64::from_le_bytes(b[0..8].try_into().unwrap()),
                    u16::from_le_bytes([b[8], b[9]]),
                    b[10],
                    u64::from_le_bytes(b[16..24].try_into().unwrap()),
                    u16::from_le_bytes([b[24], b[25]]),
                )
            })
            .collect()))
    }
}

const MS: u64 = 1_000_000;

/// (userdata, error, type, nbytes, flags)
type Event = (u64, u16, u8, u64, u16);

#[test]
fn poll_oneoff_clocks_and_fds() {
    let mut g = setup();
    // A single relative sleep: Wasmtime's fast path reports nbytes 1.
    let p = g.subs(&[(7, 0, 1, 60 * MS, 0)]);
    let t = Instant::now();
    let ev = g.poll(p, 1).unwrap().unwrap();
    assert!(t.elapsed() >= Duration::from_millis(60));
    assert_eq!(ev, vec![(7, 0, 0, 0, 0)]);
    assert_eq!(g.mem[p.1 as usize + 11], 0, "padding untouched (was zero)");
    g.mem[p.1 as usize + 11] = 0xEE;
    g.mem[p.1 as usize + 30] = 0xEE;
    g.poll(p, 1).unwrap().unwrap();
    assert_eq!((g.mem[p.1 as usize + 11], g.mem[p.1 as usize + 30]), (0xEE, 0xEE), "padding untouched");
    let p = g.subs(&[(1, 0, 2, 0, 0)]);
    assert_eq!(g.poll(p, 1).unwrap(), Err(Errno::INVAL), "cputime clock alone");

    // Two clocks: the earlier one fires alone, with nbytes 0.
    let p = g.subs(&[(1, 0, 1, 500 * MS, 0), (2, 0, 0, 30 * MS, 0)]);
    let t = Instant::now();
    let ev = g.poll(p, 2).unwrap().unwrap();
    assert!(t.elapsed() >= Duration::from_millis(30));
    assert!(t.elapsed() < Duration::from_millis(400));
    assert_eq!(ev, vec![(2, 0, 0, 0, 0)]);

    // An absolute monotonic deadline in the past fires at once.
    let p = g.subs(&[(3, 0, 1, 0, 1), (4, 0, 1, 10_000 * MS, 0)]);
    let t = Instant::now();
    assert_eq!(g.poll(p, 2).unwrap().unwrap(), vec![(3, 0, 0, 0, 0)]);
    assert!(t.elapsed() < Duration::from_millis(500));

    // Descriptors are ready at once; a file at EOF reports HANGUP.
    let f = g.open("f", oflags::CREAT, RW).unwrap();
    let p = g.subs(&[(10, 0, 1, 10_000 * MS, 0), (11, 1, f, 0, 0), (12, 2, 1, 0, 0), (13, 2, f, 0, 0)]);
    let t = Instant::now();
    let ev = g.poll(p, 4).unwrap().unwrap();
    assert!(t.elapsed() < Duration::from_millis(500));
    assert_eq!(ev, vec![(11, 0, 1, 1, abi::EVENTRWFLAGS_HANGUP), (12, 0, 2, 1, 0), (13, 0, 2, 1, 0)]);
    g.write(f, b"abc").unwrap();
    g.seek(f, 0, whence::SET).unwrap();
    let p = g.subs(&[(11, 1, f, 0, 0)]);
    assert_eq!(g.poll(p, 1).unwrap().unwrap(), vec![(11, 0, 1, 1, 0)]);

    // Errors.
    let p = g.subs(&[(1, 0, 1, 0, 0)]);
    assert_eq!(g.poll(p, 0).unwrap(), Err(Errno::INVAL));
    let p = g.subs(&[(1, 1, 99, 0, 0), (2, 0, 1, 0, 0)]);
    assert_eq!(g.poll(p, 2).unwrap(), Err(Errno::BADF));
    let p = g.subs(&[(1, 1, PRE, 0, 0), (2, 0, 1, 0, 0)]);
    assert_eq!(g.poll(p, 2).unwrap(), Err(Errno::BADF), "directories");
    let p = g.subs(&[(1, 2, 0, 0, 0), (2, 0, 1, 0, 0)]);
    assert_eq!(g.poll(p, 2).unwrap(), Err(Errno::BADF), "stdin for writing");
    let p = g.subs(&[(1, 0, 2, 0, 0), (2, 0, 1, 0, 0)]);
    assert_eq!(g.poll(p, 2).unwrap(), Err(Errno::INVAL), "cputime clock");
    let p = g.subs(&[(1, 3, 0, 0, 0)]);
    assert_eq!(g.poll(p, 1).unwrap(), Err(Errno::INVAL), "bad tag");
    let p = g.subs(&[(1, 0, 9, 0, 0)]);
    assert_eq!(g.poll(p, 1).unwrap(), Err(Errno::INVAL), "bad clock id");
    let r = g.ctx.call(WasiFunc::PollOneoff, &mut g.mem, &[MEM as u64 - 40, 0, 1, 0]);
    assert_eq!(r, Ok(Some(u64::from(Errno::FAULT.0))));
}

#[test]
#[cfg_attr(target_os = "wasi", ignore = "needs a thread to raise the flag")]
fn poll_oneoff_suspends_and_resumes_after_restore() {
    let mut g = setup();
    let flag = Arc::new(AtomicBool::new(false));
    g.ctx.set_interrupt(flag.clone());
    let p = g.subs(&[(42, 0, 1, 600 * MS, 0)]);

    let setter = {
        let flag = flag.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            flag.store(true, Ordering::SeqCst);
        })
    };
    let t = Instant::now();
    assert_eq!(g.poll(p, 1), Err(HostExit::Suspend));
    let slept = t.elapsed();
    setter.join().unwrap();
    assert!(slept >= Duration::from_millis(140), "{slept:?}");
    assert!(slept < Duration::from_millis(400), "sliced: {slept:?}");

    let st = g.state_roundtrip();
    let pending = st.pending_sleep.clone().expect("pending sleep recorded");
    assert!(pending.remaining_ns <= 460 * MS && pending.remaining_ns >= 200 * MS);
    assert_eq!(pending.ready, vec![0]);

    // While the flag is still set the call keeps suspending without sleeping.
    assert_eq!(g.poll(p, 1), Err(HostExit::Suspend));

    // Restore into a new context and repeat the very same call.
    flag.store(false, Ordering::SeqCst);
    let mut h =
        G { ctx: WasiCtx::restore(&g.cfg(), &st).unwrap(), mem: g.mem.clone(), top: g.top, tmp: tempdir() };
    let t = Instant::now();
    let ev = h.poll(p, 1).unwrap().unwrap();
    let rest = t.elapsed();
    assert_eq!(ev, vec![(42, 0, 0, 0, 0)]);
    assert!(rest >= Duration::from_nanos(pending.remaining_ns) - Duration::from_millis(5));
    assert!(rest < Duration::from_millis(550), "only the remainder: {rest:?}");
    assert!(h.ctx.state().unwrap().pending_sleep.is_none());

    // A probe instead of a flag (hosts without threads): it is asked
    // between slices, so a 10 s sleep suspends at once when it says so.
    let asked = Arc::new(AtomicBool::new(false));
    let seen = asked.clone();
    h.ctx.set_interrupt_probe(move || {
        seen.store(true, Ordering::SeqCst);
        true
    });
    let p2 = h.subs(&[(8, 0, 1, 10_000 * MS, 0)]);
    let t = Instant::now();
    assert_eq!(h.poll(p2, 1), Err(HostExit::Suspend));
    assert!(t.elapsed() < Duration::from_millis(500));
    assert!(asked.load(Ordering::SeqCst));
    let rem = h.ctx.state().unwrap().pending_sleep.unwrap().remaining_ns;
    assert!(rem > 9_000 * MS, "{rem}");
    // A timeout too large for `Instant` must not panic.
    let p4 = h.subs(&[(10, 0, 1, u64::MAX, 0)]);
    assert_eq!(h.poll(p4, 1), Err(HostExit::Suspend));
    let rem = h.ctx.state().unwrap().pending_sleep.unwrap().remaining_ns;
    assert!(rem > u64::MAX / 2, "{rem}");
    h.ctx.set_interrupt_probe(|| false);
    let p3 = h.subs(&[(9, 0, 1, 20 * MS, 0)]);
    assert_eq!(h.poll(p3, 1).unwrap().unwrap(), vec![(9, 0, 0, 0, 0)], "a new call drops the record");

    // A different call discards a stale pending record.
    g.ctx.pending = Some(pending);
    let q = g.subs(&[(5, 0, 1, MS, 0)]);
    let t = Instant::now();
    assert_eq!(g.poll(q, 1).unwrap().unwrap(), vec![(5, 0, 0, 0, 0)]);
    assert!(t.elapsed() < Duration::from_millis(200));
    assert!(g.ctx.pending.is_none());
}

// ---------------------------------------------------------------- checkpoint

fn assert_serde<T: serde::Serialize + serde::de::DeserializeOwned>() {}

#[test]
fn state_restore_preserves_descriptors_offsets_and_numbering() {
    assert_serde::<WasiState>();
    let mut g = setup();
    g.mkdir("sub").unwrap();
    let a = g.open("a.txt", oflags::CREAT, RW).unwrap(); // 4
    g.write(a, b"hello world").unwrap();
    g.seek(a, 6, whence::SET).unwrap();
    let b = g.open("sub/b.txt", oflags::CREAT, RW).unwrap(); // 5
    let c = g.open("c.txt", oflags::CREAT, rights::FD_WRITE).unwrap(); // 6
    let d = g.open("sub", oflags::DIRECTORY, 0).unwrap(); // 7
    let r = g.open_full(PRE, 0, "r.txt", oflags::CREAT, rights::FD_READ, fdflags::APPEND).unwrap(); // 8
    g.close(b).unwrap(); // free {5}
    assert_eq!(g.call(WasiFunc::FdRenumber, &[c.into(), 9]), Errno::BADF);
    assert_eq!((a, c, d, r), (4, 6, 7, 8));
    let mono_before = g.ctx.clock.monotonic();

    let st = g.state_roundtrip();
    assert_eq!(st.fds.iter().map(|f| f.fd).collect::<Vec<_>>(), [0, 1, 2, 3, 4, 6, 7, 8]);
    assert_eq!(st.free_fds, [5]);
    let fa = st.fds.iter().find(|f| f.fd == 4).unwrap();
    assert_eq!(
        (fa.kind, fa.path.as_str(), fa.offset, fa.size, fa.read, fa.write),
        (FdKind::File, "a.txt", 6, Some(11), true, true)
    );
    let fd7 = st.fds.iter().find(|f| f.fd == 7).unwrap();
    assert_eq!((fd7.kind, fd7.path.as_str()), (FdKind::Dir, "sub"));
    let fr = st.fds.iter().find(|f| f.fd == 8).unwrap();
    assert_eq!((fr.fdflags, fr.size), (fdflags::APPEND, Some(0)));
    assert_eq!(st.preopens[0].guest, "/sandbox");
    assert!(st.monotonic_ns >= mono_before);

    // The uninterrupted run continues...
    assert_eq!(g.write(a, b"there!"), Ok(6));
    assert_eq!(g.write(a, b" and more"), Ok(9));
    let next_uninterrupted = g.open("sub/new.txt", oflags::CREAT, RW).unwrap();
    assert_eq!(std::fs::metadata(g.root().join("a.txt")).unwrap().len(), 21);

    // ... and a restored one continues identically.
    let mut h =
        G { ctx: WasiCtx::restore(&g.cfg(), &st).unwrap(), mem: vec![0; MEM], top: 1024, tmp: tempdir() };
    // The grown file was truncated back to its captured size (bytes rewritten
    // in place are not rolled back: the rerun writes them again).
    assert_eq!(std::fs::read(g.root().join("a.txt")).unwrap(), b"hello there");
    assert_eq!(h.tell(4), Ok(6));
    assert_eq!(h.write(4, b"there!"), Ok(6));
    assert_eq!(h.write(4, b" and more"), Ok(9));
    assert_eq!(std::fs::read(g.root().join("a.txt")).unwrap(), b"hello there! and more");
    assert_eq!(h.fdstat(5), Err(Errno::BADF));
    assert_eq!(h.fdstat(7).unwrap().0, filetype::DIRECTORY);
    assert_eq!(h.fdstat(8).unwrap().1, fdflags::APPEND);
    assert_eq!(h.read(6, 1), Err(Errno::BADF), "write-only stays write-only");
    let next_restored = h.open_full(7, 0, "new2.txt", oflags::CREAT, RW, 0).unwrap();
    assert_eq!(next_restored, next_uninterrupted, "same fd numbering");
    let ret = h.alloc(8);
    assert_eq!(h.call(WasiFunc::ClockTimeGet, &[1, 0, ret.into()]), Errno::SUCCESS);
    assert!(h.r64(ret) >= st.monotonic_ns, "monotonic time continues");
    // The prestat of the restored preopen is intact.
    assert_eq!(h.call(WasiFunc::FdPrestatGet, &[3, ret.into()]), Errno::SUCCESS);
    assert_eq!(h.r32(ret + 4), 8);

    // Capturing the restored context gives the same state back (modulo time).
    let mut h2 = WasiCtx::restore(&g.cfg(), &st).unwrap();
    let mut again = h2.state().unwrap();
    again.monotonic_ns = st.monotonic_ns;
    assert_eq!(again, st);
    // Sizes are queried live at capture time.
    let mut m = vec![0u8; 64];
    m[..4].copy_from_slice(&32u32.to_le_bytes());
    m[4..8].copy_from_slice(&5u32.to_le_bytes());
    let r = h2.call(WasiFunc::FdPwrite, &mut m, &[4, 0, 1, 100, 40]);
    assert_eq!(r, Ok(Some(0)));
    let later = h2.state().unwrap();
    let fa2 = later.fds.iter().find(|f| f.fd == 4).unwrap();
    assert_eq!((fa2.size, fa2.offset), (Some(105), 6));
}

#[test]
fn restore_moves_preopens_and_reports_missing_things() {
    let mut g = setup();
    g.mkdir("sub").unwrap();
    let a = g.open("sub/a.txt", oflags::CREAT, RW).unwrap();
    g.write(a, b"abcdef").unwrap();
    g.seek(a, 2, whence::SET).unwrap();
    let st = g.ctx.state().unwrap();

    // The preopen moved to another host directory (another machine).
    let moved = g.tmp.path().join("moved");
    std::fs::create_dir_all(moved.join("sub")).unwrap();
    std::fs::write(moved.join("sub/a.txt"), b"ABCDEF").unwrap();
    let mut cfg = g.cfg();
    cfg.preopens = vec![
        Preopen { host: g.tmp.path().to_path_buf(), guest: "/extra".into() },
        Preopen { host: moved.clone(), guest: "/sandbox".into() },
    ];
    cfg.args = vec!["ignored".into()];
    let mut h = G { ctx: WasiCtx::restore(&cfg, &st).unwrap(), mem: vec![0; MEM], top: 1024, tmp: tempdir() };
    assert_eq!(h.read(a, 10).unwrap(), b"CDEF");
    let c = h.alloc(4);
    let s = h.alloc(4);
    assert_eq!(h.call(WasiFunc::ArgsSizesGet, &[c.into(), s.into()]), Errno::SUCCESS);
    assert_eq!(h.r32(c), 3, "args come from the checkpoint");
    let f = h.open("new", oflags::CREAT, RW).unwrap();
    h.close(f).unwrap();
    assert!(moved.join("new").exists(), "the preopen is the new host dir");

    // A preopen missing from the configuration is named.
    let mut cfg = g.cfg();
    cfg.preopens[0].guest = "/other".into();
    let err = WasiCtx::restore(&cfg, &st).unwrap_err();
    assert!(err.to_string().contains("/sandbox"), "{err}");

    // A file deleted meanwhile is named.
    std::fs::remove_file(g.root().join("sub/a.txt")).unwrap();
    let err = WasiCtx::restore(&g.cfg(), &st).unwrap_err();
    assert!(err.to_string().contains("sub/a.txt"), "{err}");
    assert!(err.to_string().contains("descriptor 4"), "{err}");

    // A version mismatch is refused.
    let mut bad = st.clone();
    bad.version = 999;
    assert!(WasiCtx::restore(&g.cfg(), &bad).is_err());
}

#[test]
fn rename_keeps_open_descriptors_restorable() {
    let mut g = setup();
    g.mkdir("dir").unwrap();
    let f = g.open("dir/f", oflags::CREAT, RW).unwrap();
    g.write(f, b"12345").unwrap();
    let d = g.open("dir", oflags::DIRECTORY, 0).unwrap();
    g.rename("dir", "renamed").unwrap();
    let st = g.ctx.state().unwrap();
    let paths: Vec<_> = st.fds.iter().map(|s| s.path.as_str()).collect();
    assert!(paths.contains(&"renamed/f") && paths.contains(&"renamed"), "{paths:?}");
    let mut h =
        G { ctx: WasiCtx::restore(&g.cfg(), &st).unwrap(), mem: vec![0; MEM], top: 1024, tmp: tempdir() };
    assert_eq!(h.tell(f), Ok(5));
    assert_eq!(h.pread(f, 5, 0).unwrap(), b"12345");
    assert!(h.open_full(d, 0, "f", 0, 0, 0).is_ok());
}

// ---------------------------------------------------------------- robustness

use crate::test_util::Rng;

/// Mostly small numbers, pointers into memory and boundary values.
fn arg(rng: &mut Rng, mem_len: u64) -> u64 {
    match rng.next() % 10 {
        0 => 0,
        1 => rng.next() % 8,
        2 | 3 => rng.next() % 64,
        4 | 5 => rng.next() % mem_len,
        6 => mem_len - rng.next() % 64,
        7 => u64::from(u32::MAX) - rng.next() % 4,
        8 => u64::MAX - rng.next() % 4,
        _ => rng.next(),
    }
}

#[test]
fn random_calls_never_panic_or_escape() {
    let mut g = setup();
    // No stdio (a read could block), and every sleep is cut short.
    for fd in 0..3 {
        g.close(fd).unwrap();
    }
    g.ctx.set_interrupt_probe(|| true);
    g.mkdir("d").unwrap();
    g.create("d/f", b"content");
    g.symlink("d/f", "l").unwrap();
    g.symlink("../outside.txt", "out").unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mem_len = 1u64 << 16;
    let mut mem = vec![0u8; mem_len as usize];
    let names: [&[u8]; 8] = [b"d", b"d/f", b"l", b"out", b"..", b"new", b"d/../x", b"/"];
    let mut outcomes = std::collections::BTreeMap::new();
    for i in 0..30_000u32 {
        if i % 1000 == 0 {
            for b in mem.iter_mut() {
                *b = rng.next() as u8;
            }
        }
        // Plant plausible paths (result writes may have clobbered them).
        for (k, n) in names.iter().enumerate() {
            mem[k * 16..k * 16 + n.len()].copy_from_slice(n);
        }
        let f = WasiFunc::ALL[(rng.next() % WasiFunc::ALL.len() as u64) as usize];
        let nparams = f.signature().0.len();
        let mut args: Vec<u64> = (0..nparams).map(|_| arg(&mut rng, mem_len)).collect();
        if nparams > 0 && rng.next().is_multiple_of(2) {
            args[0] = 3 + rng.next() % 6; // a plausible fd
        }
        // Often valid flags, so that calls get past parameter decoding.
        for &(k, _) in f.typed_params() {
            if !rng.next().is_multiple_of(4) {
                args[k] = 0;
            }
        }
        // (ptr, len) parameter pairs of paths: often a planted name.
        let path_params: &[(usize, usize)] = match f {
            WasiFunc::PathCreateDirectory
            | WasiFunc::PathReadlink
            | WasiFunc::PathRemoveDirectory
            | WasiFunc::PathUnlinkFile => &[(1, 2)],
            WasiFunc::PathFilestatGet | WasiFunc::PathFilestatSetTimes | WasiFunc::PathOpen => &[(2, 3)],
            WasiFunc::PathLink => &[(2, 3), (5, 6)],
            WasiFunc::PathRename => &[(1, 2), (4, 5)],
            WasiFunc::PathSymlink => &[(0, 1), (3, 4)],
            _ => &[],
        };
        for &(p, l) in path_params {
            if !rng.next().is_multiple_of(4) {
                let k = (rng.next() % names.len() as u64) as usize;
                args[p] = (k * 16) as u64;
                args[l] = names[k].len() as u64;
            }
        }
        if !path_params.is_empty() && f != WasiFunc::PathSymlink && !rng.next().is_multiple_of(4) {
            args[0] = 3;
        }
        let r = g.ctx.call(f, &mut mem, &args);
        let key = match &r {
            Ok(Some(e)) => format!("errno {}", Errno(*e as u16).name()),
            Ok(None) => "none".to_owned(),
            Err(HostExit::Exit(_)) => "exit".to_owned(),
            Err(HostExit::Trap(_)) => "trap".to_owned(),
            Err(HostExit::Suspend) => "suspend".to_owned(),
        };
        *outcomes.entry(key).or_insert(0u32) += 1;
    }
    assert!(outcomes.get("errno SUCCESS").copied().unwrap_or(0) > 1000, "{outcomes:?}");
    for e in ["errno NOENT", "errno EXIST", "errno PERM", "errno NOTDIR", "trap", "exit"] {
        assert!(outcomes.contains_key(e), "{e} never happened: {outcomes:?}");
    }
    assert_eq!(std::fs::read(g.tmp.path().join("outside.txt")).unwrap(), b"secret");
    let mut top: Vec<_> = std::fs::read_dir(g.tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    top.sort();
    assert_eq!(top, ["outside.txt", "root"], "nothing created outside the preopen");
    // Whatever the calls left open can be captured, and restored unless one
    // of its paths has gone since (deleted or replaced while open).
    let st = g.ctx.state().unwrap();
    let all_there = st.fds.iter().filter(|f| f.preopen.is_some()).all(|f| {
        let p = g.root().join(&f.path);
        match f.kind {
            FdKind::File => p.is_file(),
            _ => p.is_dir(),
        }
    });
    let restored = WasiCtx::restore(&g.cfg(), &st);
    if all_there {
        restored.unwrap();
    }
}

// ---------------------------------------------------------------- confined host-side opens

/// `root/` with `f.txt`, `sub/g.txt`, symlinks `in -> sub/g.txt`, `subln -> sub`,
/// `out -> ../outside.txt`, `abs -> /etc/passwd`, `upsub -> sub/../..`, `loop -> loop`; and
/// `outside.txt` next to `root`.
fn beneath_tree() -> (tempfile::TempDir, PathBuf, std::fs::File) {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("root");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("f.txt"), b"f").unwrap();
    std::fs::write(root.join("sub/g.txt"), b"g").unwrap();
    std::fs::write(d.path().join("outside.txt"), b"outside").unwrap();
    for (link, target) in [
        ("in", "sub/g.txt"),
        ("subln", "sub"),
        ("out", "../outside.txt"),
        ("abs", "/etc/passwd"),
        ("upsub", "sub/../.."),
        ("loop", "loop"),
    ] {
        std::os::unix::fs::symlink(target, root.join(link)).unwrap();
    }
    let f = std::fs::File::open(&root).unwrap();
    (d, root, f)
}

fn read_all(mut f: std::fs::File) -> String {
    use std::io::Read;
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    s
}

/// Both implementations (openat2 where the kernel has it, and the O_NOFOLLOW walk) resolve the
/// same way: inside is fine, symlinks inside are followed, every way out is an escape error.
#[test]
fn open_beneath_stays_inside_the_directory() {
    let (d, root, rootf) = beneath_tree();
    let dir = DirRef { file: &rootf, host: &root };
    let rd = OpenHow { read: true, ..OpenHow::default() };
    let wr = OpenHow { write: true, ..OpenHow::default() };
    type Open<'a> = Box<dyn Fn(&str, OpenHow) -> std::io::Result<std::fs::File> + 'a>;
    let impls: Vec<(&str, Open<'_>)> = vec![
        ("open_beneath", Box::new(|p, h| open_beneath(dir, p, h))),
        ("walk_beneath", Box::new(|p, h| host_os::walk_beneath(&rootf, p, h))),
    ];
    for (name, open) in &impls {
        assert_eq!(read_all(open("f.txt", rd).unwrap()), "f", "{name}");
        assert_eq!(read_all(open("sub/g.txt", rd).unwrap()), "g", "{name}");
        assert_eq!(read_all(open("in", rd).unwrap()), "g", "{name}");
        assert_eq!(read_all(open("subln/g.txt", rd).unwrap()), "g", "{name}");
        assert_eq!(read_all(open("sub/../f.txt", rd).unwrap()), "f", "{name}");
        assert!(open("", OpenHow { directory: true, ..rd }).unwrap().metadata().unwrap().is_dir(), "{name}");
        assert!(open("sub/..", rd).unwrap().metadata().unwrap().is_dir(), "{name}");
        for bad in [
            "../outside.txt",
            "sub/../../outside.txt",
            "/etc/passwd",
            "out",
            "abs",
            "upsub/x",
            "..",
            "subln/../..",
        ] {
            for how in [rd, wr] {
                let e = open(bad, how).expect_err(bad);
                assert!(is_escape(&e), "{name} {bad}: {e}");
            }
        }
        let e = open("loop", rd).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(40), "{name} loop: {e}");
        assert_eq!(open("nope", rd).unwrap_err().kind(), std::io::ErrorKind::NotFound, "{name}");
        // A path that must be symlink-free refuses even a symlink that stays inside.
        let e = open("in", OpenHow { no_symlinks: true, ..rd }).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(40), "{name} no_symlinks: {e}");
        assert_eq!(open("f\0x", rd).unwrap_err().kind(), std::io::ErrorKind::InvalidInput, "{name}");
    }
    assert_eq!(std::fs::read(d.path().join("outside.txt")).unwrap(), b"outside");
}

#[test]
fn unlink_beneath_never_leaves_the_directory() {
    let (d, root, rootf) = beneath_tree();
    std::fs::create_dir(d.path().join("elsewhere")).unwrap();
    std::fs::write(d.path().join("elsewhere/victim"), b"v").unwrap();
    std::os::unix::fs::symlink("../elsewhere", root.join("away")).unwrap();
    let dir = DirRef { file: &rootf, host: &root };
    assert!(is_escape(&unlink_beneath(dir, "away/victim").unwrap_err()));
    assert!(is_escape(&unlink_beneath(dir, "../elsewhere/victim").unwrap_err()));
    assert!(d.path().join("elsewhere/victim").exists());
    // A symlink itself is removed, not what it points to.
    unlink_beneath(dir, "out").unwrap();
    assert!(d.path().join("outside.txt").exists());
    unlink_beneath(dir, "subln/g.txt").unwrap();
    assert!(!root.join("sub/g.txt").exists());
}

/// A directory descriptor whose name the guest then turned into a symlink out of the preopen
/// (remove the empty directory `a` while it is open, symlink `a -> ..`): later calls through the
/// descriptor must not follow the joined host path `root/a` out of the sandbox.
#[test]
fn replaced_directory_descriptor_cannot_lead_out() {
    let mut g = setup();
    g.mkdir("a").unwrap();
    let d =
        g.open_full(PRE, 0, "a", oflags::DIRECTORY, rights::PATH_OPEN | rights::PATH_UNLINK_FILE, 0).unwrap();
    g.rmdir("a").unwrap();
    g.symlink("..", "a").unwrap();
    let outside = g.tmp.path().join("outside.txt");
    let (p, l) = g.s("outside.txt");
    assert_eq!(g.call(WasiFunc::PathUnlinkFile, &[d.into(), p, l]), Errno::PERM);
    assert!(outside.exists(), "path_unlink_file through the descriptor removed a file outside");
    assert_eq!(g.open_full(d, 0, "outside.txt", 0, RW, 0), Err(Errno::PERM));
    let ret = g.alloc(64);
    let (p, l) = g.s("outside.txt");
    assert_eq!(g.call(WasiFunc::PathFilestatGet, &[d.into(), 0, p, l, ret.into()]), Errno::PERM);
    assert_eq!(std::fs::read(&outside).unwrap(), b"secret");
}
