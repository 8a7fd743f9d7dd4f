//! The standard-answer editor as a form (issue 18): title, request types,
//! language, validity dates, links and the body. The form is turned into an
//! answer file (`facteur_kb::answers::write_answer`), the format `kb import`
//! reads, so the knowledge base's own rules judge it and the files stay the one
//! format for import and export. The body's variables are listed (and checked
//! live by app.js: which ones drafting fills, which ones the agent completes),
//! and "Aperçu" fills the answer with example values through the drafting code
//! itself. The raw file stays editable in a fold, for those who prefer it.

use facteur_kb::answers::{
    parse_answer, used_variables, write_answer, AnswerStatus as FileStatus, StandardAnswer,
    KNOWN_VARIABLES,
};
use facteur_kb::draft::{fill_answer_text, DraftContext};
use facteur_kb::Date;
use maud::{html, Markup};

use crate::auth::Authed;
use crate::error::Detail;
use crate::i18n::{Lang, Msg};
use crate::views::csrf_input;
use crate::AppState;

/// What the editor's form says, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    pub id: String,
    pub title: String,
    pub request_types: Vec<String>,
    pub language: String,
    /// `YYYY-MM-DD`, as the date inputs send it.
    pub valid_from: String,
    pub valid_until: String,
    pub links: Vec<String>,
    pub body: String,
}

/// Which button sent the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// "Enregistrer le brouillon": a new version, not yet offered for validation.
    Draft,
    /// "Soumettre pour validation": a new version another supervisor validates.
    Submit,
    /// "Aperçu": nothing stored, the page again with the filled text.
    Preview,
}

/// A posted editor: the form's fields, or the raw answer file from the fold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posted {
    Form(Fields),
    File(String),
}

/// Reads the editor's form (`request_types` repeats, so the pairs come as they
/// were sent): the op, then the fields or the file.
pub fn read_form(pairs: &[(String, String)]) -> (Op, Posted) {
    let one = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.replace("\r\n", "\n"))
    };
    let op = match one("op").as_deref() {
        Some("submit") => Op::Submit,
        Some("preview") => Op::Preview,
        _ => Op::Draft,
    };
    if let Some(content) = one("content") {
        return (op, Posted::File(content));
    }
    let fields = Fields {
        id: one("id").unwrap_or_default().trim().to_string(),
        title: one("title").unwrap_or_default().trim().to_string(),
        request_types: pairs
            .iter()
            .filter(|(n, _)| n == "request_types")
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect(),
        language: one("language").unwrap_or_else(|| "fr".into()),
        valid_from: one("valid_from").unwrap_or_default().trim().to_string(),
        valid_until: one("valid_until").unwrap_or_default().trim().to_string(),
        links: one("links")
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect(),
        body: one("body").unwrap_or_default(),
    };
    (op, Posted::Form(fields))
}

/// A `YYYY-MM-DD` date, or `None`.
fn date(s: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(s.trim(), &format).ok()?;
    Some(Date::new(d.year(), u8::from(d.month()), d.day()))
}

/// The answer a stored file holds, whatever today's date (an expired answer
/// must still open in the editor); `None` for a file that does not parse.
pub fn read_file(content: &str) -> Option<StandardAnswer> {
    parse_answer(
        std::path::Path::new("answer.md"),
        content,
        None,
        Date::new(1970, 1, 1),
    )
    .ok()
}

impl Fields {
    /// The form filled from a stored answer.
    pub fn of(a: &StandardAnswer) -> Self {
        Self {
            id: a.id.clone(),
            title: a.title.clone(),
            request_types: a.request_types.clone(),
            language: a.language.clone(),
            valid_from: a.valid_from.to_string(),
            valid_until: a.valid_until.to_string(),
            links: a.links.clone(),
            body: a.body.clone(),
        }
    }

    /// The answer file for these fields as version `version`, keeping what the
    /// form does not show (author, reviewer, sources, notes) from `previous`.
    /// `Err` names the fields that cannot be written (an unreadable date).
    pub fn to_file(
        &self,
        version: u32,
        author: &str,
        previous: Option<&StandardAnswer>,
    ) -> Result<String, Vec<Detail>> {
        let mut errors = Vec::new();
        let mut day = |label: Msg, s: &str| {
            date(s).unwrap_or_else(|| {
                errors.push(Detail::about(label, s));
                Date::new(1970, 1, 1)
            })
        };
        let valid_from = day(Msg::ValidFrom, &self.valid_from);
        let valid_until = day(Msg::ValidUntil, &self.valid_until);
        if !errors.is_empty() {
            return Err(errors);
        }
        let a = StandardAnswer {
            id: self.id.clone(),
            title: self.title.clone(),
            version,
            status: FileStatus::Draft,
            request_types: self.request_types.clone(),
            valid_from,
            valid_until,
            language: self.language.clone(),
            variables: used_variables(&self.body),
            links: self.links.clone(),
            author: previous.map_or_else(|| author.to_string(), |p| p.author.clone()),
            reviewed_by: previous.map(|p| p.reviewed_by.clone()).unwrap_or_default(),
            demo: previous.is_some_and(|p| p.demo),
            sources: previous.map(|p| p.sources.clone()).unwrap_or_default(),
            notes: previous.and_then(|p| p.notes.clone()),
            body: self.body.clone(),
            path: "answer.md".into(),
        };
        Ok(write_answer(&a))
    }
}

