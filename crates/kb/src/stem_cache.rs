//! The French Snowball stemmer behind a per-thread cache of word → stem.
//!
//! Stemming was the largest single cost of triage: every message's words, and
//! every fiche passage the snippet generator re-reads, go through Snowball's
//! suffix tables, although a mailbox's vocabulary is a few tens of thousands of
//! words that recur all day. The cache returns the very stem Snowball gives (it
//! only remembers it), so the index, the queries and the highlights are
//! unchanged. It is per thread, so it takes no lock, and it is emptied when it
//! reaches [`CAPACITY`] words, so hostile text made of random words cannot grow it
//! without bound.

use std::cell::RefCell;
use std::collections::HashMap;

use tantivy::tokenizer::{Token, TokenFilter, TokenStream, Tokenizer};

/// Words kept per thread before the cache starts afresh (about 5 MB at most).
const CAPACITY: usize = 65_536;

thread_local! {
    static CACHE: RefCell<Stems> = RefCell::new(Stems::new());
}

struct Stems {
    stemmer: rust_stemmers::Stemmer,
    known: HashMap<String, String>,
}

impl Stems {
    fn new() -> Self {
        Stems {
            stemmer: rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::French),
            known: HashMap::new(),
        }
    }

    /// Replaces `word` by its stem.
    fn stem_in_place(&mut self, word: &mut String) {
        if let Some(stem) = self.known.get(word.as_str()) {
            word.clone_from(stem);
            return;
        }
        let stem = self.stemmer.stem(word).into_owned();
        if self.known.len() >= CAPACITY {
            self.known.clear();
        }
        self.known
            .insert(std::mem::replace(word, stem.clone()), stem);
    }
}

/// The stem Snowball's French algorithm gives `word` (lowercased), from the cache.
pub fn french_stem(word: &str) -> String {
    let mut w = word.to_string();
    CACHE.with(|c| c.borrow_mut().stem_in_place(&mut w));
    w
}

/// A [`TokenFilter`] giving the same tokens as tantivy's
/// `Stemmer::new(Language::French)`, through the cache.
#[derive(Clone, Copy, Default)]
pub struct CachedFrenchStemmer;

impl TokenFilter for CachedFrenchStemmer {
    type Tokenizer<T: Tokenizer> = CachedStemmerFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> CachedStemmerFilter<T> {
        CachedStemmerFilter { inner: tokenizer }
    }
}

#[derive(Clone)]
pub struct CachedStemmerFilter<T> {
    inner: T,
}

impl<T: Tokenizer> Tokenizer for CachedStemmerFilter<T> {
    type TokenStream<'a> = CachedStemmerStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        CachedStemmerStream {
            tail: self.inner.token_stream(text),
        }
    }
}

pub struct CachedStemmerStream<T> {
    tail: T,
}

impl<T: TokenStream> TokenStream for CachedStemmerStream<T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        CACHE.with(|c| c.borrow_mut().stem_in_place(&mut token.text));
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::tokenizer::{Language, SimpleTokenizer, Stemmer, TextAnalyzer};

    fn tokens(mut a: TextAnalyzer, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut s = a.token_stream(text);
        while s.advance() {
            out.push(s.token().text.clone());
        }
        out
    }

    #[test]
    fn gives_the_stems_tantivy_gives_twice_over() {
        let text = "les impositions communes déclarées déclarer déclaration mensualisation \
                    prélèvements prélevé prélèvement revenus revenu imposables impôts";
        let plain = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(Stemmer::new(Language::French))
            .build();
        let cached = || {
            TextAnalyzer::builder(SimpleTokenizer::default())
                .filter(CachedFrenchStemmer)
                .build()
        };
        let want = tokens(plain, text);
        // The first pass fills the cache, the second reads it.
        assert_eq!(tokens(cached(), text), want);
        assert_eq!(tokens(cached(), text), want);
        let snowball = rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::French);
        assert_eq!(french_stem("déclarations"), snowball.stem("déclarations"));
    }

    #[test]
    fn the_cache_starts_afresh_when_full() {
        let mut s = Stems::new();
        for i in 0..CAPACITY + 10 {
            let mut w = format!("mot{i}");
            s.stem_in_place(&mut w);
        }
        assert!(s.known.len() <= CAPACITY);
        let mut w = "déclarations".to_string();
        s.stem_in_place(&mut w);
        assert_eq!(
            w,
            rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::French).stem("déclarations")
        );
    }
}
