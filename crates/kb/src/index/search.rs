//! Ranking and reading results: the lexical scorer's query terms, the hybrid
//! ranking, the hits read back from the index and the passages that say why
//! they matched. A child of `index` so it shares the index's private state
//! without widening it.

use super::*;

impl KnowledgeBase {
    /// Makes later searches for `query` use `v` as its embedding: triage embeds a
    /// message once, as the classifier reads it (subject and body without personal
    /// data), and the searches it then runs on the body reuse that vector instead of
    /// embedding the same mail a second time.
    pub fn remember_query(&self, query: &str, v: Embedding) {
        if self.embedder.is_none() {
            return;
        }
        if let Ok(mut c) = self.query_cache.lock() {
            c.retain(|(q, _)| q != query);
            if c.len() >= QUERY_CACHE {
                c.pop_front();
            }
            c.push_back((query.to_string(), v));
        }
    }

    /// The query's embedding, computed once per distinct text (see `query_cache`).
    pub(super) fn query_vector(&self, query: &str) -> Option<Embedding> {
        let embedder = self.embedder.as_ref()?;
        if let Ok(c) = self.query_cache.lock() {
            if let Some((_, v)) = c.iter().find(|(q, _)| q == query) {
                return Some(*v);
            }
        }
        match embedder.embed(&[query], Kind::Query) {
            Ok(v) => {
                let v = v.into_iter().next()?;
                self.remember_query(query, v);
                Some(v)
            }
            Err(e) => {
                // Retrieval degrades to the lexical ranking rather than failing.
                tracing::warn!(error = %e, "query embedding failed; lexical ranking only");
                None
            }
        }
    }

    /// Slots by cosine with `q`, best first, among those passing `keep`.
    pub(super) fn rank_dense(
        &self,
        q: &Embedding,
        limit: usize,
        mut keep: impl FnMut(usize) -> bool,
    ) -> Vec<(u32, f32)> {
        let mut scored: Vec<(u32, f32)> = Vec::new();
        for (slot, has) in self.has_vector.iter().enumerate() {
            if !*has || !keep(slot) {
                continue;
            }
            let v: &Embedding = self.vectors[slot * DIM..(slot + 1) * DIM]
                .try_into()
                .expect("DIM-sized row");
            scored.push((slot as u32, cosine(q, v)));
        }
        let limit = limit.min(scored.len());
        if limit == 0 {
            return Vec::new();
        }
        scored.select_nth_unstable_by(limit - 1, |a, b| b.1.total_cmp(&a.1));
        scored.truncate(limit);
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        scored
    }

    /// Lexical ranking, fused with the semantic one when a model is attached.
    pub(super) fn rank_any(
        &self,
        query: &str,
        limit: usize,
        keep: impl Fn(usize) -> bool,
    ) -> Vec<(u32, f32)> {
        match (!self.has_vector.is_empty())
            .then(|| self.query_vector(query))
            .flatten()
        {
            Some(q) => self.rank_hybrid(query, &q, limit, keep),
            None => self.rank(query, limit, keep),
        }
    }

    /// The fused ranking for a query and its embedding, with pseudo-relevance
    /// feedback on the vector when `fusion.feedback` is set.
    fn rank_hybrid(
        &self,
        query: &str,
        q: &Embedding,
        limit: usize,
        keep: impl Fn(usize) -> bool,
    ) -> Vec<(u32, f32)> {
        let f = &self.fusion;
        let depth = f.depth.max(limit);
        // The priors apply once, to the fused scores: on the lexical side too they
        // would count twice.
        let lexical = self.rank_scores(query, depth, &keep, false);
        let dense = self.rank_dense(q, depth, &keep);
        let mut fused = if f.feedback == 0 || f.feedback_weight <= 0.0 {
            fuse(&lexical, &dense, f, depth)
        } else {
            let first = fuse(&lexical, &dense, f, f.feedback);
            if first.is_empty() {
                return first;
            }
            let rows = first
                .iter()
                .map(|(slot, _)| &self.vectors[*slot as usize * DIM..(*slot as usize + 1) * DIM]);
            let moved = feedback_vector(q, rows, f.feedback_weight);
            let dense = self.rank_dense(&moved, depth, &keep);
            fuse(&lexical, &dense, f, depth)
        };
        if !self.discounts.is_empty() {
            for (slot, score) in fused.iter_mut() {
                if let Ok(i) = self.discounts.binary_search_by_key(slot, |d| d.0) {
                    *score *= self.discounts[i].1;
                }
            }
            fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        }
        fused.truncate(limit);
        fused
    }

