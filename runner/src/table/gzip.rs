//! Bounded gzip decompression: the decompressed size counts against the size limit, so a small
//! file that inflates enormously (a gzip bomb) fails early instead of exhausting memory.

use std::io::Read;

use flate2::read::MultiGzDecoder;

use super::TableError;

/// Decompresses every gzip member of `bytes`, failing once the output exceeds `limit` bytes.
pub(crate) fn decompress(bytes: &[u8], limit: u64, location: &str) -> Result<Vec<u8>, TableError> {
    let mut out = Vec::new();
    // One byte past the limit tells "exactly at the limit" from "over it".
    let mut decoder = MultiGzDecoder::new(bytes).take(limit.saturating_add(1));
    decoder
        .read_to_end(&mut out)
        .map_err(|e| TableError::CorruptGzip {
            location: location.to_owned(),
            detail: e.to_string(),
        })?;
    if out.len() as u64 > limit {
        return Err(TableError::TooLarge {
            location: location.to_owned(),
            what: "decompresses to",
            limit,
        });
    }
    Ok(out)
}
