//! Flare's domain, free of AWS, network and database code.
//!
//! - Validated value types: [`TicketNumber`], [`Severity`], [`Status`], [`Impact`], [`SystemId`],
//!   [`EmailAddress`] and the bounded texts in [`text`]. Each is parsed once at the edge and trusted inside.
//! - The incident aggregate and its timeline ([`incident`], [`timeline`]), and the commands that change it
//!   ([`command`]): every change is a pure function from the current state to the next state plus one
//!   timeline event, so both store adapters commit exactly the same thing.
//! - The catalog of systems and subscribers ([`catalog`]), people and API keys ([`access`]).
//! - Dashboard windows and pages ([`window`]).
//! - The ports that adapters implement ([`ports`], and [`tickets`] for the ticketing system) and the [`service`]
//!   that drives them.
//!
//! - The [`dispatch`]er, which delivers each timeline event to the ticketing system, mail and the topic once,
//!   recording each batch in the [`ledger`]; [`notice`] says what a notice reads, `audience` who is told.
//!   The ports it sends through are in [`notify`] and [`tickets`].
//! - Read models for the dashboard JSON ([`view`]), unsubscribe tokens ([`unsubscribe`]), config lookup
//!   ([`config`]) and time formats ([`timefmt`]).
//! - With the `test-util` feature, [`test_util`]: fixtures that other crates' tests share.
//!
//! Send pacing shared by the mail adapters lives in [`rate`]; the one retry schedule and `Retry-After` reading
//! every adapter uses, in [`retry`].
//!
//! Limits live in [`limits`]; errors that name a field live in [`error`].

pub mod access;
mod audience;
pub mod catalog;
pub mod command;
pub mod config;
pub mod dispatch;
pub mod error;
pub mod incident;
pub mod ledger;
pub mod limits;
pub mod notice;
pub mod notify;
pub mod ports;
pub mod rate;
pub mod retry;
pub mod service;
#[cfg(any(test, feature = "test-util"))]
pub mod test_util;
pub mod text;
pub mod ticket;
pub mod tickets;
pub mod timefmt;
pub mod timeline;
pub mod unsubscribe;
pub mod view;
pub mod window;

pub use access::{Actor, ActorKind, ApiKey, ApiKeyHash, Scope, User, Username};
pub use catalog::{EmailAddress, PhoneNumber, Subscriber, System};
pub use command::{AddNote, Command, LinkTicket, OpenIncident, ReopenIncident, ResolveIncident, UpdateIncident};
pub use error::{DomainError, FieldError, StoreError, ValidationErrors};
pub use incident::{AffectedSystem, Channel, ExternalTicket, Impact, Incident, Severity, Source, Status, SystemId};
pub use ledger::{Delivery, DeliveryChannel, LedgerStore, Refused};
pub use ports::{
    AccessStore, CatalogStore, Clock, Committed, IdempotencyKey, IncidentStore, NewIncident, Store, SystemClock,
};
pub use service::IncidentService;
pub use ticket::TicketNumber;
pub use tickets::{TicketError, TicketSystem};
pub use timeline::{EventKind, FieldChange, RecordedEvent, TimelineEvent};
pub use window::{Cursor, Page, Window, WindowQuery};
