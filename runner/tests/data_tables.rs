//! Reading CSV and Parquet bytes into tables: dialects, typing, missing values, and every error
//! a user can meet.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use lepton_crds::v1alpha1::{CsvOptions, DataFormat};
use lepton_runner::source::{SourceConfig, fetch};
use lepton_runner::table::{ColumnData, ReadOptions, Table, TableError, read_table};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/data")
        .join(name)
}

fn read(bytes: &[u8]) -> Result<Table, TableError> {
    read_table(bytes, &ReadOptions::new("file:///data/train.csv"))
}

fn read_with(bytes: &[u8], csv: CsvOptions) -> Result<Table, TableError> {
    let options = ReadOptions::from_spec("file:///data/train.csv", DataFormat::Auto, &csv).unwrap();
    read_table(bytes, &options)
}

fn fails(result: Result<Table, TableError>, reason: &str) -> String {
    match result {
        Ok(table) => panic!("expected {reason}, read {} rows", table.rows),
        Err(err) => {
            assert_eq!(err.reason(), reason, "{err}");
            err.to_string()
        }
    }
}

fn numeric<'t>(table: &'t Table, name: &str) -> &'t [f64] {
    match &table
        .column(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .data
    {
        ColumnData::Numeric(values) => values,
        ColumnData::Text(_) => panic!("{name} is text"),
    }
}

