//! Standard answers (réponses types): Markdown files with TOML front matter between
//! `+++` lines, their validation and template filling.
//!
//! Validation is strict because an answer goes out under the administration's name:
//! every problem is reported with the file and line and what to do, and one bad file
//! never stops the others from loading.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::links::{find_contacts, Contact};
use crate::{Date, KbError};

/// Lifecycle of an answer. Only `Validated` answers may ever be proposed in a draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerStatus {
    Draft,
    Validated,
    Retired,
}

impl AnswerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerStatus::Draft => "draft",
            AnswerStatus::Validated => "validated",
            AnswerStatus::Retired => "retired",
        }
    }
}

/// One standard answer in one language (an English variant is another value with the
/// same `id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandardAnswer {
    pub id: String,
    pub title: String,
    pub version: u32,
    pub status: AnswerStatus,
    pub request_types: Vec<String>,
    pub valid_from: Date,
    pub valid_until: Date,
    /// ISO 639-1 code as written in the file (`fr`, `en`).
    pub language: String,
    pub variables: Vec<String>,
    pub links: Vec<String>,
    pub author: String,
    pub reviewed_by: String,
    pub demo: bool,
    pub sources: Vec<String>,
    pub notes: Option<String>,
    /// The Markdown body with its `{{variable}}` markers.
    pub body: String,
    /// Where it was loaded from, for error messages and the agent's "edit this answer".
    pub path: PathBuf,
}

impl StandardAnswer {
    /// Validated and inside its validity window on `today`: the only answers a draft
    /// may use.
    pub fn is_usable(&self, today: Date) -> bool {
        self.status == AnswerStatus::Validated
            && self.valid_from <= today
            && today <= self.valid_until
    }
}

/// The request types answers may be attached to (`taxonomy.toml`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Taxonomy {
    #[serde(default, rename = "request_type")]
    pub request_types: Vec<RequestType>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestType {
    pub id: String,
    pub label: String,
    #[serde(default)]
    pub label_en: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

impl Taxonomy {
    /// A taxonomy of `(id, French label)` pairs, without English labels or
    /// descriptions (demo data, tests, examples).
    pub fn from_labels(types: &[(&str, &str)]) -> Self {
        Taxonomy {
            request_types: types
                .iter()
                .map(|(id, label)| RequestType {
                    id: (*id).into(),
                    label: (*label).into(),
                    label_en: None,
                    description: None,
                })
                .collect(),
        }
    }

    pub fn load(path: &Path) -> Result<Self, KbError> {
        let text = std::fs::read_to_string(path).map_err(|e| KbError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        Self::parse(&text).map_err(|(line, message)| KbError::Taxonomy {
            path: path.to_path_buf(),
            line,
            message,
        })
    }

    /// Parses a taxonomy; the error is (line, message).
    pub fn parse(text: &str) -> Result<Self, (usize, String)> {
        // Windows editors save UTF-8 with a byte-order mark; TOML would refuse it.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        toml::from_str::<Taxonomy>(text).map_err(|e| {
            let line = e.span().map(|s| line_of_offset(text, s.start)).unwrap_or(1);
            (line, e.message().to_string())
        })
    }

    pub fn contains(&self, id: &str) -> bool {
        self.request_types.iter().any(|r| r.id == id)
    }
}

/// What is wrong with an answer file, for the person maintaining it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnswerError {
    pub path: PathBuf,
    /// 1-based line in the file.
    pub line: usize,
    pub kind: AnswerErrorKind,
    /// What is wrong and what to do about it.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerErrorKind {
    Io,
    FrontMatter,
    MissingField,
    UndeclaredVariable,
    UnusedVariable,
    UnknownRequestType,
    Expired,
    InvalidDates,
    LinkNotWhitelisted,
    Duplicate,
}

impl fmt::Display for AnswerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
    }
}

impl std::error::Error for AnswerError {}

