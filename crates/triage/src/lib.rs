//! The triage pipeline for one message, shared by the CLI, the connectors and the web
//! app so that a message is understood the same way whichever door it came through:
//!
//! raw bytes → parse (mail) → clean and read (text) → protect (privacy) → classify →
//! retrieve and draft (kb) → route (core policy).
//!
//! The engine is built once (compiled regexes, loaded model, opened index) and is
//! `Sync`, so callers may triage messages from several threads.

use facteur_classify::Model;
use facteur_core::{
    route_mail, AttachmentText, Automatic, AutomaticSignal, Candidate, Defect, Language,
    ParsedMail, PiiKind, PiiSpan, Prediction, Route, RoutingPolicy, ScoredLabel, Segment,
};
use facteur_kb::{DraftContext, DraftOutcome, Hit, KnowledgeBase, SearchOptions};
use facteur_privacy::Detector;
use facteur_text::{Correspondent, Fields, Flag};
use serde::Serialize;

/// How many request types are offered when the model does not draft: on a
/// hidden set of tax-office mail the right type was among the first three for
/// 95 % of them.
pub const CANDIDATES: usize = 3;

/// The draft prepared for the agent, never sent without a human validation.
#[derive(Debug, Clone, Serialize)]
pub struct DraftOut {
    pub answer_id: String,
    pub answer_version: u32,
    pub language: String,
    /// True when no variant exists in the correspondent's language and the draft is
    /// in French: the agent must know before sending.
    pub language_fallback: bool,
    pub text: String,
    /// Variables left as visible `[[à compléter : …]]` markers.
    pub unfilled: Vec<String>,
}

/// Everything Facteur understood about one message. This is the `triage --json` line.
#[derive(Debug, Clone, Serialize)]
pub struct Triaged {
    /// Where the message came from (file path, `path#n` inside an mbox, `-` for stdin).
    pub origin: String,
    pub message_id: String,
    pub subject: String,
    /// The subject with personal data replaced by placeholders, as the body is:
    /// what pages show before a reveal (stored, so the queue needs no detector).
    pub subject_pseudonymised: String,
    /// Who wrote, in clear, for the store to keep as keyed hashes only (see
    /// [`citizen_ids`]). Never printed: `--json` output leaves it out.
    #[serde(skip)]
    pub citizen_ids: Vec<String>,
    pub from: String,
    pub date: Option<String>,
    pub language: String,
    /// The cleaned new text: what the classifier read.
    pub body: String,
    /// The same with personal data replaced by placeholders: what logs and agents
    /// see before an audited reveal.
    pub body_pseudonymised: String,
    /// Exactly what the classifier read: [`classify_text`] of the subject and the
    /// new text, personal data removed. The store keeps it with the message, and
    /// training from agents' feedback uses it, so a corrected message teaches the
    /// model the very text the model reads live (subject included, no personal
    /// data).
    pub classify_text: String,
    pub segments: Vec<Segment>,
    pub category: Option<String>,
    pub confidence: f32,
    pub abstained: bool,
    pub top: Vec<ScoredLabel>,
    pub pii: Vec<PiiKind>,
    pub flags: Vec<Flag>,
    pub fields: Fields,
    pub correspondent: Correspondent,
    pub defects: Vec<Defect>,
    pub attachments: usize,
    /// The text read from the attachments, masked (empty when attachment
    /// reading is off or there is nothing to read).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachment_texts: Vec<AttachmentText>,
    pub route: Route,
    /// Set when a machine wrote the mail (auto-reply, bounce): route
    /// [`Route::Automatic`], never a draft.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automatic: Option<Automatic>,
    /// The new text only thanks or closes the exchange: no draft, and the agent
    /// is offered "clore sans réponse" (close without reply).
    pub thanks_only: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    /// The knowledge-base documents that matched, with the passages that show why.
    pub passages: Vec<Hit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub draft: Option<DraftOut>,
    /// Without a draft: the most probable request types and the answer each
    /// would draft from, for the agent to choose.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<Candidate>,
    /// Why there is no draft, when there is none and a knowledge base was consulted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_draft_reason: Option<String>,
}

/// The value a mail gives when it gives exactly one: with two ("revenus 2023 … et
/// 2022", two references) choosing is the agent's call, so the draft shows a marker.
fn only<T>(values: &[T]) -> Option<&T> {
    match values {
        [one] => Some(one),
        _ => None,
    }
}