/// The answer filled for an example citizen, through drafting's own code.
pub fn preview(a: &StandardAnswer, signature: &str) -> (String, Vec<String>) {
    let today = Date::today();
    let ctx = DraftContext {
        civilite: Some("Madame".into()),
        nom: Some("Martin".into()),
        annee: Some(today.year.to_string()),
        reference: Some(format!("{}-000123", today.year)),
        signature: Some(signature.to_string()),
        today,
        ..DraftContext::default()
    };
    let filled = fill_answer_text(a, &ctx, today);
    (filled.text.trim().to_string(), filled.unfilled)
}

/// The body's variables and what becomes of each: filled by drafting, or left
/// for the agent to complete. app.js redraws this list as the body changes.
fn variables_list(lang: Lang, body: &str) -> Markup {
    let t = |m: Msg| m.text(lang);
    html! {
        ul #answer-variables aria-live="polite"
            data-known=(KNOWN_VARIABLES.join(" "))
            data-known-label=(t(Msg::VariableFilled))
            data-unknown-label=(t(Msg::VariableForAgent))
            data-none-label=(t(Msg::VariablesNone)) {
            @let vars = used_variables(body);
            @if vars.is_empty() {
                li { (t(Msg::VariablesNone)) }
            }
            @for v in &vars {
                @let known = KNOWN_VARIABLES.contains(&v.as_str());
                li data-known=(known) {
                    code { "{{" (v) "}}" } " : "
                    (if known { t(Msg::VariableFilled) } else { t(Msg::VariableForAgent) })
                }
            }
        }
    }
}

/// The editor: `fields` in the form, the raw `file` in a fold, the errors
/// found, and the preview when one was asked for.
pub struct Editor<'a> {
    pub action: &'a str,
    pub new: bool,
    pub fields: &'a Fields,
    pub file: &'a str,
    pub errors: &'a [(usize, Detail)],
    pub preview: Option<(String, Vec<String>)>,
}

