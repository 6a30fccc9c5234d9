//! Wakes and news between instances: `LISTEN` on a connection of its own. A wake names the
//! owner of the call and the call (`<owner> <call>`); each instance takes the wakes for its own
//! calls. News is for everyone but its sender (`* <sender> <id> <news>`), and is also kept in
//! the `news` table: each time the listening connection is made, the news sent since the last
//! heard (since the store was opened, the first time) is read from there, so news sent while
//! an instance started or had lost its connection still reaches it, once and in order. After
//! the connection is lost and made again, [`Heard::Missed`] tells the instance that some wakes
//! may have been missed (its sweep finds their work anyway).

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

/// How long news is kept for instances that were not listening when it was sent.
pub(crate) const NEWS_KEPT_MS: i64 = 24 * 60 * 60 * 1000;

/// The payload that tells every instance but `sender` the `news`, stored as `id`.
pub(crate) fn news(sender: &str, id: i64, news: &str) -> String {
    format!("{NEWS}{sender} {id} {news}")
}

/// What a notification says.
#[derive(Debug, PartialEq, Eq)]
enum Payload<'a> {
    Wake {
        owner: &'a str,
        call: &'a str,
    },
    News {
        sender: &'a str,
        id: i64,
        news: &'a str,
    },
}

fn parse(payload: &str) -> Option<Payload<'_>> {
    if let Some(news) = payload.strip_prefix(NEWS) {
        let (sender, rest) = news.split_once(' ')?;
        let (id, news) = rest.split_once(' ')?;
        return Some(Payload::News {
            sender,
            id: id.parse().ok()?,
            news,
        });
    }
    let (owner, call) = payload.split_once(' ')?;
    Some(Payload::Wake { owner, call })
}

/// What one instance has heard: the news it has passed on, by id.
struct Listener {
    instance: Arc<str>,
    tx: mpsc::UnboundedSender<Heard>,
    last_news: i64,
}

impl Listener {
    /// What a notification means for this instance, if anything (news already read from the
    /// table is not told again).
    fn heard(&mut self, payload: &str) -> Option<Heard> {
        match parse(payload)? {
            Payload::Wake { owner, call } => {
                (owner == &*self.instance).then(|| Heard::Wake(call.to_owned()))
            }
            Payload::News { sender, id, news } => self.news(id, sender, news),
        }
    }

    fn news(&mut self, id: i64, sender: &str, news: &str) -> Option<Heard> {
        if id <= self.last_news {
            return None;
        }
        self.last_news = id;
        (sender != &*self.instance).then(|| Heard::News(news.to_owned()))
    }

    fn tell(&self, heard: Heard) -> bool {
        self.tx.send(heard).is_ok()
    }
}

/// Starts listening for `instance`; the calls woken and the news after `news_before`, as
/// they come.
pub(crate) fn spawn(
    options: PostgresOptions,
    instance: Arc<str>,
    news_before: i64,
) -> mpsc::UnboundedReceiver<Heard> {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut listener = Listener {
        instance,
        tx,
        last_news: news_before,
    };
    tokio::spawn(async move {
        let mut first = true;
        while !listener.tx.is_closed() {
            if let Err(error) = listen(&options, &mut listener, first).await {
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
    listener: &mut Listener,
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
    // Listening from here on: what was sent before is in the table.
    let missed = client
        .query(
            "SELECT id, sender, news FROM news WHERE id > $1 ORDER BY id",
            &[&listener.last_news],
        )
        .await
        .map_err(|e| error_chain(&e))?;
    for row in missed {
        let (id, sender, news): (i64, String, String) = (row.get(0), row.get(1), row.get(2));
        if let Some(heard) = listener.news(id, &sender, &news)
            && !listener.tell(heard)
        {
            return Ok(());
        }
    }
    if !first {
        // Wakes sent while nobody listened are gone: every call should look.
        let _ = listener.tell(Heard::Missed);
    }
    while let Some(message) = messages.recv().await {
        if let AsyncMessage::Notification(n) = message
            && let Some(heard) = listener.heard(n.payload())
            && !listener.tell(heard)
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

    fn listener(instance: &str) -> (Listener, mpsc::UnboundedReceiver<Heard>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let listener = Listener {
            instance: instance.into(),
            tx,
            last_news: 0,
        };
        (listener, rx)
    }

    #[test]
    fn wakes_reach_their_owner_and_news_everyone_but_its_sender() {
        let (mut a, _) = listener("a");
        let (mut b, _) = listener("b");
        assert_eq!(a.heard("a call-1"), Some(Heard::Wake("call-1".into())));
        assert_eq!(b.heard("a call-1"), None);
        let payload = news("a", 1, "reload ivr 0123");
        assert_eq!(
            b.heard(&payload),
            Some(Heard::News("reload ivr 0123".into()))
        );
        assert_eq!(a.heard(&payload), None);
        assert_eq!(a.heard("garbage"), None);
        assert_eq!(b.heard("* a x reload"), None, "an id that is not a number");
    }

    #[test]
    fn news_read_from_the_table_is_not_told_again_by_its_notification() {
        let (mut b, _) = listener("b");
        assert_eq!(
            b.news(4, "a", "plugin-version ivr 01"),
            Some(Heard::News("plugin-version ivr 01".into()))
        );
        assert_eq!(b.heard(&news("a", 4, "plugin-version ivr 01")), None);
        assert_eq!(b.heard(&news("a", 3, "plugin-version ivr 00")), None);
        assert_eq!(
            b.heard(&news("a", 5, "plugin-version ivr 02")),
            Some(Heard::News("plugin-version ivr 02".into()))
        );
    }
}
