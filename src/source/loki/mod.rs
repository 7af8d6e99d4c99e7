//! Loki's HTTP API: the status reports a site's workload pushes as log
//! lines, read back with `query_range`, and the label lists that say which
//! sites have any. The parts live beside this file: `wire` (answers),
//! `api` (HTTP), `logql` (stream selectors), `reports` (a site's reports).

mod api;
mod logql;
mod reports;
mod wire;

pub use api::LokiApi;
pub use logql::{logql_string, stream_selector};
pub use reports::{LokiReports, REPORT_WINDOW_SECONDS};
pub use wire::{
    CATEGORIZE_LABELS, Direction, ENCODING_FLAGS_HEADER, Labels, LogEntry, LokiAnswer,
    parse_label_list, parse_query_range,
};
