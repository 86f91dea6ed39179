//! Reading Parquet files into a [`Table`] through the `parquet` crate's record API (no Arrow).
//!
//! Integers, floats and decimals become numeric columns; strings, booleans (`"true"`/`"false"`),
//! dates, times and timestamps (ISO 8601, UTC) become text; nulls and NaN are missing. Nested
//! columns (groups, lists, maps) are rejected.

use std::panic::{AssertUnwindSafe, catch_unwind};

use bytes::Bytes;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;

use super::options::PARQUET_MAGIC;
use super::{Column, ColumnData, ReadOptions, Table, TableError};
use crate::source::civil_from_days;

/// Parses a Parquet file into a table.
pub(crate) fn read(bytes: &[u8], options: &ReadOptions) -> Result<Table, TableError> {
    let location = options.location.as_str();
    let corrupt = |detail: String| TableError::CorruptParquet {
        location: location.to_owned(),
        detail,
    };
    if bytes.is_empty() {
        return Err(TableError::EmptyData {
            location: location.to_owned(),
        });
    }
    if !bytes.starts_with(PARQUET_MAGIC) || !bytes.ends_with(PARQUET_MAGIC) || bytes.len() < 12 {
        return Err(corrupt(
            "the file does not start and end with the Parquet magic bytes `PAR1`".to_owned(),
        ));
    }
    // The reader has asserts and unwraps on paths that damaged files reach; a damaged file must
    // become an error, never a crash of the runner.
    let data = Bytes::copy_from_slice(bytes);
    match catch_unwind(AssertUnwindSafe(|| read_checked(data, options))) {
        Ok(result) => result,
        Err(panic) => {
            let detail = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "the reader failed".to_owned());
            Err(corrupt(detail))
        }
    }
}

fn read_checked(data: Bytes, options: &ReadOptions) -> Result<Table, TableError> {
    let location = options.location.as_str();
    let corrupt = |e: parquet::errors::ParquetError| TableError::CorruptParquet {
        location: location.to_owned(),
        detail: e.to_string(),
    };
    let reader = SerializedFileReader::new(data).map_err(corrupt)?;
    let metadata = reader.metadata();
    let declared_rows = metadata.file_metadata().num_rows();
    let rows = usize::try_from(declared_rows).map_err(|_| TableError::CorruptParquet {
        location: location.to_owned(),
        detail: format!("the footer declares {declared_rows} rows"),
    })?;
    if rows > options.max_rows {
        return Err(TableError::TooManyRows {
            location: location.to_owned(),
            limit: options.max_rows,
        });
    }
    let decoded: u64 = metadata
        .row_groups()
        .iter()
        .map(|g| u64::try_from(g.total_byte_size()).unwrap_or(u64::MAX))
        .fold(0, u64::saturating_add);
    if decoded > options.max_bytes {
        return Err(TableError::TooLarge {
            location: location.to_owned(),
            what: "decodes to",
            limit: options.max_bytes,
        });
    }

    let names = column_names(&reader, options)?;
    if names.is_empty() {
        return Err(TableError::EmptyData {
            location: location.to_owned(),
        });
    }
    if rows == 0 {
        return Err(TableError::HeaderOnly {
            location: location.to_owned(),
            columns: names.len(),
        });
    }
    let mut builders: Vec<Builder> = names.iter().map(|_| Builder::Unknown(0)).collect();
    let mut row_number = 0usize;
    for row in reader.get_row_iter(None).map_err(corrupt)? {
        let row = row.map_err(corrupt)?;
        row_number += 1;
        if row_number > options.max_rows {
            return Err(TableError::TooManyRows {
                location: location.to_owned(),
                limit: options.max_rows,
            });
        }
        for ((name, field), builder) in row.get_column_iter().zip(builders.iter_mut()) {
            builder.push(field, name, row_number, options)?;
        }
    }
    let columns = names
        .into_iter()
        .zip(builders)
        .map(|(name, builder)| Column {
            name,
            data: builder.finish(),
        })
        .collect();
    Ok(Table {
        columns,
        rows: row_number,
    })
}

