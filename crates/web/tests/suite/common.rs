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

/// The triage engine a node plugs into the web app (`facteur serve` does it in
/// crates/cli/src/service.rs), here over the demo answers, a sample of real
/// fiches and a small model
/// trained on the demo examples of `labels`, with a threshold of `min_confidence`
/// (set high, the model abstains and the page offers its candidates).
pub struct DemoEngine {
    store: facteur_store::Store,
    engine: facteur_triage::Engine,
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
        Self {
            store,
            engine,
            _dir: dir,
        }
    }

    /// Triage a stored message and record it, as the node does at ingest
    /// (`category`: an agent's choice, which overrides the model).
    pub async fn triage(&self, id: i64, category: Option<String>) -> facteur_triage::Triaged {
        let raw = self.store.get_raw(id).await.unwrap().unwrap_or_default();
        let parsed = facteur_mail::parse_message(&raw);
        let over = facteur_triage::Overrides {
            category,
            ..Default::default()
        };
        let t = self.engine.triage_with("store", &parsed, &over);
        self.store
            .record_triage(&facteur_app::triage_record(id, Some("demo".into()), &t))
            .await
            .unwrap();
        t
    }
}

impl facteur_web::Retriage for DemoEngine {
    fn retriage<'a>(
        &'a self,
        message_id: i64,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let category = self
                .store
                .get_message(message_id)
                .await
                .map_err(|e| e.to_string())?
                .and_then(|m| m.category);
            self.triage(message_id, category).await;
            Ok(())
        })
    }

    fn fill_answer<'a>(
        &'a self,
        message_id: i64,
        answer_id: &'a str,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Option<String>, String>> + Send + 'a>,
    > {
        Box::pin(async move {
            let raw = self
                .store
                .get_raw(message_id)
                .await
                .map_err(|e| e.to_string())?
                .unwrap_or_default();
            let over = facteur_triage::Overrides {
                answer: Some(answer_id.into()),
                ..Default::default()
            };
            let t = self
                .engine
                .triage_with("store", &facteur_mail::parse_message(&raw), &over);
            Ok(t.draft.map(|d| d.text))
        })
    }
}

impl facteur_web::KbSearch for DemoEngine {
    fn search(
        &self,
        query: &str,
        limit: usize,
    ) -> Result<(Option<i64>, Vec<facteur_web::KbHit>), String> {
        let kb = self.engine.kb().expect("demo knowledge base");
        let opts = facteur_kb::SearchOptions {
            limit,
            snippets: true,
            ..Default::default()
        };
        let hits = kb.search(query, &opts).map_err(|e| e.to_string())?;
        Ok((
            None,
            hits.into_iter()
                .map(|hit| facteur_web::KbHit::of(kb, hit))
                .collect(),
        ))
    }
}
