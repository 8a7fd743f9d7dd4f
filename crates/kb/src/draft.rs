//! Drafting a reply from a validated standard answer.
//!
//! The draft is a proposal for an agent, so it errs towards saying less: no draft
//! when unsure, a visible marker rather than an invented value, and no contact point
//! that a reviewer did not approve.

use std::collections::BTreeMap;

use facteur_core::Language;
use serde::Serialize;

use crate::answers::{fill_template_with, Filled, StandardAnswer};
use crate::index::{DocKind, Hit, KnowledgeBase, SearchOptions};
use crate::Date;

/// What the drafter knows about the correspondent and the case. `None` means unknown:
/// the draft then shows a marker for the agent to complete.
#[derive(Debug, Clone)]
pub struct DraftContext {
    pub civilite: Option<String>,
    pub nom: Option<String>,
    pub annee: Option<String>,
    pub reference: Option<String>,
    pub signature: Option<String>,
    pub language: Language,
    /// Values of answer-specific variables.
    pub extra: BTreeMap<String, String>,
    pub today: Date,
    /// Highlight the passages that matched. The agent's view wants them; bulk triage
    /// does not, and they cost more than the search (the generator re-analyses each
    /// matched fiche).
    pub snippets: bool,
}

impl Default for DraftContext {
    fn default() -> Self {
        Self {
            civilite: None,
            nom: None,
            annee: None,
            reference: None,
            signature: None,
            language: Language::Fr,
            extra: BTreeMap::new(),
            today: Date::today(),
            snippets: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum DraftOutcome {
    Draft {
        answer_id: String,
        answer_version: u32,
        language: String,
        text: String,
        /// Variables shown as `[[à compléter : …]]`.
        unfilled: Vec<String>,
        /// Drafted in French because the answer has no variant in the correspondent's
        /// language.
        language_fallback: bool,
        passages: Vec<Hit>,
    },
    NoDraft {
        reason: String,
        passages: Vec<Hit>,
    },
}

/// How many knowledge-base passages accompany a draft or a refusal.
const PASSAGES: usize = 5;

fn passages(kb: &KnowledgeBase, text: &str, today: Date, snippets: bool) -> Vec<Hit> {
    let opts = SearchOptions {
        limit: PASSAGES,
        today,
        snippets,
        ..SearchOptions::default()
    };
    kb.search(text, &opts).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "knowledge-base search failed while drafting");
        Vec::new()
    })
}

/// The correspondent's civility in the language of the chosen variant. The mail
/// reader says "Monsieur" / "Madame" whatever the mail's language, and an English
/// draft must not open with "Dear Monsieur Smith". "Madame" becomes "Ms", which says
/// nothing of marital status, as "Madame" does not. Other words pass as given.
fn civility_in(language: &str, civilite: &str) -> String {
    let c = civilite.trim();
    let folded = c.trim_end_matches('.').to_lowercase();
    let word = match (language, folded.as_str()) {
        ("en", "monsieur" | "m") => "Mr",
        ("en", "madame" | "mme" | "mademoiselle" | "mlle") => "Ms",
        ("fr", "mr" | "mister") => "Monsieur",
        ("fr", "mrs" | "ms" | "miss") => "Madame",
        _ => return c.to_string(),
    };
    word.to_string()
}

/// How a letter from the administration opens: in French "Madame," or
/// "Monsieur," when the civility is known, otherwise "Madame, Monsieur," (never
/// a first name, never a marker in the greeting); in English "Dear Ms Smith,"
/// when both civility and name are known, otherwise "Dear Sir or Madam,".
pub fn salutation(language: &str, civilite: Option<&str>, nom: Option<&str>) -> String {
    if language == "en" {
        let civ = civilite.map(|c| civility_in(language, c));
        let nom = nom.map(str::trim).filter(|n| !n.is_empty());
        return match (civ.as_deref(), nom) {
            (Some(c), Some(n)) if !c.is_empty() => format!("Dear {c} {n},"),
            _ => "Dear Sir or Madam,".to_string(),
        };
    }
    let folded = civilite
        .map(|c| c.trim().trim_end_matches('.').to_lowercase())
        .unwrap_or_default();
    match folded.as_str() {
        "monsieur" | "m" | "mr" | "mister" => "Monsieur,".to_string(),
        "madame" | "mme" | "mademoiselle" | "mlle" | "mrs" | "ms" | "miss" => "Madame,".to_string(),
        _ => "Madame, Monsieur,".to_string(),
    }
}

