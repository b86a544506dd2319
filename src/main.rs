use clap::Parser;

fn main() {
    // Logs go to stderr (stdout belongs to the guest); RUST_LOG overrides the default.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn,chiwawa=info"))
        .format_target(false)
        .init();
    let cli = chiwawa::cli::Cli::parse();
    let code = chiwawa::cli::main(cli);
    std::process::exit(code);
}
