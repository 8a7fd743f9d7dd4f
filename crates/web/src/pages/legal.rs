//! The three pages every French public online service must publish: legal
//! notice, personal data, accessibility statement (RGAA model). Public, built
//! from `[publication]` and the retention delays actually applied by the purge,
//! so the published durations cannot drift from the ones in force.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use crate::error::WebResult;
use crate::i18n::{display_date, tr, Lang};
use crate::views::page;
use crate::AppState;

/// "90 jours" / "90 days".
fn days(lang: Lang, n: u32) -> String {
    format!("{n} {}", tr(lang, "jours", "days"))
}

/// The retention delays in force, as a definition list; shared with the
/// transparency sheet so both publish the same figures.
pub fn retention_list(lang: Lang, r: &facteur_store::RetentionPolicy) -> Markup {
    let t = |fr, en| tr(lang, fr, en);
    html! {
        dl.meta #retention-durations {
            dt { (t("Message original reçu (message clos)", "Original mail as received (closed message)")) }
            dd #retention-raw { (days(lang, r.raw_mail_days)) " " (t("après sa réception", "after it was received")) }
            dt { (t("Message traité, brouillon et historique (message clos)", "Handled message, draft and history (closed message)")) }
            dd #retention-message { (days(lang, r.message_days)) " " (t("après sa dernière modification", "after its last change")) }
            dt { (t("Texte pseudonymisé conservé pour l'apprentissage", "Pseudonymised text kept for training")) }
            dd #retention-training { (days(lang, r.training_days)) " " (t("après la dernière modification du message", "after the message's last change")) }
        }
    }
}

pub async fn mentions_legales(State(st): State<AppState>, lang: Lang) -> WebResult<Response> {
    let p = &st.config.publication;
    let t = |fr, en| tr(lang, fr, en);
    let body = html! {
        section aria-labelledby="publisher-h" {
            h2 #publisher-h { (t("Éditeur", "Publisher")) }
            dl.meta {
                dt { (t("Service", "Service")) } dd #service-name { (st.config.service_name) }
                dt { (t("Éditeur", "Publisher")) } dd #publisher { (p.publisher) }
                dt { (t("Adresse", "Address")) } dd #address { (p.address) }
                dt { (t("Directeur ou directrice de la publication", "Director of publication")) } dd #director { (p.director) }
                dt { (t("Contact", "Contact")) } dd #contact { (p.contact) }
            }
        }
        section aria-labelledby="host-h" {
            h2 #host-h { (t("Hébergement", "Hosting")) }
            p #host { (p.host) }
        }
        section aria-labelledby="software-h" {
            h2 #software-h { (t("Logiciel", "Software")) }
            p { (t("Facteur, logiciel libre d'aide au traitement des messages, exécuté sur les serveurs du service, sans prestataire d'intelligence artificielle externe.", "Facteur, free software helping to handle messages, run on the service's own servers, without any external AI provider.")) }
        }
    };
    Ok(page(lang, t("Mentions légales", "Legal notice"), None, body).into_response())
}

