//! Fault injection: queues of canned answers (errors, garbage, silence, delays) that replace the
//! fake's normal answer for the next requests of a kind, of a path prefix, or of any kind.
//!
//! Queues rather than probabilities, so a test states exactly what a client meets ("503 twice,
//! then the real answer") and stays deterministic.

use std::collections::VecDeque;
use std::time::Duration;

/// The kinds of request the fake tells apart, for fault targets and the request log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// `POST /token`.
    Token,
    ListSecrets,
    GetSecret,
    ListVersions,
    GetVersion,
    /// `…/versions/{v}:access`, which the fake always refuses.
    AccessVersion,
    GetIamPolicy,
    ListServices,
    GetService,
    CreateService,
    ReplaceService,
    /// Anything the fake does not implement.
    Other,
}

impl Route {
    /// Every route, for parsing and help texts.
    pub const ALL: [Route; 12] = [
        Route::Token,
        Route::ListSecrets,
        Route::GetSecret,
        Route::ListVersions,
        Route::GetVersion,
        Route::AccessVersion,
        Route::GetIamPolicy,
        Route::ListServices,
        Route::GetService,
        Route::CreateService,
        Route::ReplaceService,
        Route::Other,
    ];

    /// The kebab-case name used in fault specs and in `/_fake/requests`.
    pub fn name(self) -> &'static str {
        match self {
            Route::Token => "token",
            Route::ListSecrets => "list-secrets",
            Route::GetSecret => "get-secret",
            Route::ListVersions => "list-versions",
            Route::GetVersion => "get-version",
            Route::AccessVersion => "access-version",
            Route::GetIamPolicy => "get-iam-policy",
            Route::ListServices => "list-services",
            Route::GetService => "get-service",
            Route::CreateService => "create-service",
            Route::ReplaceService => "replace-service",
            Route::Other => "other",
        }
    }

    /// The route with this name.
    pub fn parse(name: &str) -> Option<Route> {
        Route::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// Which requests a fault queue applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Every request (except the fake's own `/_fake/` endpoints).
    Any,
    Route(Route),
    /// Requests whose path (without the query) starts with this.
    Prefix(String),
}

impl From<Route> for Target {
    fn from(route: Route) -> Target {
        Target::Route(route)
    }
}

/// One canned answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer normally; useful to let one request through before later faults.
    Pass,
    /// Answer this HTTP code with Google's error envelope and the matching status.
    Status(u16),
    /// Answer 200 with a body that is not valid JSON.
    Malformed,
    /// Never answer (until the fake shuts down).
    Hang,
    /// Wait, then answer normally.
    Delay(Duration),
}

/// A fault and how many more requests it answers (`None`: all of them).
type Step = (Fault, Option<u32>);

/// The fault queues, consulted once per request.
#[derive(Debug, Default)]
pub(crate) struct FaultTable {
    queues: Vec<(Target, VecDeque<Step>)>,
}

impl FaultTable {
    /// Appends steps to the target's queue.
    pub fn push(&mut self, target: Target, steps: impl IntoIterator<Item = Step>) {
        let index = match self.queues.iter().position(|(t, _)| *t == target) {
            Some(i) => i,
            None => {
                self.queues.push((target, VecDeque::new()));
                self.queues.len() - 1
            }
        };
        self.queues[index].1.extend(steps);
    }

    pub fn clear(&mut self) {
        self.queues.clear();
    }

    /// Takes the fault for a request: the route's queue first, then the longest matching
    /// prefix, then the catch-all; `None` when no queue has one.
    pub fn take(&mut self, route: Route, path: &str) -> Option<Fault> {
        let index = self.best_queue(route, path)?;
        let queue = &mut self.queues[index].1;
        let (fault, left) = queue.front_mut()?;
        let fault = fault.clone();
        match left {
            None => {}
            Some(n) if *n > 1 => *n -= 1,
            Some(_) => {
                queue.pop_front();
            }
        }
        Some(fault)
    }