/// Raw front matter: every field optional so that a missing one is reported with a
/// clear message instead of serde's.
#[derive(Debug, Deserialize)]
struct RawFront {
    id: Option<String>,
    title: Option<String>,
    version: Option<i64>,
    status: Option<String>,
    request_types: Option<Vec<String>>,
    valid_from: Option<toml::value::Datetime>,
    valid_until: Option<toml::value::Datetime>,
    language: Option<String>,
    variables: Option<Vec<String>>,
    links: Option<Vec<String>>,
    author: Option<String>,
    reviewed_by: Option<String>,
    #[serde(default)]
    demo: Option<bool>,
    #[serde(default)]
    sources: Option<Vec<String>>,
    #[serde(default)]
    notes: Option<String>,
}

fn line_of_offset(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Line (1-based, within `front`) where `key = ` is written, for pointing at a field.
fn key_line(front: &str, key: &str) -> Option<usize> {
    front
        .lines()
        .position(|l| {
            let t = l.trim_start();
            t.strip_prefix(key)
                .map(|rest| rest.trim_start().starts_with('='))
                .unwrap_or(false)
        })
        .map(|i| i + 1)
}

/// Splits a file into (front matter, its first line number, body, body first line).
fn split_front_matter(text: &str) -> Option<(&str, usize, &str, usize)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    let first = lines.next()?;
    if first.trim_end() != "+++" {
        return None;
    }
    let start = first.len();
    let mut pos = start;
    for (line_no, l) in (2usize..).zip(lines) {
        if l.trim_end() == "+++" {
            let front = &text[start..pos];
            let body = &text[pos + l.len()..];
            return Some((front, 2, body, line_no + 1));
        }
        pos += l.len();
    }
    None
}

/// `{{ name }}` markers in a text with their byte offsets.
pub fn template_variables(body: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut rest = body;
    let mut base = 0;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        match after.find("}}") {
            Some(close) => {
                let name = after[..close].trim().to_string();
                out.push((base + open, name));
                let consumed = open + 2 + close + 2;
                base += consumed;
                rest = &rest[consumed..];
            }
            None => break,
        }
    }
    out
}

