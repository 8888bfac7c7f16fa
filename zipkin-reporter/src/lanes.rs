//! Lanes: where a finished span waits, handed over at the cost of one uncontended push.
//!
//! Each recording thread has a lane of its own, a vector of spans behind a mutex that only
//! that thread and the reporter's thread ever take. This is fastrace's collector design
//! (a span queue per thread, drained in bulk by one background thread): a hand-off meets
//! no other recording thread and allocates nothing per span. The reporter swaps each lane's
//! vector for an empty one, so the vectors travel back and forth whole. A thread that ends
//! leaves its lane behind; its spans are drained once more and the lane is removed.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use zipkin_tracing::FinishedSpan;

/// Every lane of one reporter, for its thread to drain.
#[derive(Debug)]
pub(crate) struct Lanes {
    /// Tells this reporter's lanes apart from other reporters' in a thread's [`MINE`].
    id: u64,
    /// Every recording thread's lane.
    lanes: Mutex<Vec<Arc<Lane>>>,
    /// The lane of a thread whose own lanes are gone (a span finished while the thread
    /// exits): spans are never lost for want of a lane.
    spare: Lane,
    /// What the lanes of threads that have ended had counted, for [`Lanes::queued`].
    retired_queued: AtomicU64,
}

/// One recording thread's finished spans, waiting for the reporter's thread.
#[derive(Debug, Default)]
struct Lane {
    waiting: Mutex<Waiting>,
    /// Set when the reporter has ended: the recording thread may forget the lane.
    abandoned: AtomicBool,
}

#[derive(Debug, Default)]
struct Waiting {
    spans: Vec<FinishedSpan>,
    /// Spans ever pushed onto this lane: the lanes' sum is [`Lanes::queued`].
    queued: u64,
}

impl Lane {
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        // Nothing panics while holding it; a poisoned lane still holds good spans.
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, span: FinishedSpan) {
        let mut waiting = self.lock();
        waiting.spans.push(span);
        waiting.queued += 1;
    }
}

thread_local! {
    /// This thread's lanes, one per reporter it has handed spans to (a process usually has
    /// one), each with its reporter's id.
    static MINE: RefCell<Vec<(u64, Arc<Lane>)>> = const { RefCell::new(Vec::new()) };
}

/// Gives each reporter's lanes their id.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

impl Lanes {
    /// No lane yet: each thread makes its own on its first push.
    pub(crate) fn new() -> Self {
        Lanes {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            lanes: Mutex::default(),
            spare: Lane::default(),
            retired_queued: AtomicU64::new(0),
        }
    }

    /// Pushes `span` onto the calling thread's lane, making one the first time.
    pub(crate) fn push(&self, span: FinishedSpan) {
        let mut span = Some(span);
        // `try_with`: a span may finish while the thread is exiting and its lanes are
        // gone; it then goes on the spare lane.
        let _ = MINE.try_with(|mine| {
            let Ok(mut mine) = mine.try_borrow_mut() else {
                return;
            };
            let index = match mine.iter().position(|(id, _)| *id == self.id) {
                Some(index) => index,
                None => {
                    // Lanes of reporters that have ended are forgotten here.
                    mine.retain(|(_, lane)| !lane.abandoned.load(Ordering::Relaxed));
                    let lane = Arc::new(Lane::default());
                    self.lock().push(lane.clone());
                    mine.push((self.id, lane));
                    mine.len() - 1
                }
            };
            if let Some(span) = span.take() {
                mine[index].1.push(span);
            }
        });
        if let Some(span) = span {
            self.spare.push(span);
        }
    }

