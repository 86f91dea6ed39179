//! Reloading the configuration file. A ConfigMap mounted as a volume is updated in place by the
//! kubelet (an atomic symlink swap), so the file is read again at an interval and compared by
//! content; inotify would miss the swap on some volume drivers.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use tokio::sync::watch as channel;

use super::OperatorConfig;

/// The current configuration, shared by the controllers.
#[derive(Clone, Debug)]
pub struct ConfigWatch {
    receiver: channel::Receiver<Arc<OperatorConfig>>,
}

impl ConfigWatch {
    /// A configuration that never changes (tests, local mode).
    pub fn fixed(config: OperatorConfig) -> ConfigWatch {
        let (sender, receiver) = channel::channel(Arc::new(config));
        // Keep the sender alive so that `changes` waits instead of ending.
        std::mem::forget(sender);
        ConfigWatch { receiver }
    }

    /// The configuration now.
    pub fn current(&self) -> Arc<OperatorConfig> {
        self.receiver.borrow().clone()
    }

    /// One item each time a new valid configuration is loaded: the controllers reconcile every
    /// object again, so that a new pool or price takes effect.
    pub fn changes(&self) -> impl Stream<Item = ()> + Send + 'static {
        let mut receiver = self.receiver.clone();
        receiver.mark_unchanged();
        futures::stream::unfold(receiver, |mut receiver| async move {
            receiver.changed().await.ok()?;
            Some(((), receiver))
        })
    }
}

/// Loads `path` (the default configuration when `None`) and, for a file, starts a task that
/// reloads it every `interval`. `on_reload(Ok|Err)` is told about each attempt after the first,
/// for metrics. The first load must succeed: an operator with a broken configuration does not
/// start.
pub async fn watch(
    path: Option<PathBuf>,
    interval: Duration,
    on_reload: impl Fn(Result<(), &str>) + Send + 'static,
) -> Result<ConfigWatch, String> {
    let Some(path) = path else {
        return Ok(ConfigWatch::fixed(OperatorConfig::default()));
    };
    let text = tokio::fs::read_to_string(&path)
        .await
        .map_err(|e| format!("cannot read the configuration file {}: {e}", path.display()))?;
    let config = OperatorConfig::parse(&text)
        .map_err(|e| format!("configuration file {}: {e}", path.display()))?;
    let (sender, receiver) = channel::channel(Arc::new(config));
    tokio::spawn(async move {
        let mut last_text = text;
        loop {
            tokio::time::sleep(interval).await;
            let text = match tokio::fs::read_to_string(&path).await {
                Ok(text) => text,
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "configuration file unreadable; keeping the current configuration");
                    on_reload(Err("unreadable"));
                    continue;
                }
            };
            if text == last_text {
                continue;
            }
            match OperatorConfig::parse(&text) {
                Ok(config) => {
                    tracing::info!(path = %path.display(), pools = config.node_pools.len(), "configuration reloaded");
                    on_reload(Ok(()));
                    if sender.send(Arc::new(config)).is_err() {
                        return;
                    }
                }
                Err(error) => {
                    tracing::error!(path = %path.display(), %error, "new configuration is invalid; keeping the current one");
                    on_reload(Err("invalid"));
                }
            }
            last_text = text;
        }
    });
    Ok(ConfigWatch { receiver })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use std::sync::Mutex;

    #[tokio::test]
    async fn a_changed_file_is_reloaded_and_a_broken_one_is_ignored() {
        let dir = std::env::temp_dir().join(format!("lepton-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.yaml");
        std::fs::write(&path, "currency: USD\n").unwrap();
        let results = Arc::new(Mutex::new(Vec::new()));
        let seen = results.clone();
        let watch = watch(Some(path.clone()), Duration::from_millis(20), move |r| {
            seen.lock().unwrap().push(r.map_err(str::to_owned));
        })
        .await
        .unwrap();
        let mut changes = Box::pin(watch.changes());
        assert_eq!(watch.current().currency, "USD");

        std::fs::write(&path, "currency: EUR\n").unwrap();
        tokio::time::timeout(Duration::from_secs(10), changes.next())
            .await
            .unwrap();
        assert_eq!(watch.current().currency, "EUR");

        std::fs::write(&path, "currency: [\n").unwrap();
        tokio::time::timeout(Duration::from_secs(10), async {
            while !results.lock().unwrap().iter().any(|r| r.is_err()) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap();
        assert_eq!(watch.current().currency, "EUR");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_broken_first_configuration_names_the_file() {
        let missing = watch(
            Some(PathBuf::from("/nonexistent/lepton.yaml")),
            Duration::from_secs(1),
            |_| {},
        )
        .await
        .unwrap_err();
        assert!(missing.contains("/nonexistent/lepton.yaml"), "{missing}");
    }
}
