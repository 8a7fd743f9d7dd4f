//! Writing a reply from the knowledge base, on the message page: search the
//! standard answers and fiches, then insert an answer (filled from the mail as a
//! draft is) or a fiche's title, link and excerpt into the text being written.
//! Agents often combine two answers, so this is offered with or without a draft.
//! The buttons belong to the draft's form and post its text along, so nothing
//! typed is lost, and no script is needed. This module is the panel and the text
//! it inserts; the form's handler is `message_actions::compose`, beside the other
//! forms that show the message page again.

use std::collections::BTreeMap;

use facteur_kb::DocKind;
use maud::{html, Markup};

use crate::i18n::{Lang, Msg};
use crate::{AppState, KbHit};

/// Results shown per search: a page the agent reads at a glance.
pub(super) const RESULTS: usize = 8;

/// A search from the message page and what came of it.
pub struct Search {
    pub query: String,
    pub results: Vec<KbHit>,
    /// The title of what was just inserted, announced to the agent.
    pub inserted: Option<String>,
    /// Why the search or the insertion did not happen.
    pub problem: Option<Msg>,
}

/// The answer filled from this mail by the node's triage engine; without one
/// (or if it fails), the answer's text with a visible marker for every
/// variable, which validation refuses until the agent fills them in.
pub(super) async fn answer_text(st: &AppState, id: i64, h: &KbHit) -> String {
    if let Some(svc) = &st.service {
        match svc.fill_answer(id, &h.hit.id).await {
            Ok(Some(text)) => return text,
            Ok(None) => {}
            Err(e) => tracing::warn!(message = id, error = %e, "filling a standard answer"),
        }
    }
    let body = h.body.as_deref().unwrap_or_default();
    facteur_kb::answers::fill_template(body, &BTreeMap::new(), &[])
        .text
        .trim()
        .to_string()
}

/// A fiche as a reply quotes it: its title, its link, the passage that matched.
pub(super) fn fiche_text(h: &KbHit) -> String {
    let mut out = h.hit.title.clone();
    if let Some(url) = &h.hit.url {
        out.push_str(" : ");
        out.push_str(url);
    }
    if let Some(p) = h.hit.passages.first() {
        out.push_str("\n« ");
        out.push_str(p.text.trim());
        out.push_str(" »");
    }
    out
}

/// Appended after what the agent wrote, a blank line between.
pub(super) fn append(text: &mut String, insert: &str) {
    let kept = text.trim_end().len();
    text.truncate(kept);
    if !text.is_empty() {
        text.push_str("\n\n");
    }
    text.push_str(insert.trim());
}

/// The search box and its results, inside the draft's form (its buttons post the
/// draft's text). Folded until used.
pub fn view(lang: Lang, id: i64, search: Option<&Search>) -> Markup {
    let t = |m: Msg| m.text(lang);
    let action = format!("/messages/{id}/compose");
    html! {
        details #compose open[search.is_some()] {
            summary { (t(Msg::KbInsertTitle)) }
            @if let Some(s) = search {
                @if let Some(title) = &s.inserted {
                    p #compose-inserted.success role="status" { (t(Msg::KbInserted)) " « " (title) " »." }
                }
                @if let Some(p) = s.problem {
                    p #compose-problem.warning role="status" { (t(p)) }
                }
            }
            p.note { (t(Msg::KbShortcutHelp)) }
            input #kb-exact type="hidden" name="exact" value="";
            label for="kb-q" { (t(Msg::KbSearchLabel)) }
            input #kb-q type="search" name="q" value=(search.map(|s| s.query.as_str()).unwrap_or(""));
            " "
            button.fr-btn.fr-btn--secondary #kb-search type="submit" formaction=(action) formnovalidate name="op" value="search" { (t(Msg::Search)) }
            @if let Some(s) = search.filter(|s| !s.query.is_empty() && s.problem != Some(Msg::KbUnavailable)) {
                @if s.results.is_empty() {
                    p #kb-none { (t(Msg::KbNoResult)) }
                } @else {
                    ol #kb-results {
                        @for h in &s.results {
                            li.kb-result data-kind=(h.hit.kind.as_str()) {
                                strong { (h.hit.title) }
                                " — " (kind_label(lang, h.hit.kind))
                                @if let Some(p) = h.hit.passages.first() {
                                    br; span.note { (p.text) }
                                }
                                br;
                                button.fr-btn.fr-btn--secondary.fr-btn--sm.insert type="submit" formaction=(action) formnovalidate name="op"
                                    value={ (h.hit.kind.as_str()) ":" (h.hit.id) } {
                                    (t(if h.hit.kind == DocKind::Answer { Msg::KbInsertAnswer } else { Msg::KbInsertFiche }))
                                    span.visually-hidden { " « " (h.hit.title) " »" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn kind_label(lang: Lang, kind: DocKind) -> &'static str {
    match kind {
        DocKind::Answer => Msg::KbKindAnswer.text(lang),
        DocKind::Fiche => Msg::KbKindFiche.text(lang),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_insert_follows_the_text_after_one_blank_line() {
        let mut t = String::from("Madame,\n\nPremier point.\n\n  ");
        append(&mut t, "  Second point.\n");
        assert_eq!(t, "Madame,\n\nPremier point.\n\nSecond point.");
        let mut empty = String::new();
        append(&mut empty, "Texte");
        assert_eq!(empty, "Texte");
    }
}
