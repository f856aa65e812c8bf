//! An exact distribution of response times at 1 µs resolution, for
//! `access_log`'s `avg`/`p95`/`p99` in one pass without keeping the lines;
//! and [`Values`], the same nearest-rank percentiles over any numbers, for
//! `log`'s `value:`.
//!
//! Apache's `%D` is an integer number of microseconds and nginx's
//! `$request_time` has millisecond resolution, so counting how often each
//! microsecond value occurs loses nothing: a nearest-rank percentile read
//! from the counts is the value `sort -n | sed -n Np` would print. Memory
//! grows with the number of *distinct* values, never with the number of
//! lines: values are grouped in pages of 1024 µs; a page holds a short list
//! of (offset, count) while few of its values occur, and becomes a plain
//! array of 1024 16-bit counters once many do (32-bit if one overflows). A
//! typical log (most requests under a second, a sparse slow tail) needs
//! about 2 MB however long it is; the worst case is 4 bytes per microsecond
//! of the range that actually occurs.

use std::collections::BTreeMap;

const PAGE_BITS: u32 = 10;
const PAGE: usize = 1 << PAGE_BITS;
const MASK: u64 = PAGE as u64 - 1;
/// Values below `DIRECT_PAGES * PAGE` µs (67 s) live in the page table;
/// slower ones (rare by nature) in a sorted map.
const DIRECT_PAGES: usize = 1 << 16;
/// A sparse page turns dense when it holds this many distinct values
/// (at that point the list costs as much as a quarter of the array).
const SPARSE_MAX: usize = 64;

/// 16-bit counters keep the busy pages of a typical log (a few MB of them)
/// in the CPU cache; a page whose counter would pass 65535 is widened.
#[derive(Debug)]
enum Page {
    Sparse(Vec<(u16, u32)>),
    Dense(Box<[u16; PAGE]>),
    Wide(Box<[u32; PAGE]>),
}

/// Counts of microsecond values; see the module doc.
#[derive(Debug, Default)]
pub(crate) struct Histogram {
    pages: Vec<Option<Page>>,
    /// Values of 67 s and more, and any counter that would pass `u32::MAX`.
    extra: BTreeMap<u64, u64>,
    count: u64,
    sum: u128,
}

impl Histogram {
    #[cfg(test)]
    pub(crate) fn new() -> Histogram {
        Histogram::default()
    }

    #[inline(always)]
    pub(crate) fn record(&mut self, v: u64) {
        self.count += 1;
        self.sum += v as u128;
        let idx = (v >> PAGE_BITS) as usize;
        if idx >= DIRECT_PAGES {
            *self.extra.entry(v).or_insert(0) += 1;
            return;
        }
        let off = (v & MASK) as usize;
        if idx >= self.pages.len() {
            self.pages.resize_with(idx + 1, || None);
        }
        let slot = &mut self.pages[idx];
        if let Some(Page::Dense(a)) = slot
            && let Some(c) = a[off].checked_add(1)
        {
            a[off] = c;
            return;
        }
        Self::record_slow(slot, &mut self.extra, v, off);
    }

