//! Panics: with panic=abort on wasm32-wasip1 this ends in `unreachable`, a trap
//! (wasmtime run exits 134). The panic message goes to stderr.
fn main() {
    println!("rust: before panic");
    let v: Vec<u32> = std::env::args().skip(100).map(|_| 1).collect();
    println!("{}", v[3]);
}
