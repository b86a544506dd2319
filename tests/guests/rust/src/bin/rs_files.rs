//! File I/O through std::fs: create, write, append, read back, seek,
//! set_len, metadata. usage: rs_files DIR
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

fn show<T: std::fmt::Debug>(label: &str, r: std::io::Result<T>) -> Option<T> {
    match r {
        Ok(v) => {
            println!("{label}: ok {v:?}");
            Some(v)
        }
        Err(e) => {
            println!("{label}: err {:?}", e.kind());
            None
        }
    }
}

#[allow(clippy::seek_from_current)] // deliberately exercises fd_seek(0, CUR)
fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    let d = Path::new(&dir);
    let a = d.join("r.txt");

    show("write", fs::write(&a, b"alpha\nbeta\n"));
    show("read_to_string", fs::read_to_string(&a));
    show(
        "create_new existing",
        File::options()
            .write(true)
            .create_new(true)
            .open(&a)
            .map(|_| ()),
    );
    {
        let mut f = OpenOptions::new().append(true).open(&a).unwrap();
        show("append", f.write_all(b"gamma\n"));
        show("stream_position after append", f.stream_position());
    }
    show("len", fs::metadata(&a).map(|m| m.len()));
    show(
        "is_file",
        fs::metadata(&a).map(|m| (m.is_file(), m.is_dir())),
    );

    let mut f = OpenOptions::new().read(true).write(true).open(&a).unwrap();
    let mut buf = [0u8; 5];
    show(
        "read_exact 5",
        f.read_exact(&mut buf)
            .map(|_| String::from_utf8_lossy(&buf).into_owned()),
    );
    show("seek Start(6)", f.seek(SeekFrom::Start(6)));
    let mut s = String::new();
    show(
        "read_to_string rest",
        f.read_to_string(&mut s).map(|n| (n, s.clone())),
    );
    show("seek End(-6)", f.seek(SeekFrom::End(-6)));
    show("seek Current(-2)", f.seek(SeekFrom::Current(-2)));
    show("write at 4", f.write_all(b"XY"));
    show("seek Current(0)", f.seek(SeekFrom::Current(0)));
    show("seek before start", f.seek(SeekFrom::Current(-1000)));
    show("set_len 8", f.set_len(8));
    show("metadata len", f.metadata().map(|m| m.len()));
    show("set_len 20", f.set_len(20));
    show("metadata len", f.metadata().map(|m| m.len()));
    drop(f);
    show("read back", fs::read(&a));

    // A 1 MiB file written in odd-sized chunks and read back.
    let big = d.join("big.dat");
    let mut f = File::create(&big).unwrap();
    let mut h: u32 = 2166136261;
    let mut written = 0usize;
    let mut i = 0u32;
    while written < 1 << 20 {
        let n = (1 + (i as usize * 7919) % 4093).min((1 << 20) - written);
        let chunk: Vec<u8> = (0..n)
            .map(|k| {
                ((written + k) as u32)
                    .wrapping_mul(2654435761)
                    .to_le_bytes()[3]
            })
            .collect();
        for &b in &chunk {
            h = (h ^ b as u32).wrapping_mul(16777619);
        }
        f.write_all(&chunk).unwrap();
        written += n;
        i += 1;
    }
    drop(f);
    println!("big: wrote {written} bytes in {i} chunks fnv={h:08x}");
    let data = fs::read(&big).unwrap();
    let h2 = data
        .iter()
        .fold(2166136261u32, |h, &b| (h ^ b as u32).wrapping_mul(16777619));
    println!(
        "big: read {} bytes fnv={h2:08x} match={}",
        data.len(),
        h == h2
    );

    show("copy", fs::copy(&a, d.join("r_copy.txt")));
    show("remove_file big", fs::remove_file(&big));
    show("read removed", fs::read(&big).map(|v| v.len()));
}
