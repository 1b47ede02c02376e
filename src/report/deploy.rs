//! The output of `deploy`: each service's plan, the report at the end, and the JSON document.
//!
//! The command decides what happens; this module only says it. The JSON document's field names
//! and status strings are part of the public interface (see the README).

use crate::deploy::{Mapping, Outcome, Plan, Status};
use crate::diagnostic::{Diagnostic, unless_credential};
use crate::source::Sources;
use serde_json::{Value, json};

/// The plan of one service as text: mappings, then image, then other fields. `offline` says
/// that the plan compares with the spec file, not with the live service. Control characters
/// in names (a live service's env var or path) are escaped.
pub fn plan(outcome: &Outcome, offline: bool) -> String {
    super::escape_controls(&plan_text(outcome, offline))
}

fn plan_text(outcome: &Outcome, offline: bool) -> String {
    let Some(plan) = &outcome.plan else { return String::new() };
    let against = if offline { "the spec file" } else { "the live service" };
    let mut text = format!(
        "Plan for {} ({}/{}), against {against}:\n",
        outcome.name, outcome.project, outcome.region
    );
    text.push_str(&notes(plan, &outcome.left_out));
    text.push_str(&mapping_table(plan, &outcome.project));
    if let Some(image) = &plan.image {
        text.push_str(&format!("  image:\n    {}\n    -> {}\n", image.before, image.after));
    }
    if !plan.diff.is_empty() {
        text.push_str("  other changes:\n");
        for line in plan.diff.lines() {
            text.push_str(&format!("    {line}\n"));
        }
    }
    text.push('\n');
    text
}

/// The lines of a plan that say something about the service as a whole.
fn notes(plan: &Plan, left_out: &[String]) -> String {
    let mut text = String::new();
    if plan.new_service {
        text.push_str("  new service: it does not exist yet and will be created\n");
    }
    if plan.is_empty() {
        text.push_str("  no changes\n");
    }
    if plan.latest_not_ready {
        text.push_str(
            "  the latest revision is not Ready (an earlier rollout failed or is still going \
             on): a new revision will be started\n",
        );
    }
    if !left_out.is_empty() {
        text.push_str(&format!(
            "  left out (optional, and its secret is unusable): {}\n",
            left_out.join(", ")
        ));
    }
    text
}

/// The mapping changes as a table: `+` added, `-` removed, `~` changed. Secrets of the
/// service's own project are shown by their id.
fn mapping_table(plan: &Plan, project: &str) -> String {
    if plan.mappings.is_empty() {
        return String::new();
    }
    let own = format!("projects/{project}/secrets/");
    let short = |m: &Mapping| unless_credential(m.secret.strip_prefix(&own).unwrap_or(&m.secret));
    let version = |m: &Mapping| unless_credential(&m.version);
    let mut text = "  secret mappings:\n".to_string();
    let targets: Vec<String> = plan
        .mappings
        .iter()
        .map(|m| super::escape_controls(&unless_credential(&m.target)))
        .collect();
    let width = targets.iter().map(String::len).max().unwrap_or(0);
    for (change, target) in plan.mappings.iter().zip(&targets) {
        let (sign, detail) = match (&change.before, &change.after) {
            (None, Some(a)) => ("+", format!("{}@{}", short(a), version(a))),
            (Some(b), None) => ("-", format!("{}@{}", short(b), version(b))),
            (Some(b), Some(a)) if b.secret == a.secret => {
                ("~", format!("{}@{} -> @{}", short(a), version(b), version(a)))
            }
            (Some(b), Some(a)) => {
                ("~", format!("{}@{} -> {}@{}", short(b), version(b), short(a), version(a)))
            }
            (None, None) => continue,
        };
        text.push_str(&format!("    {sign} {target:width$}  {detail}\n"));
    }
    text
}

/// The report at the end of a run: one paragraph per service, control characters escaped.
pub fn summary(outcomes: &[Outcome]) -> String {
    super::escape_controls(&outcomes.iter().map(service_summary).collect::<String>())
}

fn service_summary(o: &Outcome) -> String {
    let message = o.message.as_deref().unwrap_or_default();
    match o.status {
        // A dry run's plan, printed before, is its report.
        Status::Planned => String::new(),
        Status::Rejected => format!("{}: rejected: {message}\n", o.name),
        Status::Unverified => format!("{}: not verified: {message}\n", o.name),
        Status::Deployed => deployed(o),
        Status::Failed => format!("{}: rollout failed: {message}\n{}", o.name, traffic(o)),
        Status::Unknown => format!(
            "{}: rollout outcome unknown: {message}\n  the write may or may not have been \
             applied: look at the service (gcloud run services describe) before deploying again\n",
            o.name
        ),
        Status::Skipped => format!("{}: not deployed (an earlier service failed)\n", o.name),
        Status::Unchanged => format!(
            "{}: no changes, not deployed; revision {} keeps serving\n",
            o.name,
            o.revision.as_deref().unwrap_or("?")
        ),
    }
}

/// A deployed service: its ready revision, its URL and the mappings it now carries.
fn deployed(o: &Outcome) -> String {
    let mut text = format!(
        "{}: revision {} is Ready at {}\n",
        o.name,
        o.revision.as_deref().unwrap_or("?"),
        o.url.as_deref().unwrap_or("?")
    );
    for m in &o.mappings {
        let (target, secret, version) = (
            unless_credential(&m.target),
            unless_credential(&m.secret),
            unless_credential(&m.version),
        );
        text.push_str(&format!("  {target} <- {secret} @ {version}\n"));
    }
    text
}