/// The year `{{annee}}` stands for. Every answer uses it as the income year ("vos
/// revenus de {{annee}}", "les dons versés en {{annee}}"), while a mail's years are
/// often tax or campaign years: "ma déclaration 2024", "mon avis d'impôt 2024" are
/// about 2023 income. So the draft takes a year only when the new text names one
/// year, and names it as income; anything else is left to the agent rather than
/// guessed or shifted.
fn income_year(body: &str, fields: &Fields) -> Option<String> {
    let year = only(&fields.tax_years)?;
    let folded = facteur_text::fold(body);
    let as_income = [
        "revenus",
        "revenus de",
        "revenus de l'annee",
        "revenus percus en",
        "revenus en",
        "income for",
        "income of",
        "income in",
    ]
    .iter()
    .any(|p| {
        folded.match_indices(&format!("{p} {year}")).any(|(i, m)| {
            // "revenus 2023" but not "revenus 20231" nor "nouveaux revenus" mid-word.
            let before = folded[..i].chars().next_back();
            let after = folded[i + m.len()..].chars().next();
            !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
        })
    });
    as_income.then(|| year.to_string())
}

/// The identifiers that say "the same citizen again": the sender's address
/// (trimmed, lower-cased: mail systems ignore case in practice) and every fiscal
/// number of the right shape quoted in `text` (found by the detector, so a
/// number that is not one is not an identifier). Spaces inside a number do not
/// matter. Deduplicated, in a stable order.
pub fn citizen_ids(from_address: Option<&str>, text: &str, spans: &[PiiSpan]) -> Vec<String> {
    let mut ids = Vec::new();
    if let Some(a) = from_address.map(|a| a.trim().to_lowercase()) {
        if a.contains('@') {
            ids.push(format!("address:{a}"));
        }
    }
    for s in spans.iter().filter(|s| s.kind == PiiKind::FiscalNumber) {
        let Some(v) = text.get(s.start..s.end) else {
            continue;
        };
        let digits: String = v.chars().filter(|c| c.is_ascii_digit()).collect();
        if facteur_privacy::is_valid_fiscal_number(&digits) {
            ids.push(format!("fiscal:{digits}"));
        }
    }
    ids.sort();
    ids.dedup();
    ids
}

/// The text the classifier reads for a message: the subject, a line break, the
/// new text (just the new text when there is no subject), both with their
/// personal data removed by [`without_personal_data`].
///
/// Why without personal data: this text is stored with the message and becomes a
/// training example when an agent validates or corrects the category, and
/// training data must hold no personal data (the raw mail never enters it). If
/// the live model read the raw text instead, a message would be one input at
/// serving and another in training. A request type never depends on whose the
/// number or the name is.
///
/// Why the subject: it often carries the request on its own ("Demande de délai
/// de paiement"), live and in training alike. It is left out when it says nothing
/// of the request ("Question", "Demande de renseignement"), and the body loses its
/// framing clauses ("Je me permets de vous écrire car…"), which dilute what the
/// classifier reads ([`facteur_text::without_framing`]). A subject that repeats
/// the body's first words stays: on the train-only selection set, leaving it out
/// changed top-1 and coverage by a few items either way.
pub fn classify_text(subject_without_pii: &str, body_without_pii: &str) -> String {
    let body = facteur_text::without_framing(body_without_pii);
    if subject_without_pii.trim().is_empty() || facteur_text::frames_only(subject_without_pii) {
        body
    } else {
        format!("{subject_without_pii}\n{body}")
    }
}

/// How much of a message's text triage reads (cleaning, personal data,
/// classification, drafting). 64 KiB is some 30 pages of mail text, far above any
/// request; the bound keeps triage of a message at the 25 MB size cap under a
/// second of CPU. See `analysed_part`.
pub const MAX_ANALYSED_BYTES: usize = 64 * 1024;

/// The first [`MAX_ANALYSED_BYTES`] of `text` (cut at a line end when there is
/// one in the last 4 KiB, else at a character boundary), and how many bytes were
/// left out.
fn analysed_part(text: &str) -> (&str, usize) {
    if text.len() <= MAX_ANALYSED_BYTES {
        return (text, 0);
    }
    let mut end = MAX_ANALYSED_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    if let Some(nl) = text[end.saturating_sub(4096)..end].rfind('\n') {
        end = end.saturating_sub(4096) + nl + 1;
    }
    (&text[..end], text.len() - end)
}

/// `text` with each detected value (`spans`, as the detector returns them: sorted,
/// disjoint, on char boundaries) replaced by a space rather than by its
/// placeholder. The classifier folds `[NUMERO_FISCAL_1]` into the words "numero
/// fiscal 1": "Mon numéro fiscal : [NUMERO_FISCAL_1]" would say "numéro fiscal"
/// twice, and "[NOM_1]" would read as the word "nom". Measured through the
/// pipeline on held-out demo mail, placeholders pulled messages quoting their
/// fiscal number towards "première déclaration" (top-1 accuracy 0.902 → 0.886);
/// removing the values leaves the words around them, as in the raw-text examples
/// a base model is trained on, where a number or a name is an unseen token.
pub fn without_personal_data(text: &str, spans: &[PiiSpan]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for s in spans {
        // Spans come from the detector for this very text; stay panic-free anyway.
        if s.start < last || s.end > text.len() || s.start > s.end {
            continue;
        }
        if let (Some(before), true) = (text.get(last..s.start), text.is_char_boundary(s.end)) {
            out.push_str(before);
            out.push(' ');
            last = s.end;
        }
    }
    out.push_str(text.get(last..).unwrap_or_default());
    out
}

