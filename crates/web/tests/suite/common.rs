//! What the web tests share beyond the test kit: the demo taxonomy and engine, and
//! passages as the pipeline stores them.

pub use facteur_testkit::accounts::light_hash;
pub use facteur_testkit::answers_dir;

/// Triage passages as the pipeline keeps them: one answer hit with one passage,
/// the first occurrence of `marked` highlighted.
pub fn stored_passages(id: &str, title: &str, text: &str, marked: &str) -> Vec<facteur_kb::Hit> {
    let start = text.find(marked).expect("marked word in text");
    let hit = facteur_kb::Hit {
        id: id.into(),
        kind: facteur_kb::DocKind::Answer,
        title: title.into(),
        url: None,
        language: "fr".into(),
        score: 12.5,
        passages: vec![facteur_kb::Passage {
            text: text.into(),
            highlights: vec![(start, start + marked.len())],
        }],
    };
    vec![hit]
}

/// The demo taxonomy, as a node loads it.
pub fn demo_taxonomy() -> facteur_kb::answers::Taxonomy {
    facteur_kb::answers::Taxonomy::load(&answers_dir().join("taxonomy.toml")).expect("taxonomy")
}

/// A node's service over `engine` (as `facteur serve` wires one in
/// crates/cli/src/service.rs), its knowledge base said to follow the store's
/// revision `kb_revision`, with `dir` as its data folder.
pub fn service_over(
    store: facteur_store::Store,
    engine: facteur_triage::Engine,
    kb_revision: Option<i64>,
    dir: &std::path::Path,
) -> std::sync::Arc<facteur_app::Service> {
    let suggestions = std::sync::Arc::new(facteur_app::Suggestions::new(
        store.clone(),
        None,
        false,
        facteur_learn::registry::RegistryConfig::default().review_period_days,
    ));
    std::sync::Arc::new(facteur_app::Service::new(facteur_app::ServiceParts {
        store,
        engine,
        kb_revision,
        taxonomy_path: answers_dir().join("taxonomy.toml"),
        model_version: Some("demo".into()),
        data_dir: dir.to_path_buf(),
        suggestions,
        followup_days: facteur_app::DEFAULT_FOLLOWUP_DAYS,
        open_kb: std::sync::Arc::new(|d| Ok(facteur_kb::KnowledgeBase::open(d)?)),
    }))
}

/// The triage service a node plugs into the web app, here over the demo answers,
/// a sample of real fiches and a small model trained on the demo examples of
/// `labels`, with a threshold of `min_confidence` (set high, the model abstains
/// and the page offers its candidates).
pub struct DemoEngine {
    pub service: std::sync::Arc<facteur_app::Service>,
    _dir: tempfile::TempDir,
}

impl DemoEngine {
    pub fn new(store: facteur_store::Store, labels: &[&str], min_confidence: f32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut kb = facteur_kb::KnowledgeBase::open(dir.path()).unwrap();
        let (_, errors) = kb
            .import_answers(
                &answers_dir().join("demo"),
                Some(&answers_dir().join("taxonomy.toml")),
            )
            .unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        // Real service-public fiches (the knowledge-base crate's sample).
        let fiches = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../kb/tests/fixtures/fiches_sample.jsonl");
        kb.import_fiches(&fiches).expect("fiches");
        let examples: Vec<facteur_classify::Example> =
            std::fs::read_to_string(answers_dir().join("demo/examples.jsonl"))
                .unwrap()
                .lines()
                .filter_map(|l| serde_json::from_str::<facteur_classify::Example>(l).ok())
                .filter(|e| labels.is_empty() || labels.contains(&e.label.as_str()))
                .collect();
        let cfg = facteur_classify::TrainConfig {
            threads: 1,
            cv_folds: 2,
            ..Default::default()
        };
        let model = facteur_classify::train(&examples, &cfg, &mut |_| {}).expect("train");
        let options = facteur_triage::TriageOptions {
            policy: facteur_core::RoutingPolicy {
                min_confidence,
                ..Default::default()
            },
            ..Default::default()
        };
        let engine = facteur_triage::Engine::new(Some(model), Some(kb), options);
        let service = service_over(store, engine, None, dir.path());
        Self { service, _dir: dir }
    }

    /// Triage a stored message and record it, as the node does at ingest
    /// (`category`: an agent's choice, which overrides the model).
    pub async fn triage(&self, id: i64, category: Option<String>) -> facteur_triage::Triaged {
        self.service.retriage(id, category).await.unwrap()
    }
}
