//! Exchange Online message trace: Get-MessageTrace output (one recipient per row) and the
//! historical search CSV (`recipient_status` holds `address##status` for one or more
//! recipients, separated by `;`), as in seed 003.

use super::{Dialect, Origin, Outcome, derived_id};
use crate::fields::{Fields, normalise_ip};
use crate::schema::{MessageTrace, Record};

pub(super) fn normalise(f: Fields, origin: &Origin) -> Outcome {
    match read(f, origin) {
        Ok(records) => Outcome::Records(records.into_iter().map(Record::MessageTrace).collect()),
        Err(e) => Outcome::Invalid(e),
    }
}

fn read(f: Fields, origin: &Origin) -> Result<Vec<MessageTrace>, String> {
    let time = f.time(&["Received", "origin_timestamp_utc", "date_time_utc"]);
    let recipients: Vec<(Option<String>, Option<String>)> = match f.text(&["recipient_status"]) {
        Some(text) => text
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|entry| match entry.split_once("##") {
                Some((address, status)) => (Some(address.trim().to_lowercase()), Some(status.trim().to_string())),
                None => (Some(entry.to_lowercase()), None),
            })
            .collect(),
        None => vec![(f.lower(&["RecipientAddress", "recipient_address"]), f.text(&["Status", "status"]))],
    };
    let key = f
        .text(&["MessageTraceId"])
        .or_else(|| f.text(&["network_message_id", "NetworkMessageId"]))
        .or_else(|| f.text(&["MessageId", "message_id"]))
        .unwrap_or_else(|| derived_id(origin.raw));

    Ok(recipients
        .into_iter()
        .map(|(recipient, status)| MessageTrace {
            record_id: Some(format!("{key}:{}", recipient.as_deref().unwrap_or_default())),
            time,
            sender_address: f.lower(&["SenderAddress", "sender_address"]),
            recipient_address: recipient,
            status,
            subject: f.text(&["Subject", "message_subject"]),
            message_id: f.text(&["MessageId", "message_id"]),
            network_message_id: f.text(&["network_message_id", "NetworkMessageId"]),
            original_client_ip: f.text(&["FromIP", "original_client_ip"]).and_then(|ip| normalise_ip(&ip)),
            to_ip: f.text(&["ToIP"]).and_then(|ip| normalise_ip(&ip)),
            directionality: f.text(&["directionality", "Directionality"]),
            size_bytes: f.int(&["Size", "total_bytes"]),
            connector_id: f.text(&["connector_id", "ConnectorId"]),
            dialect: Some(Dialect::MessageTrace.name().to_string()),
            source_file: Some(origin.source_file.to_string()),
            raw: Some(origin.raw.to_string()),
        })
        .collect())
}