/// The answer's body with a greeting line built on the correspondent
/// ("Bonjour {{civilite}} {{nom}},", "Dear {{civilite}} {{nom}},") replaced by
/// `{{formule_appel}}`, which drafting fills with [`salutation`]. Answers written
/// before the variable existed then open as a letter should, without a new
/// version of each; other greetings (no civility in them) are left as written.
fn with_formal_greeting(body: &str) -> std::borrow::Cow<'_, str> {
    let Some(line) = body.lines().find(|l| !l.trim().is_empty()) else {
        return body.into();
    };
    let rest = line
        .replace("{{civilite}}", "")
        .replace("{{nom}}", "")
        .replace(['\u{a0}', ','], " ");
    let words: Vec<&str> = rest.split_whitespace().collect();
    let greeting_only = words
        .iter()
        .all(|w| matches!(w.to_lowercase().as_str(), "bonjour" | "dear" | "hello"));
    if !line.contains("{{civilite}}") || !greeting_only {
        return body.into();
    }
    body.replacen(line, "{{formule_appel}}", 1).into()
}

/// No draft, and why, with the passages that may still help the agent.
fn no_draft(
    kb: &KnowledgeBase,
    message_text: &str,
    ctx: &DraftContext,
    reason: String,
) -> DraftOutcome {
    DraftOutcome::NoDraft {
        reason,
        passages: passages(kb, message_text, ctx.today, ctx.snippets),
    }
}

/// Proposes a reply for a message of `request_type` classified with `confidence`.
pub fn draft(
    kb: &KnowledgeBase,
    request_type: Option<&str>,
    confidence: f32,
    min_confidence: f32,
    message_text: &str,
    ctx: &DraftContext,
) -> DraftOutcome {
    let today = ctx.today;
    let no = |reason: String| no_draft(kb, message_text, ctx, reason);
    let Some(rt) = request_type else {
        return no("no request type: the message needs personal research".into());
    };
    // NaN confidence must not pass.
    if confidence.is_nan() || confidence < min_confidence {
        return no(format!(
            "classification confidence {confidence:.2} is below the threshold {min_confidence:.2}"
        ));
    }
    let Some(chosen_id) = best_answer(kb, rt, message_text, today) else {
        return no(format!(
            "no validated, currently valid standard answer for request type `{rt}`"
        ));
    };
    draft_answer(kb, &chosen_id, message_text, ctx)
}

/// The id of the usable standard answer of `request_type` that best matches the
/// message: the best match among usable answers of the type (in any language,
/// since the message may be in English while the ranking is about the subject),
/// falling back to the first one. `None`: the type has no usable answer.
pub fn best_answer(
    kb: &KnowledgeBase,
    request_type: &str,
    message_text: &str,
    today: Date,
) -> Option<String> {
    let usable: Vec<&StandardAnswer> = kb
        .answers()
        .iter()
        .filter(|a| a.is_usable(today) && a.request_types.iter().any(|r| r == request_type))
        .collect();
    let first = usable.first()?;
    let opts = SearchOptions {
        limit: 20,
        kind: Some(DocKind::Answer),
        request_type: Some(request_type.to_string()),
        usable_answers_only: true,
        language: None,
        today,
        snippets: false,
    };
    let ranked = kb.search(message_text, &opts).unwrap_or_default();
    Some(
        ranked
            .iter()
            .map(|h| h.id.as_str())
            .find(|id| usable.iter().any(|a| a.id == *id))
            .unwrap_or(first.id.as_str())
            .to_string(),
    )
}

