//! Progress bars for long work. They draw on stderr and only on a terminal, so
//! scripts reading `--json` on stdout never see them.

use indicatif::{ProgressBar, ProgressStyle};

pub fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    let template = crate::i18n::tr(
        "{msg:>12} [{bar:40}] {pos}/{len} ({per_sec}, reste {eta})",
        "{msg:>12} [{bar:40}] {pos}/{len} ({per_sec}, {eta} left)",
    );
    pb.set_style(
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

pub fn bytes_bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(crate::i18n::tr(
            "{msg:>12} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, reste {eta})",
            "{msg:>12} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}
