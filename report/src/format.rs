//! How numbers read on the page: a few significant digits, units spelled out, and a dash for
//! anything missing or not a number, so that a NaN never reaches the reader as "NaN".

/// Shown where a figure is missing or not finite.
pub(crate) const MISSING: &str = "—";

/// `value` with four significant digits and no trailing zeros; scientific notation only for
/// magnitudes a fixed layout cannot show.
pub(crate) fn num(value: f64) -> String {
    if !value.is_finite() {
        return MISSING.to_owned();
    }
    if value == 0.0 {
        return "0".to_owned();
    }
    let magnitude = value.abs();
    if !(1e-4..1e7).contains(&magnitude) {
        let text = format!("{value:.3e}");
        return match text.split_once('e') {
            Some((mantissa, exponent)) => format!("{}e{exponent}", trim_zeros(mantissa)),
            None => text,
        };
    }
    let decimals = (3 - magnitude.log10().floor() as i32).clamp(0, 8) as usize;
    trim_zeros(&format!("{value:.decimals$}")).to_owned()
}

/// [`num`] of an optional figure.
pub(crate) fn opt(value: Option<f64>) -> String {
    value.map_or_else(|| MISSING.to_owned(), num)
}

/// A cost with its currency when known, for example `0.042 USD`.
pub(crate) fn cost(value: Option<f64>, currency: Option<&str>) -> String {
    match (value.filter(|v| v.is_finite()), currency) {
        (Some(v), Some(c)) if !c.is_empty() => format!("{} {c}", num(v)),
        (Some(v), _) => num(v),
        (None, _) => MISSING.to_owned(),
    }
}

/// Milliseconds, for example `0.21 ms`.
pub(crate) fn ms(value: Option<f64>) -> String {
    match value.filter(|v| v.is_finite()) {
        Some(v) => format!("{} ms", num(v)),
        None => MISSING.to_owned(),
    }
}

/// A byte count in binary units, for example `1.4 MiB`.
pub(crate) fn bytes(value: Option<i64>) -> String {
    let Some(b) = value.filter(|b| *b >= 0) else {
        return MISSING.to_owned();
    };
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut size = b as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < units.len() {
        size /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{b} B")
    } else {
        format!("{size:.1} {}", units[unit])
    }
}

/// A fraction as a percentage, for example `0.35 %`.
pub(crate) fn percent(value: Option<f64>) -> String {
    match value.filter(|v| v.is_finite()) {
        Some(v) => format!("{} %", num(v * 100.0)),
        None => MISSING.to_owned(),
    }
}

/// A parameter value as a sweep records it (a string): numbers are shortened, anything else
/// is kept as written.
pub(crate) fn parameter(value: &str) -> String {
    match value.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && value.contains('.') => num(v),
        _ => value.to_owned(),
    }
}

/// Decimals that show every figure of a table column with at least `significant` digits,
/// so that the column's decimal points line up.
pub(crate) fn column_decimals(values: impl IntoIterator<Item = f64>, significant: i32) -> usize {
    let smallest = values
        .into_iter()
        .filter(|v| v.is_finite() && *v != 0.0)
        .map(f64::abs)
        .fold(f64::INFINITY, f64::min);
    if !smallest.is_finite() {
        return 0;
    }
    (significant - 1 - smallest.log10().floor() as i32).clamp(0, 6) as usize
}

/// `value` with exactly `decimals` decimals, or a dash; magnitudes fixed decimals cannot
/// show sensibly get [`num`]'s scientific notation.
pub(crate) fn fixed(value: Option<f64>, decimals: usize) -> String {
    match value.filter(|v| v.is_finite()) {
        Some(v) if v.abs() >= 1e7 || (v != 0.0 && v.abs() < 1e-6) => num(v),
        Some(v) => format!("{v:.decimals$}"),
        None => MISSING.to_owned(),
    }
}

/// Decimals that tell apart ticks spread over `span` in about `ticks` steps; axis labels all
/// get the same count so that they line up.
pub(crate) fn tick_decimals(span: f64, ticks: usize) -> usize {
    let step = span / ticks.max(1) as f64;
    if !step.is_finite() || step <= 0.0 {
        return 2;
    }
    (-step.log10()).ceil().clamp(0.0, 8.0) as usize
}

/// A tick label with `decimals` decimals (negative zero shown as zero); magnitudes that
/// would need a very long label get scientific notation instead.
pub(crate) fn tick(value: f64, decimals: usize) -> String {
    if value.abs() >= 1e7 || (decimals > 6 && value != 0.0) {
        return num(value);
    }
    let text = format!("{value:.decimals$}");
    if text.starts_with('-') && text[1..].chars().all(|c| c == '0' || c == '.') {
        text[1..].to_owned()
    } else {
        text
    }
}

fn trim_zeros(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_significant_digits() {
        assert_eq!(num(0.871234), "0.8712");
        assert_eq!(num(0.0234), "0.0234");
        assert_eq!(num(1234.56), "1235");
        assert_eq!(num(-2.5), "-2.5");
        assert_eq!(num(3e-7), "3e-7");
        assert_eq!(num(f64::NAN), MISSING);
        assert_eq!(num(f64::INFINITY), MISSING);
    }

    #[test]
    fn units() {
        assert_eq!(cost(Some(0.042), Some("USD")), "0.042 USD");
        assert_eq!(cost(Some(f64::NAN), Some("USD")), MISSING);
        assert_eq!(ms(Some(0.213)), "0.213 ms");
        assert_eq!(bytes(Some(1536)), "1.5 KiB");
        assert_eq!(bytes(Some(12)), "12 B");
        assert_eq!(percent(Some(0.0035)), "0.35 %");
        assert_eq!(parameter("0.031622776601683794"), "0.03162");
        assert_eq!(parameter("300"), "300");
        assert_eq!(parameter("64,32"), "64,32");
    }

    #[test]
    fn columns_line_up() {
        let costs = [0.125, 0.32, 0.035, f64::NAN, 0.0];
        let decimals = column_decimals(costs, 2);
        assert_eq!(decimals, 3);
        assert_eq!(fixed(Some(0.32), decimals), "0.320");
        assert_eq!(fixed(Some(f64::NAN), decimals), MISSING);
        assert_eq!(fixed(Some(1e300), 2), "1e300");
        assert_eq!(column_decimals([2.9, 4.1], 4), 3);
        assert_eq!(column_decimals([0.9317, 0.9012], 4), 4);
        assert_eq!(column_decimals([f64::NAN], 4), 0);
    }

    #[test]
    fn ticks() {
        assert_eq!(tick_decimals(0.1, 6), 2);
        assert_eq!(tick_decimals(30.0, 6), 0);
        assert_eq!(tick(-0.0001, 2), "0.00");
        assert_eq!(tick(0.85, 2), "0.85");
        assert_eq!(tick(2e300, 0), "2e300");
        assert_eq!(tick(3e-9, 8), "3e-9");
    }
}
