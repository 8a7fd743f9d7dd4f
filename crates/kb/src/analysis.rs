//! French text analysis for the index, and query-time synonyms for administrative
//! jargon.
//!
//! The tokenizer is our own (a small variant of tantivy's SimpleTokenizer) because
//! citizens write "13ème mois", "13 eme mois" and "13e mois" interchangeably: splitting
//! digits from letters makes all of them meet the same terms, and doing it in the
//! tokenizer (not by rewriting the text) keeps the offsets right for highlighting.

use std::collections::BTreeMap;
use std::str::CharIndices;

use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, StopWordFilter, TextAnalyzer, Token,
    TokenStream, Tokenizer,
};

/// Name under which the stemmed French analyzer is registered in the index.
pub const FR_STEM: &str = "fr_stem";
/// Unstemmed (lowercased, folded) analyzer: exact word forms, for a second title field.
pub const FR_EXACT: &str = "fr_exact";

/// Elided articles and pronouns (l', d', qu', j', n', s', c', m', t'). The tokenizer
/// splits at both apostrophes (' and ’), so elision amounts to dropping these
/// clitics as stop words.
const ELISIONS: [&str; 9] = ["l", "d", "qu", "j", "n", "s", "c", "m", "t"];

fn french_stop_words() -> Vec<String> {
    FRENCH_STOP
        .iter()
        .chain(ELISIONS.iter())
        .map(|s| s.to_string())
        .collect()
}

/// Snowball's French stop list (the one tantivy embeds, which it does not export).
const FRENCH_STOP: &[&str] = &[
    "au", "aux", "avec", "ce", "ces", "dans", "de", "des", "du", "elle", "en", "et", "eux", "il",
    "ils", "je", "la", "le", "les", "leur", "lui", "ma", "mais", "me", "même", "mes", "moi", "mon",
    "ne", "nos", "notre", "nous", "on", "ou", "par", "pas", "pour", "qu", "que", "qui", "sa", "se",
    "ses", "son", "sur", "ta", "te", "tes", "toi", "ton", "tu", "un", "une", "vos", "votre",
    "vous", "c", "d", "j", "l", "à", "m", "n", "s", "t", "y", "été", "étée", "étées", "étés",
    "étant", "étante", "étants", "étantes", "suis", "es", "est", "sommes", "êtes", "sont", "serai",
    "seras", "sera", "serons", "serez", "seront", "serais", "serait", "serions", "seriez",
    "seraient", "étais", "était", "étions", "étiez", "étaient", "fus", "fut", "fûmes", "fûtes",
    "furent", "sois", "soit", "soyons", "soyez", "soient", "fusse", "fusses", "fût", "fussions",
    "fussiez", "fussent", "ayant", "ayante", "ayantes", "ayants", "eu", "eue", "eues", "eus", "ai",
    "as", "avons", "avez", "ont", "aurai", "auras", "aura", "aurons", "aurez", "auront", "aurais",
    "aurait", "aurions", "auriez", "auraient", "avais", "avait", "avions", "aviez", "avaient",
    "eut", "eûmes", "eûtes", "eurent", "aie", "aies", "ait", "ayons", "ayez", "aient", "eusse",
    "eusses", "eût", "eussions", "eussiez", "eussent",
];

/// Whether a lowercased word is dropped by the analyzers.
pub fn is_stop_word(lower: &str) -> bool {
    FRENCH_STOP.contains(&lower) || ELISIONS.contains(&lower)
}

/// tokenizer → lowercase → elision/stop words → French stemmer → ASCII folding.
/// Stemming runs before folding because the Snowball French stemmer relies on
/// accents (é, è) to find suffixes.
pub fn french_stem_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(FrTokenizer)
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(StopWordFilter::remove(french_stop_words()))
        .filter(crate::stem_cache::CachedFrenchStemmer)
        .filter(AsciiFoldingFilter)
        .build()
}

/// Same without stemming or stop words: rewards the exact form ("impôts" vs "imposé").
pub fn french_exact_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(FrTokenizer)
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(StopWordFilter::remove(french_stop_words()))
        .filter(AsciiFoldingFilter)
        .build()
}

