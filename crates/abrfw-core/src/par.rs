//! An order-preserving parallel map over a slice, on the machine's cores.
//!
//! `std::thread::scope` with one thread per core is all abrfw needs: the work items (hosts,
//! host classes) are independent, and rayon's work-stealing pool would add a dependency tree for
//! little gain on two cores. Thread `t` of `n` takes items `t`, `t + n`, `t + 2n`, ...: sites list
//! their few servers (the expensive items: every agent is their peer) first and thousands of
//! cheap agents after, and striding spreads both kinds over the threads, where contiguous chunks
//! would give one thread every server. Results come back in input order, so output stays
//! deterministic.

use std::num::NonZeroUsize;
use std::thread;

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
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let f = &f;
    let parts: Vec<Vec<R>> = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| s.spawn(move || items.iter().skip(t).step_by(threads).map(f).collect()))
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(part) => part,
                // A panic in `f` is a bug; carry it to the caller unchanged.
                Err(payload) => std::panic::resume_unwind(payload),
            })
            .collect()
    });
    // Item i is the (i / threads)-th result of thread i % threads.
    let mut parts: Vec<std::vec::IntoIter<R>> = parts.into_iter().map(Vec::into_iter).collect();
    let mut out = Vec::with_capacity(items.len());
    for i in 0..items.len() {
        out.extend(parts[i % threads].next());
    }
    out
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