/// The reply built from one chosen standard answer, filled from the message as a
/// draft is: what an agent inserts when they pick the answer themselves (a
/// candidate type, a search result) rather than the model.
pub fn draft_answer(
    kb: &KnowledgeBase,
    answer_id: &str,
    message_text: &str,
    ctx: &DraftContext,
) -> DraftOutcome {
    let today = ctx.today;
    let no = |reason: String| no_draft(kb, message_text, ctx, reason);
    let variants: Vec<&StandardAnswer> = kb
        .answers()
        .iter()
        .filter(|a| a.id == answer_id && a.is_usable(today))
        .collect();
    let wanted = match &ctx.language {
        Language::Unknown => "fr".to_string(),
        l => l.code().to_string(),
    };
    let (answer, fallback) = match variants.iter().find(|a| a.language == wanted) {
        Some(a) => (*a, false),
        None => match variants.iter().find(|a| a.language == "fr") {
            Some(a) => (*a, true),
            None => match variants.first() {
                Some(a) => (*a, true),
                None => return no(format!("standard answer `{answer_id}` is not usable today")),
            },
        },
    };
    let filled = fill_answer_text(answer, ctx, today);
    DraftOutcome::Draft {
        answer_id: answer.id.clone(),
        answer_version: answer.version,
        language: answer.language.clone(),
        text: filled.text.trim().to_string(),
        unfilled: filled.unfilled,
        language_fallback: fallback,
        passages: passages(kb, message_text, today, ctx.snippets),
    }
}

/// The text of `answer` for the citizen `ctx` describes: the formal greeting,
/// then every variable the context knows filled, the others left as markers.
/// Drafting and the answer editor's preview both use it, so a supervisor sees
/// exactly what an agent will get.
pub fn fill_answer_text(answer: &StandardAnswer, ctx: &DraftContext, today: Date) -> Filled {
    let mut values: BTreeMap<String, String> = ctx.extra.clone();
    // The mailbox's signature is the service's own text: a block of lines with the
    // service's contact points, kept as configured (see `fill_template_with`).
    values.remove("signature");
    let mut trusted: BTreeMap<String, String> = BTreeMap::new();
    if let Some(s) = &ctx.signature {
        trusted.insert("signature".into(), s.clone());
    }
    let civilite = ctx
        .civilite
        .as_deref()
        .map(|c| civility_in(&answer.language, c));
    for (k, v) in [
        ("civilite", &civilite),
        ("nom", &ctx.nom),
        ("annee", &ctx.annee),
        ("reference", &ctx.reference),
    ] {
        match v {
            Some(v) => {
                values.insert(k.to_string(), v.clone());
            }
            None => {
                // Known variables come from the context only.
                values.remove(k);
            }
        }
    }
    values.insert("date_du_jour".into(), today.french());
    values.insert(
        "formule_appel".into(),
        salutation(
            &answer.language,
            ctx.civilite.as_deref(),
            ctx.nom.as_deref(),
        ),
    );
    let body = with_formal_greeting(&answer.body);
    fill_template_with(&body, &values, &trusted, &answer.links)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_letter_opens_with_the_civility_or_both() {
        assert_eq!(salutation("fr", Some("Madame"), Some("Le Goff")), "Madame,");
        assert_eq!(salutation("fr", Some("M."), None), "Monsieur,");
        assert_eq!(
            salutation("fr", None, Some("Jean Dupont")),
            "Madame, Monsieur,"
        );
        assert_eq!(salutation("fr", Some("Maître"), None), "Madame, Monsieur,");
        assert_eq!(
            salutation("en", Some("Monsieur"), Some("Smith")),
            "Dear Mr Smith,"
        );
        assert_eq!(salutation("en", Some("Madame"), None), "Dear Sir or Madam,");
        assert_eq!(salutation("en", None, Some("Smith")), "Dear Sir or Madam,");
    }

    #[test]
    fn only_a_greeting_built_on_the_correspondent_is_replaced() {
        let body = "Bonjour {{civilite}} {{nom}},\n\nVotre demande.\n";
        assert_eq!(
            with_formal_greeting(body),
            "{{formule_appel}}\n\nVotre demande.\n"
        );
        let en = "\nDear {{civilite}} {{nom}},\nText {{nom}}.";
        assert_eq!(
            with_formal_greeting(en),
            "\n{{formule_appel}}\nText {{nom}}."
        );
        for kept in [
            "Bonjour,\nVotre demande.",
            "Bonjour {{nom}},\nTexte.",
            "Bonjour {{civilite}} {{nom}}, votre demande est enregistrée.",
        ] {
            assert_eq!(with_formal_greeting(kept), kept);
        }
    }
}
