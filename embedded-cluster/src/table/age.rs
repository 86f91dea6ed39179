//! Ages as the API server prints them in Table cells: the time since a timestamp, in the
//! short form kubectl users know (`45s`, `3m12s`, `5h`, `2d3h`), computed by the server when
//! it answers.

use jiff::Timestamp;
use serde_json::Value;

/// The age of an RFC 3339 timestamp at `now`: `<unknown>` when there is none, `<invalid>`
/// when it does not parse.
pub(crate) fn since(timestamp: Option<&Value>, now: Timestamp) -> String {
    match timestamp.and_then(Value::as_str) {
        None | Some("") => "<unknown>".to_owned(),
        Some(text) => match text.parse::<Timestamp>() {
            Ok(at) => human(now.as_millisecond() - at.as_millisecond()),
            Err(_) => "<invalid>".to_owned(),
        },
    }
}

/// Milliseconds between two timestamps, both RFC 3339 strings; `None` unless both parse.
pub(crate) fn between(start: Option<&Value>, end: Option<&Value>) -> Option<i64> {
    let parse = |v: Option<&Value>| v?.as_str()?.parse::<Timestamp>().ok();
    Some(parse(end)?.as_millisecond() - parse(start)?.as_millisecond())
}

/// A duration with two or three significant figures, as the API server words it.
pub(crate) fn human(millis: i64) -> String {
    // Truncated toward zero, so that a clock up to a second ahead reads as `0s`.
    let seconds = millis / 1000;
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    if seconds < 0 {
        return "0s".to_owned();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return with_rest(minutes, "m", seconds % 60, "s");
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        return with_rest(hours, "h", minutes % 60, "m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        return with_rest(days, "d", hours % 24, "h");
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        return with_rest(years, "y", days % 365, "d");
    }
    format!("{years}y")
}

fn with_rest(whole: i64, unit: &str, rest: i64, rest_unit: &str) -> String {
    if rest == 0 {
        format!("{whole}{unit}")
    } else {
        format!("{whole}{unit}{rest}{rest_unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations_read_as_the_api_server_words_them() {
        let s = 1000;
        let cases = [
            (-5 * s, "<invalid>"),
            (-1500, "0s"),
            (0, "0s"),
            (59 * s, "59s"),
            (119 * s, "119s"),
            (120 * s, "2m"),
            (192 * s, "3m12s"),
            (10 * 60 * s + 30 * s, "10m"),
            (179 * 60 * s, "179m"),
            (3 * 3600 * s + 5 * 60 * s, "3h5m"),
            (5 * 3600 * s, "5h"),
            (30 * 3600 * s, "30h"),
            (51 * 3600 * s, "2d3h"),
            (72 * 3600 * s, "3d"),
            (100 * 86400 * s, "100d"),
            ((3 * 365 + 10) * 86400 * s, "3y10d"),
            (9 * 365 * 86400 * s, "9y"),
        ];
        for (millis, want) in cases {
            assert_eq!(human(millis), want, "{millis} ms");
        }
    }

    #[test]
    fn ages_of_timestamps() {
        let now: Timestamp = "2024-01-01T01:00:00Z".parse().unwrap();
        assert_eq!(since(Some(&json!("2024-01-01T00:59:30Z")), now), "30s");
        assert_eq!(since(Some(&json!("2024-01-01T00:00:00Z")), now), "60m");
        assert_eq!(since(None, now), "<unknown>");
        assert_eq!(since(Some(&json!("yesterday")), now), "<invalid>");
        assert_eq!(
            between(
                Some(&json!("2024-01-01T00:00:00Z")),
                Some(&json!("2024-01-01T00:00:42Z"))
            ),
            Some(42_000)
        );
        assert_eq!(between(None, Some(&json!("2024-01-01T00:00:42Z"))), None);
    }
}
