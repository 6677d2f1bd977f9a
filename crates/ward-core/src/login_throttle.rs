//! Failed logins, counted per user and per source address across every listener (PostgreSQL,
//! SSH, the web sign-in): past a limit within a window, further attempts are refused before
//! the secret is checked, so guessing costs the attacker time and Ward no Argon2 hashing.
//!
//! A lock ends when the failures that caused it leave the window; a success clears the user's
//! count. A user locked by someone else's guesses can still log in with a key or certificate
//! (SSH) once the window passes; the address limit is higher, for hosts that many users share.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many failures within how long lock what.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub per_user: usize,
    pub per_address: usize,
    pub window: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_user: 5,
            per_address: 20,
            window: Duration::from_secs(300),
        }
    }
}

/// What a lock is on, as messages and the record name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    User(String),
    Address(IpAddr),
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::User(user) => write!(f, "user \"{user}\""),
            Subject::Address(addr) => write!(f, "address {addr}"),
        }
    }
}

/// A lock in force: on what, and for how much longer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locked {
    pub subject: Subject,
    pub remaining: Duration,
}

impl std::fmt::Display for Locked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "too many failed logins for {}: locked for {} s",
            self.subject,
            self.remaining.as_secs().max(1)
        )
    }
}

/// The failure counts of one Ward process.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    limits: Limits,
    failures: Mutex<HashMap<Subject, VecDeque<Instant>>>,
}

impl LoginThrottle {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            failures: Mutex::default(),
        }
    }

    fn limit(&self, subject: &Subject) -> usize {
        match subject {
            Subject::User(_) => self.limits.per_user,
            Subject::Address(_) => self.limits.per_address,
        }
    }

    fn subjects(user: &str, from: IpAddr) -> [Subject; 2] {
        [Subject::User(user.to_owned()), Subject::Address(from)]
    }

    /// The lock that refuses an attempt by `user` from `from` now, if any.
    pub fn check(&self, user: &str, from: IpAddr, now: Instant) -> Option<Locked> {
        let mut failures = self.failures.lock().ok()?;
        Self::subjects(user, from).into_iter().find_map(|subject| {
            let times = failures.get_mut(&subject)?;
            self.forget_old(times, now);
            self.locked(subject, times, now)
        })
    }

    /// Counts a failed attempt; returns the lock it starts, if it starts one.
    pub fn failed(&self, user: &str, from: IpAddr, now: Instant) -> Option<Locked> {
        let mut failures = self.failures.lock().ok()?;
        // Bound the table: entries whose failures all left the window go.
        if failures.len() > 100_000 {
            let window = self.limits.window;
            failures.retain(|_, t| t.back().is_some_and(|at| now.duration_since(*at) < window));
        }
        let mut started = None;
        for subject in Self::subjects(user, from) {
            let times = failures.entry(subject.clone()).or_default();
            self.forget_old(times, now);
            times.push_back(now);
            if times.len() == self.limit(&subject) {
                started = started.or(self.locked(subject, times, now));
            }
        }
        started
    }

    /// A successful login clears the user's failures (not the address's).
    pub fn succeeded(&self, user: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(&Subject::User(user.to_owned()));
        }
    }

    fn forget_old(&self, times: &mut VecDeque<Instant>, now: Instant) {
        while times
            .front()
            .is_some_and(|at| now.duration_since(*at) >= self.limits.window)
        {
            times.pop_front();
        }
    }

    /// Locked while the failures within the window reach the limit: until the oldest of the
    /// last `limit` of them leaves it.
    fn locked(&self, subject: Subject, times: &VecDeque<Instant>, now: Instant) -> Option<Locked> {
        let limit = self.limit(&subject);
        if times.len() < limit {
            return None;
        }
        let oldest = times.get(times.len() - limit)?;
        let remaining = self
            .limits
            .window
            .saturating_sub(now.duration_since(*oldest));
        Some(Locked { subject, remaining })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> LoginThrottle {
        LoginThrottle::new(Limits {
            per_user: 3,
            per_address: 5,
            window: Duration::from_secs(60),
        })
    }

    #[test]
    fn a_user_is_locked_after_the_limit_until_the_window_passes() {
        let t = throttle();
        let (ip, t0) = ("10.0.0.1".parse().expect("ip"), Instant::now());
        assert_eq!(t.failed("alice", ip, t0), None);
        assert_eq!(t.failed("alice", ip, t0 + Duration::from_secs(10)), None);
        assert_eq!(t.check("alice", ip, t0 + Duration::from_secs(10)), None);
        let started = t
            .failed("alice", ip, t0 + Duration::from_secs(20))
            .expect("locked");
        assert_eq!(started.subject, Subject::User("alice".into()));
        assert_eq!(started.remaining, Duration::from_secs(40));
        assert_eq!(
            started.to_string(),
            "too many failed logins for user \"alice\": locked for 40 s"
        );
        let now = t0 + Duration::from_secs(30);
        assert_eq!(
            t.check("alice", ip, now).map(|l| l.remaining),
            Some(Duration::from_secs(30))
        );
        // Another user from another address is not affected.
        assert_eq!(t.check("bob", "10.0.0.2".parse().expect("ip"), now), None);
        // The first failure leaves the window: one attempt more.
        assert_eq!(t.check("alice", ip, t0 + Duration::from_secs(60)), None);
    }

    #[test]
    fn an_address_is_locked_across_users_and_a_success_clears_only_the_user() {
        let t = throttle();
        let (ip, t0) = ("10.0.0.9".parse().expect("ip"), Instant::now());
        for (i, user) in ["a", "b", "c", "d"].iter().enumerate() {
            assert_eq!(t.failed(user, ip, t0 + Duration::from_secs(i as u64)), None);
        }
        let started = t
            .failed("e", ip, t0 + Duration::from_secs(4))
            .expect("locked");
        assert_eq!(started.subject, Subject::Address(ip));
        assert!(t.check("anyone", ip, t0 + Duration::from_secs(5)).is_some());
        t.succeeded("anyone");
        assert!(t.check("anyone", ip, t0 + Duration::from_secs(5)).is_some());
        let elsewhere: IpAddr = "10.0.0.10".parse().expect("ip");
        t.failed("z", elsewhere, t0);
        t.failed("z", elsewhere, t0);
        t.succeeded("z");
        assert_eq!(t.failed("z", elsewhere, t0), None);
    }
}
