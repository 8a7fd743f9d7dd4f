//! What stands between an unauthenticated client and the password hash: a login
//! CSRF token the server signed, a bound on concurrent Argon2 work, per-IP limits
//! and per-account delays that grow with failures.
//!
//! Why each piece (a review brought a server from 110 MiB to 3.6 GiB with 150
//! parallel sign-ins under random usernames, and kept any account locked):
//! - the login token was only double-submitted, so an attacker chose their own:
//!   now it carries an HMAC under a per-process secret and an issue time;
//! - every attempt ran Argon2 (about 19 MiB) on its own blocking thread, up to
//!   512 of them: now at most one hash per core runs, a short queue waits, and
//!   the rest are told to come back (503 + Retry-After);
//! - the limiter was keyed by (username, IP), so fresh usernames were never
//!   limited: now each IP also has a budget of attempts and of requests in flight;
//! - five failures locked the account for everyone (behind a proxy, everyone is
//!   the proxy's IP): now failures of one (account, IP) pair slow that pair down,
//!   exponentially (OWASP's advice), and nobody else.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use facteur_store::Millis;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a login form stays valid.
const CSRF_MAX_AGE_MS: i64 = 3600 * 1000;
/// Requests of one IP being checked (or waiting their delay) at once.
const MAX_IN_FLIGHT_PER_IP: usize = 2;
/// Hashes waiting for a core, per core, before new attempts are turned away.
const QUEUE_PER_CORE: usize = 4;
/// The longest delay a failing (account, IP) pair waits before each attempt.
const MAX_DELAY: Duration = Duration::from_secs(60);

/// Why an attempt is not checked now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The IP used its attempts of the window: retry after this many seconds.
    TooMany(u64),
    /// The hashing queue (or this IP's share of it) is full: retry in a second.
    Busy,
}

/// Settings of the guard (from [`crate::WebConfig`]).
#[derive(Debug, Clone, Copy)]
pub struct GuardConfig {
    /// Failures an (account, IP) pair may make in the window before its delays start.
    pub free_failures: u32,
    /// Attempts one IP may make in the window, whatever the usernames.
    pub max_per_ip: u32,
    pub window: Duration,
    /// Argon2 hashes running at once (default: the number of cores).
    pub hash_concurrency: usize,
}

#[derive(Default)]
struct Tallies {
    /// Attempt times per IP (sliding window).
    per_ip: HashMap<String, VecDeque<Millis>>,
    /// Requests per IP not answered yet.
    in_flight: HashMap<String, usize>,
    /// Failure times per (lower-cased username, IP).
    failures: HashMap<(String, String), VecDeque<Millis>>,
}

/// The per-process secret login tokens are signed with: a restart (or another
/// node) asks for the form again, which a browser does on the next page load.
fn secret() -> &'static [u8; 32] {
    static SECRET: OnceLock<[u8; 32]> = OnceLock::new();
    SECRET.get_or_init(|| {
        let mut s = [0u8; 32];
        OsRng.fill_bytes(&mut s);
        s
    })
}

fn wall_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

fn mac(payload: &str) -> String {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret()).expect("HMAC takes any key length");
    m.update(b"facteur-login-csrf:");
    m.update(payload.as_bytes());
    hex::encode(m.finalize().into_bytes())
}

/// A fresh login-form token, `NONCE.ISSUED_AT.MAC` (wall-clock milliseconds).
pub fn login_csrf_token() -> String {
    issue_at(wall_ms())
}

fn issue_at(now: Millis) -> String {
    let mut nonce = [0u8; 16];
    OsRng.fill_bytes(&mut nonce);
    let payload = format!("{}.{now}", hex::encode(nonce));
    let mac = mac(&payload);
    format!("{payload}.{mac}")
}

/// True when this process signed `token` less than an hour ago.
pub fn check_login_csrf(token: &str) -> bool {
    check_at(token, wall_ms())
}

fn check_at(token: &str, now: Millis) -> bool {
    if token.len() > 200 {
        return false;
    }
    let Some((payload, tag)) = token.rsplit_once('.') else {
        return false;
    };
    let Some(issued) = payload
        .split_once('.')
        .and_then(|(_, t)| t.parse::<Millis>().ok())
    else {
        return false;
    };
    crate::auth::ct_eq(&mac(payload), tag)
        && issued <= now + 60_000
        && now - issued < CSRF_MAX_AGE_MS
}