/// Parses and validates one answer file's text. `today` decides expiry; `taxonomy`
/// (when given) decides which request types exist. Returns every problem found, not
/// just the first, so a maintainer fixes a file in one pass.
pub fn parse_answer(
    path: &Path,
    text: &str,
    taxonomy: Option<&Taxonomy>,
    today: Date,
) -> Result<StandardAnswer, Vec<AnswerError>> {
    let err = |line: usize, kind: AnswerErrorKind, message: String| AnswerError {
        path: path.to_path_buf(),
        line,
        kind,
        message,
    };
    // A byte-order mark (Windows editors) would hide the opening `+++`.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some((front, front_line, body, body_line)) = split_front_matter(text) else {
        return Err(vec![err(
            1,
            AnswerErrorKind::FrontMatter,
            "no TOML front matter: the file must start with a `+++` line and the front matter must end with another `+++` line".into(),
        )]);
    };
    let raw: RawFront = match toml::from_str(front) {
        Ok(r) => r,
        Err(e) => {
            let line = e
                .span()
                .map(|s| front_line + line_of_offset(front, s.start) - 1)
                .unwrap_or(front_line);
            return Err(vec![err(
                line,
                AnswerErrorKind::FrontMatter,
                format!(
                    "invalid TOML front matter: {}; fix the syntax (strings in quotes, dates as 2025-01-31, lists in [ ])",
                    e.message().trim()
                ),
            )]);
        }
    };
    let fl = |key: &str| {
        key_line(front, key)
            .map(|l| front_line + l - 1)
            .unwrap_or(front_line)
    };
    let mut errors = Vec::new();
    macro_rules! required {
        ($field:ident) => {
            match raw.$field.clone() {
                Some(v) => Some(v),
                None => {
                    errors.push(err(
                        front_line,
                        AnswerErrorKind::MissingField,
                        format!(
                            "missing field `{}` in the front matter: add it",
                            stringify!($field)
                        ),
                    ));
                    None
                }
            }
        };
    }
    let id = required!(id);
    let title = required!(title);
    let version = required!(version);
    let status = required!(status);
    let request_types = required!(request_types);
    let valid_from = required!(valid_from);
    let valid_until = required!(valid_until);
    let language = required!(language);
    let variables = required!(variables);
    let links = required!(links);
    let author = required!(author);
    let reviewed_by = required!(reviewed_by);

    let status = status.and_then(|s| match s.as_str() {
        "draft" => Some(AnswerStatus::Draft),
        "validated" => Some(AnswerStatus::Validated),
        "retired" => Some(AnswerStatus::Retired),
        other => {
            errors.push(err(
                fl("status"),
                AnswerErrorKind::FrontMatter,
                format!("unknown status `{other}`: use draft, validated or retired"),
            ));
            None
        }
    });
    let mut to_date = |key: &str, d: Option<toml::value::Datetime>| -> Option<Date> {
        let d = d?;
        match d.date {
            Some(x) if d.time.is_none() => Some(Date::new(x.year as i32, x.month, x.day)),
            _ => {
                errors.push(err(
                    fl(key),
                    AnswerErrorKind::FrontMatter,
                    format!("`{key}` must be a plain date such as 2025-12-31"),
                ));
                None
            }
        }
    };
    let valid_from = to_date("valid_from", valid_from);
    let valid_until = to_date("valid_until", valid_until);
    let version = version.and_then(|v| match u32::try_from(v) {
        Ok(v) => Some(v),
        Err(_) => {
            errors.push(err(
                fl("version"),
                AnswerErrorKind::FrontMatter,
                "`version` must be a positive integer".into(),
            ));
            None
        }
    });

    if let (Some(from), Some(until)) = (valid_from, valid_until) {
        if from > until {
            errors.push(err(
                fl("valid_from"),
                AnswerErrorKind::InvalidDates,
                format!(
                    "valid_from {from} is after valid_until {until}: swap or correct the dates"
                ),
            ));
        } else if status == Some(AnswerStatus::Validated) && until < today {
            errors.push(err(
                fl("valid_until"),
                AnswerErrorKind::Expired,
                format!(
                    "answer is `validated` but expired on {until}: review it and extend valid_until, or set status = \"retired\""
                ),
            ));
        }
    }

    if let (Some(rts), Some(tax)) = (&request_types, taxonomy) {
        for rt in rts {
            if !tax.contains(rt) {
                errors.push(err(
                    fl("request_types"),
                    AnswerErrorKind::UnknownRequestType,
                    format!("request type `{rt}` is not in the taxonomy: fix the id or add it to taxonomy.toml"),
                ));
            }
        }
    }
    if let Some(rts) = &request_types {
        if rts.is_empty() {
            errors.push(err(
                fl("request_types"),
                AnswerErrorKind::MissingField,
                "`request_types` is empty: list at least one request type".into(),
            ));
        }
    }

    let used = template_variables(body);
    if let Some(vars) = &variables {
        let declared: BTreeSet<&str> = vars.iter().map(String::as_str).collect();
        let mut reported = BTreeSet::new();
        for (off, name) in &used {
            if !declared.contains(name.as_str()) && reported.insert(name.clone()) {
                errors.push(err(
                    body_line + line_of_offset(body, *off) - 1,
                    AnswerErrorKind::UndeclaredVariable,
                    format!("variable `{{{{{name}}}}}` is used but not declared: add \"{name}\" to `variables` or remove it from the text"),
                ));
            }
        }
        let used_names: BTreeSet<&str> = used.iter().map(|(_, n)| n.as_str()).collect();
        for v in vars {
            if !used_names.contains(v.as_str()) {
                errors.push(err(
                    fl("variables"),
                    AnswerErrorKind::UnusedVariable,
                    format!("variable `{v}` is declared but never used in the text: remove it from `variables` or use {{{{{v}}}}}"),
                ));
            }
        }
    }

    if let Some(links) = &links {
        for c in find_contacts(body) {
            if !contact_allowed(&c, links) {
                errors.push(err(
                    body_line + line_of_offset(body, c.start) - 1,
                    AnswerErrorKind::LinkNotWhitelisted,
                    format!(
                        "{} `{}` is not in `links`: add it to the whitelist after checking it, or remove it",
                        c.kind.label(),
                        c.text
                    ),
                ));
            }
        }
    }

    if !errors.is_empty() {
        return Err(errors);
    }
    // Every required field is Some here: any None pushed an error above.
    match (
        id,
        title,
        version,
        status,
        request_types,
        valid_from,
        valid_until,
        language,
        variables,
        links,
        author,
        reviewed_by,
    ) {
        (
            Some(id),
            Some(title),
            Some(version),
            Some(status),
            Some(request_types),
            Some(valid_from),
            Some(valid_until),
            Some(language),
            Some(variables),
            Some(links),
            Some(author),
            Some(reviewed_by),
        ) => Ok(StandardAnswer {
            id,
            title,
            version,
            status,
            request_types,
            valid_from,
            valid_until,
            language: language.to_ascii_lowercase(),
            variables,
            links,
            author,
            reviewed_by,
            demo: raw.demo.unwrap_or(false),
            sources: raw.sources.unwrap_or_default(),
            notes: raw.notes,
            body: body.to_string(),
            path: path.to_path_buf(),
        }),
        _ => Err(vec![err(
            front_line,
            AnswerErrorKind::MissingField,
            "incomplete front matter".into(),
        )]),
    }
}