    fn best_queue(&self, route: Route, path: &str) -> Option<usize> {
        let rank = |target: &Target| match target {
            Target::Route(r) if *r == route => Some(usize::MAX),
            Target::Prefix(p) if path.starts_with(p.as_str()) => Some(p.len() + 1),
            Target::Any => Some(0),
            _ => None,
        };
        self.queues
            .iter()
            .enumerate()
            .filter(|(_, (_, queue))| !queue.is_empty())
            .filter_map(|(i, (target, _))| Some((rank(target)?, i)))
            .max_by_key(|(rank, _)| *rank)
            .map(|(_, i)| i)
    }
}

/// Parses `TARGET=FAULT[,FAULT…]`.
///
/// TARGET is a route name (`list-secrets`), a path prefix (`/v1/projects/p`) or `*`. FAULT is an
/// HTTP code (`503`), `malformed`, `hang`, `pass` or `delay:MS`, optionally followed by `*N`
/// (answer N requests) or `*` (answer every request from then on).
pub fn parse_spec(spec: &str) -> Result<(Target, Vec<Step>), String> {
    let (target, faults) =
        spec.split_once('=').ok_or_else(|| format!("fault spec `{spec}` has no `=`"))?;
    let target = match target.trim() {
        "*" => Target::Any,
        p if p.starts_with('/') => Target::Prefix(p.to_string()),
        name => Target::Route(Route::parse(name).ok_or_else(|| unknown_route(name))?),
    };
    let steps = faults.split(',').map(|f| parse_step(f.trim())).collect::<Result<_, _>>()?;
    Ok((target, steps))
}

fn unknown_route(name: &str) -> String {
    let names: Vec<&str> = Route::ALL.iter().map(|r| r.name()).collect();
    format!("unknown route `{name}`; use `*`, a path starting with `/`, or one of {names:?}")
}

fn parse_step(text: &str) -> Result<Step, String> {
    let (fault, times) = match text.split_once('*') {
        None => (text, Some(1)),
        Some((fault, "")) => (fault, None),
        Some((fault, n)) => {
            let n = n.parse().map_err(|_| format!("bad repeat count in `{text}`"))?;
            (fault, Some(n))
        }
    };
    Ok((parse_fault(fault)?, times))
}

fn parse_fault(text: &str) -> Result<Fault, String> {
    let fault = match text {
        "pass" => Fault::Pass,
        "malformed" => Fault::Malformed,
        "hang" => Fault::Hang,
        _ => match text.strip_prefix("delay:") {
            Some(ms) => Fault::Delay(Duration::from_millis(
                ms.parse().map_err(|_| format!("bad delay in `{text}`"))?,
            )),
            None => match text.parse::<u16>() {
                Ok(code) if (400..600).contains(&code) => Fault::Status(code),
                _ => return Err(format!("unknown fault `{text}`")),
            },
        },
    };
    Ok(fault)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_run_in_order_then_pass() {
        let mut table = FaultTable::default();
        let (target, steps) = parse_spec("list-secrets=503*2,429").unwrap();
        table.push(target, steps);
        let take = |t: &mut FaultTable| t.take(Route::ListSecrets, "/v1/projects/p/secrets");
        assert_eq!(take(&mut table), Some(Fault::Status(503)));
        assert_eq!(take(&mut table), Some(Fault::Status(503)));
        assert_eq!(take(&mut table), Some(Fault::Status(429)));
        assert_eq!(take(&mut table), None);
    }

    #[test]
    fn route_beats_prefix_beats_any() {
        let mut table = FaultTable::default();
        table.push(Target::Any, [(Fault::Status(500), None)]);
        table.push(Target::Prefix("/v1/".into()), [(Fault::Status(403), None)]);
        table.push(Route::GetSecret.into(), [(Fault::Hang, Some(1))]);
        assert_eq!(table.take(Route::GetSecret, "/v1/x"), Some(Fault::Hang));
        assert_eq!(table.take(Route::GetSecret, "/v1/x"), Some(Fault::Status(403)));
        assert_eq!(table.take(Route::Token, "/token"), Some(Fault::Status(500)));
    }

    #[test]
    fn bad_specs_are_explained() {
        assert!(parse_spec("list-secret=503").unwrap_err().contains("unknown route"));
        assert!(parse_spec("*=teapot").unwrap_err().contains("unknown fault"));
        assert_eq!(parse_spec("*=delay:5").unwrap().1[0].0, Fault::Delay(Duration::from_millis(5)));
    }
}
