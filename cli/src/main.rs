//! `weft` — the command-line front end.

fn main() {
    println!("weft {}", env!("CARGO_PKG_VERSION"));
}