/// Re-validates an already parsed answer (e.g. one loaded from the index) against a
/// taxonomy and a date.
pub fn validate(
    answer: &StandardAnswer,
    taxonomy: Option<&Taxonomy>,
    today: Date,
) -> Result<(), Vec<AnswerError>> {
    let text = std::fs::read_to_string(&answer.path).map_err(|e| {
        vec![AnswerError {
            path: answer.path.clone(),
            line: 1,
            kind: AnswerErrorKind::Io,
            message: format!("cannot read the file: {e}"),
        }]
    })?;
    parse_answer(&answer.path, &text, taxonomy, today).map(|_| ())
}

/// Loads every `*.md` file under `dir` (recursively, sorted). Returns the good
/// answers and the errors; a duplicate (id, language) keeps the first file.
pub fn load_dir(
    dir: &Path,
    taxonomy: Option<&Taxonomy>,
    today: Date,
) -> Result<(Vec<StandardAnswer>, Vec<AnswerError>), KbError> {
    let mut files = Vec::new();
    collect_md(dir, &mut files).map_err(|e| KbError::Io {
        path: dir.to_path_buf(),
        source: e,
    })?;
    files.sort();
    let mut answers: Vec<StandardAnswer> = Vec::new();
    let mut errors = Vec::new();
    let mut seen: BTreeMap<(String, String), PathBuf> = BTreeMap::new();
    for f in files {
        let text = match std::fs::read_to_string(&f) {
            Ok(t) => t,
            Err(e) => {
                errors.push(AnswerError {
                    path: f.clone(),
                    line: 1,
                    kind: AnswerErrorKind::Io,
                    message: format!("cannot read the file (is it UTF-8?): {e}"),
                });
                continue;
            }
        };
        match parse_answer(&f, &text, taxonomy, today) {
            Ok(a) => {
                let key = (a.id.clone(), a.language.clone());
                if let Some(first) = seen.get(&key) {
                    errors.push(AnswerError {
                        path: f.clone(),
                        line: 1,
                        kind: AnswerErrorKind::Duplicate,
                        message: format!(
                            "answer `{}` in language `{}` is already defined in {}: give it another id or language",
                            a.id,
                            a.language,
                            first.display()
                        ),
                    });
                } else {
                    seen.insert(key, f.clone());
                    answers.push(a);
                }
            }
            Err(es) => errors.extend(es),
        }
    }
    Ok((answers, errors))
}

