//! The syntax of a Kubernetes resource quantity, checked before a pod is built so that a typo
//! in `resources.cpu` becomes a condition naming the field instead of a rejected Job.

/// Whether `text` is a Kubernetes quantity: a signed decimal number with an optional
/// exponent (`e3`) or suffix (`m`, `k`, `M`, `G`, `T`, `P`, `E`, `Ki` .. `Ei`, `n`, `u`).
pub fn is_quantity(text: &str) -> bool {
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    let digits_end = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (number, suffix) = body.split_at(digits_end);
    let number_ok = !number.is_empty()
        && number != "."
        && number.matches('.').count() <= 1
        && number.bytes().any(|b| b.is_ascii_digit());
    number_ok && is_suffix(suffix)
}

fn is_suffix(suffix: &str) -> bool {
    const SUFFIXES: [&str; 16] = [
        "", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
    ];
    if SUFFIXES.contains(&suffix) {
        return true;
    }
    let Some(exponent) = suffix.strip_prefix(['e', 'E']) else {
        return false;
    };
    let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    !exponent.is_empty() && exponent.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::is_quantity;

    #[test]
    fn quantities() {
        for good in [
            "1",
            "500m",
            "0.5",
            "2Gi",
            "4G",
            "1e3",
            "+1",
            ".5",
            "1.",
            "128974848",
        ] {
            assert!(is_quantity(good), "{good}");
        }
        for bad in [
            "", "m", "1GB", "lots", "1.2.3", "1 Gi", "e3", ".", "1e", "1Gib",
        ] {
            assert!(!is_quantity(bad), "{bad}");
        }
    }
}