/// The top-level column names, checked to be flat, non-empty and unique.
fn column_names(
    reader: &SerializedFileReader<Bytes>,
    options: &ReadOptions,
) -> Result<Vec<String>, TableError> {
    let location = options.location.as_str();
    let schema = reader.metadata().file_metadata().schema_descr();
    let mut names = Vec::new();
    for field in schema.root_schema().get_fields() {
        let name = field.name().trim_ascii().to_owned();
        if field.is_group() {
            return Err(TableError::UnsupportedColumnType {
                location: location.to_owned(),
                column: name,
                kind: "a nested group (struct, list or map)".to_owned(),
            });
        }
        names.push(name);
    }
    super::check_column_names(names, location)
}

/// One column under construction; its kind is fixed by the first non-null value.
enum Builder {
    /// Only nulls so far (this many).
    Unknown(usize),
    Numeric(Vec<f64>),
    Text(Vec<Option<Box<str>>>),
}

enum Value {
    Missing,
    Number(f64),
    Text(String),
}

impl Builder {
    fn push(
        &mut self,
        field: &Field,
        column: &str,
        row: usize,
        options: &ReadOptions,
    ) -> Result<(), TableError> {
        let value = match field {
            Field::Null => Value::Missing,
            Field::Bool(b) => Value::Text(b.to_string()),
            Field::Byte(v) => Value::Number(f64::from(*v)),
            Field::Short(v) => Value::Number(f64::from(*v)),
            Field::Int(v) => Value::Number(f64::from(*v)),
            Field::Long(v) => Value::Number(*v as f64),
            Field::UByte(v) => Value::Number(f64::from(*v)),
            Field::UShort(v) => Value::Number(f64::from(*v)),
            Field::UInt(v) => Value::Number(f64::from(*v)),
            Field::ULong(v) => Value::Number(*v as f64),
            Field::Float16(v) => Value::Number(v.to_f64()),
            Field::Float(v) => Value::Number(f64::from(*v)),
            Field::Double(v) => Value::Number(*v),
            Field::Decimal(d) => Value::Number(decimal_to_f64(d.data(), d.scale())),
            Field::Str(s) => Value::Text(s.clone()),
            Field::Bytes(b) => match std::str::from_utf8(b.data()) {
                Ok(s) => Value::Text(s.to_owned()),
                Err(e) => {
                    return Err(TableError::InvalidUtf8 {
                        location: options.location.clone(),
                        place: format!(
                            "data row {row}, column `{column}` (binary, from byte {} of the value)",
                            e.valid_up_to()
                        ),
                    });
                }
            },
            Field::Date(days) => Value::Text(date_text(i64::from(*days))),
            Field::TimeMillis(ms) => Value::Text(time_text(i64::from(*ms) * 1000, 3)),
            Field::TimeMicros(us) => Value::Text(time_text(*us, 6)),
            Field::TimestampMillis(ms) => Value::Text(timestamp_text(i128::from(*ms) * 1000, 3)),
            Field::TimestampMicros(us) => Value::Text(timestamp_text(i128::from(*us), 6)),
            Field::Group(_) | Field::ListInternal(_) | Field::MapInternal(_) => {
                return Err(TableError::UnsupportedColumnType {
                    location: options.location.clone(),
                    column: column.to_owned(),
                    kind: "a nested value".to_owned(),
                });
            }
        };
        let value = match value {
            Value::Number(v) if v.is_nan() => Value::Missing,
            Value::Number(v) if v.is_infinite() => {
                return Err(TableError::NonFiniteValue {
                    location: options.location.clone(),
                    column: column.to_owned(),
                    row,
                    line: None,
                    value: v.to_string(),
                });
            }
            other => other,
        };
        match (&mut *self, value) {
            (Builder::Unknown(n), Value::Missing) => *n += 1,
            (Builder::Unknown(n), Value::Number(v)) => {
                let mut numbers = vec![f64::NAN; *n];
                numbers.push(v);
                *self = Builder::Numeric(numbers);
            }
            (Builder::Unknown(n), Value::Text(s)) => {
                let mut texts = vec![None; *n];
                texts.push(Some(s.into_boxed_str()));
                *self = Builder::Text(texts);
            }
            (Builder::Numeric(numbers), Value::Missing) => numbers.push(f64::NAN),
            (Builder::Numeric(numbers), Value::Number(v)) => numbers.push(v),
            (Builder::Text(texts), Value::Missing) => texts.push(None),
            (Builder::Text(texts), Value::Text(s)) => texts.push(Some(s.into_boxed_str())),
            (Builder::Numeric(_), Value::Text(_)) | (Builder::Text(_), Value::Number(_)) => {
                return Err(TableError::CorruptParquet {
                    location: options.location.clone(),
                    detail: format!("column `{column}` mixes numbers and text at data row {row}"),
                });
            }
        }
        Ok(())
    }