/// Per-message settings that override the engine's defaults.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// The signature of the mailbox the message arrived in.
    pub signature: Option<String>,
    /// A category chosen by an agent: no prediction, the draft follows it.
    pub category: Option<String>,
    /// A standard answer chosen by an agent (a search result, a candidate): the
    /// draft is built from it, filled from the message as any draft.
    pub answer: Option<String>,
}

/// How deep the pipeline goes for each message.
#[derive(Debug, Clone)]
pub struct TriageOptions {
    pub policy: RoutingPolicy,
    /// How many knowledge-base passages to attach.
    pub passages: usize,
    /// Compute highlighted snippets (costly; the agent UI wants them, bulk triage not).
    pub snippets: bool,
    /// Prepare a draft when a knowledge base is present.
    pub draft: bool,
    /// The signature of the mailbox, used to fill `{{signature}}`.
    pub signature: Option<String>,
    /// Read the text of PDF and image attachments (`[attachments]`); `None`:
    /// attachments stay metadata.
    pub attachments: Option<facteur_extract::ExtractConfig>,
}

impl Default for TriageOptions {
    fn default() -> Self {
        Self {
            policy: RoutingPolicy::default(),
            passages: 3,
            snippets: false,
            draft: true,
            signature: None,
            attachments: None,
        }
    }
}

/// The loaded pipeline. Each stage is optional past cleaning: without a model the
/// message is not classified (and the route is `Abstain`), without a knowledge base
/// nothing is retrieved.
pub struct Engine {
    detector: Detector,
    /// Shared, so an engine rebuilt around a refreshed knowledge base
    /// ([`Engine::with_kb`]) does not reload nor copy the model.
    model: Option<std::sync::Arc<Model>>,
    kb: Option<KnowledgeBase>,
    /// Embeds messages for a model with an embedding view when there is no knowledge
    /// base to do it (a knowledge base's embedder is preferred: it caches the vector
    /// for the searches that follow).
    embedder: Option<std::sync::Arc<dyn facteur_embed::Embedder>>,
    pub options: TriageOptions,
}

impl Engine {
    pub fn new(model: Option<Model>, kb: Option<KnowledgeBase>, options: TriageOptions) -> Self {
        Self {
            detector: Detector::new(),
            model: model.map(std::sync::Arc::new),
            kb,
            embedder: None,
            options,
        }
    }

    /// The embedder a model with an embedding view reads messages with, when the
    /// engine has no knowledge base carrying one.
    pub fn with_embedder(mut self, e: Option<std::sync::Arc<dyn facteur_embed::Embedder>>) -> Self {
        self.embedder = e;
        self
    }

    /// The message's embedding as a query: through the knowledge base (cached for
    /// its searches), else through the engine's own embedder.
    fn message_vector(&self, text: &str) -> Option<facteur_embed::Embedding> {
        if let Some(kb) = self.kb.as_ref().filter(|k| k.embedder().is_some()) {
            return kb.embed_query(text);
        }
        let e = self.embedder.as_ref()?;
        match e.embed(&[text], facteur_embed::Kind::Query) {
            Ok(v) => v.into_iter().next(),
            Err(err) => {
                tracing::warn!(error = %err, "message embedding failed; the model abstains");
                None
            }
        }
    }

    /// The same engine (model, options) around another knowledge base: what a
    /// node swaps in when the standard answers changed, while messages being
    /// triaged finish with the engine they started with.
    pub fn with_kb(&self, kb: Option<KnowledgeBase>) -> Self {
        Self {
            detector: self.detector,
            model: self.model.clone(),
            kb,
            embedder: self.embedder.clone(),
            options: self.options.clone(),
        }
    }

    pub fn model(&self) -> Option<&Model> {
        self.model.as_deref()
    }

    pub fn kb(&self) -> Option<&KnowledgeBase> {
        self.kb.as_ref()
    }

    /// Triage raw bytes. Never fails: a malformed message is triaged as well as it can
    /// be and its defects are reported.
    /// A message above [`facteur_mail::DEFAULT_MAX_MESSAGE_BYTES`] is triaged from
    /// its header only, with an `oversized` defect, as IMAP sync stores it.
    pub fn triage_raw(&self, origin: &str, raw: &[u8]) -> Triaged {
        let mut parsed =
            facteur_mail::parse_message_capped(raw, facteur_mail::DEFAULT_MAX_MESSAGE_BYTES);
        parsed.attachment_texts = self.read_attachments(raw, &parsed);
        self.triage_parsed(origin, &parsed)
    }

