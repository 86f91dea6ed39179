//! How numbers and times are written for people: metrics, money, durations, ages.

use lepton_crds::v1alpha1::{Goal, Metric, Objective};

/// A metric's name as in manifests (`auc`, `logLoss`).
pub fn metric_name(metric: &Metric) -> String {
    serde_json::to_value(metric)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{metric:?}"))
}

/// Whether a sweep's objective is maximized (its goal, or the metric's own direction).
pub fn maximize(objective: &Objective) -> bool {
    objective.goal.unwrap_or_else(|| objective.metric.goal()) == Goal::Maximize
}

/// A parameter value as a person reads it: numbers to four significant digits.
pub fn parameter(value: &str) -> String {
    match value.parse::<f64>() {
        Ok(n) if n.is_finite() && n.fract() != 0.0 => {
            let magnitude = n.abs().log10().floor() as i32;
            let decimals = (3 - magnitude).clamp(0, 12) as usize;
            let text = format!("{n:.decimals$}");
            if n.abs() < 1e-3 {
                format!("{n:.3e}")
            } else {
                text
            }
        }
        _ => value.to_owned(),
    }
}

/// A metric value: four decimals for scores and small errors, two for large errors.
pub fn metric(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    if value.abs() < 100.0 {
        format!("{value:.4}")
    } else {
        format!("{value:.2}")
    }
}

/// An amount of money with enough digits to tell small runs apart.
pub fn money(amount: f64, currency: Option<&str>) -> String {
    let digits = if amount.abs() >= 1.0 {
        2
    } else if amount.abs() >= 0.01 {
        4
    } else {
        6
    };
    match currency.unwrap_or("USD") {
        "USD" => format!("${amount:.digits$}"),
        other => format!("{amount:.digits$} {other}"),
    }
}

/// Milliseconds with precision that suits the size.
pub fn millis(ms: f64) -> String {
    if ms < 1.0 {
        format!("{ms:.3} ms")
    } else if ms < 100.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

/// A byte count in KiB or MiB.
pub fn bytes(n: i64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / f64::from(1 << 20))
    } else {
        format!("{:.1} KiB", n as f64 / 1024.0)
    }
}

/// Elapsed time as `m:ss` (or `h:mm:ss`).
pub fn clock(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// An age as kubectl prints it (`45s`, `3m12s`, `2h5m`, `4d`).
pub fn age(seconds: i64) -> String {
    if seconds < 0 {
        return "0s".into();
    }
    let (s, m, h, d) = (seconds, seconds / 60, seconds / 3600, seconds / 86400);
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        format!("{m}m{}s", s % 60)
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        format!("{h}h{}m", m % 60)
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        format!("{d}d{}h", h % 24)
    } else if d < 365 * 2 {
        format!("{d}d")
    } else if d < 365 * 8 {
        format!("{}y{}d", d / 365, d % 365)
    } else {
        format!("{}y", d / 365)
    }
}

/// Cuts `text` to `width` characters, marking the cut.
pub fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Left-aligned columns separated by three spaces, as kubectl prints tables.
pub fn columns(rows: &[Vec<String>]) -> String {
    let count = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..count)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = widths[i] - cell.chars().count();
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 3));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_follow_kubectl() {
        for (s, want) in [
            (5, "5s"),
            (119, "119s"),
            (192, "3m12s"),
            (900, "15m"),
            (3 * 3600 + 300, "3h5m"),
            (20 * 3600, "20h"),
            (3 * 86400 + 7200, "3d2h"),
            (40 * 86400, "40d"),
        ] {
            assert_eq!(age(s), want, "{s}");
        }
    }

    #[test]
    fn numbers_for_people() {
        assert_eq!(metric(0.956_123), "0.9561");
        assert_eq!(metric(437.912), "437.91");
        assert_eq!(money(0.000_42, Some("USD")), "$0.000420");
        assert_eq!(money(12.5, Some("EUR")), "12.50 EUR");
        assert_eq!(millis(0.1234), "0.123 ms");
        assert_eq!(clock(75), "1:15");
        assert_eq!(clock(3725), "1:02:05");
        assert_eq!(bytes(2048), "2.0 KiB");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(metric_name(&Metric::LogLoss), "logLoss");
        assert_eq!(parameter("0.0037550191821790696"), "0.003755");
        assert_eq!(parameter("0.13709940598751644"), "0.1371");
        assert_eq!(parameter("0.00016581694"), "1.658e-4");
        assert_eq!(parameter("64,32"), "64,32");
        assert_eq!(parameter("27"), "27");
    }

    #[test]
    fn columns_pad_like_kubectl() {
        let table = columns(&[
            vec!["NAME".into(), "PHASE".into()],
            vec!["credit-default".into(), "Running".into()],
        ]);
        assert_eq!(table, "NAME             PHASE\ncredit-default   Running\n");
    }
}
