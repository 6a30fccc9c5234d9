//! Wakes between instances: `LISTEN` on a connection of its own. A wake names the owner of
//! the call and the call; each instance takes the wakes for its own calls. After the
//! connection is lost and made again, an empty wake tells the instance that some may have
//! been missed (its sweep finds their work anyway).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;

use super::PostgresOptions;
use super::db::error_chain;

/// The channel every instance listens on.
pub(crate) const CHANNEL: &str = "callhost_wake";

/// Starts listening for `instance`; the calls woken, as they come.
pub(crate) fn spawn(
    options: PostgresOptions,
    instance: Arc<str>,
) -> mpsc::UnboundedReceiver<String> {
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
    tx: &mpsc::UnboundedSender<String>,
    first: bool,
) -> Result<(), String> {
    let (client, mut connection) = options
        .config()
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| error_chain(&e))?;
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
        let _ = tx.send(String::new());
    }
    let prefix = format!("{instance} ");
    while let Some(message) = messages.recv().await {
        if let AsyncMessage::Notification(n) = message
            && let Some(call_id) = n.payload().strip_prefix(&prefix)
            && tx.send(call_id.to_owned()).is_err()
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