fn text(table: &Table, name: &str) -> Vec<Option<String>> {
    match &table
        .column(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .data
    {
        ColumnData::Text(values) => values
            .iter()
            .map(|v| v.as_deref().map(str::to_owned))
            .collect(),
        ColumnData::Numeric(_) => panic!("{name} is numeric"),
    }
}

fn some(values: &[&str]) -> Vec<Option<String>> {
    values
        .iter()
        .map(|v| (!v.is_empty()).then(|| (*v).to_owned()))
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Numeric equality where NaN equals NaN (missing cells).
fn assert_numbers(actual: &[f64], expected: &[f64]) {
    assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
    for (a, e) in actual.iter().zip(expected) {
        assert!(
            a == e || (a.is_nan() && e.is_nan()),
            "{actual:?} vs {expected:?}"
        );
    }
}

mod csv_reading {
    use super::*;

    #[test]
    fn types_columns_and_missing_values() {
        let table =
            read(b"id,score,city,mixed,blank\n1, 2.5 ,Oslo,3,\n2,NA,,x,\n3,1e3,  Rome ,4,\n")
                .unwrap();
        assert_eq!(table.rows, 3);
        assert_eq!(
            table.names().collect::<Vec<_>>(),
            ["id", "score", "city", "mixed", "blank"]
        );
        assert_numbers(numeric(&table, "id"), &[1.0, 2.0, 3.0]);
        assert_numbers(numeric(&table, "score"), &[2.5, f64::NAN, 1000.0]);
        assert_eq!(text(&table, "city"), some(&["Oslo", "", "  Rome "]));
        assert_eq!(text(&table, "mixed"), some(&["3", "x", "4"]));
        assert_numbers(numeric(&table, "blank"), &[f64::NAN; 3]);
        assert_eq!(table.column("score").unwrap().data.missing(), 1);
    }

    #[test]
    fn null_values_are_configurable_and_trimmed() {
        let csv = b"a,b\n-, missing \n1,x\n NA ,NaN\n";
        let table = read_with(
            csv,
            CsvOptions {
                null_values: vec!["-".into(), "missing".into()],
                ..CsvOptions::default()
            },
        );
        // Without NA and NaN in the list they are values: `NA` is text, and `NaN` makes b text.
        let table = table.unwrap();
        assert_eq!(text(&table, "a"), some(&["", "1", " NA "]));
        assert_eq!(text(&table, "b"), some(&["", "x", "NaN"]));

        let table = read(csv).unwrap();
        assert_eq!(text(&table, "a"), some(&["-", "1", ""]));
        assert_eq!(text(&table, "b"), some(&[" missing ", "x", ""]));

        let table = read(b"v\n1\nNaN\n?\nnull\nN/A\n").unwrap();
        assert_numbers(
            numeric(&table, "v"),
            &[1.0, f64::NAN, f64::NAN, f64::NAN, f64::NAN],
        );
    }

    #[test]
    fn delimiters_from_options_and_extension() {
        let table = read_with(
            b"a;b\n1;x,y\n",
            CsvOptions {
                delimiter: Some(";".into()),
                ..CsvOptions::default()
            },
        )
        .unwrap();
        assert_eq!(text(&table, "b"), some(&["x,y"]));

        let tsv = b"a\tb\n1\tx y\n";
        let table = read_table(tsv, &ReadOptions::new("s3://bucket/train.tsv")).unwrap();
        assert_eq!(text(&table, "b"), some(&["x y"]));
        let table = read_table(&gzip(tsv), &ReadOptions::new("s3://bucket/train.tsv.gz")).unwrap();
        assert_numbers(numeric(&table, "a"), &[1.0]);

        let err = ReadOptions::from_spec(
            "x.csv",
            DataFormat::Csv,
            &CsvOptions {
                delimiter: Some("::".into()),
                ..CsvOptions::default()
            },
        )
        .unwrap_err();
        assert_eq!(err.reason(), "InvalidDelimiter");
    }

    #[test]
    fn quoted_fields_with_delimiters_newlines_and_quotes() {
        let csv = b"id,note,n\n1,\"a, b\",1\n2,\"two\nlines\",2\n3,\"say \"\"hi\"\"\",3\n";
        let table = read(csv).unwrap();
        assert_eq!(table.rows, 3);
        assert_eq!(
            text(&table, "note"),
            some(&["a, b", "two\nlines", "say \"hi\""])
        );
        // Line numbers stay right after a field that spans two lines.
        let ragged = b"id,note\n1,\"two\nlines\"\n2,x,extra\n";
        let message = fails(read(ragged), "RaggedRow");
        assert!(message.contains("data row 2 (line 4)"), "{message}");
    }

    #[test]
    fn without_a_header_columns_are_numbered() {
        let table = read_with(
            b"1,x\n2,y\n",
            CsvOptions {
                header: false,
                ..CsvOptions::default()
            },
        )
        .unwrap();
        assert_eq!(table.rows, 2);
        assert_eq!(table.names().collect::<Vec<_>>(), ["column_1", "column_2"]);
        assert_numbers(numeric(&table, "column_1"), &[1.0, 2.0]);
    }

    #[test]
    fn byte_order_mark_crlf_and_trailing_blank_lines() {
        let table = read(b"\xEF\xBB\xBFa,b\r\n1,2\r\n3,4\r\n\r\n\n").unwrap();
        assert_eq!(table.names().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(table.rows, 2);
        assert_numbers(numeric(&table, "b"), &[2.0, 4.0]);
        let table = read(b"a,b\n1,2").unwrap();
        assert_eq!(table.rows, 1, "no final newline");
    }

    #[test]
    fn gzip_is_detected_by_content() {
        let bytes = gzip(b"a,b\n1,x\n");
        for name in ["s3://b/t.csv.gz", "s3://b/t.csv", "s3://b/t"] {
            let table = read_table(&bytes, &ReadOptions::new(name)).unwrap();
            assert_eq!(table.rows, 1, "{name}");
        }
        // Concatenated members (as `cat a.gz b.gz` makes) are one file.
        let mut two = gzip(b"a,b\n1,x\n");
        two.extend(gzip(b"2,y\n"));
        assert_eq!(read(&two).unwrap().rows, 2);
    }

    #[test]
    fn default_data_set_excerpt_via_file_uri() {
        let uri = format!("file://{}", fixture("default_head.csv").display());
        let bytes = fetch_blocking_or_async(&uri);
        let table = read_table(&bytes, &ReadOptions::new(&uri)).unwrap();
        assert_eq!(table.rows, 50);
        assert_eq!(
            table.names().collect::<Vec<_>>(),
            ["default", "student", "balance", "income"]
        );
        assert_eq!(
            text(&table, "default")
                .first()
                .cloned()
                .flatten()
                .as_deref(),
            Some("No")
        );
        assert_eq!(
            text(&table, "student").get(1).cloned().flatten().as_deref(),
            Some("Yes")
        );
        let balance = numeric(&table, "balance");
        assert!((balance[0] - 729.5264952072861).abs() < 1e-9);
        assert!(
            numeric(&table, "income")
                .iter()
                .all(|v| v.is_finite() && *v > 0.0)
        );
    }

    fn fetch_blocking_or_async(uri: &str) -> Vec<u8> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime
            .block_on(fetch(uri, &SourceConfig::default()))
            .unwrap()
    }
}

mod csv_errors {
    use super::*;

    #[test]
    fn empty_and_header_only() {
        fails(read(b""), "EmptyData");
        fails(read(b" \n\r\n"), "EmptyData");
        fails(read(b"\xEF\xBB\xBF"), "EmptyData");
        let message = fails(read(b"a,b,c\n"), "HeaderOnly");
        assert!(message.contains("3 columns"), "{message}");
        assert!(message.contains("csv.header"), "{message}");
        fails(read(&gzip(b"")), "EmptyData");
    }

    #[test]
    fn ragged_row_names_row_line_and_counts() {
        let message = fails(read(b"a,b\n1,2\n3\n"), "RaggedRow");
        assert!(message.contains("data row 2 (line 3)"), "{message}");
        assert!(message.contains("has 1 fields, expected 2"), "{message}");
        let message = fails(
            read_with(
                b"1,2\n3,4,5\n",
                CsvOptions {
                    header: false,
                    ..CsvOptions::default()
                },
            ),
            "RaggedRow",
        );
        assert!(message.contains("has 3 fields, expected 2"), "{message}");
    }

    #[test]
    fn invalid_utf8_names_row_and_column() {
        let message = fails(read(b"name,n\nok,1\nJos\xe9,2\n"), "InvalidUtf8");
        assert!(message.contains("column `name`"), "{message}");
        assert!(message.contains("re-save the file as UTF-8"), "{message}");
        assert!(
            message.contains("data row 2 (line 3, from byte 12)"),
            "{message}"
        );
        let message = fails(read(b"n\xff,b\n1,2\n"), "InvalidUtf8");
        assert!(message.contains("header"), "{message}");
    }

    #[test]
    fn column_names() {
        let message = fails(read(b"a,b,a\n1,2,3\n"), "DuplicateColumnName");
        assert!(message.contains("columns 1 and 3"), "{message}");
        assert!(message.contains("`a`"), "{message}");
        fails(read(b"a, a \n1,2\n"), "DuplicateColumnName");
        let message = fails(read(b",a,b\n0,1,2\n"), "EmptyColumnName");
        assert!(message.contains("column 1"), "{message}");
        fails(read(b"a,  ,b\n0,1,2\n"), "EmptyColumnName");
    }

    #[test]
    fn non_finite_numbers_in_numeric_columns() {
        for (cell, shown) in [
            ("inf", "inf"),
            ("-inf", "-inf"),
            ("1e999", "1e999"),
            ("Infinity", "Infinity"),
        ] {
            let csv = format!("x,y\n1,a\n{cell},b\n");
            let message = fails(read(csv.as_bytes()), "NonFiniteValue");
            assert!(message.contains("column `x`"), "{message}");
            assert!(message.contains("data row 2 (line 3)"), "{message}");
            assert!(message.contains(&format!("`{shown}`")), "{message}");
        }
        // NaN is a value only when removed from the null values.
        let message = fails(
            read_with(
                b"x\n1\nNaN\n",
                CsvOptions {
                    null_values: vec![],
                    ..CsvOptions::default()
                },
            ),
            "NonFiniteValue",
        );
        assert!(message.contains("csv.nullValues"), "{message}");
        // In a text column, `inf` is just text.
        let table = read(b"x\ninf\nabc\n").unwrap();
        assert_eq!(text(&table, "x"), some(&["inf", "abc"]));
    }

    #[test]
    fn corrupt_and_oversized_gzip() {
        let good = gzip(b"a,b\n1,2\n");
        let truncated = &good[..good.len() - 6];
        fails(read(truncated), "CorruptGzip");
        fails(read(&[0x1f, 0x8b, 0, 1, 2, 3, 4, 5, 6, 7]), "CorruptGzip");

        // 64 MiB of zeros compress to about 64 KiB: over a 1 MiB limit, reading stops early.
        let bomb = {
            let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
            let zeros = vec![b'0'; 1 << 20];
            for _ in 0..64 {
                encoder.write_all(&zeros).unwrap();
            }
            encoder.finish().unwrap()
        };
        assert!(bomb.len() < 1 << 20);
        let options = ReadOptions {
            max_bytes: 1 << 20,
            ..ReadOptions::new("s3://b/bomb.csv.gz")
        };
        let err = read_table(&bomb, &options).unwrap_err();
        assert_eq!(err.reason(), "DataTooLarge");
        assert!(
            err.to_string()
                .contains("decompresses to more than 1048576 bytes"),
            "{err}"
        );
    }

    #[test]
    fn unterminated_quote_names_its_line() {
        let message = fails(read(b"a,b\n1,2\n3,\"open\n4,5\n"), "UnterminatedQuote");
        assert!(message.contains("line 3"), "{message}");
    }

    #[test]
    fn row_and_byte_limits() {
        let options = ReadOptions {
            max_rows: 2,
            ..ReadOptions::new("x.csv")
        };
        assert_eq!(read_table(b"a\n1\n2\n", &options).unwrap().rows, 2);
        let message = fails(read_table(b"a\n1\n2\n3\n", &options), "TooManyRows");
        assert!(message.contains("more than 2 data rows"), "{message}");
        let headerless = ReadOptions {
            header: false,
            max_rows: 1,
            ..ReadOptions::new("x.csv")
        };
        assert_eq!(read_table(b"1\n", &headerless).unwrap().rows, 1);
        fails(read_table(b"1\n2\n", &headerless), "TooManyRows");

        let options = ReadOptions {
            max_bytes: 5,
            ..ReadOptions::new("x.csv")
        };
        fails(read_table(b"a\n1\n2\n3\n", &options), "DataTooLarge");
    }

    #[test]
    fn messages_name_the_location_without_secrets() {
        let options = ReadOptions::new("https://user:pw@host/t.csv?X-Amz-Signature=SECRET");
        let err = read_table(b"a,b\n1\n", &options).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("https://host/t.csv?<redacted>"),
            "{message}"
        );
        assert!(
            !message.contains("SECRET") && !message.contains("pw"),
            "{message}"
        );
    }

    /// Arbitrary bytes must give a table or an error, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic() {
        let alphabet = b"a1,;\"\n\r \t.e-+\xEF\xBB\xBF\xff\x1f\x8bPAR1NaN";
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for case in 0..3000 {
            let len = case % 64;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize]
                })
                .collect();
            let header = case % 2 == 0;
            let options = ReadOptions {
                header,
                max_rows: 5,
                ..ReadOptions::new("x")
            };
            let _ = read_table(&bytes, &options);
        }
    }
}

