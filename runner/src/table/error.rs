//! Errors of reading a table.

/// Why a data file could not be read into a table. Every message names the location and, where
/// it applies, the column and the data row (1-based, header not counted) and file line, and says
/// what to do.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The file has no content.
    #[error(
        "`{location}` is empty: it has no header and no rows; check that the right file was uploaded"
    )]
    EmptyData {
        /// The location (redacted).
        location: String,
    },

    /// The file has a header but no data rows.
    #[error(
        "`{location}` has a header ({columns} columns) but no data rows; add rows, or set csv.header: false if the first line is data"
    )]
    HeaderOnly {
        /// The location (redacted).
        location: String,
        /// Number of columns in the header.
        columns: usize,
    },

    /// A row has a different number of fields than the header (or first row).
    #[error(
        "`{location}`: data row {row} (line {line}) has {found} fields, expected {expected}; check for a missing or extra delimiter or an unquoted delimiter inside a value (delimiter is `{delimiter}`)"
    )]
    RaggedRow {
        /// The location (redacted).
        location: String,
        /// Data row, 1-based.
        row: usize,
        /// File line where the row starts, 1-based.
        line: u64,
        /// Fields in the header or first row.
        expected: usize,
        /// Fields in this row.
        found: usize,
        /// The delimiter in use, printable.
        delimiter: String,
    },

    /// A cell (or header name) is not valid UTF-8.
    #[error("`{location}`: {place} is not valid UTF-8; re-save the file as UTF-8")]
    InvalidUtf8 {
        /// The location (redacted).
        location: String,
        /// Which cell, e.g. "data row 3 (line 4, from byte 52), column `name`".
        place: String,
    },

    /// Two columns have the same name.
    #[error(
        "`{location}`: columns {first} and {second} are both named `{name}`; rename one of them (column names must be unique)"
    )]
    DuplicateColumnName {
        /// The location (redacted).
        location: String,
        /// The repeated name.
        name: String,
        /// 1-based position of its first use.
        first: usize,
        /// 1-based position of its repetition.
        second: usize,
    },

    /// A header cell is empty.
    #[error(
        "`{location}`: column {position} has an empty name in the header; name it (a file written with a row index, as by pandas' to_csv without index=False, has one) or set csv.header: false"
    )]
    EmptyColumnName {
        /// The location (redacted).
        location: String,
        /// 1-based position of the column.
        position: usize,
    },

    /// An infinite or NaN number in a column that is otherwise numeric.
    #[error(
        "`{location}`: column `{column}` is numeric but data row {row}{line_text} holds `{value}`, which is not a finite number; replace it, or list it in csv.nullValues to read it as missing",
        line_text = .line.map(|l| format!(" (line {l})")).unwrap_or_default()
    )]
    NonFiniteValue {
        /// The location (redacted).
        location: String,
        /// The column name.
        column: String,
        /// Data row, 1-based.
        row: usize,
        /// File line, when the format has lines.
        line: Option<u64>,
        /// The cell as written (cut to 40 characters).
        value: String,
    },

    /// The gzip stream is damaged or truncated.
    #[error(
        "`{location}` is not a valid gzip file ({detail}); re-compress it, or upload it uncompressed"
    )]
    CorruptGzip {
        /// The location (redacted).
        location: String,
        /// The decoder's error.
        detail: String,
    },

    /// The Parquet file is damaged or not Parquet at all.
    #[error(
        "`{location}` is not a readable Parquet file ({detail}); re-export it, or set data.format to match the file"
    )]
    CorruptParquet {
        /// The location (redacted).
        location: String,
        /// The reader's error.
        detail: String,
    },

    /// A quoted field is never closed.
    #[error(
        "`{location}`: the quote opened on line {line} is never closed; close it, or double quotes inside quoted values (\"\")"
    )]
    UnterminatedQuote {
        /// The location (redacted).
        location: String,
        /// File line of the opening quote.
        line: u64,
    },

    /// More data rows than allowed.
    #[error(
        "`{location}` has more than {limit} data rows; sample the data, or raise the row limit"
    )]
    TooManyRows {
        /// The location (redacted).
        location: String,
        /// The limit.
        limit: usize,
    },

    /// The (decompressed) data is larger than allowed.
    #[error(
        "`{location}` {what} more than {limit} bytes; raise LEPTON_MAX_DATA_BYTES or use a smaller file"
    )]
    TooLarge {
        /// The location (redacted).
        location: String,
        /// "is", "decompresses to" or "decodes to".
        what: &'static str,
        /// The limit in bytes.
        limit: u64,
    },

    /// The configured delimiter cannot be used.
    #[error(
        "invalid csv.delimiter `{value}`: use one ASCII character other than a quote or line break, for example `,`, `;`, `|` or a tab"
    )]
    InvalidDelimiter {
        /// The delimiter given.
        value: String,
    },

    /// A Parquet column's type has no table representation (nested groups, lists, maps).
    #[error(
        "`{location}`: column `{column}` has type {kind}, which Lepton cannot read; flatten it into plain columns, or drop it before export"
    )]
    UnsupportedColumnType {
        /// The location (redacted).
        location: String,
        /// The column name.
        column: String,
        /// The type found.
        kind: String,
    },

    /// The CSV reader failed for another reason.
    #[error(
        "`{location}`: cannot parse CSV near line {line}: {detail}; check that the file is delimited text and the csv settings match it"
    )]
    MalformedCsv {
        /// The location (redacted).
        location: String,
        /// File line, 1-based.
        line: u64,
        /// The reader's error.
        detail: String,
    },
}

impl TableError {
    /// A stable, machine-readable reason in CamelCase, suitable for a condition's `reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            TableError::EmptyData { .. } => "EmptyData",
            TableError::HeaderOnly { .. } => "HeaderOnly",
            TableError::RaggedRow { .. } => "RaggedRow",
            TableError::InvalidUtf8 { .. } => "InvalidUtf8",
            TableError::DuplicateColumnName { .. } => "DuplicateColumnName",
            TableError::EmptyColumnName { .. } => "EmptyColumnName",
            TableError::NonFiniteValue { .. } => "NonFiniteValue",
            TableError::CorruptGzip { .. } => "CorruptGzip",
            TableError::CorruptParquet { .. } => "CorruptParquet",
            TableError::UnterminatedQuote { .. } => "UnterminatedQuote",
            TableError::TooManyRows { .. } => "TooManyRows",
            TableError::TooLarge { .. } => "DataTooLarge",
            TableError::InvalidDelimiter { .. } => "InvalidDelimiter",
            TableError::UnsupportedColumnType { .. } => "UnsupportedColumnType",
            TableError::MalformedCsv { .. } => "MalformedCsv",
        }
    }
}
