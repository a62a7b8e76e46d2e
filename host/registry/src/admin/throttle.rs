//! Wrong bearer tokens: counted per client, refused for the rest of a window after too many,
//! and logged without flooding the log: a client's first wrong token at once, then what it
//! sent since in one line per interval. Log lines name the client, never the token.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

use super::connections::Client;

/// Whose wrong tokens a record counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Client(Client),
    /// Every client beyond [`MAX_TRACKED_CLIENTS`](super::MAX_TRACKED_CLIENTS), together:
    /// bounds the memory a spray of addresses can take, and still throttles them.
    Others,
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Client(client) => write!(f, "{client}"),
            Key::Others => write!(
                f,
                "other clients (more than {} addresses at once)",
                super::MAX_TRACKED_CLIENTS
            ),
        }
    }
}

/// One client's wrong tokens.
#[derive(Debug)]
struct Strikes {
    /// When the current window began (with its first wrong token).
    window_start: Instant,
    /// Wrong tokens in the current window.
    wrong: u32,
    /// Until when further wrong tokens are counted for the next summary rather than logged.
    quiet_until: Option<Instant>,
    /// Wrong tokens not logged yet.
    unlogged_wrong: u64,
    /// Requests refused (429) and not logged yet.
    unlogged_refused: u64,
}

/// The wrong-token counts of every client.
#[derive(Debug)]
pub(super) struct Throttle {
    limit: u32,
    window: Duration,
    log_interval: Duration,
    clients: HashMap<Key, Strikes>,
}

impl Throttle {
    /// A client is refused for the rest of a `window` once it sent `limit` wrong tokens in it;
    /// what is not logged at once is summarised every `log_interval`.
    pub(super) fn new(limit: u32, window: Duration, log_interval: Duration) -> Throttle {
        Throttle {
            limit: limit.max(1),
            window,
            log_interval,
            clients: HashMap::new(),
        }
    }

    /// The record `client` counts in: its own, unless too many clients are tracked already.
    fn key(&self, client: Client) -> Key {
        let own = Key::Client(client);
        if self.clients.contains_key(&own) || self.clients.len() < super::MAX_TRACKED_CLIENTS {
            own
        } else {
            Key::Others
        }
    }

    /// How long `client` is still refused, if it is (the refusal is counted for the log).
    pub(super) fn refused(&mut self, client: Client, now: Instant) -> Option<Duration> {
        let key = self.key(client);
        let strikes = self.clients.get_mut(&key)?;
        let window_end = strikes.window_start + self.window;
        if strikes.wrong >= self.limit && now < window_end {
            strikes.unlogged_refused += 1;
            Some(window_end - now)
        } else {
            None
        }
    }

    /// Counts a wrong token from `client`.
    pub(super) fn wrong_token(&mut self, client: Client, now: Instant) {
        let key = self.key(client);
        let strikes = self.clients.entry(key).or_insert(Strikes {
            window_start: now,
            wrong: 0,
            quiet_until: None,
            unlogged_wrong: 0,
            unlogged_refused: 0,
        });
        if now >= strikes.window_start + self.window {
            strikes.window_start = now;
            strikes.wrong = 0;
        }
        strikes.wrong = strikes.wrong.saturating_add(1);
        if strikes.quiet_until.is_none_or(|quiet| now >= quiet) {
            tracing::warn!(
                client = %key,
                "admin API: a request from {key} had a wrong bearer token (401); further ones \
                 from it are counted and logged every {}",
                seconds(self.log_interval)
            );
            strikes.quiet_until = Some(now + self.log_interval);
        } else {
            strikes.unlogged_wrong += 1;
        }
        if strikes.wrong == self.limit {
            tracing::warn!(
                client = %key,
                "admin API: {} wrong bearer tokens from {key} within {}: its /api/v1/ requests \
                 are refused (429) for the next {}",
                self.limit,
                seconds(self.window),
                seconds(strikes.window_start + self.window - now)
            );
        }
    }

    /// Logs what was counted and not logged yet, and forgets clients that have nothing left
    /// to remember (their window is over and nothing of theirs waits to be logged).
    pub(super) fn summarise(&mut self, now: Instant) {
        for (key, strikes) in &mut self.clients {
            if strikes.unlogged_wrong + strikes.unlogged_refused == 0 {
                continue;
            }
            tracing::warn!(
                client = %key,
                "admin API: {} more wrong bearer token(s) from {key} and {} request(s) from it \
                 refused (429) in the last {}",
                strikes.unlogged_wrong,
                strikes.unlogged_refused,
                seconds(self.log_interval)
            );
            strikes.unlogged_wrong = 0;
            strikes.unlogged_refused = 0;
            strikes.quiet_until = Some(now + self.log_interval);
        }
        let window = self.window;
        self.clients.retain(|_, strikes| {
            now < strikes.window_start + window || strikes.quiet_until.is_some_and(|q| now < q)
        });
    }
}

/// `60 s`, `0.5 s`: a duration as the log shows it.
fn seconds(duration: Duration) -> String {
    format!("{} s", (duration.as_secs_f64() * 10.0).ceil() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_client_is_refused_for_the_rest_of_the_window_after_the_limit() {
        let window = Duration::from_secs(60);
        let mut throttle = Throttle::new(3, window, Duration::from_secs(10));
        let (a, b) = (
            Client::of("10.0.0.1".parse().unwrap()),
            Client::of("10.0.0.2".parse().unwrap()),
        );
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(throttle.refused(a, start), None);
            throttle.wrong_token(a, start);
        }
        let later = start + Duration::from_secs(20);
        assert_eq!(throttle.refused(a, later), Some(Duration::from_secs(40)));
        assert_eq!(
            throttle.refused(b, later),
            None,
            "only the client that guessed"
        );
        assert_eq!(
            throttle.refused(a, start + window),
            None,
            "the window is over"
        );
        // Forgotten once its window is over and everything was logged.
        throttle.summarise(start + window);
        throttle.summarise(start + window + Duration::from_secs(20));
        assert!(throttle.clients.is_empty(), "{throttle:?}");
    }

    #[test]
    fn seconds_read_well() {
        assert_eq!(seconds(Duration::from_secs(60)), "60 s");
        assert_eq!(seconds(Duration::from_millis(500)), "0.5 s");
    }
}
