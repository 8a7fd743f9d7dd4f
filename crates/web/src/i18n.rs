//! Every UI string in French and English. A key is an enum variant, so a string
//! missing in one language is a compile error rather than a blank in the UI.
//!
//! Hand-written rather than a Fluent/gettext crate: the catalogue is small, fixed at
//! build time, and a `match` costs nothing per request.

use facteur_core::{EscalationReason, MessageState, RejectReason};
use serde::{Deserialize, Serialize};

/// UI language. French is the default (French public administration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Fr,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "fr" => Some(Lang::Fr),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// First supported language in an `Accept-Language` header, in the client's
    /// order of preference (q-values honoured, ties keep header order).
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut prefs: Vec<(f32, usize, Lang)> = Vec::new();
        for (i, item) in header.split(',').enumerate() {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim();
            let primary = tag.split('-').next().unwrap_or("");
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(l) = Lang::parse(primary) {
                if q > 0.0 {
                    prefs.push((q, i, l));
                }
            }
        }
        prefs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        prefs.first().map(|p| p.2)
    }
}

macro_rules! catalogue {
    ($($key:ident => $fr:literal, $en:literal;)+) => {
        /// A UI string key.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Msg { $($key),+ }

        impl Msg {
            pub const ALL: &'static [Msg] = &[$(Msg::$key),+];

            pub fn text(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((Msg::$key, Lang::Fr) => $fr, (Msg::$key, Lang::En) => $en,)+
                }
            }
        }
    };
}