pub async fn donnees_personnelles(State(st): State<AppState>, lang: Lang) -> WebResult<Response> {
    let p = &st.config.publication;
    let t = |fr, en| tr(lang, fr, en);
    let body = html! {
        section aria-labelledby="controller-h" {
            h2 #controller-h { (t("Responsable du traitement", "Data controller")) }
            p #publisher { (p.publisher) }
            p { (t("Délégué à la protection des données", "Data protection officer")) " : " span #dpo { (p.dpo) } }
        }
        section aria-labelledby="purpose-h" {
            h2 #purpose-h { (t("Finalité", "Purpose")) }
            p { (t("Aider les agents à répondre aux messages reçus dans les boîtes fonctionnelles du service : le logiciel masque les données personnelles, propose un type de demande et un brouillon de réponse type ; un agent nommé valide chaque réponse avant tout envoi.", "Help agents answer the messages received in the service's shared mailboxes: the software masks personal data, suggests a request type and a draft standard answer; a named agent validates every reply before anything is sent.")) }
        }
        section aria-labelledby="basis-h" {
            h2 #basis-h { (t("Base légale", "Legal basis")) }
            p #legal-basis { (p.legal_basis) }
        }
        section aria-labelledby="data-h" {
            h2 #data-h { (t("Données traitées", "Data processed")) }
            p { (t("Les messages reçus (expéditeur, objet, texte, pièces jointes) et les réponses apportées. Les données personnelles (numéro fiscal, numéro de sécurité sociale, IBAN, adresse électronique, téléphone, adresse, noms) sont masquées avant tout traitement par le modèle ; leur affichage par un agent est journalisé.", "The messages received (sender, subject, text, attachments) and the replies given. Personal data (tax number, social security number, IBAN, e-mail, phone, address, names) is masked before any processing by the model; any display by an agent is logged.")) }
        }
        section aria-labelledby="recipients-h" {
            h2 #recipients-h { (t("Destinataires", "Recipients")) }
            p #recipients { (p.recipients) }
        }
        section aria-labelledby="retention-h" {
            h2 #retention-h { (t("Durées de conservation", "Retention periods")) }
            p { (t("Ces durées sont celles appliquées chaque jour par la purge automatique :", "These are the periods applied every day by the automatic purge:")) }
            (retention_list(lang, &st.config.retention))
        }
        section aria-labelledby="rights-h" {
            h2 #rights-h { (t("Vos droits", "Your rights")) }
            p { (t("Vous disposez d'un droit d'accès, de rectification, d'effacement, de limitation et d'opposition sur vos données. Le service peut extraire l'ensemble des messages vous concernant (droit d'accès) ou les effacer (droit à l'effacement).", "You have a right of access, rectification, erasure, restriction and objection regarding your data. The service can extract every message concerning you (right of access) or erase them (right to erasure).")) }
            p { (t("Pour exercer ces droits, écrivez à", "To exercise these rights, write to")) " " span #rights-contact { (p.contact) } " " (t("ou au délégué à la protection des données.", "or to the data protection officer.")) }
            p { (t("Si vous estimez, après nous avoir contactés, que vos droits ne sont pas respectés, vous pouvez adresser une réclamation à la CNIL (www.cnil.fr).", "If, after contacting us, you consider your rights are not respected, you may lodge a complaint with the CNIL (www.cnil.fr).")) }
        }
        section aria-labelledby="transparency-h" {
            h2 #transparency-h { (t("Fonctionnement de l'algorithme", "How the algorithm works")) }
            p { a #transparency-link href="/transparence" { (t("Consulter la fiche de transparence de l'algorithme", "Read the algorithm's transparency sheet")) } }
        }
    };
    Ok(page(lang, t("Données personnelles", "Personal data"), None, body).into_response())
}

pub async fn accessibilite(State(st): State<AppState>, lang: Lang) -> WebResult<Response> {
    let p = &st.config.publication;
    let t = |fr, en| tr(lang, fr, en);
    let fr = lang == Lang::Fr;
    let date = |d: &str| {
        if d.trim().is_empty() {
            t("non renseignée", "not given").to_string()
        } else {
            display_date(lang, d)
        }
    };
    let body = html! {
        p { (p.publisher) " " (t("s'engage à rendre ses services numériques accessibles, conformément à l'article 47 de la loi n° 2005-102 du 11 février 2005. Cette déclaration d'accessibilité s'applique à", "is committed to making its digital services accessible, in accordance with article 47 of French law 2005-102 of 11 February 2005. This accessibility statement applies to")) " " (st.config.service_name) "." }
        section aria-labelledby="state-h" {
            h2 #state-h { (t("État de conformité", "Compliance status")) }
            p #compliance { (st.config.service_name) " " (t("est", "is")) " " strong { (p.compliance_label(fr)) } " " (t("avec le référentiel général d'amélioration de l'accessibilité (RGAA), version 4.1.", "with the French accessibility framework (RGAA), version 4.1.")) }
        }
        section aria-labelledby="results-h" {
            h2 #results-h { (t("Résultats des tests", "Test results")) }
            @if p.audit_rate.trim().is_empty() {
                p #audit-rate { (t("Aucun audit de conformité n'a encore été réalisé.", "No compliance audit has been carried out yet.")) }
            } @else {
                p #audit-rate { (t("L'audit de conformité indique que", "The compliance audit shows that")) " " (p.audit_rate) " " (t("des critères du RGAA sont respectés.", "of the RGAA criteria are met.")) }
            }
            p { (t("Date de l'audit", "Audit date")) " : " span #audit-date { (date(&p.audit_date)) } }
            @if !p.audit_by.trim().is_empty() { p #audit-by { (p.audit_by) } }
        }
        section aria-labelledby="non-accessible-h" {
            h2 #non-accessible-h { (t("Contenus non accessibles", "Non-accessible content")) }
            @if p.non_accessible.is_empty() {
                p { (t("Aucun contenu non accessible n'a été recensé à ce jour.", "No non-accessible content has been identified to date.")) }
            } @else {
                ul #non-accessible { @for c in &p.non_accessible { li { (c) } } }
            }
        }
        section aria-labelledby="statement-h" {
            h2 #statement-h { (t("Établissement de cette déclaration", "Preparation of this statement")) }
            p { (t("Cette déclaration a été établie le", "This statement was prepared on")) " " span #statement-date { (date(&p.statement_date)) } "." }
            p { (t("Technologies utilisées : HTML5, CSS, JavaScript (facultatif, les pages fonctionnent sans).", "Technologies used: HTML5, CSS, JavaScript (optional, the pages work without it).")) }
        }
        section aria-labelledby="feedback-h" {
            h2 #feedback-h { (t("Retour d'information et contact", "Feedback and contact")) }
            p { (t("Si vous n'arrivez pas à accéder à un contenu ou à un service, contactez", "If you cannot access some content or service, contact")) " " span #a11y-contact { (p.contact) } " " (t("pour être orienté vers une alternative accessible ou obtenir le contenu sous une autre forme.", "to be directed to an accessible alternative or obtain the content in another form.")) }
        }
        section aria-labelledby="remedies-h" {
            h2 #remedies-h { (t("Voies de recours", "Remedies")) }
            p { (t("Si vous constatez un défaut d'accessibilité vous empêchant d'accéder à un contenu ou à une fonctionnalité, que vous nous le signalez et que vous ne parvenez pas à obtenir une réponse de notre part, vous êtes en droit de faire parvenir vos doléances ou une demande de saisine au Défenseur des droits :", "If you report an accessibility defect preventing you from accessing content or a feature and get no answer from us, you may send your complaint or a referral request to the Défenseur des droits (French rights ombudsman):")) }
            ul {
                li { (t("écrire un message au Défenseur des droits (formulaire sur www.defenseurdesdroits.fr) ;", "write to the Défenseur des droits (form on www.defenseurdesdroits.fr);")) }
                li { (t("contacter le délégué du Défenseur des droits dans votre région ;", "contact the Défenseur des droits' delegate in your region;")) }
                li { (t("envoyer un courrier par la poste (gratuit, ne pas mettre de timbre) : Défenseur des droits, Libre réponse 71120, 75342 Paris CEDEX 07.", "send a letter (free, no stamp needed): Défenseur des droits, Libre réponse 71120, 75342 Paris CEDEX 07.")) }
            }
        }
    };
    Ok(page(lang, t("Accessibilité", "Accessibility"), None, body).into_response())
}
