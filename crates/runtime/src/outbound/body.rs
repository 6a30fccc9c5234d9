//! Bodies with limits: a request body cut at its byte cap, and a response body cut at its
//! byte cap and at the longest wait between its bytes, counting what went through.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use wasmtime_wasi_http::Error;

/// Bytes that went through a body, readable while it is still in use.
#[derive(Debug, Clone, Default)]
pub(super) struct Counted(Arc<AtomicU64>);

impl Counted {
    pub(super) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Adds `n`; the total.
    fn add(&self, n: u64) -> u64 {
        self.0.fetch_add(n, Ordering::Relaxed) + n
    }
}

/// The plugin's request body, refused past `limit` bytes.
pub(super) struct RequestBody<B> {
    pub(super) inner: B,
    pub(super) limit: u64,
    pub(super) sent: Counted,
}

impl<B> Body for RequestBody<B>
where
    B: Body<Data = Bytes, Error = Error> + Unpin,
{
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if let Some(Ok(frame)) = &frame
            && let Some(data) = frame.data_ref()
            && self.sent.add(data.len() as u64) > self.limit
        {
            return Poll::Ready(Some(Err(Error::HttpRequestBodySize(Some(self.limit)))));
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body as the plugin reads it: at most `limit` bytes, and no longer than
/// `between_bytes` without one. `on_end` runs once, when the body ends, fails or is dropped.
pub(super) struct ResponseBody {
    pub(super) inner: hyper::body::Incoming,
    pub(super) limit: u64,
    pub(super) between_bytes: Duration,
    pub(super) idle: Pin<Box<tokio::time::Sleep>>,
    pub(super) received: Counted,
    pub(super) on_end: Option<Box<dyn FnOnce(Option<String>) + Send>>,
}

impl ResponseBody {
    fn end(&mut self, error: Option<String>) {
        if let Some(on_end) = self.on_end.take() {
            on_end(error);
        }
    }

    fn fail(&mut self, error: Error, why: String) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        self.end(Some(why));
        Poll::Ready(Some(Err(error)))
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.end(None);
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                let why = format!("the response body broke off: {e}");
                this.fail(Error::from(e), why)
            }
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref()
                    && this.received.add(data.len() as u64) > this.limit
                {
                    let why = format!(
                        "the response body passed limits.http_response_bytes ({} bytes)",
                        this.limit
                    );
                    return this.fail(Error::HttpResponseBodySize(Some(this.limit)), why);
                }
                let next = tokio::time::Instant::now() + this.between_bytes;
                this.idle.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                ready!(this.idle.as_mut().poll(cx));
                let why = format!(
                    "no byte of the response body for {} ms (the between-bytes timeout)",
                    this.between_bytes.as_millis()
                );
                this.fail(Error::ConnectionReadTimeout, why)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ResponseBody {
    /// A body the plugin did not read to its end counts what it read.
    fn drop(&mut self) {
        self.end(None);
    }
}
