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
//! Addresses: [`Intel`] answers from the databases `sleuth intel update` compiles into a data
//! directory (geolocation, ASNs, provider ranges; see [`update`]) and from the curated lists
//! compiled into the crate (`lists/`).

mod databases;
mod installed;
mod lists;
mod lookup;
#[cfg(feature = "online")]
pub mod online;
mod ranges;
mod shared;
mod table;
mod travel;
mod ua;
pub mod update;

pub use databases::{
    Asn, CITY_ACCURACY_KM, COUNTRY_ACCURACY_KM, CompileError, Origin, Place, PlaceRef, compile_asns_csv,
    compile_origins,
};
pub use installed::{InstalledError, Part, Source, Sources, default_dir};
pub use lists::{List, ListEntry, ListKind, Selector};
pub use lookup::{Disagreement, Evidence, Intel, IpClass, IpInfo, LOCATION_TOLERANCE_KM, LogFacts};
pub use ranges::{SpecialRange, special_range};
pub use shared::SharedIntel;
pub use table::{RangeTable, RangeTableBuilder};
pub use travel::{Position, Travel, distance_km};
pub use ua::{
    Marker as UserAgentMarker, USER_FILE as USER_AGENT_FILE, UaClass, UserAgent, class_of as user_agent_class,
    classify as classify_user_agent, user_markers as user_agent_list,
};