catalogue! {
    AppName => "Facteur", "Facteur";
    SkipToContent => "Aller au contenu", "Skip to content";
    SkipToMenu => "Aller au menu", "Skip to menu";
    SkipToFooter => "Aller au pied de page", "Skip to footer";
    QuickAccess => "Accès rapide", "Quick access";
    Home => "Accueil", "Home";
    FooterDescription => "Facteur prépare les réponses aux messages des boîtes fonctionnelles ; un agent valide chaque réponse avant son envoi. Logiciel libre, hébergé par le service, sans fournisseur d'IA extérieur.", "Facteur drafts the replies to a shared mailbox's messages; an agent validates every reply before it is sent. Free software, hosted by the service, with no outside AI provider.";
    MainNav => "Navigation principale", "Main navigation";
    Login => "Connexion", "Sign in";
    Logout => "Se déconnecter", "Sign out";
    ReviewOverdueSince => "Revue du modèle en retard depuis le", "Model review overdue since";
    ReviewNow => "Faire la revue", "Review it now";
    Supervision => "Supervision", "Supervision";
    Models => "Modèles", "Models";
    Transparency => "Transparence", "Transparency";
    Username => "Identifiant", "Username";
    Password => "Mot de passe", "Password";
    LoginFailed => "Identifiant ou mot de passe incorrect.", "Wrong username or password.";
    TooManyAttempts => "Trop de tentatives échouées. Réessayez dans 15 minutes.", "Too many failed attempts. Try again in 15 minutes.";
    Queue => "File d'attente", "Queue";
    Mailboxes => "Boîtes fonctionnelles", "Mailboxes";
    Mailbox => "Boîte", "Mailbox";
    TabNew => "Nouveaux", "New";
    TabReady => "Prêts à valider", "Ready to validate";
    TabResearch => "Recherche nécessaire", "Needs research";
    TabEscalated => "Escaladés", "Escalated";
    TabOutgoing => "En attente d'envoi", "Waiting to be sent";
    TabSent => "Envoyés", "Sent";
    TabAll => "Tous", "All";
    AllAgents => "tous les agents", "all agents";
    SearchWords => "Mots recherchés", "Search words";
    ReceivedFrom => "Reçu à partir du", "Received from";
    ReceivedTo => "jusqu'au", "until";
    ColSubject => "Objet", "Subject";
    ColSender => "Expéditeur", "Sender";
    AttachmentMentionedMissing => "Le message annonce une pièce jointe, mais aucune n'est jointe : demandez-la si la réponse en dépend.", "The message announces an attachment, but none is attached: ask for it if the reply depends on it.";
    ColAssignee => "Attribué à", "Assigned to";
    MyMessages => "Mes messages", "My messages";
    ColType => "Type de demande", "Request type";
    ColConfidence => "Confiance", "Confidence";
    ColAge => "Ancienneté", "Age";
    ColDraft => "Brouillon prêt", "Draft ready";
    ColState => "État", "State";
    StateAbstained => "Sans suggestion", "No suggestion";
    StateValidated => "Validé, en attente d'envoi", "Validated, waiting to be sent";
    StateClosed => "Clos", "Closed";
    StateAutomatic => "Automatique — pas de réponse", "Automatic — no reply";
    Yes => "oui", "yes";
    No => "non", "no";
    Filter => "Filtrer", "Filter";
    Category => "Catégorie", "Category";
    AllCategories => "Toutes", "All";
    SortBy => "Trier par", "Sort by";
    SortAge => "ancienneté", "age";
    SortConfidence => "confiance", "confidence";
    NextPage => "Page suivante", "Next page";
    EmptyQueue => "Aucun message dans cet onglet.", "No message in this tab.";
    OriginalMail => "Courriel d'origine", "Original mail";
    ShowImages => "Afficher les images", "Show images";
    Attachments => "Pièces jointes", "Attachments";
    Download => "Télécharger", "Download";
    Thread => "Conversation", "Thread";
    NewText => "Nouveau texte (nettoyé)", "New text (cleaned)";
    QuotedParts => "Parties citées", "Quoted parts";
    PersonalDataMasked => "Les données personnelles sont masquées.", "Personal data is masked.";
    RevealPii => "Afficher les données personnelles (journalisé)", "Reveal personal data (logged)";
    Suggestions => "Réponses suggérées", "Suggested answers";
    Why => "Pourquoi", "Why";
    NoSuggestionBelowThreshold => "aucune suggestion (confiance sous le seuil)", "no suggestion (confidence below the threshold)";
    NoSuggestion => "Aucune suggestion : le modèle s'abstient.", "No suggestion: the model abstains.";
    DraftWithdrawn => "Suggestion retirée : un superviseur a coupé les suggestions pour cette boîte ou ce type de demande. Rédigez la réponse vous-même.", "Suggestion withdrawn: a supervisor switched suggestions off for this mailbox or request type. Write the reply yourself.";
    Draft => "Brouillon de réponse", "Draft reply";
    DraftRejected => "Le brouillon proposé a été rejeté : rédigez la réponse vous-même.", "The suggested draft was rejected: write the reply yourself.";
    ValidateSend => "Valider et envoyer", "Validate and send";
    CorrectCategory => "Corriger la catégorie", "Correct the category";
    RejectDraft => "Rejeter le brouillon", "Reject the draft";
    Reason => "Motif", "Reason";
    ReasonWrongType => "Mauvais type de demande", "Wrong request type";
    ReasonOutdated => "Réponse obsolète", "Outdated answer";
    ReasonResearch => "Recherche personnelle nécessaire", "Needs personal research";
    ReasonTone => "Ton", "Tone";
    ReasonOther => "Autre", "Other";
    EscalationReasonLabel => "Motif de l'escalade", "Reason for escalating";
    EscalatePersonalResearch => "Recherche personnelle nécessaire (dossier, paiement, situation)", "Needs personal research (file, payment, situation)";
    EscalateComplaint => "Réclamation ou contestation", "Complaint or dispute";
    EscalateLegal => "Question juridique ou contentieux", "Legal question or litigation";
    EscalateOtherService => "Relève d'un autre service", "For another service";
    EscalateOther => "Autre motif", "Other reason";
    EscalatedBecause => "Escaladé :", "Escalated:";
    Assign => "Attribuer", "Assign";
    AssignTo => "Attribuer à", "Assign to";
    Escalate => "Escalader", "Escalate";
    Outbox => "Boîte d'envoi", "Outbox";
    ValidatedBy => "Validé par", "Validated by";
    Attempts => "Tentatives", "Attempts";
    OutboxQueued => "En attente d'envoi", "Queued";
    OutboxSending => "Envoi en cours", "Sending";
    OutboxSent => "Envoyée", "Sent";
    OutboxFailed => "Échec", "Failed";
    OutboxUndelivered => "Non distribuée", "Undelivered";
    DraftRetiredRefused => "Ce brouillon repose sur une version retirée de la réponse type : reconstruisez-le depuis la version en vigueur, ou confirmez l'envoi de ce texte.", "This draft rests on a retired version of the standard answer: rebuild it from the current version, or confirm sending this text.";
    DraftRetiredWarning => "La version de la réponse type utilisée par ce brouillon a été retirée : son texte n'est plus en vigueur.", "The version of the standard answer this draft uses was retired: its text is no longer in force.";
    RebuildDraft => "Reconstruire depuis la version en vigueur", "Rebuild from the current version";
    DoneValidated => "Réponse validée.", "Reply validated.";
    DoneSendIn => "Envoi dans", "Sending in";
    DoneSeeMessage => "voir le message", "see the message";
    DoneEscalated => "Message escaladé.", "Message escalated.";
    FormUnreadable => "Formulaire trop volumineux ou illisible.", "Form body too large or unreadable.";
    NoSenderAddress => "Le message n'a pas d'adresse d'expéditeur : impossible d'y répondre.", "The message has no sender address: it cannot be answered.";
    NoLongerAwaitsReply => "Ce message n'attend plus de réponse : son brouillon ne peut plus être reconstruit.", "This message no longer awaits a reply: its draft cannot be rebuilt.";
    UnknownRequestType => "Type de demande inconnu", "Unknown request type";
    UnknownRejectReason => "Motif de rejet inconnu", "Unknown reject reason";
    UnknownUser => "Utilisateur inconnu ou désactivé", "Unknown or inactive user";
    UserNoAccess => "Cet utilisateur n'a pas accès à cette boîte", "This user has no access to this mailbox";
    UnknownEscalationReason => "Motif d'escalade inconnu", "Unknown escalation reason";
    UnknownCloseReason => "Motif de clôture inconnu", "Unknown reason for closing";
    SearchLength => "La recherche doit compter de 1 à 1000 caractères.", "The search must have 1 to 1000 characters.";
    UnknownState => "État inconnu", "Unknown state";
    InvalidPageCursor => "Curseur de page invalide.", "Invalid page cursor.";
    UnknownTab => "Onglet inconnu", "Unknown tab";
    UnknownAgent => "Agent inconnu", "Unknown agent";
    InvalidDate => "Date invalide", "Invalid date";
    NoRegistryDir => "Aucun répertoire de données n'est configuré pour le registre des modèles.", "No data directory is configured for the model registry.";
    MailboxIdNotNumber => "L'identifiant de boîte doit être un nombre.", "The mailbox id must be a number.";
    UnknownSwitchScope => "Portée de coupure inconnue.", "Unknown switch scope.";
    SwitchActionOffOn => "L'action doit être « off » ou « on ».", "The action must be 'off' or 'on'.";
    UnknownRole => "Rôle inconnu.", "Unknown role.";
    UsernameAndNameRequired => "L'identifiant et le nom affiché sont obligatoires.", "The username and the display name are required.";
    InvalidMailboxId => "Identifiant de boîte invalide.", "Invalid mailbox id.";
    CannotDeactivateSelf => "Vous ne pouvez pas désactiver votre propre compte.", "You cannot deactivate your own account.";
    NameAndAddressRequired => "Un nom et une adresse électronique sont obligatoires.", "A name and an e-mail address are required.";
    MessageStateIs => "État du message", "Message state";
    AnswerVersionLabel => "Version de la réponse type", "Standard answer version";
    FormMalformed => "Le formulaire envoyé est incomplet ou mal formé : rechargez la page et recommencez.", "The form sent is incomplete or malformed: reload the page and try again.";
    JsonMalformed => "Le corps JSON de la requête est absent, mal formé ou incomplet.", "The request's JSON body is missing, malformed or incomplete.";
    PathInvalid => "Adresse invalide : un identifiant n'a pas le format attendu.", "Invalid address: an identifier is not in the expected format.";
    QueryInvalid => "Paramètres d'adresse invalides.", "Invalid query parameters.";
    AnswerIdMustStay => "L'identifiant doit rester", "The id must stay";
    AnswerErrIo => "fichier illisible", "unreadable file";
    AnswerErrFrontMatter => "en-tête TOML (entre les lignes +++) invalide {} : corrigez la syntaxe (textes entre guillemets, dates comme 2025-01-31, listes entre [ ], statut draft, validated ou retired)", "invalid TOML header (between the +++ lines) {}: fix the syntax (quoted texts, dates like 2025-01-31, lists in [ ], status draft, validated or retired)";
    AnswerErrMissingField => "champ {} absent ou vide dans l'en-tête : ajoutez-le", "field {} missing or empty in the header: add it";
    AnswerErrUndeclaredVariable => "la variable {} est utilisée sans être déclarée : ajoutez-la à `variables` ou retirez-la du texte", "variable {} is used but not declared: add it to `variables` or remove it from the text";
    AnswerErrUnusedVariable => "la variable {} est déclarée mais jamais utilisée : retirez-la de `variables` ou utilisez-la dans le texte", "variable {} is declared but never used in the text: remove it from `variables` or use it";
    AnswerErrUnknownRequestType => "le type de demande {} n'est pas dans la taxonomie : corrigez l'identifiant ou ajoutez-le à taxonomy.toml", "request type {} is not in the taxonomy: fix the id or add it to taxonomy.toml";
    AnswerErrExpired => "réponse validée mais expirée : revoyez-la et prolongez valid_until, ou passez son statut à retired", "validated answer but expired: review it and extend valid_until, or set its status to retired";
    AnswerErrInvalidDates => "valid_from est postérieure à valid_until : corrigez les dates", "valid_from is after valid_until: fix the dates";
    AnswerErrLinkNotWhitelisted => "le lien {} n'est pas dans `links` : ajoutez-le à la liste après vérification, ou retirez-le", "link {} is not in `links`: add it to the list after checking it, or remove it";
    AnswerErrDuplicate => "doublon {} : cet identifiant est déjà utilisé", "duplicate {}: this id is already used";
    OtherValidated => "a validé et mis en file la réponse", "validated and queued the reply";
    OtherEscalated => "a escaladé ce message", "escalated this message";
    OtherRejected => "a rejeté le brouillon", "rejected the draft";
    OtherCorrected => "a corrigé le type de demande", "corrected the request type";
    OtherAssigned => "a attribué ce message", "assigned this message";
    OtherUndid => "a annulé l'envoi", "cancelled the sending";
    OtherClosed => "a clos ce message sans réponse", "closed this message without a reply";
    OtherActed => "a agi sur ce message", "acted on this message";
    TextKeptBelow => "Votre texte, non envoyé, est conservé ci-dessous.", "Your text, not sent, is kept below.";
    FourEyes => "Vous avez écrit cette version : un autre superviseur doit la valider (principe des quatre yeux).", "You wrote this version: another supervisor must validate it (four-eyes principle).";
    AwaitsAnotherSupervisor => "À valider par un autre superviseur", "To be validated by another supervisor";
    LastAdmin => "C'est le dernier administrateur actif : nommez-en un autre avant de retirer celui-ci.", "This is the last active administrator: appoint another one before removing this one.";
    Reactivate => "Réactiver", "Reactivate";
    ConfirmDeactivate => "Désactiver ce compte ? Ses sessions sont fermées à l'instant ; il pourra être réactivé.", "Deactivate this account? Its sessions end at once; it can be reactivated.";
    ConfirmDeactivateButton => "Oui, désactiver", "Yes, deactivate";
    Cancel => "Annuler", "Cancel";
    EditMailbox => "Modifier la boîte", "Edit the mailbox";
    MailboxSendDelay => "Délai avant envoi (secondes ; vide : celui du service)", "Delay before sending (seconds; empty: the service's)";
    MailboxImapFolder => "Dossier IMAP relevé (vide : celui de la configuration ; pris en compte au prochain démarrage)", "IMAP folder read (empty: the config's; applies at the next start)";
    InvalidSendDelay => "Délai avant envoi invalide (un nombre de secondes de 0 à 3600)", "Invalid delay before sending (a number of seconds from 0 to 3600)";
    SupNotEnoughData => "Pas encore assez de données cette semaine ({} messages ; il en faut {}) : les indicateurs ne sont pas encore interprétés.", "Not enough data yet this week ({} messages; {} needed): the indicators are not interpreted yet.";
    SupMixAlert => "La répartition des demandes a changé nettement : vérifiez les nouveaux motifs avant la prochaine revue du modèle.", "The mix of requests changed markedly: check the new reasons before the model's next review.";
    SupMixWarn => "La répartition des demandes bouge un peu : rien à faire pour l'instant, à surveiller la semaine prochaine.", "The mix of requests moves a little: nothing to do yet, watch it next week.";
    SupMixOk => "La répartition des demandes est stable.", "The mix of requests is stable.";
    SupAbstainAlert => "Le modèle ne propose rien pour {} des messages (seuil : {}) : des demandes nouvelles ou mal couvertes arrivent ; signalez-les pour compléter les réponses types.", "The model proposes nothing for {} of the messages (threshold: {}): new or poorly covered requests are arriving; report them so the standard answers can be completed.";
    SupAbstainOk => "Le modèle propose un type pour {} des messages.", "The model proposes a type for {} of the messages.";
    SupOovAlert => "{} des mots des messages sont inconnus du modèle (seuil : {}) : le vocabulaire des usagers change ; prévoyez un réentraînement.", "{} of the words in the messages are unknown to the model (threshold: {}): the users' vocabulary is changing; plan a retraining.";
    SupOovOk => "Le vocabulaire des messages reste celui que le modèle connaît.", "The messages' vocabulary is still the one the model knows.";
    SupAcceptNotEnough => "Pas encore assez de brouillons traités pour juger de leur qualité ({} sur {} nécessaires).", "Not enough drafts handled yet to judge their quality ({} of {} needed).";
    SupAcceptAlert => "Seuls {} des brouillons traités partent tels quels ou presque (seuil : {}) : regardez les corrections des agents avant la prochaine revue.", "Only {} of the drafts handled leave as they are or nearly (threshold: {}): look at the agents' corrections before the next review.";
    SupAcceptOk => "{} des brouillons traités partent tels quels ou presque.", "{} of the drafts handled leave as they are or nearly.";
    SupWeekNeedsAction => "Cette semaine demande une action.", "This week needs action.";
    AttachmentLabel => "Pièce jointe :", "Attachment:";
    UnnamedAttachment => "(sans nom)", "(unnamed)";
    AttachmentTextExtracted => "texte extrait", "text extracted";
    AttachmentTextOcr => "texte lu par reconnaissance de caractères (à vérifier)", "text read by character recognition (check it)";
    AttachmentNoText => "pas de texte", "no text";
    AttachmentTruncated => "début seulement", "beginning only";
    AttachmentTooLarge => "trop volumineuse pour être lue", "too large to be read";
    AttachmentTimeout => "lecture interrompue (délai dépassé)", "reading stopped (time budget)";
    AttachmentNoTextLayer => "pas de texte lisible (document numérisé : la reconnaissance de caractères est désactivée)", "no readable text (scanned document: character recognition is off)";
    AttachmentUnreadable => "illisible (fichier endommagé ou protégé)", "unreadable (damaged or protected file)";
    AttachmentToolMissing => "non lue (outil d'extraction absent sur ce serveur)", "not read (extraction tool missing on this server)";
    Page => "page", "page";
    PagesWord => "pages", "pages";
    OkUserCreated => "Compte créé.", "Account created.";
    OkUserDeactivated => "Compte désactivé : il ne peut plus se connecter.", "Account deactivated: it can no longer sign in.";
    OkUserReactivated => "Compte réactivé.", "Account reactivated.";
    OkMailboxCreated => "Boîte créée.", "Mailbox created.";
    OkMailboxSaved => "Réglages de la boîte enregistrés.", "Mailbox settings saved.";
    OkSwitchOff => "Suggestions coupées : effet sous quelques secondes sur tous les serveurs.", "Suggestions switched off: in effect within seconds on every server.";
    OkSwitchOn => "Suggestions rétablies.", "Suggestions switched back on.";
    OkModelPromoted => "Modèle mis en service.", "Model put into service.";
    OkModelRolledBack => "Retour au modèle précédent effectué.", "Rolled back to the previous model.";
    OkModelReviewed => "Revue du modèle enregistrée.", "Model review recorded.";
    SupTimePerMailbox => "Temps rendu par boîte", "Time given back per mailbox";
    SupLatestWeek => "Dernière semaine", "Latest week";
    SupOverThePeriod => "Sur la période", "Over the period";
    SupWeekNoAction => "Rien à faire cette semaine.", "Nothing to do this week.";
    SupWeekNotJudged => "Cette semaine ne peut pas encore être jugée.", "This week cannot be judged yet.";
    SupTechnicalDetails => "Détails techniques (PSI, taux, seuils, graphiques)", "Technical details (PSI, rates, thresholds, charts)";
    ChartWeeks => "{} semaines.", "{} weeks.";
    ChartRange => "{} : de {} à {}, au plus {}.", "{}: from {} to {}, at most {}.";
    ChartThreshold => "Seuil d'alerte : {}.", "Alert threshold: {}.";
    ChartThresholdMark => "seuil {}", "threshold {}";
    DoneClosed => "Message clos sans réponse.", "Message closed without a reply.";
    CloseReasonLabel => "Motif de la clôture", "Reason for closing";
    CloseWithoutReply => "Clore sans réponse", "Close without a reply";
    CloseThanks => "Remerciement seul, rien à répondre", "Thanks only, nothing to answer";
    CloseDuplicate => "Doublon d'un message déjà traité", "Duplicate of a message already handled";
    CloseAnsweredElsewhere => "Déjà traité par un autre canal (téléphone, accueil, courrier)", "Already handled through another channel (phone, counter, letter)";
    CloseSpam => "Indésirable", "Unsolicited mail";
    ThanksOnlySuggestion => "Ce message ne fait que remercier ou clore l'échange : il n'appelle pas de réponse.", "This message only thanks or closes the conversation: it needs no reply.";
    ThanksOnlyKey => "Touche c pour clore.", "Press c to close.";
    CitizenHistory => "Du même citoyen", "From the same citizen";
    DaysWord => "jours", "days";
    CitizenHistoryReply => "Réponse", "Reply";
    DuplicateOf => "Doublon probable du message", "Probable duplicate of message";
    DuplicateWhy => "même citoyen, même demande, presque les mêmes mots", "same citizen, same request, nearly the same words";
    CloseDuplicatesToo => "Clore aussi avec cette réponse les doublons de ce message :", "Also close this message's duplicates with this reply:";
    DoneUndone => "Envoi annulé : la réponse vous est rendue, rien n'est parti.", "Sending cancelled: the reply is back with you, nothing left.";
    UndoSend => "Annuler l'envoi", "Cancel sending";
    UndoNothingHeld => "Aucune réponse en attente d'envoi pour ce message : il n'y a rien à annuler.", "No reply is waiting to be sent for this message: there is nothing to cancel.";
    UndoTooLate => "Trop tard pour annuler : la réponse est déjà partie ou en cours d'envoi. Consultez l'onglet « Envoyés ».", "Too late to cancel: the reply has left or is being sent. See the \"Sent\" tab.";
    SendScheduled => "Envoi prévu dans", "Sending in";
    Timeline => "Historique", "History";
    TimelineReceived => "Reçu", "Received";
    TimelineTriaged => "Trié", "Triaged";
    TimelineModel => "modèle", "model";
    TimelineDrafted => "brouillon préparé depuis", "draft prepared from";
    TimelineValidated => "Validé par", "Validated by";
    TimelineEdited => "texte modifié", "text edited";
    TimelineUndone => "Envoi annulé par", "Sending cancelled by";
    TimelineCorrected => "Type corrigé par", "Type corrected by";
    TimelineRejected => "Brouillon rejeté par", "Draft rejected by";
    TimelineEscalated => "Escaladé par", "Escalated by";
    TimelineAssigned => "Attribué à", "Assigned to";
    TimelineRevealed => "Données personnelles affichées par", "Personal data revealed by";
    TimelineQueued => "Mis en file d'envoi", "Queued for sending";
    TimelineSendAt => "envoi prévu le", "sending due on";
    TimelineSent => "Envoyé (accepté par le serveur d'envoi)", "Sent (accepted by the mail relay)";
    TimelineSentText => "Texte envoyé et destinataire", "Text sent and recipient";
    ViewingSince => "consulte ce message depuis", "has had this message open for";
    YourText => "Votre texte (non envoyé)", "Your text (not sent)";
    AutoEscalated => "Escaladé automatiquement", "Escalated automatically";
    AutoEscalatedWords => "mots relevés", "words found";
    FlagComplaint => "réclamation ou contestation", "complaint or dispute";
    FlagLegalDeadline => "procédure ou échéance juridique (huissier, saisie, mise en demeure)", "legal step or deadline (bailiff, seizure, formal notice)";
    FlagDistress => "détresse", "distress";
    FlagThreat => "menace envers le personnel", "threat against the staff";
    KbShortcutHelp => "Raccourci : tapez « ::identifiant » dans le brouillon puis Entrée pour insérer cette réponse type.", "Shortcut: type \"::identifier\" in the draft then Enter to insert that standard answer.";
    KbInsertTitle => "Insérer une réponse type ou une fiche", "Insert a standard answer or a fiche";
    KbSearchLabel => "Rechercher dans les réponses types et les fiches", "Search the standard answers and fiches";
    Search => "Rechercher", "Search";
    KbNoResult => "Aucune réponse type ni fiche ne correspond.", "No standard answer or fiche matches.";
    KbEmptyQuery => "Saisissez des mots à rechercher.", "Type words to search for.";
    KbUnavailable => "La base de connaissances n'est pas disponible sur ce serveur : rédigez la réponse vous-même ou réessayez plus tard.", "The knowledge base is not available on this server: write the reply yourself or try again later.";
    KbInsertGone => "Ce résultat n'est plus proposé pour cette recherche : relancez-la.", "This result is no longer offered for this search: run it again.";
    KbInserted => "Inséré à la fin du brouillon :", "Inserted at the end of the draft:";
    KbInsertAnswer => "Insérer la réponse", "Insert the answer";
    KbInsertFiche => "Insérer le lien et l'extrait", "Insert the link and excerpt";
    KbKindAnswer => "réponse type", "standard answer";
    KbKindFiche => "fiche", "fiche";
    CandidatesTitle => "Types de demande possibles", "Possible request types";
    CandidatesHelp => "Le modèle hésite entre ces types. Choisissez le bon : le brouillon est rédigé à partir de sa réponse type, et votre choix est enregistré comme correction pour l'apprentissage.", "The model hesitates between these types. Pick the right one: the draft is written from its standard answer, and your choice is recorded as a correction for learning.";
    CandidateProbability => "probabilité", "probability";
    CandidateAnswer => "Réponse type :", "Standard answer:";
    CandidateNoAnswer => "aucune réponse type validée pour ce type", "no validated standard answer for this type";
    CandidateUse => "Rédiger avec ce type", "Draft with this type";
    CandidateChoose => "Choisir ce type", "Choose this type";
    ConfirmRetiredSend => "Envoyer quand même ce texte (j'ai vérifié qu'il reste exact)", "Send this text anyway (I checked it is still accurate)";
    ConfirmAutomaticSend => "Envoyer quand même (j'ai vérifié que ce n'est pas une boucle de réponses automatiques)", "Send anyway (I checked this is not an auto-reply loop)";
    RecipientAutomatic => "Le dernier courriel de ce destinataire était une réponse automatique : la réponse n'est pas mise en file sans confirmation d'un agent.", "The last mail from this recipient was an auto-reply: the reply is not queued unless an agent confirms.";
    OutboxRetry => "nouvel essai prévu", "retry scheduled";
    OutboxPermanent => "échec définitif : à reprendre par un agent", "permanent failure: needs an agent";
    DeliveryConfirmed => "Remise confirmée : la copie est revenue dans la boîte du service", "Delivery confirmed: the copy came back into the service's mailbox";
    ColDelivery => "Remise", "Delivery";
    To => "Destinataire", "To";
    StandardAnswers => "Réponses types", "Standard answers";
    NewAnswer => "Nouvelle réponse type", "New standard answer";
    AnswerId => "Identifiant", "Identifier";
    Title => "Titre", "Title";
    Language => "Langue", "Language";
    Content => "Contenu", "Content";
    ValidFrom => "Valide à partir du", "Valid from";
    ValidUntil => "Valide jusqu'au", "Valid until";
    Save => "Enregistrer", "Save";
    Retire => "Retirer", "Retire";
    ValidateAnswer => "Valider cette version", "Validate this version";
    Version => "Version", "Version";
    Status => "Statut", "Status";
    Edit => "Modifier", "Edit";
    ValidationErrors => "Erreurs de validation", "Validation errors";
    Line => "ligne", "line";
    Accounts => "Comptes", "Accounts";
    NewAccount => "Nouveau compte", "New account";
    DisplayName => "Nom affiché", "Display name";
    Role => "Rôle", "Role";
    Active => "Actif", "Active";
    Deactivate => "Désactiver", "Deactivate";
    NewMailbox => "Nouvelle boîte", "New mailbox";
    Name => "Nom", "Name";
    Address => "Adresse", "Address";
    Signature => "Signature", "Signature";
    Create => "Créer", "Create";
    Forbidden => "Accès refusé.", "Access denied.";
    NotFound => "Introuvable.", "Not found.";
    BadRequest => "Requête invalide.", "Invalid request.";
    FieldsToComplete => "À compléter avant de valider :", "To complete before validating:";
    ReplyEmpty => "La réponse est vide : écrivez-la avant de valider.", "The reply is empty: write it before validating.";
    WhySharedWords => "Mots communs avec le message :", "Words shared with the message:";
    WhyNothingShared => "Aucun passage de la réponse retenue ne reprend les mots du message.", "No passage of the chosen answer uses the message's words.";
    ChooseAgent => "— Choisir un agent —", "— Choose an agent —";
    ReplyUnfilled => "La réponse contient encore des champs à compléter : remplacez chacun par la bonne valeur, puis validez. Rien n'a été envoyé.", "The reply still has fields to complete: replace each with the right value, then validate. Nothing was sent.";
    CsrfFailed => "Jeton de sécurité invalide : rechargez la page.", "Invalid security token: reload the page.";
    Conflict => "Action impossible dans l'état actuel du message.", "Action not possible in the message's current state.";
    AlreadyExists => "Cet élément existe déjà.", "This item already exists.";
    UsernameTaken => "Ce nom d'utilisateur existe déjà.", "This username already exists.";
    MailboxTaken => "Une boîte avec cette adresse existe déjà.", "A mailbox with this address already exists.";
    MailboxNameTaken => "Une boîte portant ce nom existe déjà.", "A mailbox with this name already exists.";
    NothingToRollBack => "Aucune version précédente à laquelle revenir.", "There is no previous version to roll back to.";
    ModelWrongStatus => "Action impossible dans l'état actuel de ce modèle (déjà en service ou retiré).", "Action not possible in this model's current state (already active or retired).";
    MalformedMail => "Ce courriel est mal formé", "This mail is malformed";
    MalformedMailAdvice => "Une partie du texte du demandeur peut manquer ci-dessus (elle peut se trouver dans une « pièce jointe ») : affichez le courriel d'origine et ses pièces jointes avant de répondre.", "Part of the sender's text may be missing above (it may sit in an \"attachment\"): open the original mail and its attachments before replying.";
    RoleAgent => "Agent", "Agent";
    RoleSupervisor => "Superviseur", "Supervisor";
    RoleAdmin => "Administrateur", "Administrator";
    AnswerDraft => "Brouillon", "Draft";
    AnswerSubmitted => "Soumise pour validation", "Submitted for validation";
    SubmitForValidation => "Soumettre pour validation", "Submit for validation";
    SaveDraft => "Enregistrer le brouillon", "Save the draft";
    Preview => "Aperçu", "Preview";
    PreviewTitle => "Aperçu avec des valeurs d'exemple", "Preview with example values";
    PreviewExplained => "Le texte tel qu'un agent le recevrait pour une citoyenne fictive, Madame Martin : même formule d'appel, mêmes variables remplies que lors de la rédaction.", "The text as an agent would get it for a fictitious citizen, Ms Martin: the same greeting and the same variables filled as when drafting.";
    PreviewUnfilled => "À compléter par l'agent :", "For the agent to complete:";
    AnswerIdHint => "Lettres minuscules, chiffres et tirets, par exemple delais-paiement ; il ne change plus ensuite.", "Lower-case letters, digits and hyphens, for example payment-delay; it cannot change afterwards.";
    RequestTypes => "Types de demande", "Request types";
    AnswerLinks => "Liens autorisés", "Allowed links";
    AnswerLinksHint => "Un par ligne : toute adresse web, tout numéro ou courriel du texte doit y figurer, et chacun doit être utilisé.", "One per line: every web address, phone number or e-mail in the text must be listed here, and each must be used.";
    AnswerBody => "Texte de la réponse", "Answer text";
    AnswerBodyHint => "Les variables s'écrivent {{nom}} ; la première ligne est « Bonjour {{civilite}} {{nom}}, ».", "Variables are written {{name}}; the first line is \"Bonjour {{civilite}} {{nom}},\".";
    VariablesTitle => "Variables du texte", "Variables in the text";
    VariablesNone => "Aucune variable.", "No variables.";
    VariableFilled => "remplie à la rédaction", "filled when drafting";
    VariableForAgent => "à compléter par l'agent avant l'envoi", "for the agent to complete before sending";
    AnswerFileFold => "Modifier le fichier de la réponse (format d'import et d'export)", "Edit the answer file (import and export format)";
    AnswerFileExplained => "Le même contenu au format des fichiers que facteur kb import lit : en-tête TOML entre deux lignes +++, puis le texte. Les erreurs y sont signalées avec leur numéro de ligne.", "The same content in the file format facteur kb import reads: a TOML header between two +++ lines, then the text. Errors are reported with their line number.";
    VersionHistory => "Historique des versions", "Version history";
    Actions => "Actions", "Actions";
    CompareWithPrevious => "Comparer avec la précédente", "Compare with the previous one";
    DownloadFile => "Télécharger le fichier", "Download the file";
    DraftNotSubmitted => "Brouillon en cours de rédaction : pas encore soumis.", "Draft being written: not submitted yet.";
    AnswerNotSubmitted => "Cette version n'a pas été soumise pour validation par son auteur.", "This version has not been submitted for validation by its author.";
    AnswerSavedDraft => "Brouillon enregistré. Soumettez-le pour validation quand il est prêt.", "Draft saved. Submit it for validation when it is ready.";
    AnswerSubmittedNotice => "Version soumise pour validation : un autre superviseur doit la valider.", "Version submitted for validation: another supervisor must validate it.";
    AnswerValidatedNotice => "Version validée : elle sert désormais aux brouillons.", "Version validated: drafts now use it.";
    AnswerRetiredNotice => "Version retirée : elle ne sert plus aux brouillons.", "Version retired: drafts no longer use it.";
    DiffTitle => "Différences entre les versions", "Differences between versions";
    DiffNone => "Aucune différence.", "No differences.";
    AnswerValidated => "Validée", "Validated";
    AnswerRetired => "Retirée", "Retired";
    DefectHeaderBody => "pas de séparation entre en-têtes et corps", "no separation between headers and body";
    DefectInvalidHeader => "en-tête invalide", "invalid header";
    DefectNoBoundary => "partie multiple sans délimiteur (le texte peut être pris pour une pièce jointe)", "multipart without a boundary (the text may be taken for an attachment)";
    DefectStartBoundary => "délimiteur de début introuvable", "opening boundary not found";
    DefectCloseBoundary => "délimiteur de fin introuvable", "closing boundary not found";
    DefectTransferEncoding => "encodage de transfert inconnu", "unknown transfer encoding";
    DefectUnknownCharset => "jeu de caractères inconnu", "unknown character set";
    DefectCharsetBytes => "caractères invalides remplacés", "invalid characters replaced";
    DefectEncodedContent => "contenu encodé mal décodé", "encoded content that did not decode cleanly";
    DefectMessageId => "identifiant de message absent", "missing Message-ID";
    DefectOversized => "message trop volumineux, conservé brut", "message too large, kept raw";
    DefectNotAMessage => "ce n'est pas un courriel reconnaissable", "not a recognisable mail";
    DefectOther => "autre anomalie", "other anomaly";
    ServerError => "Erreur interne.", "Internal error.";
    KeyboardHelp => "Raccourcis clavier", "Keyboard shortcuts";
    KeyHelpText => "j / k : message suivant / précédent ; e : modifier le brouillon ; v puis v : valider et envoyer ; 1, 2, 3 : répondre avec le type proposé n° 1, 2 ou 3 ; x : escalader (choisir le motif) ; c : clore sans réponse (un remerciement seul se clôt directement) ; dans le brouillon, ::identifiant puis Entrée : insérer cette réponse type ; ? : aide", "j / k: next / previous message; e: edit draft; v then v: validate and send; 1, 2, 3: answer with proposed type 1, 2 or 3; x: escalate (choose the reason); c: close without a reply (a thanks-only mail closes at once); in the draft, ::identifier then Enter: insert that standard answer; ?: help";
    ValidateKeyConfirm => "Appuyez de nouveau sur v pour valider et envoyer (Échap pour annuler).", "Press v again to validate and send (Esc to cancel).";
    SwitchLanguage => "English", "Français";
    From => "De", "From";
    ReplyGoesTo => "Réponse envoyée à", "Reply sent to";
    ReplyToGivenBy => "adresse de réponse indiquée par le message ; expéditeur :", "reply address given by the message; sender:";
    ReplyToSenderMasked => "l'expéditeur (adresse masquée)", "the sender (address masked)";
    ReplyToOtherMasked => "une adresse de réponse indiquée par le message, différente de l'expéditeur (masquée) : affichez les données personnelles pour la vérifier avant de valider.", "a reply address given by the message, not the sender (masked): reveal personal data to check it before validating.";
    ReplyToIgnored => "l'adresse de réponse indiquée par le message n'est pas valide : la réponse va à l'expéditeur.", "the reply address given by the message is not valid: the reply goes to the sender.";
    NoReplyAddress => "aucune adresse : ce message ne peut pas recevoir de réponse.", "no address: this message cannot be answered.";
    Done => "Action enregistrée.", "Action recorded.";
    Back => "Retour à la file", "Back to the queue";
    NextMessage => "Message suivant", "Next message";
    PreviousMessage => "Message précédent", "Previous message";
    Minutes => "min", "min";
    Hours => "h", "h";
    Days => "j", "d";
    MyAccount => "Mon compte", "My account";
    ChangePassword => "Changer de mot de passe", "Change password";
    CurrentPassword => "Mot de passe actuel", "Current password";
    NewPassword => "Nouveau mot de passe", "New password";
    ConfirmPassword => "Confirmation du nouveau mot de passe", "Confirm the new password";
    PasswordRule => "Au moins 12 caractères. Une phrase de plusieurs mots est plus sûre et plus facile à retenir.", "At least 12 characters. A phrase of several words is safer and easier to remember.";
    PasswordChanged => "Mot de passe modifié. Vos autres sessions ont été fermées : les navigateurs où vous étiez connecté vous demanderont le nouveau mot de passe.", "Password changed. Your other sessions were signed out: browsers where you were signed in will ask for the new password.";
    WrongCurrentPassword => "Mot de passe actuel incorrect.", "Wrong current password.";
    PasswordsDiffer => "Le nouveau mot de passe et sa confirmation diffèrent.", "The new password and its confirmation differ.";
    PasswordTooShort => "Le nouveau mot de passe doit compter au moins 12 caractères.", "The new password must have at least 12 characters.";
    PasswordUnchanged => "Le nouveau mot de passe doit être différent de l'actuel.", "The new password must differ from the current one.";
    FooterAccessibility => "Accessibilité", "Accessibility";
    FooterLegalNotice => "Mentions légales", "Legal notice";
    FooterPersonalData => "Données personnelles", "Personal data";
    SupReasonFor => "Motif pour", "Reason for";
    SupReasonOptional => "motif (facultatif)", "reason (optional)";
    SupSwitchSuggestionsOff => "Couper les suggestions", "Switch suggestions off";
    SupSwitchSuggestionsBackOn => "Réactiver les suggestions", "Switch suggestions back on";
    SupNoActiveModelDriftIs => "Aucun modèle actif : la dérive est mesurée sans répartition de référence.", "No active model: drift is measured without a reference distribution.";
    SupMessagesTriagedByAnEarlier => "messages triés par une version antérieure du modèle (ou sans modèle) ne sont pas comparés à la répartition d'entraînement du modèle actif : la dérive ne porte que sur ses propres prédictions.", "messages triaged by an earlier model version (or without a model) are not compared with the active model's training mix: drift covers its own predictions only.";
    SupAlerts => "Alertes", "Alerts";
    SupNoAlertOverThePeriod => "Aucune alerte sur la période.", "No alert over the period.";
    SupAlertsMostRecentWeekFirst => "alertes, semaine la plus récente d'abord", "alerts, most recent week first";
    SupLevel => "Niveau", "Level";
    SupWeek => "Semaine", "Week";
    SupIndicator => "Indicateur", "Indicator";
    SupValue => "Valeur", "Value";
    SupThreshold => "Seuil", "Threshold";
    SupDrift => "Dérive", "Drift";
    SupNoTriagedMessageOverThe => "Aucun message trié sur la période.", "No triaged message over the period.";
    SupIndicatorsPerWeek => "Indicateurs par semaine", "Indicators per week";
    SupMessages => "Messages", "Messages";
    SupAbstention => "Abstention", "Abstention";
    SupOutOfVocabulary => "Hors vocabulaire", "Out of vocabulary";
    SupAcceptance => "Acceptation", "Acceptance";
    SupCorrections => "Corrections", "Corrections";
    SupAlertThresholds => "Seuils d'alerte", "Alert thresholds";
    SupAbstention2 => "abstention", "abstention";
    SupOutOfVocabulary2 => "hors vocabulaire", "out of vocabulary";
    SupAcceptanceBelow => "acceptation sous", "acceptance below";
    SupTimeGivenBackToAgents => "Temps rendu aux agents", "Time given back to agents";
    SupNoReplySentFromA => "Aucune réponse envoyée à partir d'un brouillon sur la période.", "No reply sent from a draft over the period.";
    SupHoursGivenBack => "Heures rendues", "Hours given back";
    SupHoursGivenBackPerWeek => "Heures rendues par semaine", "Hours given back per week";
    SupRepliesFromADraft => "Réponses issues d'un brouillon", "Replies from a draft";
    SupTakesEffectWithinSecondsOn => "Effet sous quelques secondes sur tous les serveurs du service, pour les messages triés ensuite ; chaque action est journalisée.", "Takes effect within seconds on every server of the service, for the next triaged messages; every action is logged.";
    SupWholeService => "Tout le service", "Whole service";
    SupScope => "Portée", "Scope";
    SupSuggestions => "Suggestions", "Suggestions";
    SupAction => "Action", "Action";
    SupOff => "coupées", "off";
    SupOn => "actives", "on";
    SupPerMailbox => "Par boîte", "Per mailbox";
    SupPerRequestType => "Par type de demande", "Per request type";
    SupNormal => "normal", "normal";
    SupWatch => "à surveiller", "watch";
    SupAlert => "alerte", "alert";
    SupTypeMixDriftPsi => "dérive des types (PSI)", "type mix drift (PSI)";
    SupOutOfVocabularyWords => "mots hors vocabulaire", "out-of-vocabulary words";
    SupAbstentionRate => "taux d'abstention", "abstention rate";
    SupDraftsAccepted => "brouillons acceptés", "drafts accepted";
    ModelsNoModelVersionIsRegistered => "Aucune version de modèle n'est enregistrée.", "No model version is registered.";
    ModelsRegisteredVersionsMetricsOnThe => "Versions enregistrées (métriques sur le jeu d'évaluation fixe)", "Registered versions (metrics on the fixed evaluation set)";
    ModelsTrainedOn => "Entraînée le", "Trained on";
    ModelsExamplesFromAgents => "Exemples (dont agents)", "Examples (from agents)";
    ModelsAccuracy => "Exactitude", "Accuracy";
    ModelsMacroF1VsActive => "Δ Macro-F1 / en service", "Δ Macro-F1 vs active";
    ModelsCoverageAt95 => "Couverture à 95 %", "Coverage at 95 %";
    ModelsReview => "Revue", "Review";
    ModelsActions => "Actions", "Actions";
    ModelsDifferentEvaluationSet => "(jeu d'évaluation différent)", "(different evaluation set)";
    ModelsRegressions => "Régressions", "Regressions";
    ModelsDue => "due le", "due";
    ModelsOverdue => "en retard", "overdue";
    ModelsLast => "dernière", "last";
    ModelsPromoteInMyName => "Promouvoir en mon nom", "Promote in my name";
    ModelsReviewDecision => "Décision de revue", "Review decision";
    ModelsNote => "Note", "Note";
    ModelsRecordTheReview => "Enregistrer la revue", "Record the review";
    ModelsRollBackToThePrevious => "Revenir à la version précédente", "Roll back to the previous version";
    ModelsNoDataDirectoryConfiguredPromotion => "Aucun répertoire de données configuré : promotion et retour arrière indisponibles.", "No data directory configured: promotion and rollback are unavailable.";
    ModelsYouWillBeRecordedAs => "Vous serez enregistré(e) comme responsable de l'action", "You will be recorded as responsible for the action";
    ModelsActive => "en service", "active";
    ModelsCandidate => "candidat", "candidate";
    ModelsRetired => "retiré", "retired";
    ModelsKeep => "conserver", "keep";
    ModelsRetrain => "réentraîner", "retrain";
    ModelsWithdraw => "retirer", "withdraw";
    LegalOriginalMailAsReceivedClosed => "Message original reçu (message clos)", "Original mail as received (closed message)";
    LegalAfterItWasReceived => "après sa réception", "after it was received";
    LegalHandledMessageDraftAndHistory => "Message traité, brouillon et historique (message clos)", "Handled message, draft and history (closed message)";
    LegalAfterItsLastChange => "après sa dernière modification", "after its last change";
    LegalPseudonymisedTextKeptForTraining => "Texte pseudonymisé conservé pour l'apprentissage", "Pseudonymised text kept for training";
    LegalAfterTheMessageSLast => "après la dernière modification du message", "after the message's last change";
    LegalPublisher => "Éditeur", "Publisher";
    LegalService => "Service", "Service";
    LegalDirectorOfPublication => "Directeur ou directrice de la publication", "Director of publication";
    LegalContact => "Contact", "Contact";
    LegalHosting => "Hébergement", "Hosting";
    LegalSoftware => "Logiciel", "Software";
    LegalFacteurFreeSoftwareHelpingTo => "Facteur, logiciel libre d'aide au traitement des messages, exécuté sur les serveurs du service, sans prestataire d'intelligence artificielle externe.", "Facteur, free software helping to handle messages, run on the service's own servers, without any external AI provider.";
    LegalDataController => "Responsable du traitement", "Data controller";
    LegalDataProtectionOfficer => "Délégué à la protection des données", "Data protection officer";
    LegalPurpose => "Finalité", "Purpose";
    LegalHelpAgentsAnswerTheMessages => "Aider les agents à répondre aux messages reçus dans les boîtes fonctionnelles du service : le logiciel masque les données personnelles, propose un type de demande et un brouillon de réponse type ; un agent nommé valide chaque réponse avant tout envoi.", "Help agents answer the messages received in the service's shared mailboxes: the software masks personal data, suggests a request type and a draft standard answer; a named agent validates every reply before anything is sent.";
    LegalLegalBasis => "Base légale", "Legal basis";
    LegalDataProcessed => "Données traitées", "Data processed";
    LegalTheMessagesReceivedSenderSubject => "Les messages reçus (expéditeur, objet, texte, pièces jointes) et les réponses apportées. Les données personnelles (numéro fiscal, numéro de sécurité sociale, IBAN, adresse électronique, téléphone, adresse, noms) sont masquées avant tout traitement par le modèle ; leur affichage par un agent est journalisé.", "The messages received (sender, subject, text, attachments) and the replies given. Personal data (tax number, social security number, IBAN, e-mail, phone, address, names) is masked before any processing by the model; any display by an agent is logged.";
    LegalRecipients => "Destinataires", "Recipients";
    LegalRetentionPeriods => "Durées de conservation", "Retention periods";
    LegalTheseAreThePeriodsApplied => "Ces durées sont celles appliquées chaque jour par la purge automatique :", "These are the periods applied every day by the automatic purge:";
    LegalYourRights => "Vos droits", "Your rights";
    LegalYouHaveARightOf => "Vous disposez d'un droit d'accès, de rectification, d'effacement, de limitation et d'opposition sur vos données. Le service peut extraire l'ensemble des messages vous concernant (droit d'accès) ou les effacer (droit à l'effacement).", "You have a right of access, rectification, erasure, restriction and objection regarding your data. The service can extract every message concerning you (right of access) or erase them (right to erasure).";
    LegalToExerciseTheseRightsWrite => "Pour exercer ces droits, écrivez à", "To exercise these rights, write to";
    LegalOrToTheDataProtection => "ou au délégué à la protection des données.", "or to the data protection officer.";
    LegalIfAfterContactingUsYou => "Si vous estimez, après nous avoir contactés, que vos droits ne sont pas respectés, vous pouvez adresser une réclamation à la CNIL (www.cnil.fr).", "If, after contacting us, you consider your rights are not respected, you may lodge a complaint with the CNIL (www.cnil.fr).";
    LegalHowTheAlgorithmWorks => "Fonctionnement de l'algorithme", "How the algorithm works";
    LegalReadTheAlgorithmSTransparency => "Consulter la fiche de transparence de l'algorithme", "Read the algorithm's transparency sheet";
    LegalNotGiven => "non renseignée", "not given";
    LegalIsCommittedToMakingIts => "s'engage à rendre ses services numériques accessibles, conformément à l'article 47 de la loi n° 2005-102 du 11 février 2005. Cette déclaration d'accessibilité s'applique à", "is committed to making its digital services accessible, in accordance with article 47 of French law 2005-102 of 11 February 2005. This accessibility statement applies to";
    LegalComplianceStatus => "État de conformité", "Compliance status";
    LegalIs => "est", "is";
    LegalWithTheFrenchAccessibilityFramework => "avec le référentiel général d'amélioration de l'accessibilité (RGAA), version 4.1.", "with the French accessibility framework (RGAA), version 4.1.";
    LegalTestResults => "Résultats des tests", "Test results";
    LegalNoComplianceAuditHasBeen => "Aucun audit de conformité n'a encore été réalisé.", "No compliance audit has been carried out yet.";
    LegalTheComplianceAuditShowsThat => "L'audit de conformité indique que", "The compliance audit shows that";
    LegalOfTheRgaaCriteriaAre => "des critères du RGAA sont respectés.", "of the RGAA criteria are met.";
    LegalAuditDate => "Date de l'audit", "Audit date";
    LegalNonAccessibleContent => "Contenus non accessibles", "Non-accessible content";
    LegalNoNonAccessibleContentHas => "Aucun contenu non accessible n'a été recensé à ce jour.", "No non-accessible content has been identified to date.";
    LegalPreparationOfThisStatement => "Établissement de cette déclaration", "Preparation of this statement";
    LegalThisStatementWasPreparedOn => "Cette déclaration a été établie le", "This statement was prepared on";
    LegalTechnologiesUsedHtml5CssJavascript => "Technologies utilisées : HTML5, CSS, JavaScript (facultatif, les pages fonctionnent sans).", "Technologies used: HTML5, CSS, JavaScript (optional, the pages work without it).";
    LegalFeedbackAndContact => "Retour d'information et contact", "Feedback and contact";
    LegalIfYouCannotAccessSome => "Si vous n'arrivez pas à accéder à un contenu ou à un service, contactez", "If you cannot access some content or service, contact";
    LegalToBeDirectedToAn => "pour être orienté vers une alternative accessible ou obtenir le contenu sous une autre forme.", "to be directed to an accessible alternative or obtain the content in another form.";
    LegalRemedies => "Voies de recours", "Remedies";
    LegalIfYouReportAnAccessibility => "Si vous constatez un défaut d'accessibilité vous empêchant d'accéder à un contenu ou à une fonctionnalité, que vous nous le signalez et que vous ne parvenez pas à obtenir une réponse de notre part, vous êtes en droit de faire parvenir vos doléances ou une demande de saisine au Défenseur des droits :", "If you report an accessibility defect preventing you from accessing content or a feature and get no answer from us, you may send your complaint or a referral request to the Défenseur des droits (French rights ombudsman):";
    LegalWriteToTheDFenseur => "écrire un message au Défenseur des droits (formulaire sur www.defenseurdesdroits.fr) ;", "write to the Défenseur des droits (form on www.defenseurdesdroits.fr);";
    LegalContactTheDFenseurDes => "contacter le délégué du Défenseur des droits dans votre région ;", "contact the Défenseur des droits' delegate in your region;";
    LegalSendALetterFreeNo => "envoyer un courrier par la poste (gratuit, ne pas mettre de timbre) : Défenseur des droits, Libre réponse 71120, 75342 Paris CEDEX 07.", "send a letter (free, no stamp needed): Défenseur des droits, Libre réponse 71120, 75342 Paris CEDEX 07.";
    TranspNoReplyIsSentWithout => "Aucune réponse n'est envoyée sans la validation d'un agent nommé.", "No reply is sent without being validated by a named agent.";
    TranspCpuSecondsPer1000 => "secondes CPU pour 1 000 messages", "CPU-seconds per 1,000 messages";
    TranspMessagesMeasured => "messages mesurés", "messages measured";
    TranspNotMeasured => "non mesuré", "not measured";
    TranspSheetGeneratedOn => "Fiche établie le", "Sheet generated on";
    TranspDataUsed => "Données utilisées", "Data used";
    TranspHumanOversight => "Contrôle humain", "Human oversight";
    TranspModelInUse => "Modèle en service", "Model in use";
    TranspTrainedOn => "Entraîné le", "Trained on";
    TranspPromotedOn => "Promu le", "Promoted on";
    TranspLastReview => "Dernière revue", "Last review";
    TranspNone => "aucune", "none";
    TranspNextReview => "Prochaine revue", "Next review";
    TranspOverdue => "(en retard)", "(overdue)";
    TranspTrainingExamples => "Exemples d'entraînement", "Training examples";
    TranspModelReads => "Ce que le modèle lit", "What the model reads";
    TranspWordsOnly => "les mots du courriel", "the words of the mail";
    TranspWordsAndMeaning => "les mots du courriel et leur sens, par un modèle d'embeddings", "the words of the mail and their meaning, through an embedding model";
    TranspAbstainThreshold => "Seuil d'abstention", "Abstain threshold";
    TranspThresholdOutOfFold => "ajusté sur les exemples d'entraînement (validation croisée)", "fitted on the training examples (cross-validation)";
    TranspThresholdCalibratedOn => "recalé sur des courriels étiquetés tenus à part de l'entraînement", "refitted on labelled mails held apart from training";
    TranspOfWhich => "dont", "of which";
    TranspThen => "\u{a0}; ", "; ";
    TranspOutOfScopeMails => "hors périmètre", "out of scope";
    TranspCoverageThere => "couverture", "coverage";
    TranspPrecisionThere => "précision", "precision";
    TranspOfWhichAgentsCorrections => "dont corrections d'agents", "of which agents' corrections";
    TranspNoModelIsRegisteredNo => "Aucun modèle n'est enregistré : aucune suggestion automatique n'est faite.", "No model is registered: no automatic suggestion is made.";
    TranspReviewPeriod => "Période de revue", "Review period";
    TranspKnowledgeBaseSearchLexicalAnd => "Recherche dans la base de connaissances : lexicale et sémantique, modèle d'embeddings", "Knowledge-base search: lexical and semantic, embedding model";
    TranspKnowledgeBaseSearchLexicalOnly => "Recherche dans la base de connaissances : lexicale seule (aucun modèle d'embeddings)", "Knowledge-base search: lexical only (no embedding model)";
    TranspMetricsOnTheFixedEvaluation => "Performances sur le jeu d'évaluation fixe", "Metrics on the fixed evaluation set";
    TranspMetric => "Indicateur", "Metric";
    TranspExamplesEvaluated => "Exemples évalués", "Examples evaluated";
    TranspCoverageAt95Precision => "Couverture à 95 % de précision", "Coverage at 95 % precision";
    TranspCalibrationErrorEce => "Erreur de calibration (ECE)", "Calibration error (ECE)";
    TranspNoMeasurementNoModelIn => "Pas de mesure : aucun modèle en service.", "No measurement: no model in use.";
    TranspVolumesHandled => "Volumes traités", "Volumes handled";
    TranspMessagesReceived => "Messages reçus", "Messages received";
    TranspSupervisorsControls => "Contrôles des superviseurs", "Supervisors' controls";
    TranspSuggestionsSwitchedOff => "Suggestions coupées", "Suggestions switched off";
    TranspForTheWholeService => "pour tout le service", "for the whole service";
    TranspMailboxEs => "boîte(s)", "mailbox(es)";
    TranspRequestTypeS => "type(s) de demande", "request type(s)";
    TranspExamplesExcludedFromTraining => "Exemples exclus de l'apprentissage", "Examples excluded from training";
    TranspPersonalDataAndYourRights => "Données personnelles et vos droits", "Personal data and your rights";
    TranspMeasuredComputeCost => "Coût de calcul mesuré", "Measured compute cost";
    TranspThisDataAsJson => "Ces données au format JSON", "This data as JSON";
    SsoRefused => "Connexion refusée", "Sign-in refused";
    SsoBackToSignIn => "Revenir à la page de connexion", "Back to the sign-in page";
    SsoSignInButton => "Se connecter avec le compte de l'administration", "Sign in with the administration's account";
    SsoSignedIn => "Connexion réussie", "Signed in";
    SsoContinue => "Continuer vers Facteur", "Continue to Facteur";
    SsoProviderDown => "Le service d'authentification de l'administration ne répond pas. Réessayez dans quelques minutes ou utilisez un compte local.", "The administration's sign-in service does not answer. Try again in a few minutes or use a local account.";
    SsoNoGroup => "Votre compte de l'administration n'a pas accès à Facteur : demandez à votre responsable de vous ajouter au groupe voulu.", "Your administration account has no access to Facteur: ask your manager to add you to the right group.";
    SsoDeactivated => "Votre compte Facteur est désactivé : adressez-vous à un administrateur.", "Your Facteur account is deactivated: ask an administrator.";
    SsoNameTaken => "Un compte local porte déjà ce nom : un administrateur doit le renommer ou le supprimer avant la première connexion par l'administration.", "A local account already has this name: an administrator must rename or remove it before the first sign-in through the administration.";
    SsoNotConfirmed => "Le service d'authentification de l'administration n'a pas pu confirmer la connexion. Réessayez.", "The administration's sign-in service could not confirm the sign-in. Try again.";
    SsoFailed => "La connexion par le compte de l'administration a échoué. Réessayez depuis la page de connexion.", "Signing in with the administration's account failed. Try again from the sign-in page.";
    SsoLocalOff => "Les comptes locaux sont désactivés : connectez-vous avec le compte de l'administration.", "Local accounts are turned off: sign in with the administration's account.";
    SupIndPsi => "Dérive de la répartition des types (PSI)", "Request-type mix drift (PSI)";
    SupIndAbstain => "Taux d'abstention", "Abstention rate";
    SupIndOov => "Mots hors vocabulaire", "Out-of-vocabulary words";
    SupIndAcceptance => "Brouillons acceptés", "Drafts accepted";
}

