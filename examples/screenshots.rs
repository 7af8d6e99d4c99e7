//! Regenerates the README's screenshots in `screenshots/`:
//!
//!     cargo run --example screenshots
//!
//! Every one is the demo fleet (seed 1) frozen at one instant, drawn by the
//! dashboard's own code into a frame and painted to PNG by
//! tests/support/screenshot.rs, so the same code gives the same bytes on
//! any machine. tests/screenshots.rs fails when a file is not current.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("screenshots");
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {e}", dir.display());
        std::process::exit(1);
    }
    for shot in support::scenes::screenshots() {
        let frame = support::scenes::frame(&shot);
        let (png, missing) = support::screenshot::png(&frame, &shot.theme);
        if !missing.is_empty() {
            eprintln!("{}: no glyph for {missing:?}", shot.name);
            std::process::exit(1);
        }
        let path = dir.join(shot.name);
        if let Err(e) = std::fs::write(&path, &png) {
            eprintln!("cannot write {}: {e}", path.display());
            std::process::exit(1);
        }
        println!(
            "wrote {} ({} bytes): {}",
            path.display(),
            png.len(),
            shot.caption
        );
    }
}
