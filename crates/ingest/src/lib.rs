//! The first stage of Sleuth's pipeline: reading exported Entra ID and Microsoft 365 logs.
//!
//! ```text
//! files ─► read (archive, gzip, UTF-16, JSON document / JSON lines / CSV) ─► normalise ─► Record
//! ```
//!
//! Reading is bounded by [`Limits`] (record, field, decompressed size, inflation ratio): the
//! memory an ingest takes depends on them, never on the input, and a bad record costs only
//! itself.
//!
//! The dialect and the kind of each record are recognised from content, never from file
//! names: Microsoft Graph JSON (v1.0 and beta, and the Graph PowerShell SDK's objects), Azure
//! Monitor diagnostic records, Log Analytics / Sentinel exports (CSV, JSON, query API
//! responses), Entra portal CSV downloads, Purview Unified Audit Log (CSV, JSON, through
//! Graph), Exchange message trace, Microsoft Graph activity and the Azure Activity log (see
//! docs/dialects.md). Every record becomes one of the normalised [`Record`] kinds
//! (see [`Table`] for the columns and their documentation), or is counted in the file's
//! [`FileReport`] as invalid (with its position and the reason) or unrecognised.
//!
//! ```
//! let export = r#"{"value":[{"id":"1","createdDateTime":"2024-09-26T18:03:36Z",
//!   "userPrincipalName":"Jac@Contoso.com","appDisplayName":"Microsoft Graph",
//!   "ipAddress":"89.187.164.135","status":{"errorCode":0}}]}"#;
//! let mut records = Vec::new();
//! let report = sleuth_ingest::read_stream("signins.json", export.as_bytes(), &Default::default(), &mut |r| records.push(r));
//! assert_eq!(report.total(), 1);
//! let sleuth_ingest::Record::SignIn(signin) = &records[0] else { panic!() };
//! assert_eq!(signin.user_principal_name.as_deref(), Some("jac@contoso.com"));
//! ```

mod fields;
mod limits;
mod normalise;
mod read;
mod schema;
pub mod time;
pub mod value;

pub use limits::{INFLATE_GRACE, Limits};
pub use normalise::{Dialect, Outcome, normalise};
pub use read::{FileReport, FileStatus, Format, MAX_PROBLEMS, Position, Problem, files, read_path, read_stream};
pub use schema::{
    Audit, AzureActivity, Cell, Column, DirectoryUser, GraphActivity, Kind, MailboxActivity, MessageTrace, PimAlert,
    Record, RiskDetection, ServicePrincipalSignIn, SignIn, Table,
};
