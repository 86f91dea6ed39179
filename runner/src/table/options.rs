//! How a data file is read: format, CSV dialect, missing values and limits.

use lepton_crds::v1alpha1::{CsvOptions, DataFormat};

use super::TableError;
use crate::source::{DEFAULT_MAX_BYTES, redact};

/// Default limit on data rows (100 million).
pub const DEFAULT_MAX_ROWS: usize = 100_000_000;

/// Options of [`read_table`](super::read_table).
#[derive(Clone, Debug, PartialEq)]
pub struct ReadOptions {
    /// Where the bytes came from, redacted: named in messages, and its extension picks the
    /// format and delimiter when they are not given.
    pub location: String,
    /// `Csv`, `Parquet`, or `Auto` (content sniffing, then the extension, then CSV).
    pub format: DataFormat,
    /// Field delimiter byte; `None` means a tab for `.tsv`/`.tab` files and `,` otherwise.
    pub delimiter: Option<u8>,
    /// Whether the first CSV row holds the column names.
    pub header: bool,
    /// Cell values read as missing besides empty cells, compared after trimming ASCII
    /// whitespace.
    pub null_values: Vec<String>,
    /// Most data rows accepted.
    pub max_rows: usize,
    /// Most bytes accepted, after decompression.
    pub max_bytes: u64,
}

impl ReadOptions {
    /// Defaults for data at `location`: format `auto`, the default [`CsvOptions`], and the
    /// default limits.
    pub fn new(location: &str) -> ReadOptions {
        let csv = CsvOptions::default();
        ReadOptions {
            location: redact(location),
            format: DataFormat::Auto,
            delimiter: None,
            header: csv.header,
            null_values: csv.null_values,
            max_rows: DEFAULT_MAX_ROWS,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }

    /// Options from a TrainingJob's `data` fields (`source`, `format`, `csv`).
    pub fn from_spec(
        location: &str,
        format: DataFormat,
        csv: &CsvOptions,
    ) -> Result<ReadOptions, TableError> {
        let delimiter = csv.delimiter.as_deref().map(parse_delimiter).transpose()?;
        Ok(ReadOptions {
            format,
            delimiter,
            header: csv.header,
            null_values: csv.null_values.clone(),
            ..ReadOptions::new(location)
        })
    }

    /// The delimiter in effect: the configured one, else a tab for `.tsv`/`.tab` names, else `,`.
    pub fn effective_delimiter(&self) -> u8 {
        self.delimiter.unwrap_or_else(|| {
            let name = self.file_name();
            let name = name.strip_suffix(".gz").unwrap_or(&name);
            if name.ends_with(".tsv") || name.ends_with(".tab") {
                b'\t'
            } else {
                b','
            }
        })
    }

    /// The lower-cased last path segment of the location, without query or fragment.
    pub(crate) fn file_name(&self) -> String {
        let path = self.location.split(['?', '#']).next().unwrap_or_default();
        path.rsplit('/')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase()
    }

    /// Whether `cell` (trimmed of ASCII whitespace) is missing.
    pub(crate) fn is_missing(&self, trimmed: &str) -> bool {
        trimmed.is_empty() || self.null_values.iter().any(|n| n.trim_ascii() == trimmed)
    }
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions::new("<data>")
    }
}

fn parse_delimiter(value: &str) -> Result<u8, TableError> {
    let invalid = || TableError::InvalidDelimiter {
        value: value.escape_debug().to_string(),
    };
    // `\t` written with a backslash (single-quoted YAML) means a tab, as users intend.
    let byte = match value.as_bytes() {
        [b] => *b,
        [b'\\', b't'] => b'\t',
        _ => return Err(invalid()),
    };
    if !byte.is_ascii() || matches!(byte, b'"' | b'\n' | b'\r') {
        return Err(invalid());
    }
    Ok(byte)
}

/// The format to parse the bytes as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Resolved {
    Csv,
    Parquet,
}

/// Magic bytes at both ends of every Parquet file.
pub(crate) const PARQUET_MAGIC: &[u8; 4] = b"PAR1";
/// First two bytes of every gzip member.
pub(crate) const GZIP_MAGIC: &[u8; 2] = &[0x1f, 0x8b];

/// The configured format, or for `auto` the content's magic bytes, then the extension.
pub(crate) fn resolve_format(options: &ReadOptions, bytes: &[u8]) -> Resolved {
    match options.format {
        DataFormat::Csv => Resolved::Csv,
        DataFormat::Parquet => Resolved::Parquet,
        DataFormat::Auto => {
            if bytes.starts_with(PARQUET_MAGIC) {
                Resolved::Parquet
            } else if bytes.starts_with(GZIP_MAGIC) {
                Resolved::Csv
            } else if options.file_name().ends_with(".parquet")
                || options.file_name().ends_with(".pq")
            {
                Resolved::Parquet
            } else {
                Resolved::Csv
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters() {
        let csv = |d: &str| CsvOptions {
            delimiter: Some(d.to_owned()),
            ..CsvOptions::default()
        };
        let read = |d: &str| ReadOptions::from_spec("x.csv", DataFormat::Auto, &csv(d));
        assert_eq!(read(";").unwrap().effective_delimiter(), b';');
        assert_eq!(read("\t").unwrap().effective_delimiter(), b'\t');
        assert_eq!(read("\\t").unwrap().effective_delimiter(), b'\t');
        for bad in ["", "ab", "\"", "\n", "é"] {
            assert_eq!(
                read(bad).unwrap_err().reason(),
                "InvalidDelimiter",
                "{bad:?}"
            );
        }
        assert_eq!(
            ReadOptions::new("s3://b/t.TSV").effective_delimiter(),
            b'\t'
        );
        assert_eq!(
            ReadOptions::new("s3://b/t.tsv.gz").effective_delimiter(),
            b'\t'
        );
        assert_eq!(
            ReadOptions::new("https://h/t.csv?x=a.tsv").effective_delimiter(),
            b','
        );
    }

    #[test]
    fn formats() {
        let auto = |name: &str, bytes: &[u8]| resolve_format(&ReadOptions::new(name), bytes);
        assert_eq!(auto("a.csv", b"PAR1...."), Resolved::Parquet);
        assert_eq!(auto("a.parquet", b"x,y"), Resolved::Parquet);
        assert_eq!(auto("a.csv.gz", &[0x1f, 0x8b, 8]), Resolved::Csv);
        assert_eq!(auto("data", b"x,y"), Resolved::Csv);
        let forced = ReadOptions {
            format: DataFormat::Csv,
            ..ReadOptions::new("a.parquet")
        };
        assert_eq!(resolve_format(&forced, b"PAR1"), Resolved::Csv);
    }

    #[test]
    fn locations_are_redacted() {
        let options = ReadOptions::new("https://user:pw@h/d.csv?X-Amz-Signature=abc");
        assert_eq!(options.location, "https://h/d.csv?<redacted>");
        assert_eq!(options.file_name(), "d.csv");
    }
}
