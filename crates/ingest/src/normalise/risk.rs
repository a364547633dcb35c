//! Identity Protection: risk detections (Graph riskDetection, AADUserRiskEvents, diagnostic
//! UserRiskEvents) and risky-user states (Graph riskyUser, AADRiskyUsers).

use super::{Dialect, Origin, Outcome, derived_id, outcome, require};
use crate::fields::{Fields, check_coordinates, normalise_ip};
use crate::schema::{Record, RiskDetection};

pub(super) fn detection(f: Fields, dialect: Dialect, origin: &Origin) -> Outcome {
    outcome(read_detection(f, dialect, origin).map(Record::RiskDetection))
}

pub(super) fn risky_user(f: Fields, dialect: Dialect, origin: &Origin) -> Outcome {
    outcome(read_risky_user(f, dialect, origin).map(Record::RiskDetection))
}

fn read_detection(f: Fields, dialect: Dialect, origin: &Origin) -> Result<RiskDetection, String> {
    let location = f.object(&["location", "Location"]);
    let geo = location.and_then(|l| l.object(&["geoCoordinates"]));
    let latitude = geo.and_then(|g| g.float(&["latitude"]));
    let longitude = geo.and_then(|g| g.float(&["longitude"]));
    Ok(RiskDetection {
        record_id: Some(f.text(&["id", "Id"]).unwrap_or_else(|| derived_id(origin.raw))),
        time: f.time(&["detectedDateTime", "DetectedDateTime", "TimeGenerated", "time"]),
        record_kind: Some("riskDetection".into()),
        activity_time: f.time(&["activityDateTime", "ActivityDateTime"]),
        user_principal_name: f.lower(&["userPrincipalName", "UserPrincipalName"]),
        user_id: f.text(&["userId", "UserId"]),
        user_display_name: f.text(&["userDisplayName", "UserDisplayName"]),
        risk_event_type: f.text(&["riskEventType", "RiskEventType"]),
        risk_level: f.text(&["riskLevel", "RiskLevel"]),
        risk_state: f.text(&["riskState", "RiskState"]),
        risk_detail: f.text(&["riskDetail", "RiskDetail"]),
        detection_timing_type: f.text(&["detectionTimingType", "DetectionTimingType"]),
        source: f.text(&["source", "Source"]),
        activity: f.text(&["activity", "Activity"]),
        ip_address: f.text(&["ipAddress", "IpAddress", "IPAddress"]).and_then(|ip| normalise_ip(&ip)),
        country: location.and_then(|l| l.text(&["countryOrRegion"])).map(|c| c.to_ascii_uppercase()),
        state: location.and_then(|l| l.text(&["state"])),
        city: location.and_then(|l| l.text(&["city"])),
        latitude,
        longitude,
        coordinates_valid: Some(check_coordinates(latitude, longitude).0),
        request_id: f.text(&["requestId", "RequestId"]),
        correlation_id: f.text(&["correlationId", "CorrelationId"]),
        additional_info: f.json(&["additionalInfo", "AdditionalInfo"]),
        dialect: Some(dialect.name().to_string()),
        source_file: Some(origin.source_file.to_string()),
        raw: Some(origin.raw.to_string()),
    })
}

fn read_risky_user(f: Fields, dialect: Dialect, origin: &Origin) -> Result<RiskDetection, String> {
    let user_id = require(f.text(&["id", "Id", "userId", "UserId"]), "risky user id (id, Id)")?;
    let time = require(
        f.time(&["riskLastUpdatedDateTime", "RiskLastUpdatedDateTime", "TimeGenerated"]),
        "risk update time (riskLastUpdatedDateTime)",
    )?;
    Ok(RiskDetection {
        // A risky user is a state that changes over time: one row per state.
        record_id: Some(format!("riskyUser:{user_id}:{}", time.timestamp_micros())),
        time: Some(time),
        record_kind: Some("riskyUser".into()),
        user_principal_name: f.lower(&["userPrincipalName", "UserPrincipalName"]),
        user_id: Some(user_id),
        user_display_name: f.text(&["userDisplayName", "UserDisplayName"]),
        risk_level: f.text(&["riskLevel", "RiskLevel"]),
        risk_state: f.text(&["riskState", "RiskState"]),
        risk_detail: f.text(&["riskDetail", "RiskDetail"]),
        coordinates_valid: Some(false),
        dialect: Some(dialect.name().to_string()),
        source_file: Some(origin.source_file.to_string()),
        raw: Some(origin.raw.to_string()),
        ..Default::default()
    })
}