/// Why an agent rejected a draft, in words (the code stays in form values).
pub fn reject_reason_label(lang: Lang, r: RejectReason) -> &'static str {
    let m = match r {
        RejectReason::WrongType => Msg::ReasonWrongType,
        RejectReason::OutdatedAnswer => Msg::ReasonOutdated,
        RejectReason::NeedsResearch => Msg::ReasonResearch,
        RejectReason::Tone => Msg::ReasonTone,
        RejectReason::Other => Msg::ReasonOther,
    };
    m.text(lang)
}

/// Why an agent escalated a message, in words (the code stays in form values).
pub fn escalation_reason_label(lang: Lang, r: EscalationReason) -> &'static str {
    let m = match r {
        EscalationReason::PersonalResearch => Msg::EscalatePersonalResearch,
        EscalationReason::Complaint => Msg::EscalateComplaint,
        EscalationReason::Legal => Msg::EscalateLegal,
        EscalationReason::OtherService => Msg::EscalateOtherService,
        EscalationReason::Other => Msg::EscalateOther,
    };
    m.text(lang)
}

/// Why a message was closed without a reply, in words.
pub fn close_reason_label(lang: Lang, r: facteur_core::CloseReason) -> &'static str {
    use facteur_core::CloseReason;
    let m = match r {
        CloseReason::Thanks => Msg::CloseThanks,
        CloseReason::Duplicate => Msg::CloseDuplicate,
        CloseReason::AnsweredElsewhere => Msg::CloseAnsweredElsewhere,
        CloseReason::Spam => Msg::CloseSpam,
    };
    m.text(lang)
}