/// Where traffic goes after a failed rollout.
fn traffic(o: &Outcome) -> String {
    let new_service = o.plan.as_ref().is_some_and(|p| p.new_service);
    match (&o.serving, new_service) {
        // A create that was refused made no service; one that conflicted found a service that
        // someone else made, of which this deploy knows nothing.
        (_, true) if o.write_refused => "  no service was created\n".into(),
        (_, true) => "  the new service has no ready revision and serves no traffic\n".into(),
        (Some(r), false) => format!("  traffic stays on the previous ready revision, {r}\n"),
        (None, false) => "  the service has no ready revision and serves no traffic\n".into(),
    }
}

/// What a run reports besides its findings.
pub struct Totals<'a> {
    pub env: &'a str,
    pub exit_code: u8,
    /// Secret Manager requests the gate made.
    pub requests: usize,
}

/// The JSON document: the gate's findings plus each service's outcome.
pub fn json(
    findings: &[Diagnostic],
    sources: &Sources,
    outcomes: &[Outcome],
    totals: &Totals,
) -> String {
    let services: Vec<Value> = outcomes
        .iter()
        .map(|o| {
            json!({
                "service": o.name,
                "environment": totals.env,
                "status": o.status,
                "revision": o.revision,
                "url": o.url,
                "message": o.message,
                "mappings": o.mappings,
                "leftOut": o.left_out,
                "plan": o.plan,
            })
        })
        .collect();
    let mut extra = serde_json::Map::new();
    extra.insert("requests".into(), json!(totals.requests));
    extra.insert("exitCode".into(), json!(totals.exit_code));
    extra.insert("services".into(), Value::Array(services));
    super::json::render("deploy", findings, sources, extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every status serialises to the string the JSON report has always used.
    #[test]
    fn statuses_keep_their_json_strings() {
        let all = [
            (Status::Planned, "planned"),
            (Status::Rejected, "rejected"),
            (Status::Unverified, "unverified"),
            (Status::Unchanged, "unchanged"),
            (Status::Deployed, "deployed"),
            (Status::Failed, "failed"),
            (Status::Unknown, "unknown"),
            (Status::Skipped, "skipped"),
        ];
        for (status, text) in all {
            assert_eq!(serde_json::to_value(status).unwrap(), json!(text));
        }
    }

    /// Every status but `planned` (whose plan is printed before) has a line in the report.
    #[test]
    fn every_ending_is_reported() {
        let statuses = [
            Status::Rejected,
            Status::Unverified,
            Status::Unchanged,
            Status::Deployed,
            Status::Failed,
            Status::Unknown,
            Status::Skipped,
        ];
        for status in statuses {
            let mut outcome = Outcome::new("api", "shop", "us-central1");
            outcome.status = status;
            let text = summary(&[outcome]);
            assert!(text.starts_with("api: "), "{status:?}: {text:?}");
        }
        assert_eq!(summary(&[Outcome::new("api", "shop", "us-central1")]), "");
    }

    /// Names and versions of a live service's mappings that look like credentials are
    /// described in the plan and its JSON, and compared as they are.
    #[test]
    fn credential_shaped_names_in_mappings_are_described() {
        let token = "ghp_AbCdEfGhIjKlMnOpQrStUvWxYzLEAKV1234";
        let mapping = |version: &str| crate::deploy::Mapping {
            target: "JWT_SECRET_KEY".into(),
            kind: "env",
            secret: "projects/shop/secrets/jwt".into(),
            version: version.into(),
        };
        let (before, after) = (mapping(token), mapping("latest"));
        assert_ne!(before, after, "compared as they are");
        let mut outcome = Outcome::new("api", "shop", "us-central1");
        outcome.plan = Some(Plan {
            new_service: false,
            mappings: vec![crate::deploy::MappingChange {
                change: "changed",
                target: token.into(),
                before: Some(before),
                after: Some(after),
            }],
            image: None,
            diff: String::new(),
            latest_not_ready: false,
        });
        let text = plan(&outcome, false);
        let json = serde_json::to_string(&outcome.plan).unwrap();
        for shown in [&text, &json] {
            assert!(!shown.contains("LEAKV"), "{shown}");
            assert!(
                shown.contains("a value that looks like a GitHub token (not shown)"),
                "{shown}"
            );
        }
    }

    /// A new service whose create Cloud Run refused (a 409 included: someone else made it) is
    /// not said to serve no traffic; one whose first revision failed is.
    #[test]
    fn a_refused_create_made_no_service() {
        let failed = |write_refused: bool| {
            let mut outcome = Outcome::new("api", "shop", "us-central1");
            outcome.ended(Status::Failed, "Cloud Run refused `api`".into());
            outcome.write_refused = write_refused;
            outcome.plan = Some(crate::deploy::Plan {
                new_service: true,
                mappings: Vec::new(),
                image: None,
                diff: String::new(),
                latest_not_ready: false,
            });
            summary(&[outcome])
        };
        let refused = failed(true);
        assert!(refused.contains("no service was created"), "{refused}");
        assert!(!refused.contains("serves no traffic"), "{refused}");
        assert!(failed(false).contains("the new service has no ready revision"));
    }
}