    /// "sens proche": the sentence of a hit closest in meaning to the query.
    pub(super) fn closest_sentence(&self, query: &str, texts: &[String]) -> Option<String> {
        let embedder = self.embedder.as_ref()?;
        let q = self.query_vector(query)?;
        let mut cands = Vec::new();
        for t in texts {
            cands.extend(sentences(t, CLOSEST_SENTENCES - cands.len()));
            if cands.len() >= CLOSEST_SENTENCES {
                break;
            }
        }
        if cands.is_empty() {
            return None;
        }
        let refs: Vec<&str> = cands.iter().map(String::as_str).collect();
        let vecs = embedder.embed(&refs, Kind::Passage).ok()?;
        let best = vecs
            .iter()
            .enumerate()
            .max_by(|a, b| cosine(&q, a.1).total_cmp(&cosine(&q, b.1)))?
            .0;
        Some(cands.swap_remove(best))
    }

    pub(super) fn scratch(&self) -> Scratch {
        self.pool
            .lock()
            .ok()
            .and_then(|mut p| p.pop())
            .unwrap_or_else(|| Scratch {
                stem: self.stem.clone(),
                exact: self.exact.clone(),
                scores: Vec::new(),
            })
    }

    pub(super) fn give_back(&self, s: Scratch) {
        if let Ok(mut p) = self.pool.lock() {
            p.push(s);
        }
    }

    /// The weighted query terms: stemmed terms (a repeated term counts more), synonym
    /// terms at the synonym weight, and the distinct unstemmed terms for the exact title.
    pub(super) fn query_terms(
        &self,
        scratch: &mut Scratch,
        query: &str,
    ) -> (Vec<(String, f32)>, Vec<String>) {
        let terms = analyze(&mut scratch.stem, query);
        let words: Vec<&str> = query
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let mut weighted: Vec<(String, f32)> = Vec::new();
        for term in &terms {
            match weighted.iter_mut().find(|(t, _)| t == term) {
                Some((_, w)) => *w += 1.0,
                None => weighted.push((term.clone(), 1.0)),
            }
        }
        let syn = self.tuning.synonyms;
        if syn > 0.0 {
            for term in self.synonyms.expand(&words, &terms) {
                if !weighted.iter().any(|(t, _)| *t == term) {
                    weighted.push((term, syn));
                }
            }
        }
        let mut exact = analyze(&mut scratch.exact, query);
        let mut seen = BTreeSet::new();
        exact.retain(|t| seen.insert(t.clone()));
        (weighted, exact)
    }

    /// Ranks the documents passing `keep`: the in-memory scorer (see `scorer.rs`),
    /// with the priors (see prior.rs).
    pub(super) fn rank(
        &self,
        query: &str,
        limit: usize,
        keep: impl FnMut(usize) -> bool,
    ) -> Vec<(u32, f32)> {
        self.rank_scores(query, limit, keep, true)
    }

    /// [`Self::rank`], the priors applied or not.
    fn rank_scores(
        &self,
        query: &str,
        limit: usize,
        keep: impl FnMut(usize) -> bool,
        priors: bool,
    ) -> Vec<(u32, f32)> {
        let mut scratch = self.scratch();
        let (weighted, exact) = self.query_terms(&mut scratch, query);
        let n = self.scorer.slots();
        scratch.scores.clear();
        scratch.scores.resize(n, 0.0);
        let fuzzy = self.tuning.fuzzy;
        for (term, w) in &weighted {
            let known = self.scorer.add_stemmed(term, *w, &mut scratch.scores);
            if !known && fuzzy > 0.0 {
                if let Some(id) = self.scorer.correct(term) {
                    self.scorer
                        .add_stemmed_id(id, w * fuzzy, &mut scratch.scores);
                }
            }
        }
        for term in &exact {
            self.scorer.add_exact(term, 1.0, &mut scratch.scores);
        }
        if priors {
            for &(slot, f) in &self.discounts {
                if let Some(s) = scratch.scores.get_mut(slot as usize) {
                    *s *= f;
                }
            }
        }
        let top = top_k(&scratch.scores, limit, keep);
        self.give_back(scratch);
        top
    }

    /// The same terms as a tantivy query, for the snippet generator only.
    pub(super) fn snippet_query(&self, query: &str) -> BooleanQuery {
        let mut scratch = self.scratch();
        let (weighted, _) = self.query_terms(&mut scratch, query);
        self.give_back(scratch);
        let clauses: Vec<(Occur, Box<dyn Query>)> = weighted
            .iter()
            .flat_map(|(term, w)| {
                [self.f.text, self.f.description].map(|field| {
                    let q = TermQuery::new(
                        Term::from_field_text(field, term),
                        IndexRecordOption::WithFreqs,
                    );
                    let q: Box<dyn Query> = Box::new(BoostQuery::new(Box::new(q), *w));
                    (Occur::Should, q)
                })
            })
            .collect();
        BooleanQuery::new(clauses)
    }

    /// Searches fiches and answers at once.
    pub fn search(&self, query: &str, opts: &SearchOptions) -> Result<Vec<Hit>, KbError> {
        if opts.limit == 0 {
            return Ok(Vec::new());
        }
        let kind = if opts.request_type.is_some() {
            Some(DocKind::Answer)
        } else {
            opts.kind
        };
        let top = self.rank_any(query, opts.limit, |slot| {
            self.meta.get(slot).is_some_and(|m| m.passes(kind, opts))
        });
        self.hits_of(query, top, opts.snippets)
    }

