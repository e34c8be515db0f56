//! The threads a server's runs run on: one per core, each a tokio runtime
//! with a `LocalSet` (an interpreter is not `Send`: its run is a local task)
//! and one connection to the store that the runs on it share. A run goes to
//! the thread with the fewest runs. A run that panics ends its own task:
//! the others on its thread go on.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;

use crate::store::{Store, StoreError};

/// What a run's task is given: its thread's store connection (or why it
/// could not be opened).
pub type Conn = Result<Rc<Store>, StoreError>;

/// A run, made on its thread into a local task.
pub type Task = Box<dyn FnOnce(Conn) -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// The run threads of one server.
pub struct Pool {
    workers: Vec<Worker>,
}

struct Worker {
    tx: mpsc::UnboundedSender<Task>,
    /// Runs on this thread now.
    load: Arc<AtomicUsize>,
}

/// A run's stack: the interpreter recurses on deep expressions.
const STACK: usize = 64 << 20;

impl Pool {
    /// `threads` run threads on the store in `store` (at least one).
    pub fn new(store: &Path, threads: usize) -> Result<Pool, String> {
        let workers = (0..threads.max(1))
            .map(|i| Worker::start(store.to_path_buf(), i))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Pool { workers })
    }

    /// One thread per core.
    pub fn per_core(store: &Path) -> Result<Pool, String> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Pool::new(store, cores)
    }

    /// Runs `task` on the thread with the fewest runs.
    pub fn spawn(&self, task: Task) {
        let w = self
            .workers
            .iter()
            .min_by_key(|w| w.load.load(Ordering::Relaxed))
            .expect("a pool has a thread");
        w.load.fetch_add(1, Ordering::Relaxed);
        if w.tx.send(task).is_err() {
            w.load.fetch_sub(1, Ordering::Relaxed);
            eprintln!("flowc serve: a run thread has stopped; the run was not started");
        }
    }
}

impl Worker {
    fn start(store: PathBuf, i: usize) -> Result<Worker, String> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Task>();
        let load = Arc::new(AtomicUsize::new(0));
        let counted = load.clone();
        std::thread::Builder::new()
            .name(format!("flowc-runs-{i}"))
            .stack_size(STACK)
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        eprintln!("flowc serve: a run thread cannot start its runtime: {e}");
                        return;
                    }
                };
                let local = tokio::task::LocalSet::new();
                local.block_on(&rt, async move {
                    let mut conn: Option<Rc<Store>> = None;
                    while let Some(task) = rx.recv().await {
                        // Opened once; tried again by the next run if it failed.
                        let given = match &conn {
                            Some(c) => Ok(c.clone()),
                            None => Store::open(&store).map(Rc::new),
                        };
                        if let Ok(c) = &given {
                            conn = Some(c.clone());
                        }
                        let counted = counted.clone();
                        let run = task(given);
                        tokio::task::spawn_local(async move {
                            let _done = Done(counted);
                            run.await;
                        });
                    }
                });
            })
            .map_err(|e| format!("cannot start a run thread: {e}"))?;
        Ok(Worker { tx, load })
    }
}

/// Counts a run off its thread when its task ends (also by a panic).
struct Done(Arc<AtomicUsize>);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
