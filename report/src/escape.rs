//! Escaping of user-provided text (resource names, parameters, column names) for HTML and
//! SVG, both of which are XML-like enough to share one set of entities.

/// `text` with the five markup-significant characters replaced by entities, safe both as
/// element content and inside a double- or single-quoted attribute.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab and newline are not allowed in XML at all.
            c if c.is_control() && c != '\t' && c != '\n' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// `text` cut to at most `max` characters, with an ellipsis when cut, so that long names
/// cannot overflow a chart label or legend.
pub(crate) fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A file-name stem made of `[a-z0-9_-]` only, so that a resource name can never reach
/// outside the report's directory or need quoting in a shell.
pub(crate) fn file_stem(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches('-');
    if trimmed.is_empty() {
        "chart".to_owned()
    } else {
        trimmed.chars().take(80).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(esc("a\u{1}b"), "a\u{FFFD}b");
    }

    #[test]
    fn clips_by_characters_not_bytes() {
        assert_eq!(clip("ééééé", 3), "éé…");
        assert_eq!(clip("abc", 3), "abc");
    }

    #[test]
    fn file_stems_stay_inside_the_directory() {
        assert_eq!(file_stem("../../etc/passwd"), "etc-passwd");
        assert_eq!(file_stem("churn-sweep"), "churn-sweep");
        assert_eq!(file_stem("<script>"), "script");
        assert_eq!(file_stem("///"), "chart");
    }
}
