use clap::Parser;

fn main() {
    let cli = chiwawa::cli::Cli::parse();
    // Logs go to stderr (stdout belongs to the guest) or to --log-file; RUST_LOG overrides the level.
    let mut logger =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn,chiwawa=info"));
    logger.format_target(false);
    if let Some(path) = &cli.log_file {
        match std::fs::OpenOptions::new().create(true).append(true).open(path) {
            Ok(f) => {
                logger.target(env_logger::Target::Pipe(Box::new(f)));
            }
            Err(e) => {
                eprintln!("error: cannot open the log file {}: {e}", path.display());
                std::process::exit(chiwawa::cli::EXIT_ERROR);
            }
        }
    }
    logger.init();
    let code = chiwawa::cli::main(cli);
    // Inside a WASI host, exit statuses >= 126 are refused by Wasmtime ("exit with invalid exit
    // status outside of [0..126)"; the host then exits 1). Report a guest trap as a trap of
    // chiwawa.wasm itself, which WASI hosts turn into 134, like a native abort.
    #[cfg(target_os = "wasi")]
    if code == chiwawa::cli::EXIT_TRAP {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().flush();
        std::process::abort();
    }
    std::process::exit(code);
}
