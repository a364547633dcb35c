//! A sorted, gap-free table of address ranges, each mapped to a value number: the one lookup
//! structure behind geolocation, ASN and range lists. IPv4 lookups go through a /16 index to
//! a short binary search; IPv6 is a plain binary search. The file form is a small binary
//! header, the arrays little-endian, then the values as JSON, so a table loads in a few
//! milliseconds and needs no parsing per range.

use std::io::{self, Read, Write};
use std::net::IpAddr;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Value number of a range nobody described.
const NONE: u32 = u32::MAX;
const MAGIC: &[u8; 8] = b"SLEUTHRT";
const FORMAT_VERSION: u32 = 1;

/// Ranges of addresses mapped to values of type `V`.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeTable<V> {
    v4: Side<u32>,
    /// `v4_index[k]` is the first range starting at or after `k << 16`; empty for small
    /// tables, which a plain binary search serves better.
    v4_index: Vec<u32>,
    v6: Side<u128>,
    values: Vec<V>,
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Side<A> {
    starts: Vec<A>,
    values: Vec<u32>,
}

impl<V> RangeTable<V> {
    pub fn values(&self) -> &[V] {
        &self.values
    }

    pub fn range_count(&self) -> usize {
        self.v4.values.iter().chain(&self.v6.values).filter(|&&v| v != NONE).count()
    }

    pub fn get(&self, ip: IpAddr) -> Option<&V> {
        self.values.get(self.get_number(ip)? as usize)
    }

    /// The number of the value covering `ip` (its index in [`RangeTable::values`]).
    pub fn get_number(&self, ip: IpAddr) -> Option<u32> {
        match ip {
            IpAddr::V4(v4) => self.get_v4(v4.to_bits()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => self.get_v4(v4.to_bits()),
                None => self.get_v6(v6.to_bits()),
            },
        }
    }

    fn get_v4(&self, ip: u32) -> Option<u32> {
        let bucket = (ip >> 16) as usize;
        let (lo, hi) = match self.v4_index.get(bucket..bucket + 2) {
            Some(&[lo, hi]) => (lo as usize, hi as usize),
            _ => (0, self.v4.starts.len()),
        };
        let found = lo + self.v4.starts[lo..hi].partition_point(|&start| start <= ip);
        found.checked_sub(1).map(|i| self.v4.values[i]).filter(|&v| v != NONE)
    }

    fn get_v6(&self, ip: u128) -> Option<u32> {
        let found = self.v6.starts.partition_point(|&start| start <= ip);
        found.checked_sub(1).map(|i| self.v6.values[i]).filter(|&v| v != NONE)
    }
}

impl<V> RangeTable<V> {
    /// The same ranges mapped to coarser values (a place to its country, say), adjacent
    /// ranges that now agree merged: a smaller table, faster to search.
    pub fn project<W: Clone + Eq + std::hash::Hash>(&self, f: impl Fn(&V) -> Option<W>) -> RangeTable<W> {
        let mut values: Vec<W> = Vec::new();
        let mut numbers: std::collections::HashMap<W, u32> = std::collections::HashMap::new();
        let mapped: Vec<u32> = self
            .values
            .iter()
            .map(|v| match f(v) {
                Some(w) => *numbers.entry(w.clone()).or_insert_with(|| {
                    values.push(w);
                    (values.len() - 1) as u32
                }),
                None => NONE,
            })
            .collect();
        fn side<A: Copy>(side: &Side<A>, mapped: &[u32]) -> Side<A> {
            let mut out = Side { starts: Vec::new(), values: Vec::new() };
            for (&start, &value) in side.starts.iter().zip(&side.values) {
                let value = if value == NONE { NONE } else { mapped[value as usize] };
                if out.values.last() != Some(&value) {
                    out.starts.push(start);
                    out.values.push(value);
                }
            }
            out
        }
        let v4 = side(&self.v4, &mapped);
        RangeTable { v4_index: v4_index(&v4.starts), v4, v6: side(&self.v6, &mapped), values }
    }
}

/// Tables with fewer ranges than this are searched without an index.
const INDEX_FROM: usize = 4096;

fn v4_index(starts: &[u32]) -> Vec<u32> {
    if starts.len() < INDEX_FROM {
        return Vec::new();
    }
    (0..=1u64 << 16).map(|k| starts.partition_point(|&s| u64::from(s) < k << 16) as u32).collect()
}

/// Builds a table from ranges given in ascending order of start. Overlaps are clipped (the
/// earlier range keeps its addresses), adjacent ranges with the same value merge.
#[derive(Debug)]
pub struct RangeTableBuilder<V> {
    v4: SideBuilder<u32>,
    v6: SideBuilder<u128>,
    values: Vec<V>,
}

impl<V> Default for RangeTableBuilder<V> {
    fn default() -> Self {
        RangeTableBuilder { v4: SideBuilder::default(), v6: SideBuilder::default(), values: Vec::new() }
    }
}

impl<V> RangeTableBuilder<V> {
    /// Adds a value and returns its number for `push_*`.
    pub fn value(&mut self, value: V) -> u32 {
        self.values.push(value);
        (self.values.len() - 1) as u32
    }

