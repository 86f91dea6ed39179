//! Reading delimited text (CSV, TSV) into a [`Table`].
//!
//! Two passes over the bytes keep memory near the size of the result: the first validates every
//! row and builds the numeric columns; the second, only when some column turned out to be text,
//! collects that column's cells.

use csv::{ByteRecord, Reader, ReaderBuilder};

use super::{Column, ColumnData, ReadOptions, Table, TableError, quotes};

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Longest excerpt of a cell quoted in a message.
const MAX_SHOWN_CHARS: usize = 40;

/// Parses CSV text (already decompressed) into a table.
pub(crate) fn read(bytes: &[u8], options: &ReadOptions) -> Result<Table, TableError> {
    let location = options.location.as_str();
    let (bytes, bom_len) = match bytes.strip_prefix(UTF8_BOM) {
        Some(rest) => (rest, UTF8_BOM.len() as u64),
        None => (bytes, 0),
    };
    if bytes.trim_ascii().is_empty() {
        return Err(TableError::EmptyData {
            location: location.to_owned(),
        });
    }
    let delimiter = options.effective_delimiter();
    if let Some(line) = quotes::unterminated_quote_line(bytes, delimiter) {
        return Err(TableError::UnterminatedQuote {
            location: location.to_owned(),
            line,
        });
    }
    let ctx = Context {
        options,
        delimiter,
        bom_len,
    };

    let mut reader = reader(bytes, delimiter);
    let mut record = ByteRecord::new();
    if !next(&mut reader, &mut record, &ctx)? {
        return Err(TableError::EmptyData {
            location: location.to_owned(),
        });
    }
    let (names, first_is_data) = if options.header {
        (header_names(&record, &ctx)?, false)
    } else {
        let names = (1..=record.len()).map(|i| format!("column_{i}")).collect();
        (names, true)
    };

    let mut states: Vec<ColumnState> = names
        .iter()
        .map(|_| ColumnState {
            numbers: Some(Vec::new()),
            non_finite: None,
        })
        .collect();
    let mut rows = 0usize;
    // Without a header, the record already read is the first data row.
    let mut have_record = first_is_data;
    loop {
        if !have_record && !next(&mut reader, &mut record, &ctx)? {
            break;
        }
        have_record = false;
        rows += 1;
        if rows > options.max_rows {
            return Err(TableError::TooManyRows {
                location: location.to_owned(),
                limit: options.max_rows,
            });
        }
        scan_row(&record, rows, &names, &mut states, &ctx)?;
    }
    if rows == 0 {
        return Err(TableError::HeaderOnly {
            location: location.to_owned(),
            columns: names.len(),
        });
    }
    for (name, state) in names.iter().zip(&states) {
        if state.numbers.is_some()
            && let Some((row, line, value)) = &state.non_finite
        {
            return Err(TableError::NonFiniteValue {
                location: location.to_owned(),
                column: name.clone(),
                row: *row,
                line: Some(*line),
                value: value.clone(),
            });
        }
    }

    let mut texts = collect_text(bytes, &states, rows, &ctx)?;
    let columns = names
        .into_iter()
        .zip(states)
        .enumerate()
        .map(|(i, (name, state))| {
            let data = match state.numbers {
                Some(numbers) => ColumnData::Numeric(numbers),
                None => ColumnData::Text(texts.get_mut(i).map(std::mem::take).unwrap_or_default()),
            };
            Column { name, data }
        })
        .collect();
    Ok(Table { columns, rows })
}

/// What is known about a column after the cells seen so far.
struct ColumnState {
    /// The values while every non-missing cell parsed as a number; `None` once one did not.
    numbers: Option<Vec<f64>>,
    /// The first non-finite number: data row, line, text.
    non_finite: Option<(usize, u64, String)>,
}

struct Context<'a> {
    options: &'a ReadOptions,
    delimiter: u8,
    bom_len: u64,
}

fn reader(bytes: &[u8], delimiter: u8) -> Reader<&[u8]> {
    ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes)
}

fn next(
    reader: &mut Reader<&[u8]>,
    record: &mut ByteRecord,
    ctx: &Context<'_>,
) -> Result<bool, TableError> {
    reader
        .read_byte_record(record)
        .map_err(|e| TableError::MalformedCsv {
            location: ctx.options.location.clone(),
            line: e.position().map_or(0, |p| p.line()),
            detail: e.to_string(),
        })
}

