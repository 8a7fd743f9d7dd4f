//! What the three mandatory public pages say about the service running Facteur
//! (`[publication]` in `facteur.toml`). French administrations must publish a
//! legal notice, a personal-data notice and an accessibility statement; the
//! software cannot know who publishes it, so every field defaults to a text that
//! tells the operator what to fill in rather than to a plausible-looking guess.

use serde::{Deserialize, Serialize};

/// The prefix of every default: a page still showing it was not configured.
pub const TO_FILL: &str = "À compléter par l'exploitant";

/// The publisher's details, shown on /mentions-legales, /donnees-personnelles and
/// /accessibilite. Free text: the operator writes them as they must appear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Publication {
    /// The administration publishing the service (e.g. "Direction départementale
    /// des finances publiques du Rhône").
    pub publisher: String,
    /// The person responsible for publication (a function, e.g. "le directeur").
    pub director: String,
    /// Who hosts the servers (name, address).
    pub host: String,
    /// Postal address of the publisher.
    pub address: String,
    /// A service address for questions and rights requests (never a person's mail).
    pub contact: String,
    /// How to reach the data protection officer.
    pub dpo: String,
    /// The legal basis of the processing (GDPR art. 6), in words.
    pub legal_basis: String,
    /// Who receives the data.
    pub recipients: String,
    /// Accessibility: "totale", "partielle" or "non" (conformité RGAA).
    pub compliance: String,
    /// Share of RGAA criteria met at the last audit, e.g. "78 %" (empty: no audit).
    pub audit_rate: String,
    /// Date of the last accessibility audit (empty: none).
    pub audit_date: String,
    /// Who ran the audit and how (tools, pages tested).
    pub audit_by: String,
    /// Contents known not to be accessible, one per entry.
    pub non_accessible: Vec<String>,
    /// Date the accessibility statement was written.
    pub statement_date: String,
}

impl Default for Publication {
    fn default() -> Self {
        let fill = |what: &str| format!("{TO_FILL} : {what}");
        Self {
            publisher: fill("nom de l'administration qui publie le service"),
            director: fill("directeur ou directrice de la publication (fonction)"),
            host: fill("hébergeur (nom et adresse)"),
            address: fill("adresse postale du service"),
            contact: fill("adresse électronique fonctionnelle du service"),
            dpo: fill("coordonnées du délégué à la protection des données"),
            legal_basis: "Mission d'intérêt public dont est investi le responsable du \
                          traitement (article 6.1.e du règlement général sur la protection des \
                          données)"
                .into(),
            recipients: "Les agents habilités du service destinataire des messages ; aucune \
                         donnée n'est transmise à un tiers ni hors de l'Union européenne"
                .into(),
            compliance: "non".into(),
            audit_rate: String::new(),
            audit_date: String::new(),
            audit_by: String::new(),
            non_accessible: Vec::new(),
            statement_date: String::new(),
        }
    }
}

impl Publication {
    /// `FACTEUR_PUBLICATION_<FIELD>` overrides the file, as for the other keys
    /// (`FACTEUR_PUBLICATION_NON_ACCESSIBLE` separates entries with `;`).
    pub fn apply_env(&mut self, get: &impl Fn(&str) -> Option<String>) {
        let text = [
            ("PUBLISHER", &mut self.publisher),
            ("DIRECTOR", &mut self.director),
            ("HOST", &mut self.host),
            ("ADDRESS", &mut self.address),
            ("CONTACT", &mut self.contact),
            ("DPO", &mut self.dpo),
            ("LEGAL_BASIS", &mut self.legal_basis),
            ("RECIPIENTS", &mut self.recipients),
            ("COMPLIANCE", &mut self.compliance),
            ("AUDIT_RATE", &mut self.audit_rate),
            ("AUDIT_DATE", &mut self.audit_date),
            ("AUDIT_BY", &mut self.audit_by),
            ("STATEMENT_DATE", &mut self.statement_date),
        ];
        for (key, field) in text {
            if let Some(v) = get(&format!("FACTEUR_PUBLICATION_{key}")) {
                *field = v;
            }
        }
        if let Some(v) = get("FACTEUR_PUBLICATION_NON_ACCESSIBLE") {
            self.non_accessible = v
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
        }
    }

    /// The RGAA compliance state in the statement's words; an unknown value is
    /// shown as "non conforme" (the statement must not claim more than known).
    pub fn compliance_label(&self, fr: bool) -> &'static str {
        match (self.compliance.trim(), fr) {
            ("totale", true) => "totalement conforme",
            ("totale", false) => "fully compliant",
            ("partielle", true) => "partiellement conforme",
            ("partielle", false) => "partially compliant",
            (_, true) => "non conforme",
            (_, false) => "not compliant",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_say_what_to_fill_and_env_overrides() {
        let mut p = Publication::default();
        assert!(p.publisher.starts_with(TO_FILL) && p.dpo.starts_with(TO_FILL));
        assert_eq!(p.compliance_label(true), "non conforme");
        let env = |k: &str| match k {
            "FACTEUR_PUBLICATION_PUBLISHER" => Some("DDFiP du Rhône".to_string()),
            "FACTEUR_PUBLICATION_COMPLIANCE" => Some("partielle".to_string()),
            "FACTEUR_PUBLICATION_NON_ACCESSIBLE" => Some("Graphiques ; PDF joints".to_string()),
            _ => None,
        };
        p.apply_env(&env);
        assert_eq!(p.publisher, "DDFiP du Rhône");
        assert_eq!(p.compliance_label(false), "partially compliant");
        assert_eq!(p.non_accessible, ["Graphiques", "PDF joints"]);
    }
}
