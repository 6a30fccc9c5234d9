//! Wakes and news between instances: `LISTEN` on a connection of its own. A wake names the
//! owner of the call and the call (`<owner> <call>`); each instance takes the wakes for its own
//! calls. News is for everyone but its sender (`* <sender> <news>`). After the connection is
//! lost and made again, [`Heard::Missed`] tells the instance that some wakes may have been
//! missed (its sweep finds their work anyway).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;

use super::PostgresOptions;
use super::db::error_chain;
use crate::Heard;

/// The channel every instance listens on.
pub(crate) const CHANNEL: &str = "callhost_wake";

/// What news starts with: no instance is named `*` (see the config's `instance_id`).
const NEWS: &str = "* ";

/// The payload that tells every instance but `sender` the `news`.
pub(crate) fn news(sender: &str, news: &str) -> String {
    format!("{NEWS}{sender} {news}")
}

/// What a payload means for `instance`, if anything.
fn heard(instance: &str, payload: &str) -> Option<Heard> {
    if let Some(news) = payload.strip_prefix(NEWS) {
        let (sender, news) = news.split_once(' ')?;
        return (sender != instance).then(|| Heard::News(news.to_owned()));
    }
    let (owner, call) = payload.split_once(' ')?;
    (owner == instance).then(|| Heard::Wake(call.to_owned()))
}

/// Starts listening for `instance`; the calls woken, as they come.
pub(crate) fn spawn(
    options: PostgresOptions,
    instance: Arc<str>,
) -> mpsc::UnboundedReceiver<Heard> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut first = true;
        while !tx.is_closed() {
            if let Err(error) = listen(&options, &instance, &tx, first).await {
                tracing::warn!(target = %options.target(), error = %error, "listening for wakes from other instances failed; trying again in a second");
            }
            first = false;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    rx
}

async fn listen(
    options: &PostgresOptions,
    instance: &str,
    tx: &mpsc::UnboundedSender<Heard>,
    first: bool,
) -> Result<(), String> {
    let (client, mut connection) = options.connect_raw().await.map_err(|e| error_chain(&e))?;
    let (messages_tx, mut messages) = mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut stream = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = stream.next().await {
            match message {
                Ok(message) => {
                    if messages_tx.send(message).is_err() {
                        break;
                    }
                }
                Err(error) => return Err(error_chain(&error)),
            }
        }
        Ok(())
    });
    client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .await
        .map_err(|e| error_chain(&e))?;
    if !first {
        // Wakes sent while nobody listened are gone: every call should look.
        let _ = tx.send(Heard::Missed);
    }
    while let Some(message) = messages.recv().await {
        if let AsyncMessage::Notification(n) = message
            && let Some(heard) = heard(instance, n.payload())
            && tx.send(heard).is_err()
        {
            return Ok(());
        }
    }
    drop(client);
    match driver.await {
        Ok(Ok(())) => Err("the connection closed".into()),
        Ok(Err(error)) => Err(error),
        Err(error) => Err(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wakes_reach_their_owner_and_news_everyone_but_its_sender() {
        assert_eq!(heard("a", "a call-1"), Some(Heard::Wake("call-1".into())));
        assert_eq!(heard("b", "a call-1"), None);
        let payload = news("a", "reload ivr 0123");
        assert_eq!(
            heard("b", &payload),
            Some(Heard::News("reload ivr 0123".into()))
        );
        assert_eq!(heard("a", &payload), None);
        assert_eq!(heard("a", "garbage"), None);
    }
}
