//! A sorted, gap-free table of address ranges, each mapped to a value number: the one lookup
//! structure behind geolocation, ASN and range lists. IPv4 lookups go through a /16 index to
//! a short binary search; IPv6 is a plain binary search.
//!
//! The in-memory form is the file form: a header, little-endian arrays (the /16 index, the
//! range starts and their value numbers), then each value encoded on its own (postcard, a
//! compact binary form of serde's data model). An installed
//! table is memory-mapped, so opening one costs a page or two whatever its size, a lookup
//! touches only the pages its binary search visits, and a value is decoded only when it is
//! asked for. Tables built in memory (the curated lists, tests) use the same bytes in a
//! vector.

use std::fs::File;
use std::io::{self, Read, Write};
use std::marker::PhantomData;
use std::net::IpAddr;
use std::ops::Range;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Value number of a range nobody described.
const NONE: u32 = u32::MAX;
const MAGIC: &[u8; 8] = b"SLEUTHRT";
const FORMAT_VERSION: u32 = 2;
/// Magic, format version, then the counts: IPv4 ranges, IPv6 ranges, values, index entries.
const HEADER_LEN: usize = 8 + 4 * 5;
/// Entries of the /16 index when there is one: a bound for each bucket, and the end.
const INDEX_LEN: usize = (1 << 16) + 1;
/// Tables with fewer IPv4 ranges than this are searched without an index.
const INDEX_FROM: usize = 4096;

/// Ranges of addresses mapped to values of type `V`.
pub struct RangeTable<V> {
    bytes: Bytes,
    layout: Layout,
    value: PhantomData<fn() -> V>,
}

/// The bytes of a table: built in memory, or an installed file mapped read-only.
enum Bytes {
    Owned(Vec<u8>),
    Mapped(memmap2::Mmap),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Owned(bytes) => bytes,
            Bytes::Mapped(map) => map,
        }
    }
}

/// Where each section starts, from the header's counts.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Layout {
    n4: usize,
    n6: usize,
    n_values: usize,
    index: usize,
    index_len: usize,
    v4_starts: usize,
    v4_values: usize,
    v6_starts: usize,
    v6_values: usize,
    /// The end of each value's encoding, counted from `encoded`.
    value_ends: usize,
    encoded: usize,
}

impl Layout {
    fn new(n4: usize, n6: usize, n_values: usize, index_len: usize) -> Option<Layout> {
        let index = HEADER_LEN;
        let v4_starts = index.checked_add(index_len.checked_mul(4)?)?;
        let v4_values = v4_starts.checked_add(n4.checked_mul(4)?)?;
        let v6_starts = v4_values.checked_add(n4.checked_mul(4)?)?;
        let v6_values = v6_starts.checked_add(n6.checked_mul(16)?)?;
        let value_ends = v6_values.checked_add(n6.checked_mul(4)?)?;
        let encoded = value_ends.checked_add(n_values.checked_mul(4)?)?;
        Some(Layout {
            n4,
            n6,
            n_values,
            index,
            index_len,
            v4_starts,
            v4_values,
            v6_starts,
            v6_values,
            value_ends,
            encoded,
        })
    }
}

impl<V> std::fmt::Debug for RangeTable<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mapped = matches!(self.bytes, Bytes::Mapped(_));
        f.debug_struct("RangeTable")
            .field("v4_ranges", &self.layout.n4)
            .field("v6_ranges", &self.layout.n6)
            .field("values", &self.layout.n_values)
            .field("mapped", &mapped)
            .finish()
    }
}

