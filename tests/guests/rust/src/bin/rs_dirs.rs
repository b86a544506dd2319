//! Directories and symlinks through std::fs. usage: rs_dirs DIR
use std::fs;
use std::os::fd::AsRawFd;
use std::path::Path;

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    fn path_symlink(old: *const u8, old_len: usize, fd: i32, new: *const u8, new_len: usize)
        -> u16;
}

/// std::os::wasi::fs::symlink_path is unstable: call the WASI import directly,
/// relative to an fd opened on `dir`.
fn symlink(target: &str, dir: &Path, name: &str) -> std::io::Result<()> {
    let d = fs::File::open(dir)?;
    let e = unsafe {
        path_symlink(
            target.as_ptr(),
            target.len(),
            d.as_raw_fd(),
            name.as_ptr(),
            name.len(),
        )
    };
    if e == 0 {
        Ok(())
    } else {
        Err(std::io::Error::from_raw_os_error(e as i32))
    }
}

fn show<T: std::fmt::Debug>(label: &str, r: std::io::Result<T>) {
    match r {
        Ok(v) => println!("{label}: ok {v:?}"),
        Err(e) => println!("{label}: err {:?}", e.kind()),
    }
}

fn list(label: &str, p: &Path) {
    match fs::read_dir(p) {
        Ok(rd) => {
            let mut v: Vec<String> = rd
                .map(|e| {
                    let e = e.unwrap();
                    let t = e.file_type().unwrap();
                    let k = if t.is_symlink() {
                        "l"
                    } else if t.is_dir() {
                        "d"
                    } else {
                        "f"
                    };
                    format!("{}:{k}", e.file_name().to_string_lossy())
                })
                .collect();
            v.sort();
            println!("{label}: [{}]", v.join(" "));
        }
        Err(e) => println!("{label}: err {:?}", e.kind()),
    }
}

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    let d = Path::new(&dir);
    show("create_dir_all x/y/z", fs::create_dir_all(d.join("x/y/z")));
    show("create_dir x (exists)", fs::create_dir(d.join("x")));
    show(
        "create_dir_all x/y/z again",
        fs::create_dir_all(d.join("x/y/z")),
    );
    for (i, name) in ["x/b.txt", "x/a.txt", "x/y/c.txt", "x/y/z/d.txt", "top.txt"]
        .iter()
        .enumerate()
    {
        show(
            &format!("write {name}"),
            fs::write(d.join(name), format!("file {i}\n")),
        );
    }
    list("x", &d.join("x"));
    list("x/y", &d.join("x/y"));
    show(
        "rename x/a.txt -> x/y/a2.txt",
        fs::rename(d.join("x/a.txt"), d.join("x/y/a2.txt")),
    );
    show(
        "rename dir x/y -> w",
        fs::rename(d.join("x/y"), d.join("w")),
    );
    list("root", d);
    list("w", &d.join("w"));
    show("remove_dir non-empty w", fs::remove_dir(d.join("w")));
    show("remove_file w/c.txt", fs::remove_file(d.join("w/c.txt")));
    show("remove_dir_all w/z", fs::remove_dir_all(d.join("w/z")));
    list("w after", &d.join("w"));

    show("symlink existing name", symlink("w", d, "top.txt"));
    show("symlink ln_top -> top.txt", symlink("top.txt", d, "ln_top"));
    show("symlink ln_w -> w", symlink("w", d, "ln_w"));
    show("read_link ln_top", fs::read_link(d.join("ln_top")));
    show(
        "read_link top.txt (not a link)",
        fs::read_link(d.join("top.txt")).map(|_| ()),
    );
    show(
        "symlink_metadata ln_top is_symlink",
        fs::symlink_metadata(d.join("ln_top")).map(|m| m.file_type().is_symlink()),
    );
    show(
        "metadata ln_top len",
        fs::metadata(d.join("ln_top")).map(|m| m.len()),
    );
    show("read through ln_top", fs::read_to_string(d.join("ln_top")));
    list("through ln_w", &d.join("ln_w"));
    show(
        "canonical-ish exists x/../w",
        fs::metadata(d.join("x/../w")).map(|m| m.is_dir()),
    );
    show("remove_file ln_w", fs::remove_file(d.join("ln_w")));
    list("root final", d);
}
