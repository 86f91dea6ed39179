//! Finding a quoted CSV field that is never closed. The `csv` crate silently ends such a field
//! at the end of the input, which would swallow every following row into one cell.

/// The 1-based line of a quote that opens a field and is never closed, if there is one. Follows
/// the `csv` crate's dialect: a quote is special only at the start of a field, and `""` inside a
/// quoted field is a literal quote.
pub(crate) fn unterminated_quote_line(bytes: &[u8], delimiter: u8) -> Option<u64> {
    #[derive(Clone, Copy)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let mut state = State::FieldStart;
    let mut line: u64 = 1;
    let mut opened_on: u64 = 1;
    for &byte in bytes {
        let terminator = byte == b'\n' || byte == b'\r';
        state = match state {
            State::FieldStart | State::Unquoted if terminator || byte == delimiter => {
                State::FieldStart
            }
            State::FieldStart if byte == b'"' => {
                opened_on = line;
                State::Quoted
            }
            State::FieldStart | State::Unquoted => State::Unquoted,
            State::Quoted if byte == b'"' => State::QuoteInQuoted,
            State::Quoted => State::Quoted,
            State::QuoteInQuoted if byte == b'"' => State::Quoted,
            State::QuoteInQuoted if terminator || byte == delimiter => State::FieldStart,
            State::QuoteInQuoted => State::Unquoted,
        };
        if byte == b'\n' {
            line += 1;
        }
    }
    matches!(state, State::Quoted).then_some(opened_on)
}

#[cfg(test)]
mod tests {
    use super::unterminated_quote_line as scan;

    #[test]
    fn closed_quotes_pass() {
        assert_eq!(scan(b"a,b\n\"x,\ny\",2\n", b','), None);
        assert_eq!(scan(b"a\n\"say \"\"hi\"\"\"\n", b','), None);
        assert_eq!(
            scan(b"a,b\n5\" disk,2\n", b','),
            None,
            "a quote inside an unquoted field is literal"
        );
        assert_eq!(scan(b"a,b\n\"x\"y,2\n", b','), None);
        assert_eq!(scan(b"", b','), None);
    }

    #[test]
    fn open_quotes_are_found_with_their_line() {
        assert_eq!(scan(b"a,b\n1,2\n\"oops,3\n4,5\n", b','), Some(3));
        assert_eq!(scan(b"a;\"b\n", b';'), Some(1));
        assert_eq!(
            scan(b"a\n\"x\"\"\n", b','),
            Some(2),
            "an escaped quote does not close"
        );
    }
}
