//! Integration-test crate: see tests/.