/// A sensitivity flag in words.
pub fn flag_label(lang: Lang, f: facteur_text::Flag) -> &'static str {
    use facteur_text::Flag;
    let m = match f {
        Flag::Complaint => Msg::FlagComplaint,
        Flag::LegalDeadline => Msg::FlagLegalDeadline,
        Flag::Distress => Msg::FlagDistress,
        Flag::Threat => Msg::FlagThreat,
    };
    m.text(lang)
}

/// An outbox state in words.
pub fn outbox_state_label(lang: Lang, s: facteur_core::OutboxState) -> &'static str {
    use facteur_core::OutboxState;
    let m = match s {
        OutboxState::Queued => Msg::OutboxQueued,
        OutboxState::Sending => Msg::OutboxSending,
        OutboxState::Sent => Msg::OutboxSent,
        OutboxState::Failed => Msg::OutboxFailed,
        OutboxState::Undelivered => Msg::OutboxUndelivered,
    };
    m.text(lang)
}

/// A message state in words (the code stays in `data-state` for scripts and tests).
pub fn state_label(lang: Lang, s: MessageState) -> &'static str {
    state_msg(s).text(lang)
}

/// A message state as the catalogue names it.
pub fn state_msg(s: MessageState) -> Msg {
    match s {
        MessageState::New => Msg::TabNew,
        MessageState::ReadyToValidate => Msg::TabReady,
        MessageState::NeedsResearch => Msg::TabResearch,
        MessageState::Escalated => Msg::TabEscalated,
        MessageState::Abstained => Msg::StateAbstained,
        MessageState::Validated => Msg::StateValidated,
        MessageState::Sent => Msg::TabSent,
        MessageState::Closed => Msg::StateClosed,
        MessageState::Automatic => Msg::StateAutomatic,
    }
}