    /// Takes every span waiting: each lane's vector is swapped for one of `empty`, and
    /// the full ones are returned. A lane whose thread has ended is drained and removed.
    ///
    /// `between` runs for each lane after its thread was found alive or ended and before
    /// its spans are taken: the reporter passes nothing to do; a test lets a thread push
    /// its last span and end there, the moment that must lose nothing.
    pub(crate) fn drain(
        &self,
        empty: &mut Vec<Vec<FinishedSpan>>,
        mut between: impl FnMut(),
    ) -> Vec<Vec<FinishedSpan>> {
        let mut full = Vec::new();
        let mut take = |lane: &Lane| {
            let mut vector = empty.pop().unwrap_or_default();
            std::mem::swap(&mut lane.lock().spans, &mut vector);
            if vector.is_empty() {
                empty.push(vector);
            } else {
                full.push(vector);
            }
        };
        let mut lanes = self.lock();
        lanes.retain(|lane| {
            // Only this list holds the lane of a thread that has ended, and with the list
            // locked nobody can take it again: nothing can be pushed onto it after this
            // check, so its last drain below loses nothing.
            let ended = Arc::strong_count(lane) == 1;
            if ended {
                // Pairs with the release of the thread's last count (as `Arc::drop` does
                // itself), so that its last push is seen by the drain below.
                std::sync::atomic::fence(Ordering::Acquire);
            }
            between();
            take(lane);
            if ended {
                let queued = lane.lock().queued;
                self.retired_queued.fetch_add(queued, Ordering::Relaxed);
            }
            !ended
        });
        take(&self.spare);
        full
    }

    /// Spans pushed so far: the sum of every lane's count.
    pub(crate) fn queued(&self) -> u64 {
        let lanes = self.lock();
        let retired = self.retired_queued.load(Ordering::Relaxed);
        lanes.iter().map(|lane| lane.lock().queued).sum::<u64>()
            + self.spare.lock().queued
            + retired
    }

    /// Marks every lane as abandoned, so recording threads forget them, and frees what
    /// they hold: the reporter has ended.
    pub(crate) fn abandon(&self) {
        for lane in self.lock().iter() {
            lane.lock().spans = Vec::new();
            lane.abandoned.store(true, Ordering::Relaxed);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Arc<Lane>>> {
        // Nothing panics while holding it.
        self.lanes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use zipkin_tracing::{Report, Tracer};

    use super::*;

    /// A finished span, as a tracer reports it.
    fn span() -> FinishedSpan {
        struct Keep(Mutex<Option<FinishedSpan>>);
        impl Report for Keep {
            fn report(&self, span: FinishedSpan) {
                *self.0.lock().expect("not poisoned") = Some(span);
            }
        }
        let keep = Arc::new(Keep(Mutex::new(None)));
        let tracer = Tracer::builder("svc").reporter(keep.clone()).build();
        tracer.start(tracer.new_trace(), "work", None).finish();
        let span = keep.0.lock().expect("not poisoned").take();
        span.expect("a sampled span is reported")
    }

    #[test]
    fn a_thread_that_pushes_and_ends_while_its_lane_is_drained_loses_nothing() {
        let lanes = Arc::new(Lanes::new());
        let (pushed, first_pushed) = mpsc::channel();
        let (go, may_push) = mpsc::channel::<()>();
        let thread = {
            let lanes = lanes.clone();
            std::thread::spawn(move || {
                lanes.push(span());
                pushed.send(()).expect("the test waits");
                may_push.recv().expect("the test says when");
                lanes.push(span());
            })
        };
        first_pushed.recv().expect("the thread pushes");
        // While the lane is being drained, the thread pushes its last span and ends.
        let mut thread = Some(thread);
        let mut empty = Vec::new();
        let mut drained = lanes.drain(&mut empty, || {
            if let Some(thread) = thread.take() {
                go.send(()).expect("the thread waits");
                thread.join().expect("the thread ends");
            }
        });
        drained.extend(lanes.drain(&mut empty, || {}));
        let spans: usize = drained.iter().map(Vec::len).sum();
        assert_eq!(spans, 2);
        assert_eq!(lanes.queued(), 2);
        assert!(
            lanes.lock().is_empty(),
            "the ended thread's lane is removed"
        );
    }
}
