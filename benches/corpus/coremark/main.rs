//! CoreMark workload: the `coremark` crate (a port of EEMBC CoreMark 1.0 whose CRCs match the
//! reference C code bit for bit), 2K performance run (seeds 0,0,0x66), a fixed iteration count.
//! Prints the CRCs and the validation verdict, not the timing (that varies run to run).
fn main() {
    let iterations = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(4000);
    let r = coremark::run(&coremark::Config { seed1: 0, seed2: 0, seed3: 0x66, iterations, execs: 0, size: 0 });
    println!("CoreMark size {} iterations {}", r.size, r.iterations);
    println!("seedcrc 0x{:04x} crclist 0x{:04x} crcmatrix 0x{:04x} crcstate 0x{:04x} crcfinal 0x{:04x}",
             r.seedcrc, r.crclist, r.crcmatrix, r.crcstate, r.crcfinal);
    // `errors` also counts CoreMark's "ran under 10 s" rule, which a fixed short workload breaks
    // on purpose: report only the CRC mismatches against the reference values.
    let crc_errors = r.errors - i32::from(r.total_secs() < 10.0);
    println!("known_id {} crc errors {}", r.known_id, crc_errors);
    if crc_errors != 0 { std::process::exit(1); }
}
