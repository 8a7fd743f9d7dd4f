//! The French of `facteur --help`. clap reads the help from the English doc
//! comments (the source, next to the code they describe); when the language is
//! French, `french` walks the whole command tree and puts the French of each text
//! from `FRENCH` in its place, with French section headings. A help text missing
//! from the table fails the unit tests, so a new option cannot ship untranslated.

use clap::{Arg, Command};

/// Put the French help texts in place of the English ones, everywhere in the tree.
pub fn french(mut cmd: Command) -> Command {
    // Building first adds clap's own `--help`, `--version` and `help` subcommand,
    // and copies the global options into every subcommand, so they are walked too.
    cmd.build();
    translate(cmd)
}

fn translate(mut cmd: Command) -> Command {
    if let Some(fr) = cmd.get_about().and_then(|s| lookup(&s.to_string())) {
        cmd = cmd.about(fr);
    }
    if let Some(fr) = cmd.get_long_about().and_then(|s| lookup(&s.to_string())) {
        cmd = cmd.long_about(fr);
    }
    let template = template(&cmd);
    cmd = cmd.help_template(template);
    let ids: Vec<String> = cmd
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect();
    for id in ids {
        cmd = cmd.mut_arg(id, translate_arg);
    }
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(name, translate);
    }
    cmd
}

fn translate_arg(mut arg: Arg) -> Arg {
    // clap writes "[default: X]" itself, in English: write it in French instead.
    // (Flags default to "false", which clap never shows.)
    let default = (arg.get_action().takes_values()
        && !arg.is_hide_default_value_set()
        && !arg.get_default_values().is_empty())
    .then(|| {
        let values: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        format!(" [défaut\u{a0}: {}]", values.join(", "))
    });
    if default.is_some() {
        arg = arg.hide_default_value(true);
    }
    let suffix = default.unwrap_or_default();
    if let Some(fr) = arg.get_help().and_then(|s| lookup(&s.to_string())) {
        arg = arg.help(format!("{fr}{suffix}"));
    } else if !suffix.is_empty() {
        arg = arg.help(suffix.trim_start().to_string());
    }
    if let Some(fr) = arg.get_long_help().and_then(|s| lookup(&s.to_string())) {
        arg = arg.long_help(format!("{fr}{suffix}"));
    }
    arg
}

/// clap's default layout, with French headings, and only the sections this
/// command has (the template's tags print nothing for an empty section, but
/// a heading written in the template would stay).
fn template(cmd: &Command) -> String {
    let mut t = String::from("{before-help}{about-with-newline}\nUtilisation : {usage}");
    if cmd.get_subcommands().any(|c| !c.is_hide_set()) {
        t.push_str("\n\nCommandes :\n{subcommands}");
    }
    if cmd.get_positionals().any(|a| !a.is_hide_set()) {
        t.push_str("\n\nArguments :\n{positionals}");
    }
    if cmd
        .get_arguments()
        .any(|a| !a.is_positional() && !a.is_hide_set())
    {
        t.push_str("\n\nOptions :\n{options}");
    }
    t.push_str("{after-help}");
    t
}

/// The French of an English help text, with no-break spaces before the double
/// punctuation and the percent sign, as French typography wants, so that the
/// help's line wrapping never leaves a ":" or a "%" alone at the start of a line.
fn lookup(en: &str) -> Option<String> {
    FRENCH
        .iter()
        .find(|(e, _)| *e == en)
        .map(|(_, fr)| nbsp(fr))
}

fn nbsp(fr: &str) -> String {
    let mut out = fr.to_string();
    for p in [" :", " ;", " %", " ?", " !", " »"] {
        out = out.replace(p, &p.replacen(' ', "\u{a0}", 1));
    }
    out.replace("« ", "«\u{a0}")
}

