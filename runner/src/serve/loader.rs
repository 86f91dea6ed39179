//! Fetching the model and its model.json, and checking the model's digest before anything
//! uses it.

use super::config::ModelLocation;
use super::error::ServeError;
use crate::artifact::{ModelCard, sha256_hex};
use crate::source::{SourceConfig, SourceError, fetch, redact};

/// The fetched and checked model.
pub struct Artifacts {
    /// The ONNX file.
    pub onnx: Vec<u8>,
    /// Its sha256, hex.
    pub sha256: String,
    /// Where it came from (redacted).
    pub uri: String,
    /// model.json, when there is one.
    pub card: Option<ModelCard>,
}

/// Fetches the model (and model.json) from `location` and checks the digest against the
/// configured one and model.json's.
pub async fn load(
    location: &ModelLocation,
    source: &SourceConfig,
) -> Result<Artifacts, ServeError> {
    let (model_uri, default_card) = if location.uri.ends_with('/') {
        (
            format!("{}model.onnx", location.uri),
            Some(format!("{}model.json", location.uri)),
        )
    } else {
        (location.uri.clone(), sibling(&location.uri, "model.json"))
    };
    let onnx = fetch(&model_uri, source).await?;
    let sha256 = sha256_hex(&onnx);
    let shown = redact(&model_uri);
    if let Some(expected) = &location.sha256
        && *expected != sha256
    {
        return Err(ServeError::ChecksumMismatch {
            location: shown,
            expected: expected.clone(),
            actual: sha256,
            source_of_expected: "the configuration (model.sha256)".to_owned(),
        });
    }
    let card_uri = location.card_uri.clone().or(default_card);
    let explicit = location.card_uri.is_some();
    let card =
        match &card_uri {
            None => None,
            Some(uri) => match fetch(uri, source).await {
                Ok(bytes) => Some(serde_json::from_slice::<ModelCard>(&bytes).map_err(|e| {
                    ServeError::Card {
                        location: redact(uri),
                        detail: e.to_string(),
                    }
                })?),
                Err(SourceError::NotFound { .. }) if !explicit => None,
                Err(e) => return Err(e.into()),
            },
        };
    if let (Some(card), Some(uri)) = (&card, &card_uri)
        && card.onnx.sha256 != sha256
    {
        return Err(ServeError::ChecksumMismatch {
            location: shown,
            expected: card.onnx.sha256.clone(),
            actual: sha256,
            source_of_expected: format!("model.json ({})", redact(uri)),
        });
    }
    match (&location.sha256, &card) {
        (None, None) => tracing::warn!(
            model = %shown, sha256 = %sha256,
            "no sha256 configured and no model.json: serving the model unchecked"
        ),
        (_, None) => {
            tracing::info!(model = %shown, "no model.json beside the model: the schema comes from the graph")
        }
        _ => {}
    }
    Ok(Artifacts {
        onnx,
        sha256,
        uri: shown,
        card,
    })
}

/// `file` beside `uri` (same directory); `None` for locations with a query string, whose
/// signature would not cover another object.
pub fn sibling(uri: &str, file: &str) -> Option<String> {
    if uri.contains('?') {
        return None;
    }
    let (scheme, rest) = uri.split_once("://")?;
    let slash = rest.rfind('/')?;
    // `s3://bucket` or `https://host` alone has no directory to look in.
    if !rest[..slash].contains('/') && scheme != "file" && scheme != "pvc" && slash == 0 {
        return None;
    }
    Some(format!("{scheme}://{}/{file}", &rest[..slash]))
}

#[cfg(test)]
mod tests {
    use super::sibling;

    #[test]
    fn model_json_is_looked_for_beside_the_model() {
        assert_eq!(
            sibling("file:///a/b/model.onnx", "model.json").as_deref(),
            Some("file:///a/b/model.json")
        );
        assert_eq!(
            sibling("s3://bkt/jobs/x/model.onnx", "model.json").as_deref(),
            Some("s3://bkt/jobs/x/model.json")
        );
        assert_eq!(
            sibling("s3://bkt/model.onnx", "model.json").as_deref(),
            Some("s3://bkt/model.json")
        );
        assert_eq!(
            sibling("pvc://claim/m.onnx", "model.json").as_deref(),
            Some("pvc://claim/model.json")
        );
        assert_eq!(
            sibling("https://h/m/model.onnx?X-Amz-Signature=1", "model.json"),
            None
        );
    }
}