/// Process-local, in memory on purpose: it is a brake, and losing it on restart
/// costs nothing.
pub struct LoginGuard {
    cfg: GuardConfig,
    hashing: Arc<Semaphore>,
    /// The threads that run the hashes, one per permit (see [`LoginGuard::hash`]).
    hash_threads: Option<rayon::ThreadPool>,
    waiting: AtomicUsize,
    tallies: Arc<Mutex<Tallies>>,
}

/// One admitted attempt; its IP's in-flight count goes down when it is dropped.
pub struct Ticket {
    ip: String,
    tallies: Arc<Mutex<Tallies>>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut t = self.tallies.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = t.in_flight.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                t.in_flight.remove(&self.ip);
            }
        }
    }
}

fn prune(q: &mut VecDeque<Millis>, now: Millis, window: i64) {
    while q.front().is_some_and(|t| now - *t >= window) {
        q.pop_front();
    }
}

impl LoginGuard {
    pub fn new(cfg: GuardConfig) -> Self {
        let permits = cfg.hash_concurrency.max(1);
        Self {
            cfg: GuardConfig {
                hash_concurrency: permits,
                ..cfg
            },
            hashing: Arc::new(Semaphore::new(permits)),
            hash_threads: rayon::ThreadPoolBuilder::new()
                .num_threads(permits)
                .thread_name(|i| format!("facteur-argon2-{i}"))
                .build()
                .map_err(|e| tracing::warn!(error = %e, "no dedicated hashing threads: tokio's blocking pool hashes instead"))
                .ok(),
            waiting: AtomicUsize::new(0),
            tallies: Arc::new(Mutex::new(Tallies::default())),
        }
    }

    fn window_ms(&self) -> i64 {
        self.cfg.window.as_millis() as i64
    }

    /// Admits one attempt from `ip`, counted before its password is checked so
    /// that parallel guesses queue on the limits too.
    pub fn admit(&self, ip: &str, now: Millis) -> Result<Ticket, Refusal> {
        let window = self.window_ms();
        let mut t = self.tallies.lock().unwrap_or_else(|p| p.into_inner());
        // Bound memory under a spray of usernames or addresses.
        if t.per_ip.len() > 100_000 {
            t.per_ip
                .retain(|_, q| q.back().is_some_and(|x| now - *x < window));
        }
        if t.failures.len() > 100_000 {
            t.failures
                .retain(|_, q| q.back().is_some_and(|x| now - *x < window));
        }
        if t.in_flight.get(ip).copied().unwrap_or(0) >= MAX_IN_FLIGHT_PER_IP {
            return Err(Refusal::Busy);
        }
        let q = t.per_ip.entry(ip.to_string()).or_default();
        prune(q, now, window);
        if q.len() >= self.cfg.max_per_ip as usize {
            let oldest = q.front().copied().unwrap_or(now);
            let retry = ((oldest + window - now).max(1000) / 1000) as u64;
            return Err(Refusal::TooMany(retry));
        }
        q.push_back(now);
        *t.in_flight.entry(ip.to_string()).or_default() += 1;
        Ok(Ticket {
            ip: ip.to_string(),
            tallies: self.tallies.clone(),
        })
    }

    fn pair(username: &str, ip: &str) -> (String, String) {
        (username.trim().to_lowercase(), ip.to_string())
    }

    /// How long this (account, IP) pair waits before its password is checked:
    /// nothing until it has `free_failures` failures in the window, then 1 s,
    /// 2 s, 4 s… up to a minute. The account stays open to every other client.
    pub fn delay(&self, username: &str, ip: &str, now: Millis) -> Duration {
        let window = self.window_ms();
        let mut t = self.tallies.lock().unwrap_or_else(|p| p.into_inner());
        let Some(q) = t.failures.get_mut(&Self::pair(username, ip)) else {
            return Duration::ZERO;
        };
        prune(q, now, window);
        let failures = q.len() as u32;
        if failures < self.cfg.free_failures {
            return Duration::ZERO;
        }
        let over = failures - self.cfg.free_failures;
        Duration::from_secs(1u64 << over.min(6)).min(MAX_DELAY)
    }

    pub fn record_failure(&self, username: &str, ip: &str, now: Millis) {
        let mut t = self.tallies.lock().unwrap_or_else(|p| p.into_inner());
        t.failures
            .entry(Self::pair(username, ip))
            .or_default()
            .push_back(now);
    }

    /// A success forgets the pair's failures.
    pub fn clear(&self, username: &str, ip: &str) {
        let mut t = self.tallies.lock().unwrap_or_else(|p| p.into_inner());
        t.failures.remove(&Self::pair(username, ip));
    }