    #[cold]
    fn record_slow(slot: &mut Option<Page>, extra: &mut BTreeMap<u64, u64>, v: u64, off: usize) {
        match slot {
            None => *slot = Some(Page::Sparse(vec![(off as u16, 1)])),
            Some(Page::Sparse(list)) => {
                if let Some(e) = list.iter_mut().find(|e| e.0 as usize == off) {
                    match e.1.checked_add(1) {
                        Some(c) => e.1 = c,
                        None => *extra.entry(v).or_insert(0) += 1,
                    }
                } else if list.len() < SPARSE_MAX {
                    list.push((off as u16, 1));
                } else if list.iter().all(|e| e.1 < u16::MAX as u32) {
                    let mut a = Box::new([0u16; PAGE]);
                    for &(o, c) in list.iter() {
                        a[o as usize] = c as u16;
                    }
                    a[off] = 1;
                    *slot = Some(Page::Dense(a));
                } else {
                    let mut a = Box::new([0u32; PAGE]);
                    for &(o, c) in list.iter() {
                        a[o as usize] = c;
                    }
                    a[off] = 1;
                    *slot = Some(Page::Wide(a));
                }
            }
            Some(Page::Dense(a)) => {
                // A counter is full: widen the page.
                let mut w = Box::new([0u32; PAGE]);
                for (d, s) in w.iter_mut().zip(a.iter()) {
                    *d = *s as u32;
                }
                w[off] += 1;
                *slot = Some(Page::Wide(w));
            }
            Some(Page::Wide(a)) => match a[off].checked_add(1) {
                Some(c) => a[off] = c,
                None => *extra.entry(v).or_insert(0) += 1,
            },
        }
    }

    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// Mean in µs (`None` when empty).
    pub(crate) fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum as f64 / self.count as f64)
    }

    /// The nearest-rank `p`th percentile for each `p` in `ps` (0 < p ≤ 100):
    /// the smallest value with at least ⌈p/100 · n⌉ values at or below it.
    /// Computed in integers, so `p95` of 20 values is exactly the 19th.
    pub(crate) fn percentiles(&self, ps: &[u32]) -> Vec<Option<u64>> {
        let mut ranks = Ranks::new(ps, self.count);
        if self.count > 0 {
            self.for_each_sorted(|v, c| ranks.feed(v, c));
        }
        ranks.out
    }

    /// Calls `f(value, count)` in ascending value order until it returns true.
    fn for_each_sorted(&self, mut f: impl FnMut(u64, u64) -> bool) {
        let mut extra = self.extra.iter().peekable();
        type Extra<'a> = std::iter::Peekable<std::collections::btree_map::Iter<'a, u64, u64>>;
        let mut emit = |v: u64, c: u64, extra: &mut Extra| -> bool {
            // Extra entries below v come first; an equal one adds to v.
            let mut c = c;
            while let Some(&(&ev, &ec)) = extra.peek() {
                if ev < v {
                    if f(ev, ec) {
                        return true;
                    }
                    extra.next();
                } else {
                    if ev == v {
                        c += ec;
                        extra.next();
                    }
                    break;
                }
            }
            f(v, c)
        };
        let mut sorted: Vec<(u16, u32)> = Vec::new();
        for (idx, page) in self.pages.iter().enumerate() {
            let base = (idx as u64) << PAGE_BITS;
            match page {
                None => {}
                Some(Page::Dense(a)) => {
                    for (o, &c) in a.iter().enumerate() {
                        if c > 0 && emit(base + o as u64, c as u64, &mut extra) {
                            return;
                        }
                    }
                }
                Some(Page::Wide(a)) => {
                    for (o, &c) in a.iter().enumerate() {
                        if c > 0 && emit(base + o as u64, c as u64, &mut extra) {
                            return;
                        }
                    }
                }
                Some(Page::Sparse(list)) => {
                    sorted.clear();
                    sorted.extend_from_slice(list);
                    sorted.sort_unstable();
                    for &(o, c) in &sorted {
                        if emit(base + o as u64, c as u64, &mut extra) {
                            return;
                        }
                    }
                }
            }
        }
        for (&v, &c) in extra {
            if f(v, c) {
                return;
            }
        }
    }

    /// Heap bytes held, for the memory claim in the module doc.
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self) -> usize {
        let pages: usize = self
            .pages
            .iter()
            .map(|p| match p {
                None => 0,
                Some(Page::Sparse(l)) => l.capacity() * 8,
                Some(Page::Dense(_)) => PAGE * 2,
                Some(Page::Wide(_)) => PAGE * 4,
            })
            .sum();
        pages + self.pages.capacity() * std::mem::size_of::<Option<Page>>() + self.extra.len() * 40
    }
}

/// Nearest-rank percentiles picked from values fed in ascending order with
/// their counts: the smallest value with at least ⌈p/100 · n⌉ values at
/// or below it, in integers (`p95` of 20 values is exactly the 19th). The
/// one rank rule of [`Histogram`] and [`Values`].
struct Ranks<T> {
    ranks: Vec<u64>,
    out: Vec<Option<T>>,
    seen: u64,
}

impl<T: Copy> Ranks<T> {
    fn new(ps: &[u32], n: u64) -> Ranks<T> {
        Ranks {
            ranks: ps
                .iter()
                .map(|&p| ((p as u128 * n as u128).div_ceil(100) as u64).max(1))
                .collect(),
            out: vec![None; ps.len()],
            seen: 0,
        }
    }

    /// Takes `count` occurrences of `v`; true once every rank is found.
    fn feed(&mut self, v: T, count: u64) -> bool {
        self.seen += count;
        let mut all = true;
        for (o, r) in self.out.iter_mut().zip(&self.ranks) {
            if o.is_none() {
                if self.seen >= *r {
                    *o = Some(v);
                } else {
                    all = false;
                }
            }
        }
        all
    }
}

/// An exact distribution of any numbers (`log`'s `value:` — durations in
/// seconds with decimals, negative figures, sizes): a count per distinct
/// value, so memory grows with the number of distinct values, not of
/// lines (a log's figures repeat: 3 decimals of milliseconds, whole
/// seconds). Percentiles follow the same rank rule as [`Histogram`].
#[derive(Debug, Default)]
pub(crate) struct Values {
    /// Keyed by [`order_key`], so the map iterates in numeric order.
    counts: BTreeMap<u64, u64>,
    count: u64,
    sum: f64,
}

/// `f64` bits that sort as the numbers do (finite values; -0 is 0).
fn order_key(v: f64) -> u64 {
    let b = (v + 0.0).to_bits();
    if b >> 63 == 1 { !b } else { b | 1 << 63 }
}

