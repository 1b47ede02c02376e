//! The state every request and the test-side handle share: stores, settings, fault queues and
//! the request log, behind one lock that is never held across an await.

use crate::faults::{FaultTable, Route};
use crate::run::{Ctx, ServiceStore};
use crate::secrets::SecretStore;
use serde_json::{Value, json};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Knobs that may change while the fake runs.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub latency: Duration,
    pub page_size_cap: usize,
    pub pending_gets: u32,
    pub region: String,
    pub require_token: bool,
}

/// One request as the fake saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// Arrival order, from 0.
    pub seq: u64,
    pub method: String,
    /// Path and query, as sent (still percent-encoded).
    pub path: String,
    pub route: Route,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The request body for writes (`POST`, `PUT`); `None` for reads.
    pub body: Option<String>,
    /// The HTTP status answered; `None` while unanswered (or for a `hang`).
    pub status: Option<u16>,
    /// Arrival, relative to the fake's start.
    pub at: Duration,
}

impl RequestRecord {
    /// The record as `/_fake/requests` shows it.
    pub fn to_json(&self) -> Value {
        json!({
            "seq": self.seq,
            "method": self.method,
            "path": self.path,
            "route": self.route.name(),
            "authorization": self.authorization,
            "body": self.body,
            "status": self.status,
            "atMs": self.at.as_millis() as u64,
        })
    }
}

/// Everything behind the lock.
#[derive(Debug)]
pub(crate) struct State {
    pub settings: Settings,
    pub secrets: SecretStore,
    pub services: ServiceStore,
    pub faults: FaultTable,
    pub log: Vec<RequestRecord>,
    pub next_seq: u64,
    pub tokens: Vec<String>,
}

impl State {
    pub fn new(settings: Settings, secrets: SecretStore) -> State {
        State {
            settings,
            secrets,
            services: ServiceStore::default(),
            faults: FaultTable::default(),
            log: Vec::new(),
            next_seq: 0,
            tokens: Vec::new(),
        }
    }

    /// Splits the state into the service store and what Cloud Run handlers read beside it.
    pub fn run_parts(&mut self) -> (&mut ServiceStore, Ctx<'_>) {
        let ctx = Ctx {
            secrets: &self.secrets,
            region: &self.settings.region,
            pending_gets: self.settings.pending_gets,
        };
        (&mut self.services, ctx)
    }
}

/// The state plus what does not need the lock.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
    pub started: Instant,
    /// Turns true when the fake shuts down, releasing hung requests.
    pub shutdown: watch::Receiver<bool>,
}

impl Shared {
    pub fn new(state: State, shutdown: watch::Receiver<bool>) -> Shared {
        Shared { state: Mutex::new(state), started: Instant::now(), shutdown }
    }

    /// The locked state; a panic elsewhere does not make it unusable for the remaining tests.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until shutdown (or until the handle that would signal it is gone).
    pub async fn until_shutdown(&self) {
        let mut rx = self.shutdown.clone();
        let _ = rx.wait_for(|down| *down).await;
    }

    /// Sleeps, but wakes at shutdown so a slow answer never holds the fake open.
    pub async fn sleep(&self, duration: Duration) {
        if duration.is_zero() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(duration) => {}
            () = self.until_shutdown() => {}
        }
    }
}