    /// Runs `f` (an Argon2 verification, ~19 MiB of working memory) on the
    /// guard's own threads, one per hashing permit, and returns its result (`None`
    /// if it panicked).
    ///
    /// Why not tokio's blocking pool: its threads come and go (up to 512), and
    /// glibc keeps a freed Argon2 block in the arena of the thread that used it
    /// (the first free of a large block raises its mmap threshold), so a flood of
    /// sign-ins spread over many addresses grew the server to 388 MiB while at
    /// most two hashes ran at once. A fixed set of threads keeps that memory to
    /// one block per thread.
    pub async fn hash<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let run = move || std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok();
        match &self.hash_threads {
            Some(pool) => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                pool.spawn(move || {
                    let _ = tx.send(run());
                });
                rx.await.ok().flatten()
            }
            None => tokio::task::spawn_blocking(run).await.ok().flatten(),
        }
    }

    /// A core to hash on: at once when one is free, after a short queue
    /// otherwise, or [`Refusal::Busy`] when the queue is full.
    pub async fn hash_permit(&self) -> Result<OwnedSemaphorePermit, Refusal> {
        if let Ok(p) = self.hashing.clone().try_acquire_owned() {
            return Ok(p);
        }
        let max_waiting = QUEUE_PER_CORE * self.cfg.hash_concurrency;
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(Refusal::Busy);
        }
        let p = self.hashing.clone().acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        p.map_err(|_| Refusal::Busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> LoginGuard {
        LoginGuard::new(GuardConfig {
            free_failures: 2,
            max_per_ip: 5,
            window: Duration::from_secs(1),
            hash_concurrency: 1,
        })
    }

    #[test]
    fn only_tokens_this_process_signed_and_fresh_pass() {
        let t = issue_at(1_000);
        assert!(check_at(&t, 2_000));
        assert!(!check_at(&t, 1_000 + CSRF_MAX_AGE_MS));
        assert!(check_login_csrf(&login_csrf_token()));
        let chosen = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert!(!check_at(chosen, 2_000));
        let (payload, _) = t.rsplit_once('.').unwrap();
        let forged = format!("{}.{}", payload.replace(".1000", ".1500"), "0".repeat(64));
        assert!(!check_at(&forged, 2_000));
        let resigned = format!("{}.{}", payload.replace(".1000", ".1500"), mac(payload));
        assert!(!check_at(&resigned, 2_000));
        assert!(!check_at("", 2_000));
    }

    #[test]
    fn an_ip_is_limited_whatever_the_usernames() {
        let g = guard();
        for i in 0..5 {
            drop(g.admit("ip", i).unwrap());
        }
        assert_eq!(g.admit("ip", 10).err(), Some(Refusal::TooMany(1)));
        assert!(g.admit("other", 10).is_ok());
        // The window slides.
        assert!(g.admit("ip", 1_000).is_ok());
    }

    #[test]
    fn an_ip_has_two_requests_in_flight_at_most() {
        let g = guard();
        let a = g.admit("ip", 0).unwrap();
        let _b = g.admit("ip", 0).unwrap();
        assert_eq!(g.admit("ip", 0).err(), Some(Refusal::Busy));
        drop(a);
        assert!(g.admit("ip", 0).is_ok());
    }

    #[test]
    fn delays_grow_for_the_failing_pair_only() {
        let g = guard();
        g.record_failure("Alice", "evil", 0);
        assert_eq!(g.delay("alice", "evil", 5), Duration::ZERO);
        g.record_failure("alice", "evil", 5);
        assert_eq!(g.delay("alice", "evil", 6), Duration::from_secs(1));
        g.record_failure("alice", "evil", 6);
        assert_eq!(g.delay("alice", "evil", 7), Duration::from_secs(2));
        assert_eq!(g.delay("alice", "office", 7), Duration::ZERO);
        for i in 0..40 {
            g.record_failure("alice", "evil", 7 + i);
        }
        assert_eq!(g.delay("alice", "evil", 50), MAX_DELAY);
        g.clear("ALICE", "evil");
        assert_eq!(g.delay("alice", "evil", 51), Duration::ZERO);
    }

    #[tokio::test]
    async fn hashing_is_bounded_with_a_short_queue() {
        let g = Arc::new(guard());
        let held = g.hash_permit().await.unwrap();
        let mut waiters = Vec::new();
        for _ in 0..QUEUE_PER_CORE {
            let g = g.clone();
            waiters.push(tokio::spawn(async move { g.hash_permit().await.is_ok() }));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(g.hash_permit().await.err(), Some(Refusal::Busy));
        drop(held);
        for w in waiters {
            assert!(w.await.unwrap());
        }
    }
}