/// An instant as agents read it, in UTC and said so (the server keeps no time
/// zone database): "06/12/2026 14:32 UTC", "2026-12-06 14:32 UTC".
pub fn timestamp(lang: Lang, ms: i64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return "—".into();
    };
    let (y, mo, d, h, mi) = (t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute());
    match lang {
        Lang::Fr => format!("{d:02}/{mo:02}/{y} {h:02}:{mi:02} UTC"),
        Lang::En => format!("{y}-{mo:02}-{d:02} {h:02}:{mi:02} UTC"),
    }
}

/// `msg` with each `{}` replaced, in order, by one of `values`.
pub fn fill(lang: Lang, msg: Msg, values: &[&str]) -> String {
    let mut out = String::new();
    let mut parts = msg.text(lang).split("{}");
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    for (i, part) in parts.enumerate() {
        out.push_str(values.get(i).copied().unwrap_or(""));
        out.push_str(part);
    }
    out
}

/// A share as a percentage, the way each language writes it: "12,5 %", "12.5%".
pub fn percent(lang: Lang, share: f64) -> String {
    if !share.is_finite() {
        return "—".into();
    }
    let v = format!("{:.1}", share * 100.0);
    let v = v.strip_suffix(".0").unwrap_or(&v).to_string();
    match lang {
        Lang::Fr => format!("{} %", v.replace('.', ",")),
        Lang::En => format!("{v}%"),
    }
}