    pub fn push_v4(&mut self, start: u32, end: u32, value: u32) {
        self.v4.push(start, end, value);
    }

    pub fn push_v6(&mut self, start: u128, end: u128, value: u32) {
        self.v6.push(start, end, value);
    }

    /// Ranges that arrived out of order or overlapped a previous one, and were clipped.
    pub fn clipped(&self) -> usize {
        self.v4.clipped + self.v6.clipped
    }

    pub fn finish(self) -> RangeTable<V> {
        let v4 = self.v4.finish();
        RangeTable { v4_index: v4_index(&v4.starts), v4, v6: self.v6.finish(), values: self.values }
    }
}

trait Address: Copy + Ord + Default {
    fn next(self) -> Option<Self>;
}

impl Address for u32 {
    fn next(self) -> Option<Self> {
        self.checked_add(1)
    }
}

impl Address for u128 {
    fn next(self) -> Option<Self> {
        self.checked_add(1)
    }
}

#[derive(Debug)]
struct SideBuilder<A> {
    side: Side<A>,
    /// First address no range covers yet; `None` once the whole space is covered.
    next: Option<A>,
    clipped: usize,
}

impl<A: Address> Default for SideBuilder<A> {
    fn default() -> Self {
        SideBuilder { side: Side { starts: Vec::new(), values: Vec::new() }, next: Some(A::default()), clipped: 0 }
    }
}

impl<A: Address> SideBuilder<A> {
    fn push(&mut self, start: A, end: A, value: u32) {
        let Some(next) = self.next else {
            self.clipped += 1;
            return;
        };
        if end < next || end < start {
            self.clipped += 1;
            return;
        }
        let start = if start < next {
            self.clipped += 1;
            next
        } else {
            if start > next {
                self.open(next, NONE);
            }
            start
        };
        self.open(start, value);
        self.next = end.next();
    }

    fn open(&mut self, start: A, value: u32) {
        if self.side.values.last() != Some(&value) {
            self.side.starts.push(start);
            self.side.values.push(value);
        }
    }

    fn finish(mut self) -> Side<A> {
        if let Some(next) = self.next {
            self.open(next, NONE);
        }
        self.side
    }
}

/// Reading and writing the file form.
impl<V: Serialize + DeserializeOwned> RangeTable<V> {
    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        out.write_all(MAGIC)?;
        for n in [FORMAT_VERSION, self.v4.starts.len() as u32, self.v6.starts.len() as u32] {
            out.write_all(&n.to_le_bytes())?;
        }
        let mut bytes = Vec::with_capacity(self.v4.starts.len() * 8 + self.v6.starts.len() * 20);
        bytes.extend(self.v4.starts.iter().flat_map(|s| s.to_le_bytes()));
        bytes.extend(self.v4.values.iter().flat_map(|v| v.to_le_bytes()));
        bytes.extend(self.v6.starts.iter().flat_map(|s| s.to_le_bytes()));
        bytes.extend(self.v6.values.iter().flat_map(|v| v.to_le_bytes()));
        out.write_all(&bytes)?;
        serde_json::to_writer(out, &self.values).map_err(io::Error::other)
    }

    /// Reads a table written by [`RangeTable::write_to`], array by array in small chunks, so
    /// memory holds the table and little more.
    pub fn read_from(input: &mut impl Read) -> io::Result<RangeTable<V>> {
        let mut header = [0u8; 20];
        input.read_exact(&mut header).map_err(truncated)?;
        if &header[..8] != MAGIC {
            return Err(invalid("not a Sleuth range table"));
        }
        let word = |i: usize| u32::from_le_bytes(header[i..i + 4].try_into().expect("4 bytes"));
        if word(8) != FORMAT_VERSION {
            return Err(invalid(format!("range table format {}, this build reads {FORMAT_VERSION}", word(8))));
        }
        let (n4, n6) = (word(12) as usize, word(16) as usize);
        let v4_starts = read_array(input, n4, u32::from_le_bytes)?;
        let v4_values = read_array(input, n4, u32::from_le_bytes)?;
        let v6_starts = read_array(input, n6, u128::from_le_bytes)?;
        let v6_values = read_array(input, n6, u32::from_le_bytes)?;
        let mut json = Vec::new();
        input.read_to_end(&mut json)?;
        let values: Vec<V> = serde_json::from_slice(&json).map_err(invalid)?;
        let in_range = |v: &[u32]| v.iter().all(|&v| v == NONE || (v as usize) < values.len());
        if !v4_starts.windows(2).all(|w| w[0] < w[1])
            || !v6_starts.windows(2).all(|w| w[0] < w[1])
            || !in_range(&v4_values)
            || !in_range(&v6_values)
            || v4_starts.first().is_some_and(|&s| s != 0)
            || v6_starts.first().is_some_and(|&s| s != 0)
        {
            return Err(invalid("range table is not sorted or names values it does not hold"));
        }
        Ok(RangeTable {
            v4_index: v4_index(&v4_starts),
            v4: Side { starts: v4_starts, values: v4_values },
            v6: Side { starts: v6_starts, values: v6_values },
            values,
        })
    }
}

