//! The `site-status-agent` binary.

fn main() {
    println!("site-status-agent {}", env!("CARGO_PKG_VERSION"));
}
