//! `snapshot-stale`: a snapshot too old to trust.

use super::Rule;
use crate::diagnostic::{Diagnostic, Severity};
use jiff::{SignedDuration, Timestamp};

pub static RULE: Rule = Rule {
    code: "snapshot-stale",
    severity: Severity::Warning,
    summary: "a snapshot older than 7 days (`--max-snapshot-age`)",
    flags: "A snapshot passed with `--snapshot FILE` whose `capturedAt` is more than 7 days \
(7 x 24 hours) before the run: `check`, `deploy --dry-run` and `audit` take another limit with \
`--max-snapshot-age DAYS` (0 warns about any snapshot older than the run); `audit` says so at \
the top of its report. With several snapshots, the oldest counts.",
    why: "Secrets are disabled, rotated and deleted all the time; an old snapshot can pass a \
check that the real project would fail.",
    example: "secretgate check --env staging --snapshot staging-2026-01.json",
    fix: "Capture a fresh one: `secretgate snapshot --env staging -o staging.json`.",
};

/// The snapshot's age when it is older than `max_days` whole days of 24 hours, compared as
/// durations: a snapshot 7 days and 19 hours old is over a limit of 7.
pub fn age_over(captured: Timestamp, now: Timestamp, max_days: i64) -> Option<SignedDuration> {
    let age = now.duration_since(captured);
    let limit = SignedDuration::from_hours(max_days.saturating_mul(24));
    (age > limit).then_some(age)
}

/// An age in words, to the hour: `20 hours`, `10 days`, `7 days and 19 hours`.
pub fn describe_age(age: SignedDuration) -> String {
    let hours = age.as_secs().max(0) / 3600;
    let (days, hours) = (hours / 24, hours % 24);
    let unit = |n: i64, one: &str| if n == 1 { format!("1 {one}") } else { format!("{n} {one}s") };
    match (days, hours) {
        (0, h) => unit(h, "hour"),
        (d, 0) => unit(d, "day"),
        (d, h) => format!("{} and {}", unit(d, "day"), unit(h, "hour")),
    }
}

pub fn check(captured: Timestamp, now: Timestamp, max_days: i64, out: &mut Vec<Diagnostic>) {
    let Some(age) = age_over(captured, now, max_days) else { return };
    let message = format!(
        "the snapshot was captured on {captured}, {} ago (the limit is {max_days} days)",
        describe_age(age)
    );
    let help = "capture a fresh one with `secretgate snapshot --env ENV -o FILE`";
    out.push(Diagnostic::new(&RULE, message).help(help));
}

#[cfg(test)]
mod tests {
    use super::{age_over, describe_age};
    use jiff::{SignedDuration, Timestamp};

    fn hours_before(now: Timestamp, hours: i64) -> Timestamp {
        now.checked_sub(SignedDuration::from_hours(hours)).expect("in range")
    }

    /// Regression: the age was rounded down to whole days and had to exceed the limit, so a
    /// snapshot 7.8 days old passed a limit of 7 and `--max-snapshot-age 0` never warned.
    #[test]
    fn older_than_the_limit_by_any_amount_is_stale() {
        let now = Timestamp::from_second(2_000_000_000).expect("a valid time");
        let second = SignedDuration::from_secs(1);
        let seven_days = hours_before(now, 7 * 24);
        assert_eq!(age_over(seven_days, now, 7), None, "exactly the limit");
        assert!(age_over(seven_days - second, now, 7).is_some(), "one second over");
        assert!(age_over(hours_before(now, 187), now, 7).is_some(), "7.8 days");
        assert!(age_over(hours_before(now, 20), now, 0).is_some(), "20 hours, limit 0");
        assert_eq!(age_over(now, now, 0), None, "taken just now");
        assert_eq!(age_over(hours_before(now, 20), now, 1), None);
    }

    #[test]
    fn ages_are_said_to_the_hour() {
        let hours = |h| describe_age(SignedDuration::from_hours(h));
        assert_eq!(hours(1), "1 hour");
        assert_eq!(hours(20), "20 hours");
        assert_eq!(hours(240), "10 days");
        assert_eq!(hours(25), "1 day and 1 hour");
        assert_eq!(hours(187), "7 days and 19 hours");
    }
}
