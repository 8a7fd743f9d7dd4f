//! What a fiche is worth before any query is read.
//!
//! Service-public publishes two kinds of pages beside its answers: navigation pages
//! (a "Dossier" or "Thème" lists other fiches, a "Fiche avec liens externes" points
//! off the site, a "Comment faire si" strings steps together) and pages written for
//! another audience (the same question for a company or an association). Neither
//! is the page an agent sends a citizen: in the 2,404 dev queries of the shared
//! retrieval set, no navigation page is ever relevant, yet they took about one slot
//! in thirteen of the fused top 10, and a professional's page is relevant five times
//! less often than its share of the index. So a navigation page's score, and a page
//! for another audience than the mailbox's, are multiplied by a factor under 1: they
//! still come up when nothing else matches.
//!
//! The factors were chosen on the dev topics only (`TUNE=1 bench_hybrid`,
//! docs/RETRIEVAL.md round 7). Standard answers and fiches without these fields are
//! never discounted.

use serde::{Deserialize, Serialize};

/// A fiche's publication metadata, as service-public's files carry it
/// (`audience_dir`, `pub_type`); stored with the fiche in the index.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FicheMeta {
    /// "particuliers", "professionnels", "associations" (empty when unknown).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub audience: String,
    /// "Fiche d'information", "Fiche Question-réponse", "Dossier"… (empty when
    /// unknown).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub page_type: String,
}

impl FicheMeta {
    pub fn is_empty(&self) -> bool {
        self.audience.is_empty() && self.page_type.is_empty()
    }

    /// A page that lists or points to others rather than answering.
    pub fn is_navigation(&self) -> bool {
        const NAVIGATION: [&str; 5] = [
            "Dossier",
            "Theme",
            "Fiche avec liens externes",
            "Fiche Comment faire si",
            "Fiche Comment faire si - simulateur",
        ];
        NAVIGATION.contains(&self.page_type.as_str())
    }
}

/// The discounts, and the audience the mailbox serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Priors {
    /// Factor on a navigation page's score.
    pub navigation: f32,
    /// Factor on the score of a page for another audience than `audience`.
    pub other_audience: f32,
    /// The audience of the mailbox (`audience_dir` of service-public's files); empty:
    /// no audience discount.
    pub audience: String,
}

/// Chosen on the dev topics (docs/RETRIEVAL.md, round 7); a tax office for
/// individuals answers "particuliers".
impl Default for Priors {
    fn default() -> Self {
        Self {
            navigation: 0.1,
            other_audience: 0.8,
            audience: "particuliers".into(),
        }
    }
}

impl Priors {
    /// No discount at all.
    pub fn none() -> Self {
        Self {
            navigation: 1.0,
            other_audience: 1.0,
            audience: String::new(),
        }
    }

    /// The factor on a fiche's score.
    pub fn factor(&self, m: &FicheMeta) -> f32 {
        let mut f = 1.0;
        if m.is_navigation() {
            f *= self.navigation;
        }
        if !self.audience.is_empty() && !m.audience.is_empty() && m.audience != self.audience {
            f *= self.other_audience;
        }
        f.clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(audience: &str, page_type: &str) -> FicheMeta {
        FicheMeta {
            audience: audience.into(),
            page_type: page_type.into(),
        }
    }

    #[test]
    fn navigation_and_other_audiences_are_discounted_and_nothing_else() {
        let p = Priors::default();
        assert_eq!(p.factor(&meta("particuliers", "Fiche d'information")), 1.0);
        assert_eq!(p.factor(&meta("particuliers", "Dossier")), 0.1);
        assert_eq!(
            p.factor(&meta("professionnels", "Fiche Question-réponse")),
            0.8
        );
        assert!((p.factor(&meta("associations", "Theme")) - 0.08).abs() < 1e-6);
        // Unknown metadata (a local knowledge base) is never discounted.
        assert_eq!(p.factor(&FicheMeta::default()), 1.0);
        assert_eq!(
            Priors::none().factor(&meta("professionnels", "Dossier")),
            1.0
        );
    }

    #[test]
    fn metadata_round_trips_and_empty_fields_are_left_out() {
        let m = meta("particuliers", "");
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"audience":"particuliers"}"#);
        assert_eq!(serde_json::from_str::<FicheMeta>(&json).unwrap(), m);
        assert!(FicheMeta::default().is_empty());
    }
}