    /// The passages that say why each of `hits` matched `query`, for hits found
    /// without them: triage stores its hits bare (the snippets cost more than the
    /// rest of triage), and the message page asks for the passages when an agent
    /// opens the message. Hits no longer in the index are left as they are.
    pub fn explain(&self, query: &str, hits: &mut [Hit]) -> Result<(), KbError> {
        let wanted: Vec<(usize, u32, f32)> = hits
            .iter()
            .enumerate()
            .filter(|(_, h)| h.passages.is_empty())
            .filter_map(|(i, h)| {
                let answer = h.kind == DocKind::Answer;
                let slot = self.meta.iter().position(|m| {
                    m.id == h.id && m.answer == answer && (!answer || m.language == h.language)
                })?;
                Some((i, u32::try_from(slot).ok()?, h.score))
            })
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let top = wanted
            .iter()
            .map(|(_, slot, score)| (*slot, *score))
            .collect();
        let explained = self.hits_of(query, top, true)?;
        for ((i, _, _), e) in wanted.into_iter().zip(explained) {
            hits[i].passages = e.passages;
        }
        Ok(())
    }

    /// The hits of ranked slots, read from the index, with their passages when
    /// `snippets` is set.
    pub(super) fn hits_of(
        &self,
        query: &str,
        top: Vec<(u32, f32)>,
        snippets: bool,
    ) -> Result<Vec<Hit>, KbError> {
        if top.is_empty() {
            return Ok(Vec::new());
        }
        let searcher = self.reader.searcher();
        let snippet_gens = if snippets {
            let q = self.snippet_query(query);
            let mut g = Vec::new();
            for field in [self.f.text, self.f.description] {
                let mut sg = SnippetGenerator::create(&searcher, &q, field).map_err(self.ie())?;
                sg.set_max_num_chars(220);
                g.push((field, sg));
            }
            g
        } else {
            Vec::new()
        };
        let mut hits = Vec::with_capacity(top.len());
        for (slot, score) in top {
            let Some(&addr) = self.scorer.addrs.get(slot as usize) else {
                continue;
            };
            let d: TantivyDocument = searcher.doc(addr).map_err(self.ie())?;
            let get = |fld: Field| {
                d.get_first(fld)
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            };
            let kind = if get(self.f.kind).as_deref() == Some("answer") {
                DocKind::Answer
            } else {
                DocKind::Fiche
            };
            let mut passages = Vec::new();
            for (field, sg) in &snippet_gens {
                let text = get(*field).unwrap_or_default();
                let s = sg.snippet(&text);
                if !s.highlighted().is_empty() {
                    passages.push(Passage {
                        text: s.fragment().to_string(),
                        highlights: s.highlighted().iter().map(|r| (r.start, r.end)).collect(),
                    });
                }
            }
            // Found by meaning, not by shared words: say so, with the closest sentence.
            if snippets && passages.is_empty() {
                let texts = [
                    get(self.f.description).unwrap_or_default(),
                    get(self.f.text).unwrap_or_default(),
                ];
                if let Some(sentence) = self.closest_sentence(query, &texts) {
                    passages.push(Passage {
                        text: format!("{SEMANTIC_MARK}{sentence}"),
                        highlights: Vec::new(),
                    });
                }
            }
            hits.push(Hit {
                id: get(self.f.id).unwrap_or_default(),
                kind,
                title: get(self.f.title).unwrap_or_default(),
                url: get(self.f.url),
                language: get(self.f.language).unwrap_or_else(|| "fr".into()),
                score,
                passages,
            });
        }
        Ok(hits)
    }

    /// The query's embedding, or None without a model: lets a caller (the retrieval
    /// benchmark, a triage step) embed once and rank many times.
    pub fn embed_query(&self, query: &str) -> Option<Embedding> {
        self.query_vector(query)
    }

    /// [`Self::search_ids`] with the query's embedding given (None: lexical only).
    pub fn search_ids_with(&self, query: &str, q: Option<&Embedding>, limit: usize) -> Vec<String> {
        let top = match q {
            Some(q) if !self.has_vector.is_empty() => self.rank_hybrid(query, q, limit, |_| true),
            _ => self.rank(query, limit, |_| true),
        };
        top.into_iter()
            .filter_map(|(slot, _)| self.meta.get(slot as usize).map(|m| m.id.clone()))
            .collect()
    }

    /// Ranked ids only, no filter and no stored-field reads: the benchmark path.
    pub fn search_ids(&self, query: &str, limit: usize) -> Result<Vec<String>, KbError> {
        Ok(self
            .rank_any(query, limit, |_| true)
            .into_iter()
            .filter_map(|(slot, _)| self.meta.get(slot as usize).map(|m| m.id.clone()))
            .collect())
    }
}