    fn finish(self) -> ColumnData {
        match self {
            // A column of nulls only: numeric, all missing, like an empty CSV column.
            Builder::Unknown(n) => ColumnData::Numeric(vec![f64::NAN; n]),
            Builder::Numeric(numbers) => ColumnData::Numeric(numbers),
            Builder::Text(texts) => ColumnData::Text(texts),
        }
    }
}

/// The value of a big-endian two's-complement unscaled integer divided by `10^scale`.
fn decimal_to_f64(be_bytes: &[u8], scale: i32) -> f64 {
    let negative = be_bytes.first().is_some_and(|b| b & 0x80 != 0);
    let fill = if negative { 0xFF } else { 0x00 };
    // Leading sign-extension bytes carry no value; without them most decimals fit an i128.
    let mut digits = be_bytes;
    while let [first, second, ..] = digits
        && *first == fill
        && (second & 0x80 != 0) == negative
    {
        digits = digits.get(1..).unwrap_or_default();
    }
    let unscaled = if digits.len() <= 16 {
        let mut buffer = [fill; 16];
        let offset = 16 - digits.len();
        if let Some(tail) = buffer.get_mut(offset..) {
            tail.copy_from_slice(digits);
        }
        i128::from_be_bytes(buffer) as f64
    } else {
        // Beyond 38 digits f64 is approximate anyway: sum the magnitude byte by byte.
        let magnitude = digits.iter().fold(0f64, |acc, byte| {
            let byte = if negative { !byte } else { *byte };
            acc * 256.0 + f64::from(byte)
        });
        if negative {
            -(magnitude + 1.0)
        } else {
            magnitude
        }
    };
    unscaled / 10f64.powi(scale)
}

fn date_text(days: i64) -> String {
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}

/// `HH:MM:SS.fff` (or `.ffffff`) of a time of day given in microseconds.
fn time_text(micros: i64, digits: usize) -> String {
    let micros = micros.rem_euclid(86_400_000_000);
    let secs = micros / 1_000_000;
    let fraction = micros % 1_000_000;
    let fraction = if digits == 3 {
        fraction / 1000
    } else {
        fraction
    };
    format!(
        "{:02}:{:02}:{:02}.{fraction:0digits$}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// ISO 8601 in UTC of a time since the epoch given in microseconds.
fn timestamp_text(micros: i128, digits: usize) -> String {
    let days = micros.div_euclid(86_400_000_000);
    let of_day = micros.rem_euclid(86_400_000_000);
    let days = i64::try_from(days).unwrap_or(0);
    let of_day = i64::try_from(of_day).unwrap_or(0);
    format!("{}T{}Z", date_text(days), time_text(of_day, digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        assert_eq!(decimal_to_f64(&[0x04, 0xD2], 2), 12.34);
        assert_eq!(decimal_to_f64(&[0xFB, 0x2E], 2), -12.34);
        assert_eq!(decimal_to_f64(&[], 0), 0.0);
        assert_eq!(decimal_to_f64(&[0xFF; 20], 0), -1.0);
        assert_eq!(decimal_to_f64(&[0x00, 0x00, 0x7F], 1), 12.7);
        let mut big = [0u8; 20];
        big[0] = 0x01;
        assert_eq!(decimal_to_f64(&big, 0), 2f64.powi(152));
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(date_text(0), "1970-01-01");
        assert_eq!(date_text(-1), "1969-12-31");
        assert_eq!(time_text(3_723_004_000, 3), "01:02:03.004");
        assert_eq!(timestamp_text(-1, 6), "1969-12-31T23:59:59.999999Z");
        assert_eq!(
            timestamp_text(1_369_353_600_000_000, 3),
            "2013-05-24T00:00:00.000Z"
        );
    }
}
