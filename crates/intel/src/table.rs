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
    /// `v4_index[k]` is the first range starting at or after `k << 16`.
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
        let (lo, hi) = (self.v4_index[bucket] as usize, self.v4_index[bucket + 1] as usize);
        let found = lo + self.v4.starts[lo..hi].partition_point(|&start| start <= ip);
        found.checked_sub(1).map(|i| self.v4.values[i]).filter(|&v| v != NONE)
    }

    fn get_v6(&self, ip: u128) -> Option<u32> {
        let found = self.v6.starts.partition_point(|&start| start <= ip);
        found.checked_sub(1).map(|i| self.v6.values[i]).filter(|&v| v != NONE)
    }
}

fn v4_index(starts: &[u32]) -> Vec<u32> {
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

    pub fn read_from(input: &mut impl Read) -> io::Result<RangeTable<V>> {
        let mut bytes = Vec::new();
        input.read_to_end(&mut bytes)?;
        let mut cursor = Cursor { bytes: &bytes, at: 0 };
        if cursor.take(8)? != MAGIC {
            return Err(invalid("not a Sleuth range table"));
        }
        let version = cursor.u32()?;
        if version != FORMAT_VERSION {
            return Err(invalid(format!("range table format {version}, this build reads {FORMAT_VERSION}")));
        }
        let (n4, n6) = (cursor.u32()? as usize, cursor.u32()? as usize);
        let v4_starts = cursor.array(n4, u32::from_le_bytes)?;
        let v4_values = cursor.array(n4, u32::from_le_bytes)?;
        let v6_starts = cursor.array(n6, u128::from_le_bytes)?;
        let v6_values = cursor.array(n6, u32::from_le_bytes)?;
        let values: Vec<V> = serde_json::from_slice(&bytes[cursor.at..]).map_err(invalid)?;
        let sorted = |s: &[u32]| s.windows(2).all(|w| w[0] < w[1]);
        let in_range = |v: &[u32]| v.iter().all(|&v| v == NONE || (v as usize) < values.len());
        if !sorted(&v4_starts)
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

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> io::Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&end| end <= self.bytes.len());
        let end = end.ok_or_else(|| invalid("range table is truncated"))?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn u32(&mut self) -> io::Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    fn array<T, const N: usize>(&mut self, count: usize, decode: fn([u8; N]) -> T) -> io::Result<Vec<T>> {
        let bytes = self.take(count.checked_mul(N).ok_or_else(|| invalid("range table is truncated"))?)?;
        Ok(bytes.chunks_exact(N).map(|c| decode(c.try_into().expect("N bytes"))).collect())
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
