//! Keyed work split into shards of the keys: every item's entries are
//! scattered once into the buckets of their keys' low bits, then each shard
//! folds its own bucket, in item order, into its own state.
//!
//! The 2-faces a unit cuts ([`super::faces`]) and the regions read off the
//! vertices ([`super::regions`]) both group millions of entries by a hash
//! key, each group in one shard's hash table. Had every shard scanned all
//! items for its own keys, each would redo the work of making the entries
//! (a vertex's `2^j` side choices, its faces) and of filtering them; here
//! the entries are made once, by tasks of items in parallel, each task
//! keeping a bucket per shard, and a shard reads its buckets task by task.
//! Which entries a shard gets and in which order (item order, then the
//! order the item gave them) depend on the keys alone, so neither the
//! shard count nor the threads change a bit of what a shard computes.

use std::ops::Range;

use rayon::prelude::*;

use super::complex::parallel;

/// The buckets of one task of items: an entry goes to the bucket of its
/// key's low bits.
pub(super) struct Scatter<T> {
    mask: u64,
    buckets: Vec<Vec<T>>,
}

impl<T> Scatter<T> {
    /// A bucket for each of `shards` shards (a power of two).
    fn new(shards: usize) -> Scatter<T> {
        debug_assert!(shards.is_power_of_two(), "{shards} shards");
        Scatter {
            mask: shards as u64 - 1,
            buckets: (0..shards).map(|_| Vec::new()).collect(),
        }
    }

    /// Puts `entry` in the bucket of `key`.
    pub fn push(&mut self, key: u64, entry: T) {
        // The mask is below the shard count, which is a `usize`.
        self.buckets[(key & self.mask) as usize].push(entry);
    }
}

/// The shard count of a pass over `items` items, tasks of `per_task` of
/// them ([`parallel`]'s rule): one shard when the pass runs on one thread,
/// else the threads rounded up to a power of two (a shard's keys are their
/// low bits).
pub(super) fn shard_count(serial: bool, items: usize, per_task: usize) -> usize {
    if parallel(serial, items, per_task) {
        rayon::current_num_threads().next_power_of_two()
    } else {
        1
    }
}

/// Folds the entries of items `0..count` into the shards' `states` (one per
/// shard, a power of two of them): `emit` gives the entries of a range of
/// items with their keys, `take` folds an entry into the state of its key's
/// shard. A shard takes its entries in item order, and an item's in the
/// order `emit` gave them.
///
/// One shard: the items go by ranges of `per_task`, each range's entries
/// folded as soon as they are made (no bucket outlives its range). Several:
/// the ranges are scattered in parallel, a bucket per shard each, then the
/// shards fold their buckets in parallel.
///
/// # Errors
///
/// An error of `emit` or `take` stops the fold. One shard: the first in item
/// order. Several: the error of the lowest range whose `emit` failed (then no
/// shard folds anything), else that of the lowest shard whose `take` failed
/// (which stops that shard). Which error comes back depends on the shard
/// count and never on the threads' timing.
pub(super) fn by_key<T, S, E>(
    count: usize,
    per_task: usize,
    states: &mut [S],
    emit: impl Fn(Range<usize>, &mut Scatter<T>) -> Result<(), E> + Sync,
    take: impl Fn(&mut S, T) -> Result<(), E> + Sync,
) -> Result<(), E>
where
    T: Send,
    S: Send,
    E: Send,
{
    let per_task = per_task.max(1);
    let ranges = (0..count)
        .step_by(per_task)
        .map(|start| start..count.min(start + per_task));
    if let [state] = states {
        let mut scatter = Scatter::new(1);
        for range in ranges {
            emit(range, &mut scatter)?;
            for entry in scatter.buckets[0].drain(..) {
                take(state, entry)?;
            }
        }
        return Ok(());
    }
    let shards = states.len();
    // Every range's result is kept, then the first error in range order is
    // taken (rayon's own `Result` collection would return whichever failed
    // range finished first).
    let tasks: Vec<Vec<Vec<T>>> = ranges
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|range| {
            let mut scatter = Scatter::new(shards);
            emit(range, &mut scatter)?;
            Ok(scatter.buckets)
        })
        .collect::<Vec<Result<_, E>>>()
        .into_iter()
        .collect::<Result<_, E>>()?;
    // By shard, each shard's buckets in task order (moved, not copied).
    let mut by_shard: Vec<Vec<Vec<T>>> = (0..shards).map(|_| Vec::with_capacity(tasks.len())).collect();
    for task in tasks {
        for (mine, bucket) in by_shard.iter_mut().zip(task) {
            mine.push(bucket);
        }
    }
    states
        .par_iter_mut()
        .zip(by_shard)
        .map(|(state, buckets)| {
            buckets
                .into_iter()
                .flatten()
                .try_for_each(|entry| take(state, entry))
        })
        .collect::<Vec<Result<(), E>>>()
        .into_iter()
        .collect()
}

