//! The three pages every French public online service must publish: legal
//! notice, personal data, accessibility statement (RGAA model). Public, built
//! from `[publication]` and the retention delays actually applied by the purge,
//! so the published durations cannot drift from the ones in force.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use crate::error::WebResult;
use crate::i18n::{display_date, Lang, Msg};
use crate::views::page;
use crate::AppState;

/// "90 jours" / "90 days".
fn days(lang: Lang, n: u32) -> String {
    format!("{n} {}", Msg::DaysWord.text(lang))
}

/// The retention delays in force, as a definition list; shared with the
/// transparency sheet so both publish the same figures.
pub fn retention_list(lang: Lang, r: &facteur_store::RetentionPolicy) -> Markup {
    let t = |m: Msg| m.text(lang);
    html! {
        dl.meta #retention-durations {
            dt { (t(Msg::LegalOriginalMailAsReceivedClosed)) }
            dd #retention-raw { (days(lang, r.raw_mail_days)) " " (t(Msg::LegalAfterItWasReceived)) }
            dt { (t(Msg::LegalHandledMessageDraftAndHistory)) }
            dd #retention-message { (days(lang, r.message_days)) " " (t(Msg::LegalAfterItsLastChange)) }
            dt { (t(Msg::LegalPseudonymisedTextKeptForTraining)) }
            dd #retention-training { (days(lang, r.training_days)) " " (t(Msg::LegalAfterTheMessageSLast)) }
        }
    }
}

pub async fn mentions_legales(State(st): State<AppState>, lang: Lang) -> WebResult<Response> {
    let p = &st.config.publication;
    let t = |m: Msg| m.text(lang);
    let body = html! {
        section aria-labelledby="publisher-h" {
            h2 #publisher-h { (t(Msg::LegalPublisher)) }
            dl.meta {
                dt { (t(Msg::LegalService)) } dd #service-name { (st.config.service_name) }
                dt { (t(Msg::LegalPublisher)) } dd #publisher { (p.publisher) }
                dt { (t(Msg::Address)) } dd #address { (p.address) }
                dt { (t(Msg::LegalDirectorOfPublication)) } dd #director { (p.director) }
                dt { (t(Msg::LegalContact)) } dd #contact { (p.contact) }
            }
        }
        section aria-labelledby="host-h" {
            h2 #host-h { (t(Msg::LegalHosting)) }
            p #host { (p.host) }
        }
        section aria-labelledby="software-h" {
            h2 #software-h { (t(Msg::LegalSoftware)) }
            p { (t(Msg::LegalFacteurFreeSoftwareHelpingTo)) }
        }
    };
    Ok(page(lang, t(Msg::FooterLegalNotice), None, body).into_response())
}

