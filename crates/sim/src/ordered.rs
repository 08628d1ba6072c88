//! Independent jobs on worker threads, their results handed on in job order as they finish, with a
//! bounded number held back: what lets a sweep stream its results to disk while memory stays flat
//! in the number of runs.

use crate::SimError;
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError, mpsc};

/// Runs `work(0)`, …, `work(n - 1)` on `threads` worker threads (`None`: rayon's default, which
/// honours `RAYON_NUM_THREADS`) and calls `sink(i, result)` on the calling thread in job order,
/// each as soon as it and every job before it are done.
///
/// Workers take jobs in order and never run more than `2 × threads` jobs ahead of the last one
/// sunk, so at most that many results are held at once whatever `n` is. What `sink` sees does not
/// depend on the thread count. The first error `sink` returns stops the workers (jobs already
/// started finish and are dropped) and is returned; a panic in `work` is resumed on the calling
/// thread.
///
/// # Errors
/// The first error of `sink`, or [`SimError::ThreadPool`] (converted into `E`) when no worker
/// thread can be started.
pub fn for_each_in_order<T, E>(
    n: usize,
    threads: Option<usize>,
    work: impl Fn(usize) -> T + Sync,
    mut sink: impl FnMut(usize, T) -> Result<(), E>,
) -> Result<(), E>
where
    T: Send,
    E: From<SimError>,
{
    let requested = threads.unwrap_or_else(rayon::current_num_threads).max(1);
    let workers = requested.min(n.max(1));
    let ahead = 2 * workers;
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let sunk = Mutex::new(0usize);
    let moved = Condvar::new();
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<(usize, std::thread::Result<T>)>();
        let mut started = 0;
        let mut spawn_error = None;
        for w in 0..workers {
            let tx = tx.clone();
            let (next, stop, sunk, moved, work) = (&next, &stop, &sunk, &moved, &work);
            let spawned = std::thread::Builder::new()
                .name(format!("ringfence-run-{w}"))
                .spawn_scoped(scope, move || {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= n {
                            break;
                        }
                        let mut done = sunk.lock().unwrap_or_else(PoisonError::into_inner);
                        while i >= *done + ahead && !stop.load(Ordering::SeqCst) {
                            done = moved.wait(done).unwrap_or_else(PoisonError::into_inner);
                        }
                        drop(done);
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let r = catch_unwind(AssertUnwindSafe(|| work(i)));
                        if tx.send((i, r)).is_err() {
                            break;
                        }
                    }
                });
            match spawned {
                Ok(_) => started += 1,
                Err(e) => {
                    spawn_error = Some(e.to_string());
                    break;
                }
            }
        }
        drop(tx);
        if started == 0 {
            return Err(SimError::ThreadPool {
                threads: requested,
                message: spawn_error.unwrap_or_default(),
            }
            .into());
        }
        let halt = || {
            stop.store(true, Ordering::SeqCst);
            let _guard = sunk.lock().unwrap_or_else(PoisonError::into_inner);
            moved.notify_all();
        };
        let mut held: BTreeMap<usize, std::thread::Result<T>> = BTreeMap::new();
        let mut want = 0;
        while want < n {
            let r = match held.remove(&want) {
                Some(r) => r,
                None => match rx.recv() {
                    Ok((i, r)) if i == want => r,
                    Ok((i, r)) => {
                        held.insert(i, r);
                        continue;
                    }
                    Err(_) => {
                        halt();
                        return Err(SimError::ThreadPool {
                            threads: requested,
                            message: format!("the workers stopped before job {want}"),
                        }
                        .into());
                    }
                },
            };
            let value = match r {
                Ok(v) => v,
                Err(panic) => {
                    halt();
                    resume_unwind(panic);
                }
            };
            if let Err(e) = sink(want, value) {
                halt();
                return Err(e);
            }
            want += 1;
            *sunk.lock().unwrap_or_else(PoisonError::into_inner) = want;
            moved.notify_all();
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn results_arrive_in_job_order_for_any_thread_count() {
        for threads in [1, 2, 3, 8] {
            let mut seen = Vec::new();
            let r: Result<(), SimError> = for_each_in_order(
                50,
                Some(threads),
                |i| {
                    // uneven job lengths so that completion order differs from job order
                    std::thread::sleep(std::time::Duration::from_micros(
                        ((i * 7919) % 13) as u64 * 50,
                    ));
                    i * i
                },
                |i, v| {
                    seen.push((i, v));
                    Ok(())
                },
            );
            r.unwrap();
            assert_eq!(
                seen,
                (0..50).map(|i| (i, i * i)).collect::<Vec<_>>(),
                "{threads} threads"
            );
        }
    }

    #[test]
    fn workers_stay_a_bounded_distance_ahead_and_a_sink_error_stops_them() {
        let running_max = AtomicUsize::new(0);
        let started = AtomicUsize::new(0);
        let mut sunk = 0;
        let r: Result<(), SimError> = for_each_in_order(
            1000,
            Some(2),
            |i| {
                started.fetch_add(1, Ordering::SeqCst);
                running_max.fetch_max(i, Ordering::SeqCst);
                i
            },
            |i, _| {
                // a slow sink: workers must wait instead of piling results up
                std::thread::sleep(std::time::Duration::from_micros(200));
                assert!(
                    running_max.load(Ordering::SeqCst) < i + 2 * 2 + 1,
                    "ran ahead at {i}"
                );
                sunk += 1;
                if i == 30 {
                    return Err(SimError::ThreadPool {
                        threads: 0,
                        message: "stop".into(),
                    });
                }
                Ok(())
            },
        );
        assert!(r.unwrap_err().to_string().contains("stop"));
        assert_eq!(sunk, 31);
        assert!(started.load(Ordering::SeqCst) < 31 + 2 * 2 + 2);
    }
}