fn read_array<T, const N: usize>(input: &mut impl Read, count: usize, decode: fn([u8; N]) -> T) -> io::Result<Vec<T>> {
    let mut out = Vec::with_capacity(count.min(1 << 24));
    let mut chunk = vec![0u8; 4096 * N];
    let mut left = count;
    while left > 0 {
        let n = left.min(4096);
        input.read_exact(&mut chunk[..n * N]).map_err(truncated)?;
        out.extend(chunk[..n * N].chunks_exact(N).map(|c| decode(c.try_into().expect("N bytes"))));
        left -= n;
    }
    Ok(out)
}

fn truncated(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::UnexpectedEof { invalid("range table is truncated") } else { e }
}

fn invalid(message: impl ToString) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(text: &str) -> u32 {
        text.parse::<std::net::Ipv4Addr>().unwrap().to_bits()
    }

    fn sample() -> RangeTable<String> {
        let mut b = RangeTableBuilder::default();
        let (a, c) = (b.value("A".to_string()), b.value("C".to_string()));
        b.push_v4(v4("1.0.0.0"), v4("1.0.0.255"), a);
        b.push_v4(v4("1.0.1.0"), v4("1.0.3.255"), a); // adjacent, same value: merged
        b.push_v4(v4("1.0.2.0"), v4("1.0.4.255"), c); // overlaps: clipped to 1.0.4.0
        b.push_v4(v4("9.255.255.0"), v4("10.0.0.255"), c); // crosses a /16 boundary
        b.push_v4(v4("255.255.255.0"), v4("255.255.255.255"), a); // to the very end
        b.push_v6(0x2001_0db8 << 96, (0x2001_0db8 << 96) | 0xffff, c);
        assert_eq!(b.clipped(), 1);
        b.finish()
    }

    fn get(table: &RangeTable<String>, ip: &str) -> Option<String> {
        table.get(ip.parse().unwrap()).cloned()
    }

    #[test]
    fn lookups_find_the_covering_range_and_nothing_in_gaps() {
        let t = sample();
        for (ip, want) in [
            ("0.255.255.255", None),
            ("1.0.0.0", Some("A")),
            ("1.0.3.255", Some("A")),
            ("1.0.4.0", Some("C")),
            ("1.0.4.255", Some("C")),
            ("1.0.5.0", None),
            ("9.255.255.1", Some("C")),
            ("10.0.0.1", Some("C")),
            ("10.0.1.0", None),
            ("255.255.255.255", Some("A")),
            ("::ffff:1.0.0.9", Some("A")),
            ("2001:db8::ff", Some("C")),
            ("2001:db8::1:0", None),
            ("::", None),
        ] {
            assert_eq!(get(&t, ip).as_deref(), want, "{ip}");
        }
        assert_eq!(t.range_count(), 5);
        // Projected onto one value, the adjacent A and C ranges merge into one.
        let all = t.project(|v| (v != "none").then_some(1u8));
        assert_eq!(all.range_count(), 4);
        assert_eq!(all.get("1.0.4.255".parse().unwrap()), Some(&1));
        assert_eq!(all.get("1.0.5.0".parse().unwrap()), None);
        let only_c = t.project(|v| (v == "C").then_some(()));
        assert_eq!(only_c.get("1.0.0.1".parse().unwrap()), None);
        assert_eq!(only_c.get("2001:db8::1".parse().unwrap()), Some(&()));
    }

    #[test]
    fn indexed_lookups_agree_with_a_plain_search() {
        // Enough ranges for the /16 index, with gaps, some spanning buckets.
        let mut b = RangeTableBuilder::default();
        let mut ranges = Vec::new();
        let mut start = 7u32;
        for i in 0..20_000u32 {
            let len = 1 + (i.wrapping_mul(2_654_435_761) % 300_000);
            let value = b.value(i);
            b.push_v4(start, start + len, value);
            ranges.push((start, start + len, i));
            start += len + 1 + (i % 3) * 1000;
        }
        let t = b.finish();
        assert!(!t.v4_index.is_empty());
        for probe in (0..start + 10).step_by(9_973) {
            let before = ranges.partition_point(|&(s, _, _)| s <= probe);
            let want = before.checked_sub(1).map(|i| ranges[i]).filter(|&(_, e, _)| probe <= e).map(|r| r.2);
            assert_eq!(t.get(IpAddr::V4(probe.into())).copied(), want, "{probe}");
        }
    }

    #[test]
    fn the_file_form_round_trips_and_rejects_damage() {
        let t = sample();
        let mut bytes = Vec::new();
        t.write_to(&mut bytes).unwrap();
        assert_eq!(RangeTable::<String>::read_from(&mut &bytes[..]).unwrap(), t);
        for cut in [0, 7, 20, bytes.len() - 3] {
            assert!(RangeTable::<String>::read_from(&mut &bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut unsorted = bytes.clone();
        unsorted[20..24].copy_from_slice(&u32::MAX.to_le_bytes()); // the first v4 start must be 0
        assert!(RangeTable::<String>::read_from(&mut &unsorted[..]).is_err());
    }
}
