//! Offline intelligence for the later stages: what an IP address and a user agent are, and
//! whether two sign-ins are physically compatible. Detections and investigation questions use
//! this one implementation (and, through the store, SQL functions built on it).
//!
//! ```
//! use sleuth_intel::{UaClass, classify_user_agent};
//! let ua = classify_user_agent("node-fetch/1.0 (+https://github.com/bitinn/node-fetch)");
//! assert_eq!(ua.class, UaClass::Automation);
//! ```
//!
//! This crate holds the parts that need no data: special address ranges, user-agent classes
//! and travel physics. Geolocation, ASN and hosting / VPN / Tor classes from openly licensed
//! databases come next.

mod ranges;
mod travel;
mod ua;

pub use ranges::{SpecialRange, special_range};
pub use travel::{Position, Travel, distance_km};
pub use ua::{UaClass, UserAgent, classify as classify_user_agent};