fn line_of(record: &ByteRecord) -> u64 {
    record.position().map_or(0, |p| p.line())
}

fn header_names(record: &ByteRecord, ctx: &Context<'_>) -> Result<Vec<String>, TableError> {
    let location = &ctx.options.location;
    let names = record
        .iter()
        .enumerate()
        .map(|(i, field)| {
            std::str::from_utf8(field)
                .map(|name| name.trim_ascii().to_owned())
                .map_err(|_| TableError::InvalidUtf8 {
                    location: location.clone(),
                    place: format!("the name of column {} in the header (line 1)", i + 1),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    super::check_column_names(names, location)
}

/// Validates one data row and feeds its cells to the numeric columns.
fn scan_row(
    record: &ByteRecord,
    row: usize,
    names: &[String],
    states: &mut [ColumnState],
    ctx: &Context<'_>,
) -> Result<(), TableError> {
    let line = line_of(record);
    if record.len() != names.len() {
        return Err(TableError::RaggedRow {
            location: ctx.options.location.clone(),
            row,
            line,
            expected: names.len(),
            found: record.len(),
            delimiter: char::from(ctx.delimiter).escape_default().to_string(),
        });
    }
    for ((field, name), state) in record.iter().zip(names).zip(states.iter_mut()) {
        let text = cell_text(field, record, row, name, ctx)?;
        let Some(numbers) = state.numbers.as_mut() else {
            continue;
        };
        let trimmed = text.trim_ascii();
        if ctx.options.is_missing(trimmed) {
            numbers.push(f64::NAN);
            continue;
        }
        match trimmed.parse::<f64>() {
            Ok(value) => {
                if !value.is_finite() && state.non_finite.is_none() {
                    state.non_finite = Some((row, line, shorten(trimmed)));
                }
                numbers.push(value);
            }
            Err(_) => state.numbers = None,
        }
    }
    Ok(())
}

fn cell_text<'r>(
    field: &'r [u8],
    record: &ByteRecord,
    row: usize,
    name: &str,
    ctx: &Context<'_>,
) -> Result<&'r str, TableError> {
    std::str::from_utf8(field).map_err(|_| TableError::InvalidUtf8 {
        location: ctx.options.location.clone(),
        place: format!(
            "data row {row} (line {}, from byte {}), column `{name}`",
            line_of(record),
            ctx.bom_len + record.position().map_or(0, |p| p.byte())
        ),
    })
}

/// Second pass: the cells of the text columns (`None` for missing ones).
fn collect_text(
    bytes: &[u8],
    states: &[ColumnState],
    rows: usize,
    ctx: &Context<'_>,
) -> Result<Vec<Vec<Option<Box<str>>>>, TableError> {
    let text_columns: Vec<usize> = states
        .iter()
        .enumerate()
        .filter(|(_, s)| s.numbers.is_none())
        .map(|(i, _)| i)
        .collect();
    let mut texts: Vec<Vec<Option<Box<str>>>> = states.iter().map(|_| Vec::new()).collect();
    if text_columns.is_empty() {
        return Ok(texts);
    }
    for &i in &text_columns {
        if let Some(cells) = texts.get_mut(i) {
            cells.reserve_exact(rows);
        }
    }
    let mut reader = reader(bytes, ctx.delimiter);
    let mut record = ByteRecord::new();
    let mut row = 0usize;
    if ctx.options.header {
        next(&mut reader, &mut record, ctx)?;
    }
    while next(&mut reader, &mut record, ctx)? {
        row += 1;
        for &i in &text_columns {
            let field = record.get(i).unwrap_or_default();
            // Already validated by the first pass; a failure here would mean the input changed.
            let text = std::str::from_utf8(field).unwrap_or_default();
            let cell = if ctx.options.is_missing(text.trim_ascii()) {
                None
            } else {
                Some(Box::from(text))
            };
            if let Some(cells) = texts.get_mut(i) {
                cells.push(cell);
            }
        }
    }
    debug_assert_eq!(row, rows);
    Ok(texts)
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_SHOWN_CHARS) {
        Some((at, _)) => format!("{}…", text.get(..at).unwrap_or(text)),
        None => text.to_owned(),
    }
}