mod parquet_reading {
    use super::*;

    fn read_fixture(name: &str) -> Result<Table, TableError> {
        let bytes = std::fs::read(fixture(name)).unwrap();
        read_table(&bytes, &ReadOptions::new(&format!("s3://bucket/{name}")))
    }

    fn check_types(table: &Table) {
        assert_eq!(table.rows, 3);
        assert_numbers(numeric(table, "i32"), &[1.0, -2.0, f64::NAN]);
        assert_numbers(numeric(table, "i64"), &[1e10, 0.0, f64::NAN]);
        assert_numbers(numeric(table, "f32"), &[0.5, f64::NAN, f64::NAN]);
        assert_numbers(numeric(table, "f64"), &[1.25, -3.5, f64::NAN]);
        assert_numbers(numeric(table, "price"), &[12.34, -0.05, f64::NAN]);
        assert_numbers(numeric(table, "u8"), &[255.0, 0.0, f64::NAN]);
        assert_numbers(numeric(table, "nothing"), &[f64::NAN; 3]);
        assert_eq!(text(table, "name"), some(&["alpha", "béta", ""]));
        assert_eq!(text(table, "flag"), some(&["true", "false", ""]));
        assert_eq!(text(table, "day"), some(&["2024-02-29", "1969-12-31", ""]));
        assert_eq!(
            text(table, "at"),
            some(&["2024-01-02T03:04:05.678Z", "1970-01-01T00:00:00.000Z", ""])
        );
    }