    /// What the classifier reads of a mail whose body is `body` and which has no
    /// subject: the body cleaned, without personal data and framing clauses, as
    /// triage gives it. Labelled mail a threshold is calibrated on must be read as
    /// live mail is, or the threshold holds for other texts.
    pub fn classifier_text_of_body(&self, body: &str) -> String {
        let raw = format!(
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}"
        );
        let parsed = facteur_mail::parse_message_capped(
            raw.as_bytes(),
            facteur_mail::DEFAULT_MAX_MESSAGE_BYTES,
        );
        self.triage_parsed("calibration", &parsed).classify_text
    }

    /// Whether this engine reads attachments, and `parsed` has one it can read.
    pub fn reads_attachments_of(&self, parsed: &ParsedMail) -> bool {
        self.options.attachments.is_some()
            && facteur_extract::readable(&parsed.attachments)
                .next()
                .is_some()
    }

    /// The text of `parsed`'s PDF and image attachments, read from the raw mail
    /// `raw` within the configured time budget for the whole message (nothing
    /// when attachment reading is off). The tools run in bounded child
    /// processes: a hostile file costs at most the budget.
    pub fn read_attachments(&self, raw: &[u8], parsed: &ParsedMail) -> Vec<AttachmentText> {
        let Some(cfg) = &self.options.attachments else {
            return Vec::new();
        };
        let deadline = std::time::Instant::now() + cfg.budget;
        let readable: Vec<_> = facteur_extract::readable(&parsed.attachments).collect();
        // Every file decoded from one parse of the raw mail, under the message's
        // own size cap as parsing used (not the file cap: a 22 MB mail holding a
        // 1 MB PDF is read); `extract` refuses a file above the file cap.
        let wanted: Vec<&str> = readable.iter().map(|(m, _)| m.sha256.as_str()).collect();
        let contents = facteur_mail::attachments_by_sha256(
            raw,
            &wanted,
            facteur_mail::DEFAULT_MAX_MESSAGE_BYTES,
        );
        readable
            .into_iter()
            .zip(contents)
            .filter_map(|((meta, kind), bytes)| {
                Some(facteur_extract::extract(
                    &bytes?,
                    kind,
                    meta.filename.as_deref(),
                    &meta.content_type,
                    cfg,
                    deadline,
                ))
            })
            .collect()
    }

    pub fn triage_parsed(&self, origin: &str, parsed: &ParsedMail) -> Triaged {
        self.triage_with(origin, parsed, &Overrides::default())
    }

    /// Triage with per-message settings: the mailbox's signature, or a category an
    /// agent chose (the draft then follows the agent, not the model).
    pub fn triage_with(&self, origin: &str, parsed: &ParsedMail, over: &Overrides) -> Triaged {
        // Bound the work per message: a 25 MB mail of personal-data-like text cost
        // about a minute of CPU here. A request is stated in its first pages; what
        // follows is read by no one before the audited reveal of the original.
        let (text, cut) = analysed_part(&parsed.body_text);
        let cut_parsed;
        let parsed = if cut > 0 {
            let mut p = parsed.clone();
            p.body_text = text.to_string();
            p.defects.push(Defect::new(
                facteur_core::DefectKind::Oversized,
                format!(
                    "text longer than {MAX_ANALYSED_BYTES} bytes: triage read the first {} and masked only those; the {cut} bytes after them are in the original only",
                    text.len()
                ),
            ));
            cut_parsed = p;
            &cut_parsed
        } else {
            parsed
        };
        let cleaned = facteur_text::clean(&parsed.body_text);
        let mut body = cleaned.new_text();
        if body.trim().is_empty() {
            // A mail with only a subject ("Changement de RIB") still says something.
            body = parsed.subject.clone();
        }
        let language = facteur_text::detect_language(&body);
        let from_name = parsed.from.as_ref().and_then(|f| f.name.as_deref());
        let correspondent = facteur_text::correspondent(&cleaned, from_name);
        let mut known_names: Vec<&str> = Vec::new();
        if let Some(n) = from_name {
            known_names.push(n);
        }
        if let Some(n) = correspondent.name.as_deref() {
            known_names.push(n);
        }
        let protected = self.detector.pseudonymise_with_names(&body, &known_names);
        // The kinds reported cover the whole message (signatures carry phones and
        // addresses), while the pseudonymised body is the new text agents see.
        let mut pii = protected.kinds();
        // The attachments' text, masked like the body with the same known names:
        // the agent sees it folded under the mail, and the classifier reads it,
        // without the personal data, after the body.
        let mut attachment_texts = Vec::with_capacity(parsed.attachment_texts.len());
        let mut attachments_for_model = String::new();
        for a in &parsed.attachment_texts {
            let p = self.detector.pseudonymise_with_names(&a.text, &known_names);
            pii.extend(p.kinds());
            if !a.text.is_empty() {
                // Marked, so the model (and anyone reading the stored training
                // text) tells what the citizen wrote from what they attached.
                attachments_for_model.push_str("\n[pièce jointe]\n");
                attachments_for_model.push_str(&without_personal_data(&a.text, &p.spans));
            }
            attachment_texts.push(AttachmentText {
                text: p.text,
                ..a.clone()
            });
        }
        let whole = format!("{}\n{}", parsed.subject, parsed.body_text);
        let whole_spans = self.detector.detect_with_names(&whole, &known_names);
        pii.extend(whole_spans.iter().map(|s| s.kind));
        pii.sort();
        pii.dedup();
        let fields = facteur_text::extract_fields(&body);
        let flags = facteur_text::detect_flags(&body);
        // The subject often carries the request on its own ("Demande de délai"), and
        // may name the sender or quote a fiscal number. Its findings are those of
        // the whole-message pass above (which starts with the subject): no second
        // pass, and a name found in the body is removed from the subject too. A
        // finding running past the subject's end is cut there (a char boundary:
        // the "\n" follows).
        let subject_for_model = if parsed.subject.trim().is_empty() {
            String::new()
        } else {
            let end = parsed.subject.len();
            let spans: Vec<PiiSpan> = whole_spans
                .iter()
                .filter(|s| s.start < end)
                .map(|s| PiiSpan {
                    end: s.end.min(end),
                    ..s.clone()
                })
                .collect();
            without_personal_data(&parsed.subject, &spans)
        };
        let citizen_ids = citizen_ids(
            parsed.from.as_ref().and_then(|f| f.address.as_deref()),
            &whole,
            &whole_spans,
        );
        // What pages show of the subject before a reveal: placeholders, as in the
        // body, with the names known from the sender and the signature.
        let subject_pseudonymised = self
            .detector
            .pseudonymise_with_names(&parsed.subject, &known_names)
            .text;
        let classify_text = classify_text(
            &subject_for_model,
            &format!(
                "{}{attachments_for_model}",
                without_personal_data(&body, &protected.spans)
            ),
        );
        // With an embedder, the message is embedded once, as the classifier reads
        // it, and retrieval reuses that vector for its searches on the body (a
        // second embedding would halve the pipeline's speed).
        let needs_vector = self.kb.as_ref().is_some_and(|k| k.embedder().is_some())
            || (over.category.is_none()
                && self.model.as_ref().is_some_and(|m| m.embedding().is_some()));
        let vector = if needs_vector {
            self.message_vector(&classify_text)
        } else {
            None
        };
        if let (Some(kb), Some(v)) = (&self.kb, &vector) {
            kb.remember_query(&body, *v);
            kb.remember_query(&protected.text, *v);
        }
        let prediction = match &over.category {
            Some(c) => Some(Prediction {
                label: Some(c.clone()),
                confidence: 1.0,
                top: vec![ScoredLabel {
                    label: c.clone(),
                    probability: 1.0,
                }],
                abstained: false,
            }),
            // A lexical model ignores the vector.
            None => self
                .model
                .as_ref()
                .map(|m| m.predict_with(&classify_text, vector.as_ref().map(|v| &v[..]))),
        };
        let (category, confidence, abstained, top) = match &prediction {
            Some(Prediction {
                label,
                confidence,
                top,
                abstained,
            }) => (label.clone(), *confidence, *abstained, top.clone()),
            None => (None, 0.0, true, Vec::new()),
        };

        // The threshold weighs the model's guesses; a category an agent chose is
        // not a guess, so its draft is never held back by it.
        let policy = RoutingPolicy {
            min_confidence: if over.category.is_some() {
                0.0
            } else {
                self.options.policy.min_confidence
            },
            ..self.options.policy.clone()
        };

        // Headers and report structure first (mail), then the words (text).
        let mut automatic = parsed.automatic.clone().or_else(|| {
            facteur_text::auto_reply_text(&parsed.subject, &body)
                .then(|| Automatic::auto_reply(AutomaticSignal::Text))
        });
        // A bounce's diagnostic quotes the failed address ("550 5.1.1
        // <jean@…>: unknown user"): it is stored and shown masked, like the body.
        if let Some(report) = automatic.as_mut().and_then(|a| a.bounce.as_mut()) {
            let mask = |s: &String| self.detector.pseudonymise(s).text;
            report.diagnostic = report.diagnostic.as_ref().map(mask);
            report.recipient = report.recipient.as_ref().map(mask);
        }

        let thanks_only = automatic.is_none() && facteur_text::thanks_only(&body);

        let mut passages = Vec::new();
        let mut draft = None;
        let mut no_draft_reason = None;
        let mut has_answer = false;
        // An agent's chosen answer is built whatever the mail: they decided.
        let chosen = over.answer.is_some();
        if automatic.is_some() && !chosen {
            // Nothing to answer: no retrieval, no draft, whatever the model says.
            no_draft_reason = Some("automatic mail (auto-reply or bounce): no reply".into());
        } else if thanks_only && !chosen {
            no_draft_reason = Some("thanks only: close without reply (clore sans réponse)".into());
        } else if let Some(kb) = &self.kb {
            let ctx = DraftContext {
                civilite: correspondent.civilite.clone(),
                nom: correspondent.name.clone(),
                annee: income_year(&body, &fields),
                reference: only(&fields.references).cloned(),
                signature: over
                    .signature
                    .clone()
                    .or_else(|| self.options.signature.clone()),
                language: language.clone(),
                snippets: self.options.snippets,
                ..DraftContext::default()
            };
            if self.options.draft {
                let outcome = match &over.answer {
                    Some(answer) => facteur_kb::draft_answer(kb, answer, &body, &ctx),
                    None => {
                        let min = policy.min_confidence;
                        let conf = if category.is_some() { confidence } else { 0.0 };
                        facteur_kb::draft(kb, category.as_deref(), conf, min, &body, &ctx)
                    }
                };
                match outcome {
                    DraftOutcome::Draft {
                        answer_id,
                        answer_version,
                        language,
                        text,
                        unfilled,
                        language_fallback,
                        passages: hits,
                    } => {
                        has_answer = true;
                        passages = hits;
                        draft = Some(DraftOut {
                            answer_id,
                            answer_version,
                            language: language.clone(),
                            language_fallback,
                            text,
                            unfilled,
                        });
                    }
                    DraftOutcome::NoDraft {
                        reason,
                        passages: hits,
                    } => {
                        passages = hits;
                        no_draft_reason = Some(reason);
                    }
                }
            }
            if passages.is_empty() && self.options.passages > 0 {
                let opts = SearchOptions {
                    limit: self.options.passages,
                    snippets: self.options.snippets,
                    ..SearchOptions::default()
                };
                if let Ok(hits) = kb.search(&protected.text, &opts) {
                    passages = hits;
                }
            }
            passages.truncate(self.options.passages);
        }

        let sensitive = !flags.is_empty();
        let conf = if category.is_some() {
            Some(confidence)
        } else {
            None
        };
        // Without a knowledge base there is no answer to check; route on the
        // prediction alone so bulk triage still sorts the queue.
        let answer_known = if self.kb.is_some() { has_answer } else { true };
        let mut route = route_mail(&policy, automatic.is_some(), sensitive, conf, answer_known);
        // A thanks-only mail has no draft to validate: a person confirms the close.
        if thanks_only && route == Route::ReadyToValidate {
            route = Route::NeedsResearch;
        }
        let draft = if !chosen && matches!(route, Route::Abstain | Route::Automatic) {
            None
        } else {
            draft
        };
        // No draft for a question: the types the model hesitated between, each
        // with the answer it would use, so the agent picks instead of searching.
        let candidates = match &self.kb {
            Some(kb) if draft.is_none() && automatic.is_none() && !thanks_only => {
                let today = facteur_kb::Date::today();
                top.iter()
                    .take(CANDIDATES)
                    .map(|s| {
                        let answer_id = facteur_kb::best_answer(kb, &s.label, &body, today);
                        // The title in the mail's language, else French.
                        let title_in = |lang: &str| {
                            kb.answers()
                                .iter()
                                .find(|a| Some(&a.id) == answer_id.as_ref() && a.language == lang)
                                .map(|a| a.title.clone())
                        };
                        let answer_title = title_in(language.code()).or_else(|| title_in("fr"));
                        Candidate {
                            label: s.label.clone(),
                            probability: s.probability,
                            answer_id,
                            answer_title,
                        }
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        let from = parsed
            .from
            .as_ref()
            .map(|f| f.display())
            .unwrap_or_default();
        Triaged {
            origin: origin.to_string(),
            message_id: parsed.message_id.clone(),
            subject: parsed.subject.clone(),
            from,
            date: parsed.date.clone(),
            language: language_code(&language),
            body,
            body_pseudonymised: protected.text.clone(),
            subject_pseudonymised,
            citizen_ids,
            classify_text,
            segments: cleaned.segments.clone(),
            category,
            confidence,
            abstained,
            top,
            pii,
            flags,
            fields,
            correspondent,
            defects: parsed.defects.clone(),
            attachments: parsed.attachments.len(),
            attachment_texts,
            route,
            automatic,
            thanks_only,
            passages,
            // An escalated message keeps its draft for the person who takes it over;
            // an abstention never shows one.
            draft,
            candidates,
            no_draft_reason,
        }
    }
}

fn language_code(l: &Language) -> String {
    l.code().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_part_of_a_huge_text_is_analysed() {
        let line = "Jeanne Martin, 06 12 34 56 78, FR76 3000 6000 0112 3456 7890 189\n";
        let huge = line.repeat(2 * MAX_ANALYSED_BYTES / line.len());
        let (part, cut) = analysed_part(&huge);
        assert!(part.len() <= MAX_ANALYSED_BYTES && part.ends_with('\n'));
        assert_eq!(part.len() + cut, huge.len());
        assert_eq!(analysed_part("court"), ("court", 0));
        // A cut never splits a character.
        let accents = "é".repeat(MAX_ANALYSED_BYTES);
        let (part, _) = analysed_part(&accents);
        assert!(part.chars().all(|c| c == 'é'));
        let engine = Engine::new(None, None, TriageOptions::default());
        let mut parsed = ParsedMail {
            subject: "Avis".into(),
            body_text: huge,
            ..ParsedMail::default()
        };
        parsed.message_id = "x@y".into();
        let t = engine.triage_parsed("-", &parsed);
        assert!(t.body_pseudonymised.len() <= MAX_ANALYSED_BYTES + 1024);
        assert!(!t.body_pseudonymised.contains("06 12 34 56 78"));
        assert!(t
            .defects
            .iter()
            .any(|d| d.kind == facteur_core::DefectKind::Oversized));
    }

    #[test]
    fn with_kb_keeps_the_options_and_replaces_only_the_knowledge_base() {
        let options = TriageOptions {
            passages: 7,
            ..TriageOptions::default()
        };
        let engine = Engine::new(None, None, options);
        assert!(engine.kb().is_none());
        let dir = tempfile::tempdir().unwrap();
        let kb = KnowledgeBase::open(dir.path()).unwrap();
        let next = engine.with_kb(Some(kb));
        assert!(next.kb().is_some());
        assert_eq!(next.options.passages, 7);
        assert!(next.model().is_none());
        // The old engine is untouched (callers holding it finish their message).
        assert!(engine.kb().is_none());
        let t = next.triage_raw("t", b"Subject: RIB\r\n\r\nBonjour, changement de RIB.\r\n");
        assert_eq!(t.subject, "RIB");
    }

    /// A mail whose subject names the request and whose body and headers carry
    /// the personal data a citizen writes: fiscal number, IBAN, e-mail, the name
    /// of the From header.
    const MAIL: &[u8] = "From: Jeanne Martin <jeanne.martin@example.test>\r\n\
Subject: Demande de =?UTF-8?B?ZMOpbGFp?= de paiement - Jeanne Martin 1234567890123\r\n\
Message-ID: <skew-1@example.test>\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Bonjour,\r\n\
Je ne peux pas payer mon impôt en une fois. Mon numéro fiscal : 1234567890123,\r\n\
mon IBAN FR76 3000 6000 0112 3456 7890 189, écrivez-moi à jeanne.martin@example.test.\r\n\
Jeanne Martin\r\n"
        .as_bytes();

    const RAW_PII: [&str; 5] = [
        "1234567890123",
        "FR76",
        "3000 6000",
        "jeanne.martin@example.test",
        "Martin",
    ];

    #[test]
    fn a_calibration_body_is_read_as_live_mail_is() {
        let e = Engine::new(None, None, TriageOptions::default());
        let t = e.classifier_text_of_body(
            "Bonjour,\n\nJe me permets de vous écrire.\nJe n'ai pas reçu mon avis d'imposition 2020, mon numéro fiscal est 1234567890123.\n\nCordialement,\nMarie",
        );
        assert!(t.contains("avis d'imposition 2020"), "{t}");
        assert!(!t.contains("Je me permets"), "{t}");
        assert!(!t.contains("1234567890123"), "{t}");
    }

    #[test]
    fn the_classifier_reads_the_subject_and_body_without_personal_data() {
        let t = Engine::new(None, None, TriageOptions::default()).triage_raw("t", MAIL);
        let (subject, body) = t
            .classify_text
            .split_once('\n')
            .expect("subject line, then body");
        assert!(
            subject.starts_with("Demande de délai de paiement - "),
            "{subject}"
        );
        // The label whose value was removed goes with it (it frames nothing).
        assert!(!body.contains("numéro fiscal"), "{body}");
        assert!(body.contains("mon IBAN"), "{body}");
        for raw in RAW_PII {
            assert!(
                !t.classify_text.contains(raw),
                "{raw} in {}",
                t.classify_text
            );
        }
        // Values are removed, not replaced by placeholders the classifier would
        // read as the words "numero fiscal", "nom"…
        assert!(!t.classify_text.contains('['), "{}", t.classify_text);
        // The agents' copy keeps its placeholders.
        assert!(t.body_pseudonymised.contains("[IBAN_1]"));
        assert_eq!(t.classify_text, classify_text(subject, body));
        // Who wrote, for the store's keyed hashes: the address, lower-cased, and
        // the fiscal number quoted (in the subject and the body: once).
        assert_eq!(
            t.citizen_ids,
            vec![
                "address:jeanne.martin@example.test".to_string(),
                "fiscal:1234567890123".to_string()
            ]
        );
        // Never printed with the triage.
        let json = serde_json::to_string(&t).expect("serialisable");
        assert!(!json.contains("citizen_ids"), "{json}");
        // The subject pages show keeps placeholders too, and no raw value.
        let shown = &t.subject_pseudonymised;
        assert!(
            shown.starts_with("Demande de délai de paiement - ["),
            "{shown}"
        );
        for raw in RAW_PII {
            assert!(!shown.contains(raw), "{raw} in {shown}");
        }
    }

    /// The subject's findings come from the whole-message pass: a name only the
    /// body announces ("je soussignée …", no display name in From) leaves the
    /// subject too.
    #[test]
    fn a_name_found_in_the_body_is_removed_from_the_subject() {
        let raw = "From: jm@example.test\r\nSubject: Dossier de Jeanne Martin\r\n\r\n\
            Je soussignée Jeanne Martin, demande un délai de paiement.\r\n";
        let t = Engine::new(None, None, TriageOptions::default()).triage_raw("t", raw.as_bytes());
        assert!(
            t.body_pseudonymised.contains("[NOM_1]"),
            "{}",
            t.body_pseudonymised
        );
        assert!(
            t.classify_text.starts_with("Dossier de "),
            "{}",
            t.classify_text
        );
        assert!(!t.classify_text.contains("Martin"), "{}", t.classify_text);
        assert!(
            t.classify_text.contains("délai de paiement"),
            "{}",
            t.classify_text
        );
    }

    #[test]
    fn removing_personal_data_never_panics_on_odd_spans() {
        let span = |start, end| PiiSpan {
            kind: PiiKind::PersonName,
            start,
            end,
            placeholder: "[NOM_1]".into(),
        };
        assert_eq!(
            without_personal_data("Bonjour Jean Dupont.", &[span(8, 19)]),
            "Bonjour  ."
        );
        // Inside a multi-byte char, overlapping, out of range: skipped.
        let t = "é Jean";
        assert_eq!(
            without_personal_data(t, &[span(1, 2), span(3, 7), span(2, 99)]),
            "é  "
        );
        assert_eq!(without_personal_data(t, &[span(4, 99)]), t);
        assert_eq!(without_personal_data("", &[span(0, 0)]), " ");
    }

    #[test]
    fn without_a_subject_the_classifier_reads_the_body_alone() {
        let engine = Engine::new(None, None, TriageOptions::default());
        let t = engine.triage_raw("t", b"Subject:  \r\n\r\nBonjour, changement de RIB.\r\n");
        // The greeting clause frames the request and is not read.
        assert_eq!(t.classify_text, "changement de RIB.");
        // A mail with only a subject reads it (the body falls back to it).
        let t = engine.triage_raw("t", b"Subject: Changement de RIB\r\n\r\n");
        assert_eq!(t.classify_text, "Changement de RIB\nChangement de RIB");
        // A subject that says nothing of the request is not read either.
        let t = engine.triage_raw(
            "t",
            "Subject: Demande de renseignement\r\n\r\nJe vous écris car j'ai une question. Quand vais-je recevoir mon avis ?\r\n".as_bytes(),
        );
        assert_eq!(t.classify_text, "Quand vais-je recevoir mon avis ?");
    }

    /// The live prediction is the model's prediction of `classify_text`: the text
    /// stored for feedback training is the text the model was given.
    #[test]
    fn the_live_prediction_is_the_prediction_of_the_classify_text() {
        let mut examples = Vec::new();
        for (label, texts) in [
            (
                "delais-paiement",
                [
                    "Demande de délai de paiement pour mon impôt",
                    "je ne peux pas payer en une fois, un échéancier est-il possible",
                    "délai de paiement de la taxe foncière [NUMERO_FISCAL_1]",
                    "Pouvez-vous m'accorder un délai pour payer",
                ],
            ),
            (
                "coordonnees-bancaires",
                [
                    "Changement de RIB pour le prélèvement",
                    "nouveau compte bancaire [IBAN_1] pour mes prélèvements",
                    "modifier mes coordonnées bancaires",
                    "j'ai changé de banque, merci de prélever sur mon nouveau compte",
                ],
            ),
        ] {
            for t in texts {
                examples.push(facteur_classify::Example {
                    text: t.to_string(),
                    label: label.to_string(),
                });
            }
        }
        let cfg = facteur_classify::TrainConfig {
            threads: 1,
            cv_folds: 2,
            ..Default::default()
        };
        let model = facteur_classify::train(&examples, &cfg, &mut |_| {}).expect("train");
        let expected = model.predict(
            &Engine::new(None, None, TriageOptions::default())
                .triage_raw("t", MAIL)
                .classify_text,
        );
        let t = Engine::new(Some(model), None, TriageOptions::default()).triage_raw("t", MAIL);
        assert_eq!(t.category, expected.label);
        assert_eq!(t.confidence, expected.confidence);
        assert_eq!(t.top, expected.top);
        assert!(!t.top.is_empty());
    }
}
