//! The screenshots in `screenshots/` are what the code draws today: each
//! is drawn again here and compared byte for byte. Regenerate them with
//! `cargo run --example screenshots`.

mod support;

use std::path::Path;

#[test]
fn the_screenshots_are_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("screenshots");
    let mut differ = Vec::new();
    for shot in support::scenes::screenshots() {
        let frame = support::scenes::frame(&shot);
        let (png, missing) = support::screenshot::png(&frame, &shot.theme);
        assert!(
            missing.is_empty(),
            "{}: the screenshot painter has no glyph for {missing:?}",
            shot.name
        );
        match std::fs::read(dir.join(shot.name)) {
            Ok(saved) if saved == png => {}
            Ok(_) => differ.push(format!("{} differs", shot.name)),
            Err(e) => differ.push(format!("{} cannot be read: {e}", shot.name)),
        }
    }
    assert!(
        differ.is_empty(),
        "screenshots/ is not what the code draws: {}; run `cargo run --example screenshots`",
        differ.join(", ")
    );
}

#[test]
fn the_readme_shows_every_screenshot() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    for shot in support::scenes::screenshots() {
        assert!(
            readme.contains(&format!("(screenshots/{})", shot.name)),
            "README.md does not show screenshots/{}",
            shot.name
        );
    }
}

#[test]
fn the_painter_draws_what_the_buffer_holds() {
    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;
    use ratatui::style::{Color, Style};
    let theme = site_status::ui::Theme::dark();
    let mut buffer = Buffer::empty(Rect::new(0, 0, 3, 1));
    buffer[(0, 0)]
        .set_symbol("█")
        .set_style(Style::new().fg(Color::Rgb(255, 0, 0)));
    buffer[(1, 0)]
        .set_symbol(" ")
        .set_style(Style::new().bg(Color::Rgb(0, 0, 255)));
    buffer[(2, 0)].set_symbol("\u{e000}");
    let (png, missing) = support::screenshot::png(&buffer, &theme);
    assert_eq!(
        missing,
        ['\u{e000}'],
        "a private-use character has no glyph"
    );
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    reader.next_frame(&mut pixels).unwrap();
    let cell = support::screenshot::CELL_WIDTH;
    let at = |x: usize, y: usize| {
        let i = (y * cell * 3 + x) * 3;
        [pixels[i], pixels[i + 1], pixels[i + 2]]
    };
    assert_eq!(at(3, 5), [255, 0, 0], "the full block fills its cell");
    assert_eq!(
        at(cell + 3, 5),
        [0, 0, 255],
        "a blank cell shows its background"
    );
}
