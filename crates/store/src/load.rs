//! Loading: files read, normalised and written into the store in one ingest. The CLI's
//! `ingest`, the collector's `--store` and the server call this one function; they differ only
//! in how they show [`Step`]s.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use sleuth_ingest::{FileReport, Limits, Record};

use crate::{Ingest, IngestSummary, StoreError};

/// What has happened, for a progress display.
#[derive(Debug, Clone, Copy)]
pub enum Step<'a> {
    /// The writer starts taking this file's records.
    Reading(&'a Path),
    /// This file (of this many bytes on disk) is written.
    Read(&'a Path, u64),
}

/// What a load did: each file's report (archive members each have one), and the ingest's
/// counts once committed.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub reports: Vec<FileReport>,
    pub summary: IngestSummary,
}

/// Records handed from a reading thread to the writer at a time.
const HANDOFF: usize = 512;

/// What a reading thread hands on for one file: batches of records, then the file's reports.
enum Chunk {
    Records(Vec<Record>),
    Done(Vec<FileReport>),
}

/// Reads `files` within `limits` and commits their records in `ingest`. Files are read and
/// normalised on one thread per core while this thread deduplicates, encodes and writes.
/// Worker `k` reads files `k, k + n, k + 2n ...`; the writer takes their output strictly in
/// file order, so the store is exactly what a single thread would write. Bounded channels
/// keep memory bounded: a worker ahead of its turn waits. On an error nothing is committed.
pub fn load(
    files: &[PathBuf],
    limits: &Limits,
    mut ingest: Ingest<'_>,
    progress: &mut dyn FnMut(Step),
) -> Result<Loaded, StoreError> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8).min(files.len().max(1));
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let mut inboxes = Vec::with_capacity(workers);
        for k in 0..workers {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(8);
            inboxes.push(rx);
            let stop = &stop;
            scope.spawn(move || {
                for file in files.iter().skip(k).step_by(workers) {
                    let mut pending = Vec::with_capacity(HANDOFF);
                    let reports = sleuth_ingest::read_path(file, limits, &mut |record| {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        pending.push(record);
                        if pending.len() >= HANDOFF {
                            let batch = std::mem::replace(&mut pending, Vec::with_capacity(HANDOFF));
                            if tx.send(Chunk::Records(batch)).is_err() {
                                stop.store(true, Ordering::Relaxed);
                            }
                        }
                    });
                    if tx.send(Chunk::Records(pending)).and_then(|()| tx.send(Chunk::Done(reports))).is_err() {
                        return;
                    }
                }
            });
        }
        let result = (|| -> Result<Loaded, StoreError> {
            let mut reports = Vec::new();
            for (i, file) in files.iter().enumerate() {
                progress(Step::Reading(file));
                loop {
                    match inboxes[i % workers].recv().map_err(|_| StoreError::ReaderStopped)? {
                        Chunk::Records(batch) => {
                            for record in &batch {
                                ingest.push(record)?;
                            }
                        }
                        Chunk::Done(file_reports) => {
                            reports.extend(file_reports);
                            break;
                        }
                    }
                }
                progress(Step::Read(file, file.metadata().map(|m| m.len()).unwrap_or(0)));
            }
            let summary = ingest.commit()?;
            Ok(Loaded { reports, summary })
        })();
        stop.store(true, Ordering::Relaxed);
        drop(inboxes);
        result
    })
}
