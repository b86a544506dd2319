//! Exits with status 3 via std::process::exit after printing.
use std::io::Write;
fn main() {
    println!("rust: about to exit(3)");
    std::io::stdout().flush().unwrap();
    std::process::exit(3);
}