/// A decimal number with the language's decimal mark: "0,12", "0.12".
pub fn decimal(lang: Lang, v: f64) -> String {
    if !v.is_finite() {
        return "—".into();
    }
    let s = format!("{v:.2}");
    match lang {
        Lang::Fr => s.replace('.', ","),
        Lang::En => s,
    }
}

/// Why an attachment gave no text, in words.
pub fn extract_failure_label(lang: Lang, f: facteur_core::ExtractFailure) -> &'static str {
    use facteur_core::ExtractFailure as F;
    match f {
        F::TooLarge => Msg::AttachmentTooLarge,
        F::Timeout => Msg::AttachmentTimeout,
        F::NoText => Msg::AttachmentNoTextLayer,
        F::Unreadable => Msg::AttachmentUnreadable,
        F::ToolMissing => Msg::AttachmentToolMissing,
    }
    .text(lang)
}

/// "1 page", "3 pages".
pub fn pages(lang: Lang, n: u32) -> String {
    let word = if n <= 1 { Msg::Page } else { Msg::PagesWord };
    format!("{n} {}", word.text(lang))
}

/// "semaine du 30 novembre 2026" / "week of 30 November 2026", from the ISO date
/// of the week's Monday; the ISO date itself when it does not parse.
pub fn week_of(lang: Lang, monday: &str) -> String {
    const FR: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    const EN: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let parts: Vec<&str> = monday.split('-').collect();
    let parsed = match parts.as_slice() {
        [y, m, d] => match (y.parse::<i32>(), m.parse::<usize>(), d.parse::<u32>()) {
            (Ok(y), Ok(m @ 1..=12), Ok(d)) => Some((y, m, d)),
            _ => None,
        },
        _ => None,
    };
    let Some((y, m, d)) = parsed else {
        return monday.to_string();
    };
    match lang {
        // French writes the first of the month as an ordinal: "1er septembre".
        Lang::Fr if d == 1 => format!("semaine du 1er {} {y}", FR[m - 1]),
        Lang::Fr => format!("semaine du {d} {} {y}", FR[m - 1]),
        Lang::En => format!("week of {d} {} {y}", EN[m - 1]),
    }
}

