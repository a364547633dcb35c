//! One large file on several threads. The file's own thread frames records as it always does
//! (and keeps the file's report); helpers parse and normalise them, a chunk at a time; the
//! results come back to the file's thread and are counted and handed on strictly in the order
//! framed, so the records and the report are what one thread would give, byte for byte.
//!
//! Memory is bounded: at most [`IN_FLIGHT_PER_HELPER`] chunks per helper are anywhere between
//! framing and counting, and a chunk closes at [`CHUNK_ITEMS`] items or [`CHUNK_BYTES`] of text
//! (plus the record that crossed it, itself within the record limit).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use super::json::{Item, Position};
use super::{Settled, settle};
use crate::value::Map;

/// Items per chunk.
pub(super) const CHUNK_ITEMS: usize = 256;
/// Text per chunk.
pub(super) const CHUNK_BYTES: usize = 4 << 20;
/// Chunks in flight per helper: one being worked on, one waiting.
const IN_FLIGHT_PER_HELPER: u64 = 2;

/// A framed item that owns its text, to travel to a helper.
enum Owned {
    Record(String, Position),
    Row(Map<'static>, Position),
    Bad(String, Position),
}

impl Owned {
    fn from(item: Item) -> (Owned, usize) {
        match item {
            Item::Record(text, at) => (Owned::Record(text.to_string(), at), text.len()),
            Item::Row(row, at) => {
                let bytes = row.iter().map(|(k, v)| k.len() + v.as_str().map_or(16, str::len)).sum();
                (Owned::Row(row.into_owned(), at), bytes)
            }
            Item::Bad(why, at) => (Owned::Bad(why, at), 0),
        }
    }

    fn settle(self, source_file: &str) -> Settled {
        match self {
            Owned::Record(text, at) => settle(Item::Record(&text, at), source_file),
            Owned::Row(row, at) => settle(Item::Row(row, at), source_file),
            Owned::Bad(why, at) => settle(Item::Bad(why, at), source_file),
        }
    }
}

type Chunk = (u64, Vec<Owned>);
type Results = (u64, Vec<Settled>);

/// Runs `frame` (which hands each framed item to the closure it is given) with `helpers`
/// threads settling the items, and `count`s every settled item in framing order.
pub(super) fn run<T>(
    helpers: usize,
    chunk_items: usize,
    source_file: &str,
    frame: impl FnOnce(&mut dyn FnMut(Item)) -> T,
    count: &mut dyn FnMut(Settled),
) -> T {
    let in_flight = IN_FLIGHT_PER_HELPER * helpers as u64;
    let (jobs, inbox) = sync_channel::<Chunk>(in_flight as usize);
    let (outbox, results) = sync_channel::<Results>(in_flight as usize);
    let inbox = Mutex::new(inbox);
    std::thread::scope(|scope| {
        for _ in 0..helpers {
            let (inbox, outbox) = (&inbox, outbox.clone());
            scope.spawn(move || {
                loop {
                    // The lock is held only to take a chunk, not while working on it.
                    let next = inbox.lock().map_err(|_| ()).and_then(|rx| rx.recv().map_err(|_| ()));
                    let Ok((seq, items)) = next else { return };
                    let settled = items.into_iter().map(|owned| owned.settle(source_file)).collect();
                    if outbox.send((seq, settled)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(outbox);
        let mut line = Line { jobs: Some(jobs), results, in_flight, sent: 0, next: 0, waiting: BTreeMap::new() };
        let mut chunk = Vec::with_capacity(chunk_items);
        let mut bytes = 0;
        let out = frame(&mut |item| {
            let (owned, size) = Owned::from(item);
            chunk.push(owned);
            bytes += size;
            if chunk.len() >= chunk_items || bytes >= CHUNK_BYTES {
                line.send(std::mem::replace(&mut chunk, Vec::with_capacity(chunk_items)), count);
                bytes = 0;
            }
        });
        if !chunk.is_empty() {
            line.send(chunk, count);
        }
        line.jobs = None; // the helpers stop once the last chunk is taken
        while line.next < line.sent && line.take_next(count) {}
        out
    })
}

/// The chunks between this thread and the helpers.
struct Line {
    jobs: Option<SyncSender<Chunk>>,
    results: Receiver<Results>,
    in_flight: u64,
    /// Chunks sent, and the next one to count.
    sent: u64,
    next: u64,
    /// Chunks settled ahead of their turn.
    waiting: BTreeMap<u64, Vec<Settled>>,
}

impl Line {
    /// Sends a chunk, first counting what is due so that no more than `in_flight` chunks are
    /// out (the channels hold that many, so neither side ever waits on the other's full one).
    fn send(&mut self, chunk: Vec<Owned>, count: &mut dyn FnMut(Settled)) {
        while self.sent - self.next >= self.in_flight {
            if !self.take_next(count) {
                return; // a helper failed; its panic ends the scope
            }
        }
        if let Some(jobs) = &self.jobs
            && jobs.send((self.sent, chunk)).is_ok()
        {
            self.sent += 1;
        }
        while let Ok((seq, settled)) = self.results.try_recv() {
            self.waiting.insert(seq, settled);
        }
        self.count_ready(count);
    }

    /// Counts the chunks whose turn has come; whether there was one.
    fn count_ready(&mut self, count: &mut dyn FnMut(Settled)) -> bool {
        let before = self.next;
        while let Some(settled) = self.waiting.remove(&self.next) {
            settled.into_iter().for_each(&mut *count);
            self.next += 1;
        }
        self.next > before
    }

    /// Waits for the next chunk in order and counts it (and any ready after it); false when
    /// no helper is left.
    fn take_next(&mut self, count: &mut dyn FnMut(Settled)) -> bool {
        loop {
            if self.count_ready(count) {
                return true;
            }
            match self.results.recv() {
                Ok((seq, settled)) => {
                    self.waiting.insert(seq, settled);
                }
                Err(_) => return false,
            }
        }
    }
}
