//! What Linux says about this process: resident memory and the CPU time of a thread.
//!
//! The memory benchmark watches the resident set size (`VmRSS` in `/proc/self/status`),
//! the memory actually held in RAM, because that is what bounding the reporter's queue is
//! meant to bound. The reporter benchmark divides by the CPU time of the thread that runs
//! the reporter (`/proc/thread-self/schedstat`), so that "spans per second on one core"
//! does not depend on how busy the rest of a shared machine is.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;

/// The resident set size of this process in bytes (`VmRSS` of `/proc/self/status`).
pub fn resident_bytes() -> anyhow::Result<u64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("cannot read /proc/self/status")?;
    parse_vm_rss(&status).context("no VmRSS line in /proc/self/status")
}

/// The peak resident set size of this process in bytes (`VmHWM`, the high-water mark).
pub fn peak_resident_bytes() -> anyhow::Result<u64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("cannot read /proc/self/status")?;
    parse_kib_line(&status, "VmHWM:").context("no VmHWM line in /proc/self/status")
}

/// The `VmRSS:  1234 kB` line of a `/proc/<pid>/status` text, in bytes.
fn parse_vm_rss(status: &str) -> Option<u64> {
    parse_kib_line(status, "VmRSS:")
}

/// The `{name}  1234 kB` line of a `/proc/<pid>/status` text, in bytes.
fn parse_kib_line(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with(name))?;
    let mut words = line.split_whitespace().skip(1);
    let kib: u64 = words.next()?.parse().ok()?;
    (words.next() == Some("kB")).then_some(kib * 1024)
}

/// The CPU time the calling thread has used so far, user and system, in nanoseconds as
/// the scheduler counts them (the first field of `/proc/thread-self/schedstat`).
pub fn thread_cpu_time() -> anyhow::Result<Duration> {
    task_cpu_time(std::path::Path::new("/proc/thread-self"))
}

/// The CPU time of one thread, by its `/proc/<pid>/task/<tid>` directory.
fn task_cpu_time(task: &std::path::Path) -> anyhow::Result<Duration> {
    let path = task.join("schedstat");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    parse_schedstat(&text).with_context(|| format!("unexpected format of {}", path.display()))
}

fn parse_schedstat(text: &str) -> Option<Duration> {
    let nanos: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// A set of threads whose CPU time is summed: each registers itself from inside (a tokio
/// runtime's `on_thread_start`), since a thread's id is only known to itself.
#[derive(Debug, Clone, Default)]
pub struct ThreadSet {
    tasks: Arc<Mutex<Vec<PathBuf>>>,
}

impl ThreadSet {
    /// An empty set.
    pub fn new() -> Self {
        ThreadSet::default()
    }

    /// Adds the calling thread. A thread that cannot be identified is left out (and so
    /// the sum undercounts) rather than failing the thread's start.
    pub fn register_current(&self) {
        if let Ok(link) = std::fs::read_link("/proc/thread-self") {
            let task = PathBuf::from("/proc").join(link);
            self.tasks
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(task);
        }
    }

    /// Adds every thread of this process named `name` (as `/proc/self/task/*/comm` says;
    /// names are cut at 15 bytes there), waiting up to `deadline` until there are at least
    /// `at_least`: a new thread sets its own name as it starts, a moment after it is
    /// spawned. Returns how many were added.
    pub fn register_named(
        &self,
        name: &str,
        at_least: usize,
        deadline: Duration,
    ) -> anyhow::Result<usize> {
        let started = std::time::Instant::now();
        let found = loop {
            let found = threads_named(name)?;
            if found.len() >= at_least || started.elapsed() >= deadline {
                break found;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let added = found.len();
        self.tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(found);
        Ok(added)
    }

    /// The CPU time used so far by the registered threads that are still running.
    pub fn cpu_time(&self) -> Duration {
        let tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        tasks
            .iter()
            .filter_map(|task| task_cpu_time(task).ok())
            .sum()
    }

    /// How many threads are registered.
    pub fn len(&self) -> usize {
        self.tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no thread is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The `/proc/self/task/<tid>` directories of this process's threads named `name`.
pub fn threads_named(name: &str) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in
        std::fs::read_dir("/proc/self/task").context("cannot list this process's threads")?
    {
        let task = PathBuf::from("/proc/self/task").join(entry?.file_name());
        let comm = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
        if comm.trim_end() == name {
            found.push(task);
        }
    }
    Ok(found)
}

/// Bytes as mebibytes, for tables.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_rss_is_read_in_bytes() {
        let status = "Name:\tbench\nVmPeak:\t  9000 kB\nVmRSS:\t    5120 kB\nThreads:\t1\n";
        assert_eq!(parse_vm_rss(status), Some(5 * 1024 * 1024));
        assert_eq!(parse_vm_rss("VmRSS: lots\n"), None);
        assert_eq!(parse_vm_rss("Name: x\n"), None);
    }

    #[test]
    fn this_process_has_memory_and_this_thread_has_run() {
        assert!(resident_bytes().unwrap() > 0);
        assert!(peak_resident_bytes().unwrap() >= resident_bytes().unwrap() / 2);
        let before = thread_cpu_time().unwrap();
        let mut x = 0u64;
        for i in 0..1_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(std::hint::black_box(i));
        }
        std::hint::black_box(x);
        assert!(thread_cpu_time().unwrap() > before);
    }

    #[test]
    fn a_thread_set_sums_its_threads() {
        let set = ThreadSet::new();
        assert!(set.is_empty());
        let registering = set.clone();
        std::thread::spawn(move || {
            registering.register_current();
            let mut x = 0u64;
            for i in 0..1_000_000u64 {
                x = x.wrapping_mul(31).wrapping_add(std::hint::black_box(i));
            }
            std::hint::black_box(x);
            // Still running: its time is readable.
            assert!(registering.cpu_time() > Duration::ZERO);
        })
        .join()
        .unwrap();
        assert_eq!(set.len(), 1);
        assert_eq!(parse_schedstat("12 34 5\n"), Some(Duration::from_nanos(12)));
    }
}
