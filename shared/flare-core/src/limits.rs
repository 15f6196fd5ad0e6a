//! Every size limit Flare enforces, in one place so that forms, API documentation and validation agree.

/// Longest incident title, in characters.
pub const TITLE_MAX: usize = 200;
/// Longest incident description, in characters.
pub const DESCRIPTION_MAX: usize = 10_000;
/// Longest timeline message (update, resolution, note), in characters.
pub const MESSAGE_MAX: usize = 10_000;
/// Longest root-cause text, in characters.
pub const ROOT_CAUSE_MAX: usize = 10_000;
/// Most follow-up actions on one incident, and the longest one.
pub const FOLLOW_UPS_MAX: usize = 50;
pub const FOLLOW_UP_MAX: usize = 500;
/// Most affected systems on one incident.
pub const SYSTEMS_MAX: usize = 50;
/// Longest person name (engineer, reporter, user display name).
pub const PERSON_MAX: usize = 200;
/// Longest system id (a slug) and system display name.
pub const SYSTEM_ID_MAX: usize = 64;
pub const SYSTEM_NAME_MAX: usize = 200;
/// Longest external id of a polled row, external ticket key and URL.
pub const EXTERNAL_ID_MAX: usize = 256;
pub const URL_MAX: usize = 2_048;
/// Most addresses listed on an incident to be told besides the subscribers.
pub const NOTIFY_EMAILS_MAX: usize = 20;
/// Longest email address (RFC 5321 path limit).
pub const EMAIL_MAX: usize = 254;
/// Longest idempotency key.
pub const IDEMPOTENCY_KEY_MAX: usize = 128;
/// Widest dashboard window, in days.
pub const WINDOW_MAX_DAYS: i64 = 366;
/// Default dashboard window, in days.
pub const WINDOW_DEFAULT_DAYS: i64 = 7;
/// The earliest start, detection or resolution time accepted: anything before is a typo in the year.
pub const EARLIEST_TIME: time::OffsetDateTime = time::macros::datetime!(2000-01-01 00:00 UTC);
/// Largest page of incidents one list call returns, and the default.
pub const PAGE_MAX: usize = 200;
pub const PAGE_DEFAULT: usize = 50;
