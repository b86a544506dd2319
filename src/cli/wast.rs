//! `chiwawa wast FILE...`: conformance on any .wast file.

use super::WastArgs;

pub fn run(args: WastArgs) -> i32 {
    let (mut passed, mut failed) = (0u64, 0u64);
    for f in &args.files {
        match crate::wast::run_file(f) {
            Ok(s) => {
                passed += s.passed as u64;
                failed += s.failed as u64;
                let limit = if args.verbose { usize::MAX } else { 10 };
                for m in s.failures.iter().take(limit) {
                    eprintln!("FAIL {m}");
                }
                if s.failures.len() > limit {
                    eprintln!("... and {} more failures in {}", s.failures.len() - limit, f.display());
                }
                eprintln!("{}: {} passed, {} failed", f.display(), s.passed, s.failed);
            }
            Err(e) => {
                eprintln!("error: {e}");
                failed += 1;
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        0
    } else {
        1
    }
}
