//! Flare's domain, free of AWS, network and database code.
//!
//! The crate's surface is this page: the domain's types, ports and services are re-exported here, each under
//! one path, and the modules that hold them are private. A few modules stay public as namespaces, for families
//! whose names read best qualified: the bounded texts ([`text`]), limits ([`limits`]), time formats
//! ([`timefmt`]), config lookup ([`config`]), the JSON read models ([`view`]), the mail and message ports
//! ([`notify`]), send pacing ([`rate`]) and the retry schedule ([`retry`]), availability ([`availability`]),
//! the poller's sheets, rows, probes and its store port ([`poll`]),
//! post-incident reports and the weekly digest ([`report`]),
//! and, with the `test-util` feature, the fixtures other crates' tests share ([`test_util`]).
//!
//! Inside, by concern:
//! - `values`: the value types each parsed once at the edge ([`TicketNumber`], [`Severity`], [`Status`],
//!   [`Impact`], [`SystemId`], [`EmailAddress`], [`PhoneNumber`]), over `field`'s validation errors
//!   ([`FieldError`], [`ValidationErrors`]); nothing else in the crate is below them, so there are no cycles.
//! - `incident`, `timeline` and `command`: the aggregate, its timeline, and the commands that change it. Every
//!   change is a pure function from the current state to the next state plus one timeline event, so both store
//!   adapters commit exactly the same thing.
//! - `catalog` (systems and subscribers), `access` (people and API keys), `window` (dashboard windows and pages).
//! - `ports` ([`IncidentStore`], [`CatalogStore`], [`AccessStore`], [`Clock`]), `ledger` ([`LedgerStore`]),
//!   `tickets` ([`TicketSystem`]) and the [`IncidentService`] that drives them.
//! - `dispatch`, which delivers each timeline event once ([`Dispatcher`]), with `notice` (what a notice says)
//!   and `audience` (who is told).
//! - `session_key` ([`SessionKey`] and the unsubscribe key derived from it) and `unsubscribe` (its tokens).
//! - `error`: rule violations and store failures ([`DomainError`], [`StoreError`]).

mod access;
mod audience;
pub mod availability;
mod catalog;
mod command;
pub mod config;
mod dispatch;
mod error;
mod field;
mod incident;
mod ledger;
pub mod limits;
mod notice;
pub mod notify;
pub mod poll;
mod ports;
pub mod rate;
pub mod report;
pub mod retry;
mod service;
mod session_key;
#[cfg(any(test, feature = "test-util"))]
pub mod test_util;
pub mod text;
mod tickets;
pub mod timefmt;
mod timeline;
mod unsubscribe;
mod values;
pub mod view;
mod window;

pub use access::{Actor, ActorKind, ApiKey, ApiKeyHash, Scope, User, Username};
pub use catalog::{Subscriber, System};
pub use command::{AddNote, Command, LinkTicket, OpenIncident, ReopenIncident, ResolveIncident, UpdateIncident};
pub use dispatch::{
    ACTOR as DISPATCHER_ACTOR, ChannelReport, Channels, DispatchError, DispatchReport, Dispatcher, Owed, OwedCause,
    event_notifies,
};
pub use error::{DomainError, StoreError, error_chain};
pub use field::{FieldError, ValidationErrors};
pub use incident::{AffectedSystem, Channel, ExternalTicket, FollowUpAction, Incident, Source, validate_notify_emails};
pub use ledger::{BATCH_MAX, Delivery, DeliveryChannel, DigestDelivery, LedgerStore, Refused};
pub use notice::{Links, MailTemplate, NOTICE};
pub use ports::{
    AccessStore, CatalogStore, Clock, Committed, IdempotencyKey, IncidentStore, NewIncident, Store, SystemClock,
};
pub use service::IncidentService;
pub use session_key::{SessionKey, SessionKeyError};
pub use tickets::{TicketError, TicketSystem, sync_ticket};
pub use timeline::{EventKind, FieldChange, RecordedEvent, TimelineEvent};
pub use unsubscribe::{InvalidToken, TOKEN_MAX as UNSUBSCRIBE_TOKEN_MAX, Unsubscribe, UnsubscribeKey};
pub use values::{EmailAddress, Impact, PhoneNumber, Severity, Status, SystemId, TicketNumber};
pub use window::{Cursor, Page, Window, WindowQuery};
