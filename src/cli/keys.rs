//! `site-status keys`: the key bindings, from the one list in
//! `app::keymap` (the README's table is this command's `--markdown`).

use crate::app::keymap;

pub fn print(markdown: bool) {
    if markdown {
        print!("{}", keymap::markdown_table());
        return;
    }
    for scope in keymap::SCOPES {
        println!("{}", scope.title());
        for b in keymap::BINDINGS.iter().filter(|b| b.scope == scope) {
            println!("  {:<24} {}", keymap::keys_label(b), b.description);
        }
    }
}