fn from_key(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

impl Values {
    /// Records a finite `v` (the caller refuses NaN and infinities).
    pub(crate) fn record(&mut self, v: f64) {
        self.count += 1;
        self.sum += v;
        *self.counts.entry(order_key(v)).or_insert(0) += 1;
    }

    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    pub(crate) fn sum(&self) -> f64 {
        self.sum
    }

    pub(crate) fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }

    pub(crate) fn max(&self) -> Option<f64> {
        self.counts.keys().next_back().map(|&k| from_key(k))
    }

    /// The nearest-rank `p`th percentile for each `p` in `ps` (0 < p ≤ 100).
    pub(crate) fn percentiles(&self, ps: &[u32]) -> Vec<Option<f64>> {
        let mut ranks = Ranks::new(ps, self.count);
        for (&k, &c) in &self.counts {
            if ranks.feed(from_key(k), c) {
                break;
            }
        }
        ranks.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition: sort, take the ⌈p·n/100⌉-th value.
    fn nearest_rank(sorted: &[u64], p: u32) -> u64 {
        let n = sorted.len() as u64;
        let r = ((p as u64 * n).div_ceil(100)).max(1);
        sorted[(r - 1) as usize]
    }

    fn check(values: &[u64]) {
        let mut h = Histogram::new();
        for &v in values {
            h.record(v);
        }
        let mut s = values.to_vec();
        s.sort_unstable();
        let ps = [1, 50, 90, 95, 99, 100];
        let got = h.percentiles(&ps);
        for (p, g) in ps.iter().zip(got) {
            assert_eq!(g, Some(nearest_rank(&s, *p)), "p{p} of {} values", s.len());
        }
        let mean = s.iter().map(|&v| v as u128).sum::<u128>() as f64 / s.len() as f64;
        assert_eq!(h.mean(), Some(mean));
        assert_eq!(h.count(), s.len() as u64);
    }

    /// A small deterministic generator (no dev-dependency needed).
    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 33
    }

    #[test]
    fn exact_against_sorting() {
        check(&[5]);
        check(&[3, 1, 2]);
        check(&(1..=20).collect::<Vec<_>>());
        let mut seed = 7;
        // Dense core, sparse tail, very slow values in the map, duplicates.
        let v: Vec<u64> = (0..200_000)
            .map(|i| match i % 100 {
                0 => 70_000_000 + lcg(&mut seed) % 1_000_000_000,
                1..=3 => 1_000_000 + lcg(&mut seed) % 30_000_000,
                _ => lcg(&mut seed) % 400_000,
            })
            .collect();
        check(&v);
        // All equal (past the 16-bit counters); values straddling page borders.
        check(&[1024; 1000]);
        check(&[1500; 70_000]);
        let mut many = vec![2048u64; 70_000];
        many.extend(0..3000);
        check(&many);
        check(&[1023, 1024, 1025, 0, 67_108_863, 67_108_864, 67_108_865]);
        // Exact multiples of 1 ms (nginx $request_time).
        check(
            &(0..50_000)
                .map(|i| (i * 7919 % 3000) * 1000)
                .collect::<Vec<_>>(),
        );
    }

    /// Values: the same rank rule over any finite numbers, negative and
    /// fractional ones included.
    #[test]
    fn values_exact_against_sorting() {
        let mut seed = 11;
        let mut v: Vec<f64> = (0..5000)
            .map(|i| {
                (lcg(&mut seed) % 100_000) as f64 / 1000.0 - if i % 7 == 0 { 50.0 } else { 0.0 }
            })
            .collect();
        v.extend([0.0, -0.0, 1e-9, 12.345, 12.345]);
        let mut d = Values::default();
        for &x in &v {
            d.record(x);
        }
        let mut s = v.clone();
        s.sort_by(f64::total_cmp);
        let ps = [1, 50, 95, 99, 100];
        for (p, got) in ps.iter().zip(d.percentiles(&ps)) {
            let r = ((*p as usize * s.len()).div_ceil(100)).max(1);
            assert_eq!(got, Some(s[r - 1] + 0.0), "p{p}");
        }
        assert_eq!(d.max(), s.last().copied());
        assert_eq!(d.count(), v.len() as u64);
        assert_eq!(Values::default().percentiles(&[95]), vec![None]);
        assert_eq!(Values::default().max(), None);
    }

    #[test]
    fn empty_has_no_percentiles() {
        let h = Histogram::new();
        assert_eq!(h.percentiles(&[95]), vec![None]);
        assert_eq!(h.mean(), None);
    }

    #[test]
    fn memory_grows_with_distinct_values_not_lines() {
        let mut h = Histogram::new();
        let mut seed = 1;
        for _ in 0..2_000_000 {
            h.record(20_000 + lcg(&mut seed) % 200_000);
        }
        let after_2m = h.heap_bytes();
        for _ in 0..2_000_000 {
            h.record(20_000 + lcg(&mut seed) % 200_000);
        }
        assert_eq!(h.heap_bytes(), after_2m);
        assert!(after_2m < 2 << 20, "{after_2m}");
    }
}