fn collect_md(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let p = entry.path();
        let ft = entry.file_type()?;
        // A folder's README.md documents the folder (as answers/README.md does);
        // it is not an answer, so neither `kb check` nor `kb import` reads it.
        let readme = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.eq_ignore_ascii_case("readme.md"));
        if ft.is_dir() {
            collect_md(&p, out)?;
        } else if p.extension().and_then(|e| e.to_str()) == Some("md") && !readme {
            out.push(p);
        }
    }
    Ok(())
}

/// Whether a URL, phone number or e-mail found in a text is on the answer's list.
pub(crate) fn contact_allowed(c: &Contact, links: &[String]) -> bool {
    links.iter().any(|l| c.matches(l))
}

/// Visible marker for a value the agent must complete: never an invented value. The
/// format lives in `facteur_core::reply`, which also refuses to queue a reply that
/// still contains one.
pub fn missing_marker(name: &str) -> String {
    facteur_core::reply::missing_marker(name)
}

/// Result of filling a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filled {
    pub text: String,
    /// Variables left as markers, in order of first appearance.
    pub unfilled: Vec<String>,
}

/// Fills `{{var}}` markers in one pass (a value containing `{{x}}` is never expanded
/// again), then removes any URL, phone number or e-mail not in `links`, since a value
/// could smuggle one in. A `nom` missing while `civilite` is known is dropped so the
/// greeting reads "Bonjour Madame," rather than showing a marker mid-greeting.
pub fn fill_template(body: &str, values: &BTreeMap<String, String>, links: &[String]) -> Filled {
    fill_template_with(body, values, &BTreeMap::new(), links)
}

/// [`fill_template`] with `trusted` values the service wrote itself (the mailbox
/// signature an administrator configured): unlike values read from a citizen's mail,
/// they keep their line breaks (a signature is a block of lines) and their own contact
/// points (the service's address or phone, which no answer lists in `links`). Their
/// contact points are allowed only as written in them: a citizen's value still loses
/// any other one.
pub fn fill_template_with(
    body: &str,
    values: &BTreeMap<String, String>,
    trusted: &BTreeMap<String, String>,
    links: &[String],
) -> Filled {
    let block = |v: &str| -> String {
        let v = v.replace("{{", "").replace("}}", "").replace("\r\n", "\n");
        let lines: Vec<&str> = v.split(['\n', '\r']).map(str::trim_end).collect();
        lines.join("\n").trim().to_string()
    };
    let mut allowed: Vec<String> = links.to_vec();
    for v in trusted.values() {
        allowed.extend(find_contacts(&block(v)).into_iter().map(|c| c.text));
    }
    let clean = |v: &str| -> String {
        // Values are single-line and may not reopen a template marker.
        v.replace("{{", "")
            .replace("}}", "")
            .replace(['\n', '\r'], " ")
            .trim()
            .to_string()
    };
    let has = |k: &str| values.get(k).map(|v| !clean(v).is_empty()).unwrap_or(false);
    let drop_nom = has("civilite") && !has("nom");
    let mut out = String::with_capacity(body.len() + 64);
    let mut unfilled: Vec<String> = Vec::new();
    let mut rest = body;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            break;
        };
        out.push_str(&rest[..open]);
        let name = after[..close].trim();
        let value = match trusted.get(name) {
            Some(v) => Some(block(v)),
            None => values.get(name).map(|v| clean(v)),
        };
        match value.filter(|v| !v.is_empty()) {
            Some(v) => out.push_str(&v),
            None if name == "nom" && drop_nom => {
                // Remove the space we would leave before the punctuation.
                while out.ends_with(' ') {
                    out.pop();
                }
            }
            None => {
                out.push_str(&missing_marker(name));
                if !unfilled.iter().any(|u| u == name) {
                    unfilled.push(name.to_string());
                }
            }
        }
        rest = &after[close + 2..];
    }
    // Any unterminated `{{` is dropped rather than leaked.
    out.push_str(&rest.replace("{{", ""));
    let text = crate::links::strip_unlisted(&out, &allowed);
    Filled { text, unfilled }
}

