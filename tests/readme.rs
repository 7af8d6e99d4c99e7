//! The README is documentation a newcomer trusts: hold it to the code.

use site_status::app::keymap;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

#[test]
fn readme_key_table_is_the_keymap() {
    let readme = readme();
    let start =
        readme.find("<!-- keys:start -->\n").expect("start marker") + "<!-- keys:start -->\n".len();
    let end = readme.find("<!-- keys:end -->").expect("end marker");
    assert_eq!(
        &readme[start..end],
        keymap::markdown_table(),
        "README key table is out of date: regenerate it with `site-status keys --markdown`"
    );
}

#[test]
fn ci_runs_the_readme_test_command() {
    let readme = readme();
    assert!(readme.contains("\n    cargo run --release -- demo\n"));
    assert!(readme.contains("\n    ./scripts/test.sh\n"));
    let ci = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/run")).unwrap();
    assert!(ci.contains("./scripts/test.sh"));
}

#[test]
fn readme_shows_the_example_configuration_that_config_init_writes() {
    let readme = readme();
    assert!(readme.contains(site_status::config::EXAMPLE));
}
