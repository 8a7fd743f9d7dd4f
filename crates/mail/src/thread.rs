//! Grouping messages into conversations (a simplified JWZ algorithm).
//!
//! An agent answers a conversation, not a message: the thread id ties a citizen's
//! follow-up to the first request. We link messages by Message-ID, References and
//! In-Reply-To, tolerate missing parents (a container without a message, as in JWZ)
//! and refuse links that would make a cycle. The thread id is the id of the topmost
//! container, present or not: when the missing first message arrives later, the
//! thread id of its replies does not change, which keeps stored threads stable.
//! Subject-based grouping (JWZ step 5) is deliberately left out: "Demande" or
//! "Question" subjects would merge unrelated citizens.

use std::collections::HashMap;

use facteur_core::ParsedMail;

/// Parent links between message ids (arena of containers, index-based so that
/// hostile reference chains cannot create ownership cycles).
#[derive(Debug, Default)]
pub struct ThreadForest {
    index: HashMap<String, usize>,
    ids: Vec<String>,
    parent: Vec<Option<usize>>,
}

impl ThreadForest {
    fn node(&mut self, id: &str) -> usize {
        if let Some(&i) = self.index.get(id) {
            return i;
        }
        let i = self.ids.len();
        self.ids.push(id.to_string());
        self.parent.push(None);
        self.index.insert(id.to_string(), i);
        i
    }

    /// True if `a` is `b` or one of `b`'s ancestors.
    fn is_ancestor_or_self(&self, a: usize, b: usize) -> bool {
        let mut cur = Some(b);
        // Bounded walk: links are acyclic by construction, the bound is a safety net.
        for _ in 0..=self.ids.len() {
            match cur {
                Some(c) if c == a => return true,
                Some(c) => cur = self.parent.get(c).copied().flatten(),
                None => return false,
            }
        }
        true
    }

    fn link(&mut self, parent: usize, child: usize, overwrite: bool) {
        if self.parent.get(child).copied().flatten().is_some() && !overwrite {
            return;
        }
        if self.is_ancestor_or_self(child, parent) {
            return; // would create a cycle
        }
        if let Some(p) = self.parent.get_mut(child) {
            *p = Some(parent);
        }
    }

    /// Builds the forest from parsed messages.
    pub fn build(msgs: &[ParsedMail]) -> Self {
        let mut f = ThreadForest::default();
        for m in msgs {
            let me = f.node(&m.message_id);
            // References: oldest first; each links to the previous one unless it
            // already has a parent (an earlier message said more precisely).
            let mut refs: Vec<&str> = m.references.iter().map(String::as_str).collect();
            if refs.is_empty() {
                refs.extend(m.in_reply_to.first().map(String::as_str));
            }
            refs.retain(|r| !r.is_empty() && *r != m.message_id);
            let mut prev: Option<usize> = None;
            for r in &refs {
                let n = f.node(r);
                if let Some(p) = prev {
                    f.link(p, n, false);
                }
                prev = Some(n);
            }
            // The message's own parent is its last reference: it knows best.
            if let Some(p) = prev {
                f.link(p, me, true);
            }
        }
        f
    }

    /// Root message id of the thread holding `id` (itself if unknown or a root).
    pub fn root_of<'a>(&'a self, id: &'a str) -> &'a str {
        let Some(&start) = self.index.get(id) else {
            return id;
        };
        let mut cur = start;
        for _ in 0..=self.ids.len() {
            match self.parent.get(cur).copied().flatten() {
                Some(p) => cur = p,
                None => break,
            }
        }
        self.ids.get(cur).map_or(id, String::as_str)
    }

    /// Parent message id, if any (the parent may be a message we do not have).
    pub fn parent_of(&self, id: &str) -> Option<&str> {
        let i = *self.index.get(id)?;
        let p = self.parent.get(i).copied().flatten()?;
        self.ids.get(p).map(String::as_str)
    }
}

/// For each message, the root message id of its thread (see the module docs for why a
/// missing root keeps its id).
pub fn thread_ids(msgs: &[ParsedMail]) -> Vec<String> {
    let f = ThreadForest::build(msgs);
    msgs.iter()
        .map(|m| f.root_of(&m.message_id).to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: &str, irt: &[&str], refs: &[&str]) -> ParsedMail {
        ParsedMail {
            message_id: id.into(),
            in_reply_to: irt.iter().map(|s| s.to_string()).collect(),
            references: refs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn simple_chain() {
        let msgs = [
            m("a", &[], &[]),
            m("b", &["a"], &[]),
            m("c", &[], &["a", "b"]),
        ];
        assert_eq!(thread_ids(&msgs), ["a", "a", "a"]);
    }

    #[test]
    fn cycles_are_broken() {
        let msgs = [m("a", &["b"], &[]), m("b", &["a"], &[])];
        let ids = thread_ids(&msgs);
        assert_eq!(ids[0], ids[1]);
        let msgs = [m("a", &["a"], &["a"])];
        assert_eq!(thread_ids(&msgs), ["a"]);
    }

    #[test]
    fn unrelated_messages_are_separate() {
        let msgs = [m("a", &[], &[]), m("b", &[], &[])];
        assert_eq!(thread_ids(&msgs), ["a", "b"]);
    }
}