pub async fn donnees_personnelles(State(st): State<AppState>, lang: Lang) -> WebResult<Response> {
    let p = &st.config.publication;
    let t = |m: Msg| m.text(lang);
    let body = html! {
        section aria-labelledby="controller-h" {
            h2 #controller-h { (t(Msg::LegalDataController)) }
            p #publisher { (p.publisher) }
            p { (t(Msg::LegalDataProtectionOfficer)) " : " span #dpo { (p.dpo) } }
        }
        section aria-labelledby="purpose-h" {
            h2 #purpose-h { (t(Msg::LegalPurpose)) }
            p { (t(Msg::LegalHelpAgentsAnswerTheMessages)) }
        }
        section aria-labelledby="basis-h" {
            h2 #basis-h { (t(Msg::LegalLegalBasis)) }
            p #legal-basis { (p.legal_basis) }
        }
        section aria-labelledby="data-h" {
            h2 #data-h { (t(Msg::LegalDataProcessed)) }
            p { (t(Msg::LegalTheMessagesReceivedSenderSubject)) }
        }
        section aria-labelledby="recipients-h" {
            h2 #recipients-h { (t(Msg::LegalRecipients)) }
            p #recipients { (p.recipients) }
        }
        section aria-labelledby="retention-h" {
            h2 #retention-h { (t(Msg::LegalRetentionPeriods)) }
            p { (t(Msg::LegalTheseAreThePeriodsApplied)) }
            (retention_list(lang, &st.config.retention))
        }
        section aria-labelledby="rights-h" {
            h2 #rights-h { (t(Msg::LegalYourRights)) }
            p { (t(Msg::LegalYouHaveARightOf)) }
            p { (t(Msg::LegalToExerciseTheseRightsWrite)) " " span #rights-contact { (p.contact) } " " (t(Msg::LegalOrToTheDataProtection)) }
            p { (t(Msg::LegalIfAfterContactingUsYou)) }
        }
        section aria-labelledby="transparency-h" {
            h2 #transparency-h { (t(Msg::LegalHowTheAlgorithmWorks)) }
            p { a #transparency-link href="/transparence" { (t(Msg::LegalReadTheAlgorithmSTransparency)) } }
        }
    };
    Ok(page(lang, t(Msg::FooterPersonalData), None, body).into_response())
}

pub async fn accessibilite(State(st): State<AppState>, lang: Lang) -> WebResult<Response> {
    let p = &st.config.publication;
    let t = |m: Msg| m.text(lang);
    let fr = lang == Lang::Fr;
    let date = |d: &str| {
        if d.trim().is_empty() {
            t(Msg::LegalNotGiven).to_string()
        } else {
            display_date(lang, d)
        }
    };
    let body = html! {
        p { (p.publisher) " " (t(Msg::LegalIsCommittedToMakingIts)) " " (st.config.service_name) "." }
        section aria-labelledby="state-h" {
            h2 #state-h { (t(Msg::LegalComplianceStatus)) }
            p #compliance { (st.config.service_name) " " (t(Msg::LegalIs)) " " strong { (p.compliance_label(fr)) } " " (t(Msg::LegalWithTheFrenchAccessibilityFramework)) }
        }
        section aria-labelledby="results-h" {
            h2 #results-h { (t(Msg::LegalTestResults)) }
            @if p.audit_rate.trim().is_empty() {
                p #audit-rate { (t(Msg::LegalNoComplianceAuditHasBeen)) }
            } @else {
                p #audit-rate { (t(Msg::LegalTheComplianceAuditShowsThat)) " " (p.audit_rate) " " (t(Msg::LegalOfTheRgaaCriteriaAre)) }
            }
            p { (t(Msg::LegalAuditDate)) " : " span #audit-date { (date(&p.audit_date)) } }
            @if !p.audit_by.trim().is_empty() { p #audit-by { (p.audit_by) } }
        }
        section aria-labelledby="non-accessible-h" {
            h2 #non-accessible-h { (t(Msg::LegalNonAccessibleContent)) }
            @if p.non_accessible.is_empty() {
                p { (t(Msg::LegalNoNonAccessibleContentHas)) }
            } @else {
                ul #non-accessible { @for c in &p.non_accessible { li { (c) } } }
            }
        }
        section aria-labelledby="statement-h" {
            h2 #statement-h { (t(Msg::LegalPreparationOfThisStatement)) }
            p { (t(Msg::LegalThisStatementWasPreparedOn)) " " span #statement-date { (date(&p.statement_date)) } "." }
            p { (t(Msg::LegalTechnologiesUsedHtml5CssJavascript)) }
        }
        section aria-labelledby="feedback-h" {
            h2 #feedback-h { (t(Msg::LegalFeedbackAndContact)) }
            p { (t(Msg::LegalIfYouCannotAccessSome)) " " span #a11y-contact { (p.contact) } " " (t(Msg::LegalToBeDirectedToAn)) }
        }
        section aria-labelledby="remedies-h" {
            h2 #remedies-h { (t(Msg::LegalRemedies)) }
            p { (t(Msg::LegalIfYouReportAnAccessibility)) }
            ul {
                li { (t(Msg::LegalWriteToTheDFenseur)) }
                li { (t(Msg::LegalContactTheDFenseurDes)) }
                li { (t(Msg::LegalSendALetterFreeNo)) }
            }
        }
    };
    Ok(page(lang, t(Msg::FooterAccessibility), None, body).into_response())
}
