//! Why a reply was proposed: the knowledge-base documents that matched a message
//! and their marked excerpts. The knowledge base finds them, triage keeps them
//! with its result, the store hands them back and the message page shows them:
//! one type all the way, so no crate reads them back by string key.

use serde::{Deserialize, Serialize};

/// The two kinds of knowledge-base documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    /// A public information page (service-public.fr fiche).
    Fiche,
    /// A validated standard answer.
    Answer,
}

impl DocKind {
    /// The code used in the index and in forms (`fiche`, `answer`).
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Fiche => "fiche",
            DocKind::Answer => "answer",
        }
    }
}

/// A highlighted excerpt: `highlights` are byte ranges inside `text`. Ranges read
/// back from storage are data, not trusted input: readers check them against the
/// text before slicing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Passage {
    /// The excerpt as shown; starts with a "sens proche" mark when found by meaning, not by words.
    pub text: String,
    /// Half-open byte ranges `[start, end)` into `text` of the matched words.
    #[serde(default)]
    pub highlights: Vec<(usize, usize)>,
}

/// A document that matched, with the excerpts that show why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// Knowledge-base id: the fiche's id, or the standard answer's id shared by its language variants.
    pub id: String,
    /// Whether this is a public fiche or a standard answer.
    pub kind: DocKind,
    /// Document title, as the message page lists the reasons for a draft.
    pub title: String,
    /// Public page of a fiche; `None` or empty for standard answers.
    #[serde(default)]
    pub url: Option<String>,
    /// Language of an answer variant; `fr` for fiches.
    #[serde(default)]
    pub language: String,
    /// Rank score of this search (lexical, or fused with embeddings); higher is better, comparable only within one result list.
    #[serde(default)]
    pub score: f32,
    /// Why it matched; empty when the search was asked for no snippets.
    #[serde(default)]
    pub passages: Vec<Passage>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_hit_reads_back_the_same() {
        let h = Hit {
            id: "rib".into(),
            kind: DocKind::Answer,
            title: "Coordonnées bancaires".into(),
            url: None,
            language: "fr".into(),
            score: 1.5,
            passages: vec![Passage {
                text: "Modifier votre RIB".into(),
                highlights: vec![(9, 18)],
            }],
        };
        let json = serde_json::to_string(&h).unwrap();
        assert!(json.contains(r#""kind":"answer""#), "{json}");
        assert!(json.contains(r#""highlights":[[9,18]]"#), "{json}");
        assert_eq!(serde_json::from_str::<Hit>(&json).unwrap(), h);
    }

    #[test]
    fn a_hit_without_optional_fields_still_reads() {
        let h: Hit = serde_json::from_str(r#"{"id":"f1","kind":"fiche","title":"T"}"#).unwrap();
        assert_eq!(h.kind, DocKind::Fiche);
        assert!(h.passages.is_empty() && h.url.is_none());
    }
}
