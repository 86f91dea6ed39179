//! Reading a data file (CSV or Parquet bytes) into a [`Table`] of typed columns.
//!
//! [`read_table`] picks the format from [`ReadOptions`] (content sniffing and the location's
//! extension when it is `auto`), decompresses gzip within the size limit, and types each
//! column: numeric when every non-missing cell is a finite number, text otherwise.

mod delimited;
mod error;
mod gzip;
mod options;
mod parquet_file;
mod quotes;

pub use error::TableError;
pub use options::{DEFAULT_MAX_ROWS, ReadOptions};

use options::{GZIP_MAGIC, Resolved, resolve_format};

/// Parses the bytes of a CSV (optionally gzip-compressed) or Parquet file into a table.
pub fn read_table(bytes: &[u8], options: &ReadOptions) -> Result<Table, TableError> {
    if bytes.len() as u64 > options.max_bytes {
        return Err(TableError::TooLarge {
            location: options.location.clone(),
            what: "is",
            limit: options.max_bytes,
        });
    }
    match resolve_format(options, bytes) {
        Resolved::Parquet => parquet_file::read(bytes, options),
        Resolved::Csv if bytes.starts_with(GZIP_MAGIC) => {
            let text = gzip::decompress(bytes, options.max_bytes, &options.location)?;
            delimited::read(&text, options)
        }
        Resolved::Csv => delimited::read(bytes, options),
    }
}

impl Table {
    /// The column named `name`, if there is one.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The column names, in file order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|c| c.name.as_str())
    }
}

impl ColumnData {
    /// Number of cells.
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Numeric(values) => values.len(),
            ColumnData::Text(values) => values.len(),
        }
    }

    /// Whether the column has no cells.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of missing cells (`NaN` or `None`).
    pub fn missing(&self) -> usize {
        match self {
            ColumnData::Numeric(values) => values.iter().filter(|v| v.is_nan()).count(),
            ColumnData::Text(values) => values.iter().filter(|v| v.is_none()).count(),
        }
    }
}

/// A table read from a data file, column by column. Row `i` of every column is data row `i + 1`
/// of the file (the header, when present, is not counted).
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// Columns in file order.
    pub columns: Vec<Column>,
    /// Number of data rows.
    pub rows: usize,
}

/// One named column.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// Column name from the header (or `column_1`, `column_2`, ... without one).
    pub name: String,
    /// The cells.
    pub data: ColumnData,
}

/// Cells of a column, typed by what every non-missing cell parses as.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnData {
    /// Every non-missing cell is a finite number; missing cells are `NaN`.
    Numeric(Vec<f64>),
    /// At least one non-missing cell is not a number; missing cells are `None`.
    Text(Vec<Option<Box<str>>>),
}

/// `names` as given, once every one is non-empty and unique; errors give 1-based positions.
fn check_column_names(names: Vec<String>, location: &str) -> Result<Vec<String>, TableError> {
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, name) in names.iter().enumerate() {
        let position = i + 1;
        if name.is_empty() {
            return Err(TableError::EmptyColumnName {
                location: location.to_owned(),
                position,
            });
        }
        if let Some(&first) = seen.get(name.as_str()) {
            return Err(TableError::DuplicateColumnName {
                location: location.to_owned(),
                name: name.clone(),
                first,
                second: position,
            });
        }
        seen.insert(name, position);
    }
    Ok(names)
}
