//! What each screen's keys do, one file per screen. Every function here
//! changes the app's state only; what must happen outside (a query, a rule
//! to store, the clipboard) comes back as an `Effect`.

mod copy;
mod grid;
mod help;
mod lists;
mod problems;
pub mod prompts;
mod reports;
mod requirement;
mod rollout;
mod run;
mod silences;
mod site;