/// The variables drafting knows how to fill (`draft.rs`); any other `{{name}}`
/// stays a marker the agent must complete before sending.
pub const KNOWN_VARIABLES: &[&str] = &[
    "civilite",
    "nom",
    "annee",
    "reference",
    "signature",
    "date_du_jour",
    "formule_appel",
];

/// The variables a body uses, each once, in order of first use: what the file's
/// `variables` list must say, so an editor never asks a person to keep it in step.
pub fn used_variables(body: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    template_variables(body)
        .into_iter()
        .map(|(_, name)| name)
        .filter(|name| seen.insert(name.clone()))
        .collect()
}

/// Writes `a` in the answer-file format that `parse_answer` reads and `kb import`
/// imports (TOML front matter between `+++` lines, then the body). The web editor
/// turns its form into this text, so the files stay the one format for import,
/// export and review; `variables` is always what the body uses.
pub fn write_answer(a: &StandardAnswer) -> String {
    #[derive(Serialize)]
    struct Front<'a> {
        id: &'a str,
        title: &'a str,
        version: u32,
        status: &'a str,
        request_types: &'a [String],
        valid_from: toml::value::Datetime,
        valid_until: toml::value::Datetime,
        language: &'a str,
        variables: Vec<String>,
        links: &'a [String],
        author: &'a str,
        reviewed_by: &'a str,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        demo: bool,
        #[serde(skip_serializing_if = "<[String]>::is_empty")]
        sources: &'a [String],
        #[serde(skip_serializing_if = "Option::is_none")]
        notes: Option<&'a str>,
    }
    let date = |d: Date| toml::value::Datetime {
        date: Some(toml::value::Date {
            year: u16::try_from(d.year).unwrap_or(0),
            month: d.month,
            day: d.day,
        }),
        time: None,
        offset: None,
    };
    let front = Front {
        id: &a.id,
        title: &a.title,
        version: a.version,
        status: a.status.as_str(),
        request_types: &a.request_types,
        valid_from: date(a.valid_from),
        valid_until: date(a.valid_until),
        language: &a.language,
        variables: used_variables(&a.body),
        links: &a.links,
        author: &a.author,
        reviewed_by: &a.reviewed_by,
        demo: a.demo,
        sources: &a.sources,
        notes: a.notes.as_deref(),
    };
    // Serialising plain strings, numbers, dates and lists of strings cannot fail.
    let toml = toml::to_string(&front).unwrap_or_default();
    let body = a.body.replace("\r\n", "\n");
    format!("+++\n{toml}+++\n{}", body.trim_start_matches('\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> Date {
        Date::new(2025, 6, 1)
    }

    fn tax() -> Taxonomy {
        Taxonomy::parse(
            "[[request_type]]\nid = \"coordonnees-bancaires\"\nlabel = \"RIB\"\n\n[[request_type]]\nid = \"avis-imposition\"\nlabel = \"Avis\"\n",
        )
        .unwrap()
    }

    const GOOD: &str = "+++\nid = \"coordonnees-bancaires\"\ntitle = \"Modifier le RIB\"\nversion = 1\nstatus = \"validated\"\nrequest_types = [\"coordonnees-bancaires\"]\nvalid_from = 2020-11-01\nvalid_until = 2027-12-31\nlanguage = \"fr\"\nvariables = [\"civilite\", \"nom\", \"signature\"]\nlinks = [\"https://www.impots.gouv.fr\", \"0 809 401 401\"]\nauthor = \"A\"\nreviewed_by = \"B\"\n+++\nBonjour {{civilite}} {{nom}},\nRendez-vous sur https://www.impots.gouv.fr ou appelez le 0 809 401 401.\n{{signature}}\n";

    fn parse(text: &str) -> Result<StandardAnswer, Vec<AnswerError>> {
        parse_answer(Path::new("a/x.md"), text, Some(&tax()), today())
    }

    fn one_error(text: &str) -> AnswerError {
        let mut e = parse(text).expect_err("must be rejected");
        assert_eq!(e.len(), 1, "{e:?}");
        e.remove(0)
    }

    #[test]
    fn good_answer_parses() {
        let a = parse(GOOD).unwrap();
        assert_eq!(a.id, "coordonnees-bancaires");
        assert_eq!(a.status, AnswerStatus::Validated);
        assert_eq!(a.valid_until, Date::new(2027, 12, 31));
        assert!(a.body.starts_with("Bonjour {{civilite}}"));
        assert!(a.is_usable(today()));
        assert!(!a.is_usable(Date::new(2028, 1, 1)));
    }

    #[test]
    fn a_byte_order_mark_is_ignored() {
        // As saved by Windows editors: same answer, same line numbers.
        let a = parse(&format!("\u{feff}{GOOD}")).unwrap();
        assert_eq!(a.id, "coordonnees-bancaires");
        let e = one_error(&format!(
            "\u{feff}{}",
            GOOD.replace("version = 1", "version = = 1")
        ));
        assert_eq!(
            e.line,
            one_error(&GOOD.replace("version = 1", "version = = 1")).line
        );
        let t = Taxonomy::parse("\u{feff}[[request_type]]\nid = \"rib\"\nlabel = \"RIB\"\n")
            .expect("taxonomy with a BOM");
        assert_eq!(t.request_types[0].id, "rib");
    }

    #[test]
    fn bad_toml_reports_its_line() {
        let e = one_error(&GOOD.replace("version = 1", "version = = 1"));
        assert_eq!(e.kind, AnswerErrorKind::FrontMatter);
        assert_eq!(e.line, 4);
        assert!(e.to_string().starts_with("a/x.md:4: "), "{e}");
    }

    #[test]
    fn no_front_matter_is_rejected() {
        let e = one_error("Bonjour,\n");
        assert_eq!((e.kind, e.line), (AnswerErrorKind::FrontMatter, 1));
    }

    #[test]
    fn missing_field_is_named() {
        let e = one_error(&GOOD.replace("reviewed_by = \"B\"\n", ""));
        assert_eq!(e.kind, AnswerErrorKind::MissingField);
        assert_eq!(e.line, 2);
        assert!(e.message.contains("reviewed_by"));
    }

    #[test]
    fn undeclared_variable_points_at_body_line() {
        let e = one_error(&GOOD.replace("{{signature}}\n", "{{signature}} {{reference}}\n"));
        assert_eq!(e.kind, AnswerErrorKind::UndeclaredVariable);
        assert_eq!(e.line, 17);
        assert!(e.message.contains("reference"));
    }

    #[test]
    fn unused_variable_points_at_declaration() {
        let e = one_error(&GOOD.replace("\"signature\"]", "\"signature\", \"annee\"]"));
        assert_eq!(e.kind, AnswerErrorKind::UnusedVariable);
        assert_eq!(e.line, 10);
        assert!(e.message.contains("annee"));
    }

    #[test]
    fn unknown_request_type() {
        let e = one_error(&GOOD.replace(
            "request_types = [\"coordonnees-bancaires\"]",
            "request_types = [\"inconnu\"]",
        ));
        assert_eq!((e.kind, e.line), (AnswerErrorKind::UnknownRequestType, 6));
    }

    #[test]
    fn expired_validated_answer_and_inverted_dates() {
        let e = one_error(&GOOD.replace("2027-12-31", "2024-12-31"));
        assert_eq!((e.kind, e.line), (AnswerErrorKind::Expired, 8));
        // A retired answer may be expired.
        assert!(parse(
            &GOOD
                .replace("2027-12-31", "2024-12-31")
                .replace("\"validated\"", "\"retired\"")
        )
        .is_ok());
        let e = one_error(&GOOD.replace("2020-11-01", "2028-01-01"));
        assert_eq!((e.kind, e.line), (AnswerErrorKind::InvalidDates, 7));
    }

    #[test]
    fn links_outside_whitelist_are_rejected_with_line() {
        let text = GOOD.replace(
            "{{signature}}\n",
            "Écrivez à contact@example.org ou http://phishing.example/x.\n{{signature}}\n",
        );
        let e = parse(&text).expect_err("rejected");
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e
            .iter()
            .all(|x| x.kind == AnswerErrorKind::LinkNotWhitelisted && x.line == 17));
        let e = one_error(&GOOD.replace("0 809 401 401.", "01 23 45 67 89."));
        assert_eq!((e.kind, e.line), (AnswerErrorKind::LinkNotWhitelisted, 16));
    }

    #[test]
    fn fill_replaces_and_marks_missing() {
        let mut v = BTreeMap::new();
        v.insert("civilite".to_string(), "Madame".to_string());
        v.insert("nom".to_string(), "Durand".to_string());
        let f = fill_template("Bonjour {{civilite}} {{nom}},\n{{signature}}", &v, &[]);
        assert_eq!(
            f.text,
            "Bonjour Madame Durand,\n[[à compléter : signature]]"
        );
        assert_eq!(f.unfilled, vec!["signature".to_string()]);
    }

    #[test]
    fn civilite_without_name_reads_cleanly() {
        let mut v = BTreeMap::new();
        v.insert("civilite".to_string(), "Madame".to_string());
        let f = fill_template("Bonjour {{civilite}} {{nom}},\nMerci.", &v, &[]);
        assert_eq!(f.text, "Bonjour Madame,\nMerci.");
        assert!(f.unfilled.is_empty());
    }

    #[test]
    fn values_cannot_inject_markers_or_links() {
        let mut v = BTreeMap::new();
        v.insert(
            "nom".to_string(),
            "{{signature}} voir https://evil.example/pay".to_string(),
        );
        let f = fill_template(
            "Bonjour {{nom}}, voir https://www.impots.gouv.fr.",
            &v,
            &["https://www.impots.gouv.fr".to_string()],
        );
        assert!(!f.text.contains("{{"), "{}", f.text);
        assert!(!f.text.contains("evil"), "{}", f.text);
        assert!(f.text.contains("https://www.impots.gouv.fr"));
    }

    #[test]
    fn template_variables_finds_markers() {
        let v = template_variables("a {{ x }} b {{y}} {{unterminated");
        assert_eq!(
            v.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>(),
            ["x", "y"]
        );
    }

    #[test]
    fn a_written_answer_reads_back_the_same_with_its_variables_from_the_body() {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../answers/demo/delais-paiement.md"),
        )
        .unwrap();
        let today = Date::new(2025, 1, 1);
        let a = parse_answer(Path::new("a.md"), &text, None, today).unwrap();
        let written = write_answer(&a);
        let back = parse_answer(Path::new("a.md"), &written, None, today).unwrap();
        assert_eq!(
            StandardAnswer {
                path: a.path.clone(),
                ..back
            },
            a,
            "{written}"
        );
        assert!(
            written.starts_with("+++\nid = \"delais-paiement\"\n"),
            "{written}"
        );
        assert!(written.contains("valid_from = 2020-11-01\n"), "{written}");

        // The variables list follows the body, whatever was declared.
        let edited = StandardAnswer {
            body: "Bonjour {{civilite}} {{nom}},\n\nVotre dossier {{reference}} ({{nom}}).\n"
                .into(),
            links: vec![],
            ..a
        };
        let back = parse_answer(Path::new("a.md"), &write_answer(&edited), None, today).unwrap();
        assert_eq!(back.variables, ["civilite", "nom", "reference"]);
        assert_eq!(
            used_variables(&edited.body),
            ["civilite", "nom", "reference"]
        );
    }
}
