//! [`SmtpPool`]: the SMTP transport [`crate::SmtpMailer`] sends through: a few reused connections whose sockets
//! have Nagle's algorithm off.
//!
//! lettre speaks the protocol (EHLO, STARTTLS, AUTH, the transaction); this module only opens the TCP socket
//! itself and keeps idle connections. lettre's own pool (0.11.23) leaves Nagle on, and it writes a message's
//! body and its closing `.` in two writes: the second waits for the server's delayed ACK, about 40 ms a
//! message, whatever the server. It also sends a NOOP each time it lends a connection. lettre sets TCP_NODELAY
//! upstream (lettre/lettre#1159) but no release has it yet; once one does, this module can go.

use std::fmt;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use lettre::AsyncTransport;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::smtp::{SmtpTls, TransportError};

/// How long opening a connection, or one whole transaction, may take before it counts as failed (transient).
const TIMEOUT: Duration = Duration::from_secs(30);
/// A connection idle for longer is checked with a NOOP before reuse: servers close idle sessions.
const IDLE_CHECK: Duration = Duration::from_secs(20);

/// Why one message could not be handed to the server.
#[derive(Debug, thiserror::Error)]
pub enum SmtpSendError {
    #[error("cannot connect to the SMTP server")]
    Connect(#[source] std::io::Error),
    #[error("the SMTP server did not answer in time")]
    Timeout,
    /// The server's answer (its status is what a refused recipient is reported with), or a protocol failure.
    #[error(transparent)]
    Smtp(#[from] lettre::transport::smtp::Error),
}

impl TransportError for SmtpSendError {
    /// Only the server's own 5xx answer is for good; a socket or TLS failure, or a timeout, may pass.
    fn is_permanent(&self) -> bool {
        matches!(self, Self::Smtp(e) if e.is_permanent())
    }
}

/// Connections to one SMTP server, at most `max_idle` kept between messages.
pub struct SmtpPool {
    host: String,
    port: u16,
    tls: SmtpTls,
    credentials: Option<Credentials>,
    hello: ClientId,
    max_idle: usize,
    /// Idle connections, with when each was last used.
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

impl fmt::Debug for SmtpPool {
    // Leaves the credentials out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpPool").field("host", &self.host).field("port", &self.port).field("tls", &self.tls).finish()
    }
}

impl SmtpPool {
    pub(crate) fn new(host: &str, port: u16, tls: SmtpTls, credentials: Option<Credentials>, max_idle: usize) -> Self {
        Self {
            host: host.to_string(),
            port,
            tls,
            credentials,
            hello: ClientId::default(),
            max_idle,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// An idle connection that still answers, or a new one.
    async fn checkout(&self) -> Result<AsyncSmtpConnection, SmtpSendError> {
        loop {
            // A poisoned lock only means a sender panicked between a push and a pop; the list is still sound.
            let parked = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let Some((mut conn, since)) = parked else { return self.connect().await };
            if since.elapsed() < IDLE_CHECK || conn.test_connected().await {
                return Ok(conn);
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), conn.abort()).await;
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SmtpSendError> {
        let mut conn = match self.tls {
            // lettre opens implicit-TLS sockets itself, so these keep Nagle on until lettre's fix is released.
            SmtpTls::Tls => {
                let tls = TlsParameters::new(self.host.clone())?;
                within(AsyncSmtpConnection::connect_tokio1(
                    (self.host.as_str(), self.port),
                    Some(TIMEOUT),
                    &self.hello,
                    Some(tls),
                    None,
                ))
                .await?
            }
            SmtpTls::StartTls | SmtpTls::None => {
                let stream = within(async {
                    TcpStream::connect((self.host.as_str(), self.port)).await.map_err(SmtpSendError::Connect)
                })
                .await?;
                stream.set_nodelay(true).map_err(SmtpSendError::Connect)?;
                let mut conn =
                    within(AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello)).await?;
                if self.tls == SmtpTls::StartTls {
                    // Refused by lettre when the server does not offer it: never falls back to clear text.
                    let tls = TlsParameters::new(self.host.clone())?;
                    within(conn.starttls(tls, &self.hello)).await?;
                }
                conn
            }
        };
        if let Some(credentials) = &self.credentials {
            within(conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)).await?;
        }
        Ok(conn)
    }
}

/// `step`, failed as [`SmtpSendError::Timeout`] when it takes longer than [`TIMEOUT`].
async fn within<T, E: Into<SmtpSendError>>(step: impl Future<Output = Result<T, E>>) -> Result<T, SmtpSendError> {
    match tokio::time::timeout(TIMEOUT, step).await {
        Ok(done) => done.map_err(Into::into),
        Err(_) => Err(SmtpSendError::Timeout),
    }
}

#[async_trait]
impl AsyncTransport for SmtpPool {
    type Ok = ();
    type Error = SmtpSendError;

    async fn send_raw(&self, envelope: &Envelope, email: &[u8]) -> Result<(), SmtpSendError> {
        let mut conn = self.checkout().await?;
        let sent = match tokio::time::timeout(TIMEOUT, conn.send(envelope, email)).await {
            Ok(sent) => sent.map(|_| ()).map_err(SmtpSendError::from),
            Err(_) => Err(SmtpSendError::Timeout),
        };
        if sent.is_err() || conn.has_broken() {
            // After a refusal the session may be mid-transaction; a fresh connection costs less than finding out.
            // QUIT politely, but never wait long on a server that has stopped answering.
            let _ = tokio::time::timeout(Duration::from_secs(1), conn.abort()).await;
            return sent;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.max_idle {
            idle.push((conn, Instant::now()));
        }
        sent
    }
}