/// (English as clap reads it from the doc comment, French).
const FRENCH: &[(&str, &str)] = &[
    // facteur
    ("Facteur: a self-hosted assistant for shared public-service mailboxes",
     "Facteur : un assistant auto-hébergé pour les boîtes fonctionnelles des services publics"),
    ("Facteur: a self-hosted assistant for shared public-service mailboxes.\n\nIt reads mail, cleans it, protects personal data, recognises the request type and prepares a reply from validated standard answers. A named agent always decides: nothing is ever sent without a human validation. Everything runs offline on CPU.",
     "Facteur : un assistant auto-hébergé pour les boîtes fonctionnelles des services publics.\n\nIl lit le courrier, le nettoie, protège les données personnelles, reconnaît le type de demande et prépare une réponse à partir de réponses types validées. Un agent nommé décide toujours : rien n'est jamais envoyé sans validation humaine. Tout fonctionne hors ligne, sur CPU.\n\nLangue : français par défaut ; FACTEUR_LANG=en (ou language = \"en\" dans le fichier de configuration) pour l'anglais."),
    ("Config file (TOML). Default: $FACTEUR_CONFIG, else ./facteur.toml when present. Environment variables FACTEUR_DATA_DIR, FACTEUR_DATABASE_URL, FACTEUR_MODEL_DIR, FACTEUR_LISTEN, FACTEUR_LANG, FACTEUR_MIN_CONFIDENCE, FACTEUR_KB_REFRESH_SECS, FACTEUR_JOBS_RETENTION_DAYS, FACTEUR_EMBEDDING_MODEL and FACTEUR_EMBEDDING_URL (among others: README) override the file",
     "Fichier de configuration (TOML). Par défaut : $FACTEUR_CONFIG, sinon ./facteur.toml s'il existe. Les variables d'environnement FACTEUR_DATA_DIR, FACTEUR_DATABASE_URL, FACTEUR_MODEL_DIR, FACTEUR_LISTEN, FACTEUR_LANG (fr ou en), FACTEUR_MIN_CONFIDENCE, FACTEUR_KB_REFRESH_SECS, FACTEUR_JOBS_RETENTION_DAYS, FACTEUR_EMBEDDING_MODEL et FACTEUR_EMBEDDING_URL (entre autres : README) l'emportent sur le fichier"),
    // clap's own
    ("Print help (see more with '--help')", "Affiche l'aide (plus de détails avec --help)"),
    ("Print help (see a summary with '-h')", "Affiche l'aide (résumé avec -h)"),
    ("Print help", "Affiche l'aide"),
    ("Print version", "Affiche la version"),
    ("Print this message or the help of the given subcommand(s)",
     "Affiche ce message ou l'aide des sous-commandes données"),
    // train, eval
    ("Train a request-type classifier from JSON lines {\"text\",\"label\"}",
     "Entraîne un classifieur de types de demande sur des lignes JSON {\"text\",\"label\"}"),
    ("Training examples, JSON lines {\"text\": …, \"label\": …}",
     "Exemples d'entraînement, lignes JSON {\"text\": …, \"label\": …}"),
    ("Directory to write the model into (created if missing). Default: the configured model dir",
     "Dossier où écrire le modèle (créé s'il manque). Par défaut : le dossier de modèle configuré"),
    ("Precision the abstain threshold is chosen for (0–1)",
     "Précision visée par le seuil d'abstention (0–1)"),
    ("Labelled mail held apart from training (JSON lines {\"text\", \"label\"}; a label that is not a type of the model marks an out-of-scope mail): the abstain threshold is refitted on it, so that drafts reach the target precision on mail like it rather than on the training examples",
     "Courriels étiquetés tenus à part de l'entraînement (lignes JSON {\"text\", \"label\"} ; une étiquette qui n'est pas un type du modèle marque un courriel hors périmètre) : le seuil d'abstention y est recalé, pour que les brouillons atteignent la précision visée sur des courriels comme eux plutôt que sur les exemples d'entraînement"),
    ("Print a JSON summary on stdout", "Écrit un résumé JSON sur la sortie standard"),
    ("Evaluate a model on labelled JSON lines: accuracy, macro-F1, coverage at 95% precision, speed",
     "Évalue un modèle sur des lignes JSON étiquetées : exactitude, macro-F1, couverture à 95 % de précision, vitesse"),
    ("Model directory written by `facteur train`. Default: the configured model dir",
     "Dossier du modèle écrit par `facteur train`. Par défaut : le dossier de modèle configuré"),
    ("Labelled examples, JSON lines {\"text\": …, \"label\": …}",
     "Exemples étiquetés, lignes JSON {\"text\": …, \"label\": …}"),
    ("Print one JSON object on stdout", "Écrit un objet JSON sur la sortie standard"),
    ("Also print per-class precision, recall and F1",
     "Affiche aussi précision, rappel et F1 par classe"),
    // triage, suggest
    ("Read mail (.eml, mbox, Maildir, or - for stdin) and print what Facteur understands of each message",
     "Lit du courrier (.eml, mbox, Maildir, ou - pour l'entrée standard) et affiche ce que Facteur comprend de chaque message"),
    ("Mail to read: .eml files, mbox files, Maildir folders, directories (walked recursively), or - for standard input",
     "Courrier à lire : fichiers .eml, fichiers mbox, dossiers Maildir, répertoires (parcourus récursivement), ou - pour l'entrée standard"),
    ("Model directory. Default: the configured model dir when it holds a model; without a model, messages are read and cleaned but not classified",
     "Dossier du modèle. Par défaut : le dossier de modèle configuré s'il contient un modèle ; sans modèle, les messages sont lus et nettoyés mais pas classés"),
    ("Data directory holding a knowledge base (`facteur kb import`): adds the best passages and a draft to each message",
     "Dossier de données contenant une base de connaissances (`facteur kb import`) : ajoute à chaque message les meilleurs passages et un brouillon"),
    ("One JSON object per message on stdout (JSON lines)",
     "Un objet JSON par message sur la sortie standard (lignes JSON)"),
    ("Triage one message and prepare the reply: best standard answers, passages and draft",
     "Trie un message et prépare la réponse : meilleures réponses types, passages et brouillon"),
    ("The message (.eml), or - for standard input", "Le message (.eml), ou - pour l'entrée standard"),
    ("Data directory holding the knowledge base. Default: the configured data dir",
     "Dossier de données contenant la base de connaissances. Par défaut : le dossier de données configuré"),
    ("Model directory. Default: the configured model dir",
     "Dossier du modèle. Par défaut : le dossier de modèle configuré"),
    ("Signature of the mailbox, used to fill {{signature}}",
     "Signature de la boîte, qui remplit {{signature}}"),
    // kb
    ("Knowledge base: import fiches and standard answers, search, evaluate retrieval",
     "Base de connaissances : importer fiches et réponses types, chercher, évaluer la recherche"),
    ("Import service-public fiche files (.jsonl) and standard-answer folders (Markdown files with TOML front matter, and their taxonomy.toml). Re-importing unchanged files changes nothing",
     "Importe des fichiers de fiches service-public (.jsonl) et des dossiers de réponses types (fichiers Markdown avec en-tête TOML, et leur taxonomy.toml). Réimporter des fichiers inchangés ne change rien"),
    ("Data directory (default: the configured one)", "Dossier de données (par défaut : celui configuré)"),
    ("Taxonomy of request types for the answers (default: taxonomy.toml in or above each answer folder)",
     "Taxonomie des types de demande des réponses (par défaut : taxonomy.toml dans le dossier de réponses ou au-dessus)"),
    ("Fiche files (.jsonl) and standard-answer folders to import",
     "Fichiers de fiches (.jsonl) et dossiers de réponses types à importer"),
    ("Only index locally: do not record the answers in the database (which is otherwise the source every `serve`/`worker` node follows)",
     "Indexer localement seulement : ne pas enregistrer les réponses dans la base de données (sinon la source que suit chaque nœud `serve`/`worker`)"),
    ("Search the knowledge base and show the passages that matched",
     "Cherche dans la base de connaissances et montre les passages trouvés"),
    ("The data directory holding the index (default: the config's data_dir)",
     "Le dossier de données contenant l'index (par défaut : data_dir de la configuration)"),
    ("What to look for, in plain words", "Ce qu'il faut chercher, en langage courant"),
    ("How many results", "Nombre de résultats"),
    ("Machine-readable output (JSON) for scripts", "Sortie lisible par machine (JSON) pour les scripts"),
    ("Evaluate retrieval on graded queries {\"query\",\"relevant\":{id:grade}}: nDCG@10, recall@10, MRR@10, queries/s",
     "Évalue la recherche sur des requêtes notées {\"query\",\"relevant\":{id:note}} : nDCG@10, rappel@10, MRR@10, requêtes/s"),
    ("Graded queries, JSON lines {\"query\",\"relevant\":{id:grade}}",
     "Requêtes notées, lignes JSON {\"query\",\"relevant\":{id:note}}"),
    ("Check standard-answer files without importing them: every error with its file and line",
     "Vérifie des fichiers de réponses types sans les importer : chaque erreur avec son fichier et sa ligne"),
    ("The request-type taxonomy (default: taxonomy.toml in or above the answers folder)",
     "La taxonomie des types de demande (par défaut : taxonomy.toml dans le dossier de réponses ou au-dessus)"),
    ("The standard-answers folder to check", "Le dossier de réponses types à vérifier"),
    // demo
    ("Build a demo service from the shared data: knowledge base, demo model and a demo mailbox of French messages (marked as demo data)",
     "Construit un service de démonstration à partir des données partagées : base de connaissances, modèle de démonstration et boîte de démonstration de messages en français (marqués comme données de démonstration)"),
    ("Where to build the demo (created if missing)", "Où construire la démonstration (créé s'il manque)"),
    ("The standard answers folder (with taxonomy.toml and demo/)",
     "Le dossier des réponses types (avec taxonomy.toml et demo/)"),
    ("The shared data folder (default: $FACTEUR_SHARED_DATA, ../shared/data or ./shared/data)",
     "Le dossier des données partagées (par défaut : $FACTEUR_SHARED_DATA, ../shared/data ou ./shared/data)"),
    ("How many demo messages", "Nombre de messages de démonstration"),
    ("Build the demo service but do not serve it", "Construit le service de démonstration sans le servir"),
    ("Address to serve on", "Adresse d'écoute"),
    ("Only write a demo mailbox as an mbox file (for tests and benchmarks)",
     "Écrit seulement une boîte de démonstration en fichier mbox (pour les tests et les mesures)"),
    ("Where to write the mbox", "Où écrire le fichier mbox"),
    ("Random seed: the same seed writes the same mailbox",
     "Graine aléatoire : la même graine écrit la même boîte"),
    ("Mailbox address the demo mails are sent to",
     "Adresse de la boîte à laquelle les courriels de démonstration sont adressés"),
    // import, sync, serve
    ("Import mail files (.eml, mbox, Maildir) into a mailbox of the store; each message is triaged on arrival",
     "Importe des fichiers de courrier (.eml, mbox, Maildir) dans une boîte de la base ; chaque message est trié à son arrivée"),
    ("The mailbox to import into (declared in the config, or created by an admin)",
     "La boîte où importer (déclarée dans la configuration, ou créée par un administrateur)"),
    (".eml files, mbox files, Maildir folders or directories (walked recursively)",
     "Fichiers .eml, fichiers mbox, dossiers Maildir ou répertoires (parcourus récursivement)"),
    ("End with one JSON summary {\"fetched\",\"stored\",\"duplicates_skipped\",\"defects\",\"errors\"}",
     "Termine par un résumé JSON {\"fetched\",\"stored\",\"duplicates_skipped\",\"defects\",\"errors\"}"),
    ("Store only, and leave the triage to `facteur worker` processes: one `triage` job per new message (see docs/SCALE.md)",
     "Stocke seulement, et laisse le tri aux processus `facteur worker` : une tâche `triage` par nouveau message (voir docs/SCALE.md)"),
    ("Run the mailbox connectors once: IMAP ingest, then send the validated replies of the outbox",
     "Lance une fois les connecteurs des boîtes : relève IMAP, puis envoi des réponses validées de la boîte d'envoi"),
    ("Only this mailbox (default: every mailbox with an [mailbox.imap] or [mailbox.smtp] section)",
     "Seulement cette boîte (par défaut : chaque boîte ayant une section [mailbox.imap] ou [mailbox.smtp])"),
    ("Skip sending the validated replies of the outbox",
     "N'envoie pas les réponses validées de la boîte d'envoi"),
    ("End with one JSON summary {\"fetched\",\"stored\",\"duplicates_skipped\",\"defects\",\"errors\", \"sent\", …}",
     "Termine par un résumé JSON {\"fetched\",\"stored\",\"duplicates_skipped\",\"defects\",\"errors\", \"sent\", …}"),
    ("Serve the web app for agents, supervisors and administrators, with the connectors in the background",
     "Sert l'application web des agents, superviseurs et administrateurs, avec les connecteurs en arrière-plan"),
    ("Address to listen on (default: `listen` in the config, 127.0.0.1:8080)",
     "Adresse d'écoute (par défaut : `listen` de la configuration, 127.0.0.1:8080)"),
    ("Serve the web app only: no IMAP sync and no SMTP sending from this process",
     "Sert seulement l'application web : ni relève IMAP ni envoi SMTP depuis ce processus"),
    // outbox, messages, user, audit
    ("The replies validated by agents, with their sending state",
     "Les réponses validées par les agents, avec leur état d'envoi"),
    ("Print the outbox as JSON lines, one reply each, with its state",
     "Écrit la boîte d'envoi en lignes JSON, une par réponse, avec son état"),
    ("Only replies in this state (queued, sending, sent, failed)",
     "Seulement les réponses dans cet état (queued, sending, sent, failed)"),
    ("At most this many replies", "Au plus ce nombre de réponses"),
    ("Messages in the store", "Les messages de la base"),
    ("Count the messages in the store: {\"count\": N}", "Compte les messages de la base : {\"count\": N}"),
    ("Count only this mailbox (by name)", "Compte seulement cette boîte (par son nom)"),
    ("Accounts (agents, supervisors, administrators)", "Comptes (agents, superviseurs, administrateurs)"),
    ("Create an account. The password is read from standard input (one line), or generated and printed once with --generate-password",
     "Crée un compte. Le mot de passe est lu sur l'entrée standard (une ligne), ou généré et affiché une seule fois avec --generate-password"),
    ("The login name", "L'identifiant de connexion"),
    ("The name shown in the app and in the validated-by header (default: the login name)",
     "Le nom affiché dans l'application et dans l'en-tête « validé par » (par défaut : l'identifiant)"),
    ("agent, supervisor or admin", "agent, supervisor ou admin"),
    ("Mailboxes an agent may open (by name; repeat or comma-separate)",
     "Boîtes qu'un agent peut ouvrir (par leur nom ; répéter l'option ou séparer par des virgules)"),
    ("Generate a strong password and print it once, instead of reading one from stdin",
     "Génère un mot de passe robuste et l'affiche une seule fois, au lieu de le lire sur l'entrée standard"),
    ("List accounts", "Liste les comptes"),
    ("Reset an account's password: a new one is generated and printed once, or read from standard input with --password-stdin. Ends all the account's sessions",
     "Réinitialise le mot de passe d'un compte : un nouveau est généré et affiché une seule fois, ou lu sur l'entrée standard avec --password-stdin. Ferme toutes les sessions du compte"),
    ("The login name of the account", "L'identifiant de connexion du compte"),
    ("Read the new password from standard input (one line) instead of generating one",
     "Lit le nouveau mot de passe sur l'entrée standard (une ligne) au lieu d'en générer un"),
    ("The administrator (user name) who resets it: recorded in the audit log",
     "L'administrateur (identifiant) qui le réinitialise : enregistré dans le journal d'audit"),
    ("The append-only audit log", "Le journal d'audit (ajout seul)"),
    ("Recompute the hash chain of the audit log and report the first tampered row",
     "Recalcule la chaîne de hachage du journal d'audit et signale la première ligne altérée"),
    ("A head printed earlier by `facteur audit head` (SEQ:HASH): the log must still lead through it",
     "Une tête affichée auparavant par `facteur audit head` (SEQ:HACHAGE) : le journal doit toujours passer par elle"),
    ("Print the audit log's head (SEQ:HASH) to keep outside the database",
     "Affiche la tête du journal d'audit (SEQ:HACHAGE), à conserver hors de la base"),
    // model
    ("The model registry: list, train a candidate from agents' corrections, evaluate, promote, roll back, review",
     "Le registre des modèles : lister, entraîner un candidat sur les corrections des agents, évaluer, promouvoir, revenir en arrière, revoir"),
    ("Every model version with its status, metrics and review dates",
     "Chaque version de modèle avec son statut, ses mesures et ses dates de revue"),
    ("Train a candidate from base examples plus the agents' feedback, evaluate it on the fixed evaluation set and compare it with the active model, per class",
     "Entraîne un candidat sur les exemples de base et les retours des agents, l'évalue sur le jeu d'évaluation fixe et le compare au modèle actif, classe par classe"),
    ("Base training examples (JSON lines {\"text\",\"label\"})",
     "Exemples d'entraînement de base (lignes JSON {\"text\",\"label\"})"),
    ("The fixed evaluation set (never trained on)", "Le jeu d'évaluation fixe (jamais utilisé pour l'entraînement)"),
    ("Who trains it (user name), recorded with the version",
     "Qui l'entraîne (identifiant), enregistré avec la version"),
    ("A free note kept with the record", "Une note libre conservée avec l'enregistrement"),
    ("Train on the base examples only, without the agents' feedback",
     "Entraîne sur les seuls exemples de base, sans les retours des agents"),
    ("Evaluate a version on labelled examples", "Évalue une version sur des exemples étiquetés"),
    ("The model version (as `facteur model list` shows it)",
     "La version du modèle (telle que l'affiche `facteur model list`)"),
    ("Make a candidate the active model. Needs a named supervisor or admin",
     "Fait d'un candidat le modèle actif. Demande un superviseur ou un administrateur nommé"),
    ("The account (user name) that acts: recorded in the audit log",
     "Le compte (identifiant) qui agit : enregistré dans le journal d'audit"),
    ("Go back to the previously active model. Needs a named supervisor or admin",
     "Revient au modèle actif précédent. Demande un superviseur ou un administrateur nommé"),
    ("Exclude an agent-feedback example (by message id) from future training, with a reason. Needs a named supervisor or admin",
     "Exclut un exemple issu des retours d'agents (par identifiant de message) des entraînements futurs, avec un motif. Demande un superviseur ou un administrateur nommé"),
    ("The message whose feedback must not be learned from",
     "Le message dont les retours ne doivent pas servir à l'apprentissage"),
    ("Why: shown to supervisors and kept in the audit log",
     "Le motif : montré aux superviseurs et conservé dans le journal d'audit"),
    ("Why (optional, as in the web form): shown to supervisors and kept in the audit log",
     "Le motif (facultatif, comme dans le formulaire web) : montré aux superviseurs et conservé dans le journal d'audit"),
    ("Give the demo accounts that already exist new passwords (by default a re-run keeps them)",
     "Donne de nouveaux mots de passe aux comptes de démonstration qui existent déjà (par défaut, une nouvelle exécution les garde)"),
    ("Promote even when the candidate knows request types that are not in the taxonomy (recorded in the audit log)",
     "Promeut même si le candidat connaît des types de demande absents de la taxonomie (consigné dans le journal d'audit)"),
    ("Kill switches: stop or resume draft suggestions for the whole service, a mailbox or a request type. Shared through the database: every node obeys within seconds. The same switches as the supervision page",
     "Interrupteurs d'arrêt : suspendre ou reprendre les suggestions de brouillon pour tout le service, une boîte ou un type de demande. Partagés par la base de données : chaque nœud obéit en quelques secondes. Les mêmes interrupteurs que la page de supervision"),
    ("The switches in force, with who set them, when and why",
     "Les interrupteurs en vigueur, avec qui les a posés, quand et pourquoi"),
    ("Stop draft suggestions (messages are still stored and classified; agents answer by hand). Needs a named supervisor or admin",
     "Suspend les suggestions de brouillon (les messages sont toujours stockés et classés ; les agents répondent à la main). Demande un superviseur ou un administrateur nommé"),
    ("`all`, `mailbox:NAME` or `type:REQUEST_TYPE`", "`all`, `mailbox:NOM` ou `type:TYPE_DE_DEMANDE`"),
    ("Resume draft suggestions for a scope. Needs a named supervisor or admin",
     "Reprend les suggestions de brouillon pour une portée. Demande un superviseur ou un administrateur nommé"),
    ("Record the quarterly review of a version: keep, retrain or withdraw",
     "Enregistre la revue trimestrielle d'une version : garder (keep), réentraîner (retrain) ou retirer (withdraw)"),
    ("keep, retrain or withdraw", "keep (garder), retrain (réentraîner) ou withdraw (retirer)"),
    // worker, migrate
    ("Work from a shared database with any number of other workers: triage jobs, IMAP sync (one process per mailbox at a time) and sending. Ctrl-C or SIGTERM stops it",
     "Travaille sur une base de données partagée avec d'autres processus en nombre quelconque : tâches de tri, relève IMAP (un processus par boîte à la fois) et envoi. Ctrl-C ou SIGTERM l'arrête"),
    ("How long a claimed triage job is held. A worker that dies holding one is taken over after this",
     "Durée de réservation d'une tâche de tri. Celle d'un processus mort est reprise après ce délai"),
    ("How long the IMAP sync lease of a mailbox is held between renewals",
     "Durée du bail de relève IMAP d'une boîte entre deux renouvellements"),
    ("Pause when no job is due", "Pause quand aucune tâche n'est due"),
    (
        "Triage jobs claimed at once: triaged on every core and recorded with one commit. 1 claims them one by one",
        "Tâches de tri prises d'un coup : triées sur tous les cœurs et enregistrées en une seule validation. 1 les prend une à une",
    ),
    ("Pause between two passes over the outbox", "Pause entre deux passages sur la boîte d'envoi"),
    ("Do not run the IMAP connectors from this process", "Ne lance pas les connecteurs IMAP dans ce processus"),
    ("Do not send the validated replies from this process",
     "N'envoie pas les réponses validées depuis ce processus"),
    ("On stop, print one JSON line {\"worker\",\"triaged\",\"skipped\",\"failed\",\"lease_lost\",\"sent\",…}",
     "À l'arrêt, écrit une ligne JSON {\"worker\",\"triaged\",\"skipped\",\"failed\",\"lease_lost\",\"sent\",…}"),
    ("Copy a whole service from one database to another (SQLite to PostgreSQL), then verify the counts and the audit chain",
     "Copie tout un service d'une base de données vers une autre (de SQLite vers PostgreSQL), puis vérifie les comptes et la chaîne d'audit"),
    ("The source database, e.g. `sqlite:/var/lib/facteur/facteur.db`",
     "La base source, par exemple `sqlite:/var/lib/facteur/facteur.db`"),
    ("The target database, e.g. `postgres://facteur@db/facteur`: created tables, but no data (a fresh database)",
     "La base cible, par exemple `postgres://facteur@db/facteur` : tables créées, mais sans données (une base neuve)"),
    ("Print the report as one JSON line {\"tables\":[{\"table\",\"source\",\"target\"}],\"target_audit\",\"ok\"}",
     "Écrit le rapport en une ligne JSON {\"tables\":[{\"table\",\"source\",\"target\"}],\"target_audit\",\"ok\"}"),
    // migrate --check, backup, restore, retention, citizen (issue 20)
    ("Change nothing: list the schema migrations this version will apply to the configured database at its next start (before an upgrade), and whether the database is newer than this version. Exit status 0 either way but newer",
     "Ne change rien : liste les migrations de schéma que cette version appliquera à la base configurée à son prochain démarrage (avant une mise à jour), et dit si la base est plus récente que cette version. Code de sortie 0 sauf dans ce dernier cas"),
    ("Back up a SQLite service while it runs: database snapshot, knowledge base, model registry and answers, with a manifest of checksums",
     "Sauvegarde un service SQLite en marche : instantané de la base, base de connaissances, registre des modèles et réponses types, avec un manifeste de sommes de contrôle"),
    ("The folder to create (must not exist or be empty)",
     "Le dossier à créer (inexistant ou vide)"),
    ("Print the manifest's summary as JSON", "Écrit le résumé du manifeste en JSON"),
    ("Restore a backup into an empty data directory, checking the checksums, the counts and the audit chain",
     "Restaure une sauvegarde dans un dossier de données vide, en vérifiant les sommes de contrôle, les comptes et la chaîne d'audit"),
    ("A folder written by `facteur backup`", "Un dossier écrit par `facteur backup`"),
    ("Print the check's result as JSON", "Écrit le résultat de la vérification en JSON"),
    ("Retention of citizens' data: apply the [retention] delays",
     "Conservation des données des usagers : applique les durées de [retention]"),
    ("Apply the [retention] delays now (serve and worker do it daily) and print what was removed: counts only, audited",
     "Applique maintenant les durées de [retention] (serve et worker le font chaque jour) et affiche ce qui a été effacé : des comptes seulement, consignés dans le journal d'audit"),
    ("Print {\"raw_emptied\",\"content_removed\",\"messages_deleted\",\"audit_seq\"}",
     "Écrit {\"raw_emptied\",\"content_removed\",\"messages_deleted\",\"audit_seq\"}"),
    ("Data-subject rights: export everything about one person, or erase it",
     "Droits des personnes : exporter tout ce qui concerne une personne, ou l'effacer"),
    ("Right of access: write everything about one person into an empty folder (citizen.json plus each original mail as NNN.eml). Audited (counts only)",
     "Droit d'accès : écrit tout ce qui concerne une personne dans un dossier vide (citizen.json et chaque mail d'origine en NNN.eml). Consigné (comptes seulement)"),
    ("The person's e-mail address (any case)", "L'adresse électronique de la personne (casse indifférente)"),
    ("Their fiscal number (13 digits, spaces allowed): also finds mails that quote it from another address",
     "Son numéro fiscal (13 chiffres, espaces permises) : trouve aussi les mails qui le citent depuis une autre adresse"),
    ("Who answers the request (kept in the audit log)", "Qui répond à la demande (conservé dans le journal d'audit)"),
    ("Right to erasure: delete every message about one person, with its replies, triage results and agents' actions. Audited with the supervisor's name and the reason (which must not name the person); every model version is flagged for its next review",
     "Droit à l'effacement : supprime chaque message concernant une personne, avec ses réponses, ses résultats de tri et les actions des agents. Consigné avec le nom du superviseur et le motif (qui ne doit pas nommer la personne) ; chaque version de modèle est signalée pour sa prochaine revue"),
    ("The supervisor who decided the erasure", "Le superviseur qui a décidé l'effacement"),
    ("Why (legal basis, request reference): kept forever in the audit log",
     "Le motif (base légale, référence de la demande) : conservé pour toujours dans le journal d'audit"),
    ("Print {\"messages\",\"replies\",\"models_flagged\",\"audit_seq\",\"at\"}",
     "Écrit {\"messages\",\"replies\",\"models_flagged\",\"audit_seq\",\"at\"}"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every about and help text of the tree, with where it is.
    fn texts(cmd: &Command, path: &str, out: &mut Vec<(String, String)>) {
        let here = format!("{path} {}", cmd.get_name());
        for s in [cmd.get_about(), cmd.get_long_about()]
            .into_iter()
            .flatten()
        {
            out.push((here.clone(), s.to_string()));
        }
        for a in cmd.get_arguments() {
            for s in [a.get_help(), a.get_long_help()].into_iter().flatten() {
                out.push((format!("{here} --{}", a.get_id()), s.to_string()));
            }
        }
        for c in cmd.get_subcommands() {
            texts(c, &here, out);
        }
    }

    fn built() -> Command {
        let mut cmd = crate::Cli::command();
        cmd.build();
        cmd
    }

    /// A help text without its French fails here: add it to `FRENCH`.
    #[test]
    fn every_help_text_has_a_french_translation() {
        let mut out = Vec::new();
        texts(&built(), "", &mut out);
        assert!(
            out.len() > 100,
            "the walk missed the tree: {} texts",
            out.len()
        );
        let missing: Vec<String> = out
            .iter()
            .filter(|(_, en)| lookup(en).is_none())
            .map(|(at, en)| format!("{at}: {en:?}"))
            .collect();
        assert!(
            missing.is_empty(),
            "help texts without French (add them to help_fr::FRENCH):\n{}",
            missing.join("\n")
        );
    }

    /// After the walk, no English text is left anywhere in the tree, clap's
    /// "[default: …]" included, and every French text is used.
    #[test]
    fn the_french_tree_holds_only_french() {
        let fr = french(crate::Cli::command());
        let mut out = Vec::new();
        texts(&fr, "", &mut out);
        let english: Vec<&(String, String)> =
            out.iter().filter(|(_, s)| lookup(s).is_some()).collect();
        assert!(english.is_empty(), "still English: {english:?}");
        let unused: Vec<&str> = FRENCH
            .iter()
            .filter(|(_, f)| !out.iter().any(|(_, s)| s.starts_with(&nbsp(f))))
            .map(|(e, _)| *e)
            .collect();
        assert!(
            unused.is_empty(),
            "translations of texts that no longer exist: {unused:?}"
        );
        let mut fr = fr;
        let help = fr
            .find_subcommand_mut("train")
            .expect("train")
            .render_long_help()
            .to_string();
        assert!(help.contains("Entraîne un classifieur"), "{help}");
        assert!(help.contains("[défaut\u{a0}: 0.95]"), "{help}");
        assert!(
            help.contains("Utilisation :") && help.contains("Options :"),
            "{help}"
        );
        // No "[défaut : false]" for a flag.
        assert!(!help.contains("false"), "{help}");
        assert!(
            !help.contains("[default:") && !help.contains("Usage:"),
            "{help}"
        );
    }

    /// Every argument says what it is for (clap's own `help` subcommand aside).
    #[test]
    fn every_argument_has_a_help_text() {
        fn walk(cmd: &Command, path: &str, out: &mut Vec<String>) {
            let here = format!("{path} {}", cmd.get_name());
            if cmd.get_name() == "help" {
                return;
            }
            for a in cmd.get_arguments() {
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    out.push(format!("{here} {}", a.get_id()));
                }
            }
            for c in cmd.get_subcommands() {
                walk(c, &here, out);
            }
        }
        let mut missing = Vec::new();
        walk(&built(), "", &mut missing);
        assert!(missing.is_empty(), "arguments without help: {missing:?}");
    }

    #[test]
    fn english_table_keys_are_unique() {
        let mut keys: Vec<&str> = FRENCH.iter().map(|(e, _)| *e).collect();
        keys.sort_unstable();
        let before = keys.len();
        keys.dedup();
        assert_eq!(before, keys.len(), "a text is translated twice");
    }
}