/// Splits on non-alphanumeric characters and between digits and letters.
#[derive(Clone, Default)]
pub struct FrTokenizer;

pub struct FrTokenStream<'a> {
    text: &'a str,
    chars: std::iter::Peekable<CharIndices<'a>>,
    token: Token,
    /// Where the last number token ended, to recognise ordinal suffixes.
    last_number_end: Option<usize>,
}

impl Tokenizer for FrTokenizer {
    type TokenStream<'a> = FrTokenStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> FrTokenStream<'a> {
        FrTokenStream {
            text,
            chars: text.char_indices().peekable(),
            token: Token::default(),
            last_number_end: None,
        }
    }
}

/// Ordinal suffixes as citizens and fiches write them after a number ("13e", "13ème",
/// "13 eme", "1er", "2nde"): dropped so that all spellings meet on the number alone.
const ORDINAL_SUFFIXES: &[&str] = &[
    "e", "è", "eme", "ème", "ieme", "ième", "er", "ere", "ère", "nd", "nde",
];

fn is_ordinal_suffix(word: &str) -> bool {
    word.chars().count() <= 4 && ORDINAL_SUFFIXES.contains(&word.to_lowercase().as_str())
}

impl FrTokenStream<'_> {
    fn next_word(&mut self) -> Option<(usize, usize, bool)> {
        let (start, first) = loop {
            match self.chars.next() {
                Some((i, c)) if c.is_alphanumeric() => break (i, c),
                Some(_) => continue,
                None => return None,
            }
        };
        let digit = first.is_numeric();
        let mut end = start + first.len_utf8();
        while let Some(&(i, c)) = self.chars.peek() {
            if c.is_alphanumeric() && c.is_numeric() == digit {
                end = i + c.len_utf8();
                self.chars.next();
            } else {
                break;
            }
        }
        Some((start, end, digit))
    }
}

