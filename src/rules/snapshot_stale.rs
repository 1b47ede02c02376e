//! `snapshot-stale`: a snapshot too old to trust.

use super::Rule;
use crate::diagnostic::{Diagnostic, Severity};
use jiff::Timestamp;

pub static RULE: Rule = Rule {
    code: "snapshot-stale",
    severity: Severity::Warning,
    summary: "a snapshot older than 7 days (`--max-snapshot-age`)",
    flags: "A snapshot passed with `--snapshot FILE` whose `capturedAt` is older than 7 days: \
`check` and `deploy --dry-run` take another limit with `--max-snapshot-age DAYS`; `audit` \
always uses 7. With several snapshots, the oldest counts.",
    why: "Secrets are disabled, rotated and deleted all the time; an old snapshot can pass a \
check that the real project would fail.",
    example: "secretgate check --env staging --snapshot staging-2026-01.json",
    fix: "Capture a fresh one: `secretgate snapshot --env staging -o staging.json`.",
};

pub fn check(captured: Timestamp, now: Timestamp, max_days: i64, out: &mut Vec<Diagnostic>) {
    let age = now.duration_since(captured).as_secs() / 86_400;
    if age <= max_days {
        return;
    }
    let message = format!("the snapshot was captured on {captured}, {age} days ago");
    let help = "capture a fresh one with `secretgate snapshot --env ENV -o FILE`";
    out.push(Diagnostic::new(&RULE, message).help(help));
}