impl<V> PartialEq for RangeTable<V> {
    fn eq(&self, other: &Self) -> bool {
        *self.bytes == *other.bytes
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn u128_at(bytes: &[u8], at: usize) -> u128 {
    u128::from_le_bytes(bytes[at..at + 16].try_into().expect("16 bytes"))
}

/// The first position in `range` where `before` stops holding (`before` must hold for a
/// prefix of the range), as [`slice::partition_point`].
fn partition_point(range: Range<usize>, before: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (range.start, range.end);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if before(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

impl<V> RangeTable<V> {
    pub fn value_count(&self) -> usize {
        self.layout.n_values
    }

    pub fn range_count(&self) -> usize {
        let (b, l) = (&*self.bytes, &self.layout);
        let v4 = (0..l.n4).filter(|&i| u32_at(b, l.v4_values + 4 * i) != NONE).count();
        let v6 = (0..l.n6).filter(|&i| u32_at(b, l.v6_values + 4 * i) != NONE).count();
        v4 + v6
    }

    /// The number of the value covering `ip` (an index for [`RangeTable::value`]).
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
        let (b, l) = (&*self.bytes, &self.layout);
        let bucket = (ip >> 16) as usize;
        let (lo, hi) = if l.index_len == INDEX_LEN {
            let bound = |k: usize| (u32_at(b, l.index + 4 * k) as usize).min(l.n4);
            (bound(bucket), bound(bucket + 1))
        } else {
            (0, l.n4)
        };
        let found = partition_point(lo..hi.max(lo), |i| u32_at(b, l.v4_starts + 4 * i) <= ip);
        found.checked_sub(1).map(|i| u32_at(b, l.v4_values + 4 * i)).filter(|&v| v != NONE)
    }

    fn get_v6(&self, ip: u128) -> Option<u32> {
        let (b, l) = (&*self.bytes, &self.layout);
        let found = partition_point(0..l.n6, |i| u128_at(b, l.v6_starts + 16 * i) <= ip);
        found.checked_sub(1).map(|i| u32_at(b, l.v6_values + 4 * i)).filter(|&v| v != NONE)
    }

    /// The encoded bytes of value `number`.
    fn encoded(&self, number: u32) -> Option<&[u8]> {
        let (b, l) = (&*self.bytes, &self.layout);
        let number = number as usize;
        if number >= l.n_values {
            return None;
        }
        let end = u32_at(b, l.value_ends + 4 * number) as usize;
        let start = if number == 0 { 0 } else { u32_at(b, l.value_ends + 4 * (number - 1)) as usize };
        b.get(l.encoded + start..l.encoded + end)
    }
}

impl<V: DeserializeOwned> RangeTable<V> {
    /// Value `number`, decoded. `None` for a number the table does not hold, or a value
    /// that does not decode (a damaged file: opening checks the layout, not every value).
    pub fn value(&self, number: u32) -> Option<V> {
        postcard::from_bytes(self.encoded(number)?).ok()
    }

    /// The value covering `ip`, decoded.
    pub fn get(&self, ip: IpAddr) -> Option<V> {
        self.value(self.get_number(ip)?)
    }

    /// The value covering `ip` decoded as `T`: a view of `V` (the same fields in the same
    /// order) that borrows its strings from the table instead of copying them.
    pub fn get_borrowed<'a, T: serde::Deserialize<'a>>(&'a self, ip: IpAddr) -> Option<T> {
        postcard::from_bytes(self.encoded(self.get_number(ip)?)?).ok()
    }

    /// Every value in number order, decoded (`None` where one does not decode).
    pub fn values(&self) -> impl Iterator<Item = Option<V>> + '_ {
        (0..self.layout.n_values as u32).map(|number| self.value(number))
    }

    /// Every value in number order, decoded, or an error naming the first that does not
    /// decode: for small tables asked so often that their values are kept decoded.
    pub fn decode_values(&self) -> io::Result<Vec<V>> {
        (0..self.layout.n_values as u32)
            .map(|number| {
                let bytes = self.encoded(number).ok_or_else(|| invalid(format!("value {number} is missing")))?;
                postcard::from_bytes(bytes).map_err(|e| invalid(format!("value {number}: {e}")))
            })
            .collect()
    }

    /// The same ranges mapped to coarser values (a place to its country, say), adjacent
    /// ranges that now agree merged: a smaller table, faster to search.
    pub fn project<W: Serialize + Clone + Eq + std::hash::Hash>(&self, f: impl Fn(&V) -> Option<W>) -> RangeTable<W> {
        let mut values: Vec<W> = Vec::new();
        let mut numbers: std::collections::HashMap<W, u32> = std::collections::HashMap::new();
        let mapped: Vec<u32> = self
            .values()
            .map(|v| match v.as_ref().and_then(&f) {
                Some(w) => *numbers.entry(w.clone()).or_insert_with(|| {
                    values.push(w);
                    (values.len() - 1) as u32
                }),
                None => NONE,
            })
            .collect();
        let (b, l) = (&*self.bytes, &self.layout);
        let remap = |value: u32| mapped.get(value as usize).copied().unwrap_or(NONE);
        let mut v4 = Side::default();
        for i in 0..l.n4 {
            v4.open(u32_at(b, l.v4_starts + 4 * i), remap(u32_at(b, l.v4_values + 4 * i)));
        }
        let mut v6 = Side::default();
        for i in 0..l.n6 {
            v6.open(u128_at(b, l.v6_starts + 16 * i), remap(u32_at(b, l.v6_values + 4 * i)));
        }
        RangeTable::encode(&v4, &v6, &values)
    }
}

/// Range starts and the value number from each start on, adjacent equal values merged.
#[derive(Debug, Clone, PartialEq)]
struct Side<A> {
    starts: Vec<A>,
    values: Vec<u32>,
}

impl<A> Default for Side<A> {
    fn default() -> Self {
        Side { starts: Vec::new(), values: Vec::new() }
    }
}

impl<A> Side<A> {
    fn open(&mut self, start: A, value: u32) {
        if self.values.last() != Some(&value) {
            self.starts.push(start);
            self.values.push(value);
        }
    }
}

impl<V: Serialize> RangeTable<V> {
    /// The bytes of a table over these ranges and values.
    fn encode(v4: &Side<u32>, v6: &Side<u128>, values: &[V]) -> RangeTable<V> {
        let index: Vec<u32> = if v4.starts.len() < INDEX_FROM {
            Vec::new()
        } else {
            (0..INDEX_LEN as u64).map(|k| v4.starts.partition_point(|&s| u64::from(s) < k << 16) as u32).collect()
        };
        let mut encoded = Vec::new();
        let mut ends = Vec::with_capacity(values.len());
        for value in values {
            encoded = postcard::to_extend(value, encoded).expect("range table values encode");
            ends.push(u32::try_from(encoded.len()).expect("range table values under 4 GiB"));
        }
        let layout =
            Layout::new(v4.starts.len(), v6.starts.len(), values.len(), index.len()).expect("table fits memory");
        let mut bytes = Vec::with_capacity(layout.encoded + encoded.len());
        bytes.extend_from_slice(MAGIC);
        for n in [FORMAT_VERSION, layout.n4 as u32, layout.n6 as u32, layout.n_values as u32, layout.index_len as u32] {
            bytes.extend(n.to_le_bytes());
        }
        bytes.extend(index.iter().flat_map(|s| s.to_le_bytes()));
        bytes.extend(v4.starts.iter().flat_map(|s| s.to_le_bytes()));
        bytes.extend(v4.values.iter().flat_map(|v| v.to_le_bytes()));
        bytes.extend(v6.starts.iter().flat_map(|s| s.to_le_bytes()));
        bytes.extend(v6.values.iter().flat_map(|v| v.to_le_bytes()));
        bytes.extend(ends.iter().flat_map(|e| e.to_le_bytes()));
        debug_assert_eq!(bytes.len(), layout.encoded);
        bytes.extend(encoded);
        RangeTable { bytes: Bytes::Owned(bytes), layout, value: PhantomData }
    }
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

impl<V: Serialize> RangeTableBuilder<V> {
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
        RangeTable::encode(&self.v4.finish(), &self.v6.finish(), &self.values)
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
        SideBuilder { side: Side::default(), next: Some(A::default()), clipped: 0 }
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
                self.side.open(next, NONE);
            }
            start
        };
        self.side.open(start, value);
        self.next = end.next();
    }