impl TokenStream for FrTokenStream<'_> {
    fn advance(&mut self) -> bool {
        self.token.text.clear();
        self.token.position = self.token.position.wrapping_add(1);
        let (start, end) = loop {
            let Some((start, end, digit)) = self.next_word() else {
                return false;
            };
            let word = self.text.get(start..end).unwrap_or("");
            // An ordinal suffix glued to the previous number or one space after it.
            let after_number = self.last_number_end.is_some_and(|e| {
                self.text
                    .get(e..start)
                    .is_some_and(|gap| gap.is_empty() || gap == " ")
            });
            self.last_number_end = if digit { Some(end) } else { None };
            if !digit && after_number && is_ordinal_suffix(word) {
                continue;
            }
            break (start, end);
        };
        self.token.offset_from = start;
        self.token.offset_to = end;
        self.token
            .text
            .push_str(self.text.get(start..end).unwrap_or(""));
        true
    }
    fn token(&self) -> &Token {
        &self.token
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

/// Runs an analyzer over a text and returns its terms.
pub fn analyze(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut ts = analyzer.token_stream(text);
    while ts.advance() {
        out.push(ts.token().text.clone());
    }
    out
}

const SYNONYMS: &str = include_str!("../synonyms.txt");

/// One phrase of a synonym group, as the query must contain it.
#[derive(Debug, Clone)]
enum Phrase {
    /// An acronym (RIB, PAS): matched on the raw words, case-sensitively when its
    /// lowercase form is a stop word ("PAS" but not "pas").
    Acronym { word: String, case_sensitive: bool },
    /// Matched as a contiguous run of analyzed terms.
    Terms(Vec<String>),
}

/// Query-time synonyms for administrative jargon (`synonyms.txt`, one group of
/// equivalent phrases per line separated by `|`). Applied to queries only, so the
/// list can change without reindexing.
#[derive(Debug, Clone)]
pub struct Synonyms {
    groups: Vec<Vec<(Phrase, Vec<String>)>>,
}

impl Synonyms {
    pub fn builtin(analyzer: &mut TextAnalyzer) -> Self {
        Self::parse(SYNONYMS, analyzer)
    }

    pub fn parse(text: &str, analyzer: &mut TextAnalyzer) -> Self {
        let mut groups = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut group = Vec::new();
            for p in line.split('|') {
                let p = p.trim();
                if p.is_empty() {
                    continue;
                }
                let terms = analyze(analyzer, p);
                let is_acronym = !p.contains(' ')
                    && p.chars().count() >= 2
                    && p.chars().all(|c| c.is_uppercase() || c.is_ascii_digit());
                let phrase = if is_acronym {
                    Phrase::Acronym {
                        word: p.to_string(),
                        case_sensitive: is_stop_word(&p.to_lowercase()),
                    }
                } else if terms.is_empty() {
                    continue;
                } else {
                    Phrase::Terms(terms.clone())
                };
                let mut terms = terms;
                if terms.is_empty() {
                    // An acronym that is a stop word: index form is its lowercase.
                    terms.push(p.to_lowercase());
                }
                group.push((phrase, terms));
            }
            if group.len() >= 2 {
                groups.push(group);
            }
        }
        Self { groups }
    }

    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Terms to add to a query: those of every other phrase of each group one of
    /// whose phrases occurs in the query. `words` are the raw query words, `terms` the
    /// analyzed query terms.
    pub fn expand(&self, words: &[&str], terms: &[String]) -> Vec<String> {
        let mut add: BTreeMap<String, ()> = BTreeMap::new();
        for group in &self.groups {
            let hit = group.iter().position(|(p, _)| match p {
                Phrase::Acronym {
                    word,
                    case_sensitive,
                } => words.iter().any(|w| {
                    if *case_sensitive {
                        w == word
                    } else {
                        w.eq_ignore_ascii_case(word)
                    }
                }),
                Phrase::Terms(t) => {
                    !t.is_empty() && terms.windows(t.len()).any(|w| w == t.as_slice())
                }
            });
            if let Some(h) = hit {
                for (i, (_, t)) in group.iter().enumerate() {
                    if i != h {
                        for x in t {
                            if !terms.contains(x) {
                                add.insert(x.clone(), ());
                            }
                        }
                    }
                }
            }
        }
        add.into_keys().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analyzer_elides_stems_and_folds() {
        let mut a = french_stem_analyzer();
        let t = analyze(&mut a, "L'avis d’imposition des impôts");
        assert_eq!(t, ["avis", "imposit", "impot"]);
        // Digits are split from letters: "13ème" meets "13 eme".
        assert_eq!(
            analyze(&mut a, "13ème mois"),
            analyze(&mut a, "13 ème mois")
        );
        // Every spelling of an ordinal meets on the number.
        for q in [
            "13e mois",
            "13eme mois",
            "13 eme mois",
            "13ième mois",
            "13EME mois",
        ] {
            assert_eq!(analyze(&mut a, q), ["13", "mois"], "{q}");
        }
        assert_eq!(analyze(&mut a, "1er janvier"), ["1", "janvi"]);
        // A word after a number is kept when it is not an ordinal suffix.
        assert_eq!(analyze(&mut a, "3 enfants"), ["3", "enfant"]);
    }

    #[test]
    fn synonyms_expand_phrases_and_acronyms() {
        let mut a = french_stem_analyzer();
        let s = Synonyms::builtin(&mut a);
        assert!(s.len() >= 20);
        let q = "feuille d'impôt";
        let terms = analyze(&mut a, q);
        let words: Vec<&str> = q.split_whitespace().collect();
        let add = s.expand(&words, &terms);
        assert!(add.contains(&"imposit".to_string()), "{add:?}");
        let q = "je ne comprends pas le PAS";
        let terms = analyze(&mut a, q);
        let words: Vec<&str> = q.split_whitespace().collect();
        let add = s.expand(&words, &terms);
        assert!(add.contains(&"prelev".to_string()), "{add:?}");
        // Lowercase "pas" is the negation, not the acronym.
        let q = "je ne paie pas";
        let terms = analyze(&mut a, q);
        let words: Vec<&str> = q.split_whitespace().collect();
        assert!(!s.expand(&words, &terms).contains(&"prelev".to_string()));
    }
}