    #[test]
    fn every_type_and_codec() {
        for name in [
            "types.parquet",
            "types_gzip.parquet",
            "types_lz4.parquet",
            "types_plain.parquet",
            "types_zstd.parquet",
        ] {
            let table = read_fixture(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            check_types(&table);
        }
    }

    #[test]
    fn format_is_found_by_content_extension_or_option() {
        let bytes = std::fs::read(fixture("types.parquet")).unwrap();
        check_types(&read_table(&bytes, &ReadOptions::new("file:///data/export.bin")).unwrap());
        let forced = ReadOptions {
            format: DataFormat::Parquet,
            ..ReadOptions::new("file:///data/export.csv")
        };
        check_types(&read_table(&bytes, &forced).unwrap());
        let message = fails(read_table(b"a,b\n1,2\n", &forced), "CorruptParquet");
        assert!(message.contains("PAR1"), "{message}");
        fails(
            read_table(b"a,b\n1,2\n", &ReadOptions::new("file:///d/t.parquet")),
            "CorruptParquet",
        );
    }

    #[test]
    fn row_groups_keep_their_order() {
        let table = read_fixture("row_groups.parquet").unwrap();
        assert_eq!(table.rows, 1000);
        let ids = numeric(&table, "id");
        assert!(ids.iter().enumerate().all(|(i, v)| *v == i as f64));
        assert_eq!(numeric(&table, "half")[999], 499.5);
        assert_eq!(text(&table, "group")[13].as_deref(), Some("g6"));
    }

    #[test]
    fn errors() {
        fails(read_fixture("corrupt.parquet"), "CorruptParquet");
        let message = fails(read_fixture("infinite.parquet"), "NonFiniteValue");
        assert!(
            message.contains("column `x`") && message.contains("data row 2"),
            "{message}"
        );
        fails(read_fixture("empty.parquet"), "HeaderOnly");
        let message = fails(read_fixture("nested.parquet"), "UnsupportedColumnType");
        assert!(message.contains("`tags`"), "{message}");

        let bytes = std::fs::read(fixture("row_groups.parquet")).unwrap();
        let options = ReadOptions {
            max_rows: 999,
            ..ReadOptions::new("x.parquet")
        };
        fails(read_table(&bytes, &options), "TooManyRows");
        let options = ReadOptions {
            max_bytes: bytes.len() as u64,
            ..ReadOptions::new("x.parquet")
        };
        let message = fails(read_table(&bytes, &options), "DataTooLarge");
        assert!(message.contains("decodes to"), "{message}");
    }

    /// Damaged files (truncated, bytes flipped anywhere) give an error or a table, never a panic.
    #[test]
    fn damaged_files_never_panic() {
        let original = std::fs::read(fixture("types.parquet")).unwrap();
        let options = ReadOptions::new("x.parquet");
        for cut in (0..original.len()).step_by(97) {
            let _ = read_table(&original[..cut], &options);
        }
        for at in (4..original.len() - 4).step_by(13) {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bytes = original.clone();
                bytes[at] ^= flip;
                let _ = read_table(&bytes, &options);
            }
        }
    }
}