    fn finish(mut self) -> Side<A> {
        if let Some(next) = self.next {
            self.side.open(next, NONE);
        }
        self.side
    }
}

/// Reading and writing the file form.
impl<V> RangeTable<V> {
    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        out.write_all(&self.bytes)
    }

    /// Reads a table written by [`RangeTable::write_to`] into memory.
    pub fn read_from(input: &mut impl Read) -> io::Result<RangeTable<V>> {
        let mut bytes = Vec::new();
        input.read_to_end(&mut bytes)?;
        RangeTable::from_bytes(Bytes::Owned(bytes))
    }

    /// Maps an installed table read-only.
    pub fn open(path: &Path) -> io::Result<RangeTable<V>> {
        let file = File::open(path)?;
        // Checked before mapping: an empty file cannot be mapped, and this says why.
        if file.metadata()?.len() < HEADER_LEN as u64 {
            return Err(invalid("range table is truncated"));
        }
        // SAFETY: a mapping is undefined behaviour if the file changes under it. Installed
        // tables are written once into a staging directory that `sleuth intel update` then
        // swaps in by renaming; no Sleuth code writes a table in place.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(&file)? };
        RangeTable::from_bytes(Bytes::Mapped(map))
    }

    /// Checks the header and the layout: the counts, the index, the value offsets and that
    /// each side starts at address zero. The order of the range starts is not checked (that
    /// would read every page); tables are written sorted by [`RangeTableBuilder`], and a
    /// damaged order gives wrong answers, never a crash.
    fn from_bytes(bytes: Bytes) -> io::Result<RangeTable<V>> {
        if bytes.len() < HEADER_LEN {
            return Err(invalid("range table is truncated"));
        }
        if &bytes[..8] != MAGIC {
            return Err(invalid("not a Sleuth range table"));
        }
        let word = |i: usize| u32_at(&bytes, 8 + 4 * i) as usize;
        if word(0) != FORMAT_VERSION as usize {
            return Err(invalid(format!(
                "range table format {}, this build reads {FORMAT_VERSION}; run `sleuth intel update`",
                word(0)
            )));
        }
        let (n4, n6, n_values, index_len) = (word(1), word(2), word(3), word(4));
        if index_len != 0 && index_len != INDEX_LEN {
            return Err(invalid("range table index has the wrong size"));
        }
        let layout = Layout::new(n4, n6, n_values, index_len).ok_or_else(|| invalid("range table counts overflow"))?;
        if bytes.len() < layout.encoded {
            return Err(invalid("range table is truncated"));
        }
        let encoded_len = bytes.len() - layout.encoded;
        let ends = (0..n_values).map(|i| u32_at(&bytes, layout.value_ends + 4 * i) as usize);
        let mut last = 0;
        for end in ends {
            if end < last || end > encoded_len {
                return Err(invalid("range table values are damaged"));
            }
            last = end;
        }
        if last != encoded_len {
            return Err(invalid("range table is truncated"));
        }
        let index = (0..index_len).map(|k| u32_at(&bytes, layout.index + 4 * k) as usize);
        if index.clone().zip(index.skip(1)).any(|(a, b)| a > b || b > n4) {
            return Err(invalid("range table index is damaged"));
        }
        let starts_at_zero =
            (n4 == 0 || u32_at(&bytes, layout.v4_starts) == 0) && (n6 == 0 || u128_at(&bytes, layout.v6_starts) == 0);
        if !starts_at_zero {
            return Err(invalid("range table is not sorted"));
        }
        Ok(RangeTable { bytes, layout, value: PhantomData })
    }
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
        table.get(ip.parse().unwrap())
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
        assert_eq!(all.get("1.0.4.255".parse().unwrap()), Some(1));
        assert_eq!(all.get("1.0.5.0".parse().unwrap()), None);
        let only_c = t.project(|v| (v == "C").then_some(()));
        assert_eq!(only_c.get("1.0.0.1".parse().unwrap()), None);
        assert_eq!(only_c.get("2001:db8::1".parse().unwrap()), Some(()));
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
        assert_eq!(t.layout.index_len, INDEX_LEN);
        for probe in (0..start + 10).step_by(9_973) {
            let before = ranges.partition_point(|&(s, _, _)| s <= probe);
            let want = before.checked_sub(1).map(|i| ranges[i]).filter(|&(_, e, _)| probe <= e).map(|r| r.2);
            assert_eq!(t.get(IpAddr::V4(probe.into())), want, "{probe}");
        }
    }

    #[test]
    fn the_file_form_round_trips_mapped_or_read_and_rejects_damage() {
        let t = sample();
        let mut bytes = Vec::new();
        t.write_to(&mut bytes).unwrap();
        assert_eq!(RangeTable::<String>::read_from(&mut &bytes[..]).unwrap(), t);
        let path = std::env::temp_dir().join(format!("sleuth-range-table-{}.table", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        let mapped = RangeTable::<String>::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(mapped, t);
        assert!(format!("{mapped:?}").contains("mapped: true"));
        assert_eq!(get(&mapped, "1.0.4.0").as_deref(), Some("C"));
        assert_eq!(get(&mapped, "2001:db8::ff").as_deref(), Some("C"));
        assert_eq!(mapped.value(2), None);

        for cut in [0, 7, 27, HEADER_LEN + 4, bytes.len() - 3] {
            assert!(RangeTable::<String>::read_from(&mut &bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut unsorted = bytes.clone();
        // The first IPv4 start (this table has no index) must be address zero.
        unsorted[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(RangeTable::<String>::read_from(&mut &unsorted[..]).is_err());
        let mut old = bytes.clone();
        old[8..12].copy_from_slice(&1u32.to_le_bytes());
        let error = RangeTable::<String>::read_from(&mut &old[..]).unwrap_err().to_string();
        assert!(error.contains("format 1") && error.contains("sleuth intel update"), "{error}");
    }

    #[test]
    fn a_value_that_does_not_decode_is_absent_not_a_panic() {
        let t = sample();
        let mut bytes = Vec::new();
        t.write_to(&mut bytes).unwrap();
        // The values are encoded as [1, 'A', 1, 'C']: make the first one's length overrun.
        let at = bytes.len() - 4;
        assert_eq!(&bytes[at..], &[1, b'A', 1, b'C']);
        bytes[at] = 9;
        let damaged = RangeTable::<String>::read_from(&mut &bytes[..]).unwrap();
        assert_eq!(get(&damaged, "1.0.0.1"), None);
        assert_eq!(get(&damaged, "1.0.4.0").as_deref(), Some("C"));
    }
}
