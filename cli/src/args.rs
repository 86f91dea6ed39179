//! A small command-line parser: flags with or without a value, repeated flags, and
//! positional arguments, each error naming the flag.

use crate::error::CliError;

/// What a command accepts.
pub struct Spec<'a> {
    /// Flags that take a value (`-f FILE`, `--volume=a=b`), long and short spellings.
    pub valued: &'a [&'a str],
    /// Flags that take none (`--keep`).
    pub switches: &'a [&'a str],
}

/// Parsed arguments.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Flags in order, with their value when they take one.
    pub flags: Vec<(String, Option<String>)>,
    /// Everything that is not a flag.
    pub positional: Vec<String>,
}

impl Parsed {
    /// Every value given to `flag` (any of its spellings), in order.
    pub fn values(&self, names: &[&str]) -> Vec<String> {
        self.flags
            .iter()
            .filter(|(n, _)| names.contains(&n.as_str()))
            .filter_map(|(_, v)| v.clone())
            .collect()
    }

    /// The last value of `flag`.
    pub fn value(&self, names: &[&str]) -> Option<String> {
        self.values(names).pop()
    }

    /// Whether the switch was given.
    pub fn has(&self, names: &[&str]) -> bool {
        self.flags.iter().any(|(n, _)| names.contains(&n.as_str()))
    }
}

/// Parses `args` against `spec`.
pub fn parse(args: &[String], spec: &Spec<'_>) -> Result<Parsed, CliError> {
    let mut parsed = Parsed::default();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--" {
            parsed.positional.extend(rest.by_ref().cloned());
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            parsed.positional.push(arg.clone());
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        if spec.switches.contains(&name.as_str()) {
            if inline.is_some() {
                return Err(CliError::usage(format!("{name} takes no value")));
            }
            parsed.flags.push((name, None));
        } else if spec.valued.contains(&name.as_str()) {
            let value = match inline {
                Some(v) => v,
                None => rest
                    .next()
                    .cloned()
                    .ok_or_else(|| CliError::usage(format!("{name} needs a value")))?,
            };
            parsed.flags.push((name, Some(value)));
        } else {
            return Err(CliError::usage(format!("unknown option `{name}`")));
        }
    }
    Ok(parsed)
}

/// Parses a duration such as `90s`, `30m`, `2h` or a plain number of seconds.
pub fn duration(flag: &str, text: &str) -> Result<std::time::Duration, CliError> {
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let factor = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => f64::NAN,
    };
    match number.parse::<f64>() {
        Ok(n) if n >= 0.0 && factor.is_finite() => {
            Ok(std::time::Duration::from_secs_f64(n * factor))
        }
        _ => Err(CliError::usage(format!(
            "{flag} {text:?} is not a duration: write for example 90s, 30m or 2h"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: Spec<'static> = Spec {
        valued: &["-f", "--filename", "--volume"],
        switches: &["--keep"],
    };

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_values_and_positionals() {
        let parsed = parse(
            &args(&[
                "-f",
                "a.yaml",
                "--volume=data=x",
                "--keep",
                "tj",
                "--filename",
                "b",
            ]),
            &SPEC,
        )
        .unwrap();
        assert_eq!(parsed.values(&["-f", "--filename"]), ["a.yaml", "b"]);
        assert_eq!(parsed.value(&["--volume"]).as_deref(), Some("data=x"));
        assert!(parsed.has(&["--keep"]));
        assert_eq!(parsed.positional, ["tj"]);
    }

    #[test]
    fn errors_name_the_flag() {
        let e = parse(&args(&["--nope"]), &SPEC).unwrap_err();
        assert!(e.to_string().contains("--nope"), "{e}");
        let e = parse(&args(&["-f"]), &SPEC).unwrap_err();
        assert!(e.to_string().contains("-f needs a value"), "{e}");
        let e = parse(&args(&["--keep=yes"]), &SPEC).unwrap_err();
        assert!(e.to_string().contains("--keep takes no value"), "{e}");
    }

    #[test]
    fn durations() {
        assert_eq!(duration("--timeout", "90").unwrap().as_secs(), 90);
        assert_eq!(duration("--timeout", "30m").unwrap().as_secs(), 1800);
        assert_eq!(duration("--timeout", "2h").unwrap().as_secs(), 7200);
        let e = duration("--timeout", "soon").unwrap_err();
        assert!(e.to_string().contains("--timeout \"soon\""), "{e}");
    }
}