pub fn editor(st: &AppState, lang: Lang, a: &Authed, e: &Editor<'_>) -> Markup {
    let t = |m: Msg| m.text(lang);
    let f = e.fields;
    html! {
        @if !e.errors.is_empty() {
            div #answer-errors.fr-alert.fr-alert--error.fr-mb-3w role="alert" aria-labelledby="errors-h" {
                h2 #errors-h.fr-alert__title { (t(Msg::ValidationErrors)) }
                ul { @for (line, msg) in e.errors {
                    li {
                        @if *line > 0 { (t(Msg::Line)) " " (line) " : " }
                        (msg.text(lang))
                    }
                } }
            }
        }
        @if let Some((text, unfilled)) = &e.preview {
            section #answer-preview.fr-callout aria-labelledby="preview-h" {
                h2 #preview-h.fr-callout__title { (t(Msg::PreviewTitle)) }
                p.note { (t(Msg::PreviewExplained)) }
                pre.newtext { (text) }
                @if !unfilled.is_empty() {
                    p { (t(Msg::PreviewUnfilled)) " " (unfilled.join(", ")) }
                }
            }
        }
        form #answer-form method="post" action=(e.action) {
            (csrf_input(a))
            @if e.new {
                div.fr-input-group {
                    label.fr-label for="answer-id" { (t(Msg::AnswerId)) span.fr-hint-text { (t(Msg::AnswerIdHint)) } }
                    input #answer-id.fr-input type="text" name="id" value=(f.id) required pattern="[a-z0-9][a-z0-9-]*" maxlength="80";
                }
            } @else {
                input type="hidden" name="id" value=(f.id);
            }
            div.fr-input-group {
                label.fr-label for="answer-title" { (t(Msg::Title)) }
                input #answer-title.fr-input type="text" name="title" value=(f.title) required maxlength="200";
            }
            fieldset.fr-fieldset #answer-types {
                legend.fr-fieldset__legend { (t(Msg::RequestTypes)) }
                @for rt in &st.taxonomy.request_types {
                    div.fr-fieldset__element { div.fr-checkbox-group {
                        input type="checkbox" name="request_types" value=(rt.id) id={ "rt-" (rt.id) }
                            checked[f.request_types.contains(&rt.id)];
                        label.fr-label for={ "rt-" (rt.id) } { (super::queue::type_label(st, lang, &rt.id)) }
                    } }
                }
            }
            div.answer-row-fields {
                div.fr-select-group {
                    label.fr-label for="answer-language" { (t(Msg::Language)) }
                    select #answer-language.fr-select name="language" {
                        option value="fr" selected[f.language == "fr"] { "français" }
                        option value="en" selected[f.language == "en"] { "English" }
                    }
                }
                div.fr-input-group {
                    label.fr-label for="answer-from" { (t(Msg::ValidFrom)) }
                    input #answer-from.fr-input type="date" name="valid_from" value=(f.valid_from) required;
                }
                div.fr-input-group {
                    label.fr-label for="answer-until" { (t(Msg::ValidUntil)) }
                    input #answer-until.fr-input type="date" name="valid_until" value=(f.valid_until) required;
                }
            }
            div.fr-input-group {
                label.fr-label for="answer-links" { (t(Msg::AnswerLinks)) span.fr-hint-text { (t(Msg::AnswerLinksHint)) } }
                textarea #answer-links.fr-input name="links" rows="3" { (f.links.join("\n")) }
            }
            div.fr-input-group {
                label.fr-label for="answer-body" { (t(Msg::AnswerBody)) span.fr-hint-text { (t(Msg::AnswerBodyHint)) } }
                textarea #answer-body.fr-input name="body" rows="16" aria-describedby="answer-variables-h" { (f.body) }
            }
            h2 #answer-variables-h { (t(Msg::VariablesTitle)) }
            (variables_list(lang, &f.body))
            ul.fr-btns-group.fr-btns-group--inline-md {
                li { button.fr-btn.fr-btn--tertiary type="submit" name="op" value="preview" formnovalidate { (t(Msg::Preview)) } }
                li { button.fr-btn.fr-btn--secondary #save-draft type="submit" name="op" value="draft" { (t(Msg::SaveDraft)) } }
                li { button.fr-btn #submit-answer type="submit" name="op" value="submit" { (t(Msg::SubmitForValidation)) } }
            }
        }
        details #answer-file-fold {
            summary { (t(Msg::AnswerFileFold)) }
            p.note { (t(Msg::AnswerFileExplained)) }
            form #answer-file-form method="post" action=(e.action) {
                (csrf_input(a))
                label for="content" { (t(Msg::Content)) }
                textarea #content name="content" rows="24" cols="90" { (e.file) }
                ul.fr-btns-group.fr-btns-group--inline-md {
                    li { button.fr-btn.fr-btn--secondary type="submit" name="op" value="draft" { (t(Msg::SaveDraft)) } }
                    li { button.fr-btn type="submit" name="op" value="submit" { (t(Msg::SubmitForValidation)) } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn the_form_is_read_with_its_repeated_types_and_its_button() {
        let (op, posted) = read_form(&pairs(&[
            ("csrf", "x"),
            ("id", " rib "),
            ("title", "Changer de RIB"),
            ("request_types", "rib"),
            ("request_types", "prelevement"),
            ("language", "fr"),
            ("valid_from", "2025-01-01"),
            ("valid_until", "2027-12-31"),
            ("links", "https://a.example\r\n\r\n impots.gouv.fr \r\n"),
            ("body", "Bonjour {{civilite}} {{nom}},\r\nTexte."),
            ("op", "submit"),
        ]));
        assert_eq!(op, Op::Submit);
        let Posted::Form(f) = posted else {
            panic!("form")
        };
        assert_eq!(f.id, "rib");
        assert_eq!(f.request_types, ["rib", "prelevement"]);
        assert_eq!(f.links, ["https://a.example", "impots.gouv.fr"]);
        assert_eq!(f.body, "Bonjour {{civilite}} {{nom}},\nTexte.");
        let (op, posted) = read_form(&pairs(&[("content", "+++\n"), ("op", "x")]));
        assert_eq!((op, posted), (Op::Draft, Posted::File("+++\n".into())));
    }

    #[test]
    fn fields_become_a_file_the_knowledge_base_reads_back() {
        let f = Fields {
            id: "rib".into(),
            title: "Changer de RIB".into(),
            request_types: vec!["rib".into()],
            language: "fr".into(),
            valid_from: "2025-01-01".into(),
            valid_until: "2027-12-31".into(),
            links: vec!["impots.gouv.fr".into()],
            body: "Bonjour {{civilite}} {{nom}},\n\nSur impots.gouv.fr, dossier {{dossier}}.\n\n{{signature}}\n".into(),
        };
        let file = f.to_file(3, "Sylvie Marchal", None).unwrap();
        let a = read_file(&file).unwrap();
        assert_eq!((a.version, a.status), (3, FileStatus::Draft));
        assert_eq!(a.variables, ["civilite", "nom", "dossier", "signature"]);
        assert_eq!(a.author, "Sylvie Marchal");
        assert_eq!(Fields::of(&a), f);
        let (text, unfilled) = preview(&a, "Le service des impôts");
        assert!(text.starts_with("Madame,"), "{text}");
        assert!(text.ends_with("Le service des impôts"), "{text}");
        assert_eq!(unfilled, ["dossier"]);

        let bad = Fields {
            valid_until: "31/12/2027".into(),
            ..f
        };
        assert_eq!(bad.to_file(1, "x", None).unwrap_err().len(), 1);
    }
}