/// The shards' outputs `parts`, each ascending by `key`, merged into one
/// list ascending by `key` (the keys distinct across shards): the order one
/// shard would have given them all in. Two lists at a time (a shard count
/// is a power of two), each merge one comparison per item.
pub(super) fn merge_by_key<T: Copy, K: Ord>(parts: &[&[T]], key: impl Fn(&T) -> K + Copy) -> Vec<T> {
    match parts {
        [] => Vec::new(),
        [one] => one.to_vec(),
        [a, b] => merge_two(a, b, key),
        _ => {
            let (low, high) = parts.split_at(parts.len() / 2);
            merge_two(&merge_by_key(low, key), &merge_by_key(high, key), key)
        }
    }
}

/// Two lists ascending by `key` (distinct keys) merged into one.
fn merge_two<T: Copy, K: Ord>(a: &[T], b: &[T], key: impl Fn(&T) -> K) -> Vec<T> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
        if key(x) < key(y) {
            out.push(*x);
            i += 1;
        } else {
            out.push(*y);
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items `0..n`, each giving entries `(key, (item, k))` for `k` below
    /// `item % 4`, keys spread by a multiplicative hash.
    fn entries<E>(range: Range<usize>, out: &mut Scatter<(usize, usize)>) -> Result<(), E> {
        for item in range {
            for k in 0..item % 4 {
                let key = ((item * 4 + k) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 7;
                out.push(key, (item, k));
            }
        }
        Ok(())
    }

    #[test]
    fn every_shard_count_folds_each_entry_once_in_item_order() {
        // Far more items than a task holds, so the parallel scatter runs
        // with several tasks; each shard's entries ascend, and together
        // they are every entry once.
        let (n, per_task) = (5000, 64);
        let want: Vec<(usize, usize)> = (0..n).flat_map(|i| (0..i % 4).map(move |k| (i, k))).collect();
        for shards in [1usize, 2, 4, 8] {
            let mut states: Vec<Vec<(usize, usize)>> = vec![Vec::new(); shards];
            let take = |s: &mut Vec<(usize, usize)>, e| -> Result<(), ()> {
                s.push(e);
                Ok(())
            };
            by_key(n, per_task, &mut states, entries, take).unwrap();
            if shards > 1 {
                assert!(states.iter().all(|s| !s.is_empty()), "every shard gets entries");
            }
            for s in &states {
                assert!(s.windows(2).all(|w| w[0] < w[1]), "item order within a shard");
            }
            let parts: Vec<&[(usize, usize)]> = states.iter().map(Vec::as_slice).collect();
            assert_eq!(merge_by_key(&parts, |&e| e), want);
        }
    }

    #[test]
    fn a_failing_take_stops_with_its_error() {
        for shards in [1usize, 2, 4] {
            let mut states = vec![0usize; shards];
            let take = |s: &mut usize, (item, _): (usize, usize)| {
                *s += 1;
                if item == 777 {
                    Err(item)
                } else {
                    Ok(())
                }
            };
            assert_eq!(by_key(3000, 100, &mut states, entries, take), Err(777));
            // The shard that met the item stopped there: fewer entries in all.
            assert!(states.iter().sum::<usize>() < (0..3000).map(|i| i % 4).sum());
        }
    }

    #[test]
    fn a_failing_emit_gives_the_lowest_range_error_and_folds_nothing() {
        // Items 2500 and 4000 fail in ranges of their own; the lower one's
        // error comes back on every shard count, and with several shards no
        // shard has taken anything.
        let emit = |range: Range<usize>, out: &mut Scatter<(usize, usize)>| {
            if let Some(bad) = range.clone().find(|&i| i == 2500 || i == 4000) {
                return Err(bad);
            }
            entries(range, out)
        };
        for shards in [1usize, 2, 4, 8] {
            let mut states = vec![0usize; shards];
            let take = |s: &mut usize, _: (usize, usize)| -> Result<(), usize> {
                *s += 1;
                Ok(())
            };
            assert_eq!(by_key(5000, 64, &mut states, emit, take), Err(2500));
            if shards > 1 {
                assert!(states.iter().all(|&s| s == 0), "{shards} shards: {states:?}");
            }
        }
    }

    #[test]
    fn merging_keeps_the_order_of_distinct_keys() {
        let parts: [&[u8]; 4] = [&[1, 4, 9], &[], &[2, 3, 10, 11], &[0]];
        assert_eq!(merge_by_key(&parts, |&x| x), vec![0, 1, 2, 3, 4, 9, 10, 11]);
        assert_eq!(merge_by_key(&parts[..1], |&x| x), vec![1, 4, 9]);
        assert!(merge_by_key::<u8, u8>(&[], |&x| x).is_empty());
    }
}
