//! Reads stdin to EOF via std::io; prints byte count, line count and FNV-1a.
use std::io::{BufRead, Read};
fn main() {
    let mut data = Vec::new();
    std::io::stdin().lock().read_to_end(&mut data).unwrap();
    let h = data
        .iter()
        .fold(2166136261u32, |h, &b| (h ^ b as u32).wrapping_mul(16777619));
    let lines = data.lines().count();
    println!("bytes={} lines={} fnv={h:08x}", data.len(), lines);
    let longest = data
        .lines()
        .map(|l| l.map(|s| s.len()).unwrap_or(0))
        .max()
        .unwrap_or(0);
    println!("longest line={longest}");
}
