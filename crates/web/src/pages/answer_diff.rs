//! What changed between two versions of a standard answer, line by line, for
//! the supervisor who validates the second: removed lines marked "−" and struck
//! (`del`), added ones "+" (`ins`), three lines of context around each change.
//! The marks are in the text, not only in colour.

use facteur_store::AnswerVersion;
use maud::{html, Markup};
use similar::{ChangeTag, TextDiff};

use crate::i18n::{Lang, Msg};

pub fn diff(lang: Lang, old: &AnswerVersion, new: &AnswerVersion) -> Markup {
    let t = |m: Msg| m.text(lang);
    let d = TextDiff::from_lines(&old.content, &new.content);
    let groups = d.grouped_ops(3);
    html! {
        section #answer-diff aria-labelledby="answer-diff-h" {
            h2 #answer-diff-h {
                (t(Msg::DiffTitle)) " " (old.version) " → " (new.version)
            }
            @if groups.is_empty() {
                p { (t(Msg::DiffNone)) }
            }
            @for (i, group) in groups.iter().enumerate() {
                @if i > 0 { p.diff-gap aria-hidden="true" { "…" } }
                pre.answer-diff {
                    @for op in group {
                        @for change in d.iter_changes(op) {
                            @let line = change.value().trim_end_matches('\n');
                            @match change.tag() {
                                ChangeTag::Delete => { del { "− " (line) } "\n" }
                                ChangeTag::Insert => { ins { "+ " (line) } "\n" }
                                ChangeTag::Equal => { span.diff-same { "  " (line) } "\n" }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use facteur_core::AnswerStatus;

    fn version(v: i64, content: &str) -> AnswerVersion {
        AnswerVersion {
            answer_id: "a".into(),
            version: v,
            status: AnswerStatus::Draft,
            title: "A".into(),
            language: "fr".into(),
            content: content.into(),
            valid_from: None,
            valid_until: None,
            author_id: None,
            created_at: 0,
            submitted_at: None,
        }
    }

    #[test]
    fn changed_lines_are_marked_in_words_and_escaped() {
        let old = version(1, "un\ndeux\ntrois\n");
        let new = version(2, "un\ndeux <b>\ntrois\n");
        let html = diff(Lang::Fr, &old, &new).into_string();
        assert!(html.contains("<del>− deux</del>"), "{html}");
        assert!(html.contains("<ins>+ deux &lt;b&gt;</ins>"), "{html}");
        assert!(html.contains("1 → 2"), "{html}");
        let same = diff(Lang::Fr, &old, &version(2, "un\ndeux\ntrois\n")).into_string();
        assert!(same.contains(Msg::DiffNone.text(Lang::Fr)), "{same}");
    }
}