pub fn display_date(lang: Lang, iso: &str) -> String {
    let parts: Vec<&str> = iso.split('-').collect();
    match (lang, parts.as_slice()) {
        (Lang::Fr, [y, m, d]) => format!("{d}/{m}/{y}"),
        _ => iso.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_both_languages() {
        for m in Msg::ALL {
            assert!(!m.text(Lang::Fr).is_empty(), "{m:?} fr");
            assert!(!m.text(Lang::En).is_empty(), "{m:?} en");
        }
        assert_eq!(Msg::Login.text(Lang::Fr), "Connexion");
        assert_eq!(Msg::Login.text(Lang::En), "Sign in");
    }

    #[test]
    fn accept_language_honours_q_values() {
        assert_eq!(Lang::from_accept_language("en-GB,fr;q=0.5"), Some(Lang::En));
        assert_eq!(
            Lang::from_accept_language("fr-FR;q=0.4, en;q=0.9"),
            Some(Lang::En)
        );
        assert_eq!(
            Lang::from_accept_language("de, fr-CA;q=0.2"),
            Some(Lang::Fr)
        );
        assert_eq!(Lang::from_accept_language("de, es"), None);
        assert_eq!(Lang::from_accept_language(";;,q="), None);
    }

    #[test]
    fn dates_read_the_french_way_in_french_only() {
        assert_eq!(display_date(Lang::Fr, "2025-09-13"), "13/09/2025");
        assert_eq!(display_date(Lang::En, "2025-09-13"), "2025-09-13");
        assert_eq!(display_date(Lang::Fr, "garbage"), "garbage");
        assert_eq!(
            week_of(Lang::Fr, "2026-11-30"),
            "semaine du 30 novembre 2026"
        );
        assert_eq!(week_of(Lang::En, "2026-11-30"), "week of 30 November 2026");
        assert_eq!(
            week_of(Lang::Fr, "2025-09-01"),
            "semaine du 1er septembre 2025"
        );
        assert_eq!(week_of(Lang::En, "2025-09-01"), "week of 1 September 2025");
        assert_eq!(percent(Lang::Fr, 0.125), "12,5 %");
        assert_eq!(percent(Lang::En, 0.5), "50%");
        assert_eq!(decimal(Lang::Fr, 0.123), "0,12");
        assert_eq!(
            fill(Lang::En, Msg::SupAbstainOk, &["80%"]),
            "The model proposes a type for 80% of the messages."
        );
    }
}
