//! RFC 3339 timestamps in UTC, in the form of the fields Cloud Run stamps
//! (`creationTimestamp`, `lastTransitionTime`).

use jiff::Timestamp;

/// The current time as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, Cloud Run's form.
pub fn rfc3339_now() -> String {
    rfc3339(Timestamp::now())
}

/// A time as RFC 3339 with microseconds.
fn rfc3339(time: Timestamp) -> String {
    format!("{time:.6}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        let at = |seconds: i64, nanos: i32| Timestamp::new(seconds, nanos).expect("in range");
        assert_eq!(rfc3339(at(0, 0)), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339(at(951_782_400 + 3661, 0)), "2000-02-29T01:01:01.000000Z");
        assert_eq!(rfc3339(at(1_798_761_600, 123_456_789)), "2027-01-01T00:00:00.123456Z");
    }
}
