//! Error kinds seen through std::io for common failures. usage: rs_errors DIR
use std::fs;
use std::path::Path;

fn kind<T>(label: &str, r: std::io::Result<T>) {
    match r {
        Ok(_) => println!("{label}: unexpectedly ok"),
        Err(e) => println!(
            "{label}: {:?} raw_os_error={:?}",
            e.kind(),
            e.raw_os_error()
        ),
    }
}

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    let d = Path::new(&dir);
    fs::create_dir(d.join("dir")).unwrap();
    fs::write(d.join("file"), b"x").unwrap();
    kind("open missing", fs::File::open(d.join("missing.txt")));
    kind("read missing", fs::read(d.join("missing/inner.txt")));
    kind("create_dir existing", fs::create_dir(d.join("dir")));
    kind(
        "create_new existing",
        fs::File::options()
            .write(true)
            .create_new(true)
            .open(d.join("file")),
    );
    kind("remove_dir non-empty", {
        fs::write(d.join("dir/inner"), b"y").unwrap();
        fs::remove_dir(d.join("dir"))
    });
    kind("remove_file on dir", fs::remove_file(d.join("dir")));
    kind("read_dir on file", fs::read_dir(d.join("file")));
    kind("open file as dir path", fs::File::open(d.join("file/sub")));
    kind("write to dir", fs::write(d.join("dir"), b"z"));
    kind(
        "rename missing",
        fs::rename(d.join("nope"), d.join("nope2")),
    );
    kind("metadata missing", fs::metadata(d.join("nope")));
    kind("read_link missing", fs::read_link(d.join("nope")));
}
