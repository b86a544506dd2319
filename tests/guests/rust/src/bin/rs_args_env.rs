//! Prints argv and the environment (in the order given) via std::env.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    println!("argc={}", args.len());
    for (i, a) in args.iter().enumerate() {
        println!("argv[{i}]={a:?}");
    }
    let vars: Vec<(String, String)> = std::env::vars().collect();
    for (k, v) in &vars {
        println!("env {k}={v:?}");
    }
    println!("envc={}", vars.len());
    println!("var(CHIWAWA_TEST)={:?}", std::env::var("CHIWAWA_TEST"));
    println!(
        "var(NOT_SET_ANYWHERE)={:?}",
        std::env::var("NOT_SET_ANYWHERE").ok()
    );
}
