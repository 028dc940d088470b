//! An order-preserving parallel map over a slice, on the machine's cores.
//!
//! `std::thread::scope` with one contiguous chunk per core is all abrfw needs: the work items
//! (hosts) are independent, many, and of similar cost, so static chunking keeps both cores of a
//! small machine busy without a work-stealing pool (rayon would add a dependency tree for the
//! same result here). Results come back in input order, so output stays deterministic.

use std::num::NonZeroUsize;
use std::thread;

/// Below this many items per thread, spawning costs more than it saves.
const MIN_CHUNK: usize = 64;

/// Maps `f` over `items` on up to `available_parallelism()` threads; results in input order.
pub fn map<T, R, F>(items: &[T], f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let threads = thread::available_parallelism().map_or(1, NonZeroUsize::get);
    map_on(threads, items, f)
}

/// [`map`] on at most `threads` threads (1: on the caller's thread).
pub fn map_on<T, R, F>(threads: usize, items: &[T], f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let threads = threads.clamp(1, items.len().div_ceil(MIN_CHUNK).max(1));
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for h in handles {
            match h.join() {
                Ok(part) => out.extend(part),
                // A panic in `f` is a bug; carry it to the caller unchanged.
                Err(payload) => std::panic::resume_unwind(payload),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_input_order_on_any_thread_count() {
        let items: Vec<u32> = (0..1000).collect();
        let expected: Vec<u64> = items.iter().map(|&i| u64::from(i) * 3).collect();
        for threads in [1, 2, 3, 7, 64] {
            assert_eq!(map_on(threads, &items, |&i| u64::from(i) * 3), expected);
        }
        assert_eq!(map(&items, |&i| u64::from(i) * 3), expected);
        assert!(map(&[] as &[u32], |&i| i).is_empty());
    }
}
