//! Ctrl-C during long computations that run with the GIL released.
//!
//! Python runs its signal handlers only when the main thread holds the GIL, so a solve or a
//! spectrum that releases it would otherwise notice SIGINT only when it returns. Two mechanisms:
//!
//! - solves poll [`poll`] between sweeps (the core's `SolverOptions::with_cancel`): on the main
//!   thread, at most every [`POLL_EVERY`], it takes the GIL briefly and runs
//!   `PyErr_CheckSignals`; the `KeyboardInterrupt` it raises is kept and re-raised when the solve
//!   has stopped ([`detach_solve`]);
//! - spectra (one opaque factorisation) run on a worker thread while the calling thread waits in
//!   slices of [`POLL_EVERY`] and checks signals between them ([`detach_waiting`]): on an
//!   interrupt the call raises at once and the worker is told to stop at its next block (its
//!   result is dropped).

use pyo3::prelude::*;
use replica_core::replica::SolverOptions;
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// How often signals are checked: well inside the half second a user waits for Ctrl-C, rare
/// enough that taking the GIL costs nothing measurable (a sweep takes 0.1-10 ms).
pub const POLL_EVERY: Duration = Duration::from_millis(50);

thread_local! {
    /// Whether this thread polls (the Python main thread inside [`detach_solve`]).
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static LAST: Cell<Option<Instant>> = const { Cell::new(None) };
    /// The exception a signal handler raised, once one has.
    static PENDING: RefCell<Option<PyErr>> = const { RefCell::new(None) };
}

/// Whether the calling thread is Python's main thread (the only one that runs signal handlers).
fn on_main_thread(py: Python<'_>) -> bool {
    let check = || -> PyResult<bool> {
        let threading = py.import("threading")?;
        let main = threading.call_method0("main_thread")?;
        let current = threading.call_method0("current_thread")?;
        Ok(main.is(&current))
    };
    check().unwrap_or(false)
}

/// The cancellation check given to the solver: `true` once a signal handler has raised.
pub fn poll() -> bool {
    if !ACTIVE.with(Cell::get) {
        return false;
    }
    if PENDING.with(|p| p.borrow().is_some()) {
        return true;
    }
    let now = Instant::now();
    if LAST
        .with(Cell::get)
        .is_some_and(|t| now.duration_since(t) < POLL_EVERY)
    {
        return false;
    }
    LAST.with(|l| l.set(Some(now)));
    match Python::attach(|py| py.check_signals()) {
        Ok(()) => false,
        Err(e) => {
            PENDING.with(|p| *p.borrow_mut() = Some(e));
            true
        }
    }
}

/// Solver options that stop on Ctrl-C (see [`detach_solve`]).
pub fn cancellable(opts: SolverOptions) -> SolverOptions {
    opts.with_cancel(poll)
}

/// Run `f` (solves built with [`cancellable`] options) with the GIL released. If a signal
/// handler raised meanwhile, that exception (a `KeyboardInterrupt` for SIGINT) is returned as
/// `Err`, whatever `f` returned.
pub fn detach_solve<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> PyResult<T> {
    let main = on_main_thread(py);
    ACTIVE.with(|a| a.set(main));
    LAST.with(|l| l.set(None));
    PENDING.with(|p| *p.borrow_mut() = None);
    let out = py.detach(f);
    ACTIVE.with(|a| a.set(false));
    match PENDING.with(|p| p.borrow_mut().take()) {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Run `f` on a worker thread while this one waits with the GIL released, checking signals every
/// [`POLL_EVERY`] (on the main thread). `f` gets a stop flag, set when the call is interrupted, to
/// poll between blocks of its work. On an interrupt the handler's exception is raised at once.
pub fn detach_waiting<T: Send + 'static>(
    py: Python<'_>,
    f: impl FnOnce(&AtomicBool) -> T + Send + 'static,
) -> PyResult<T> {
    let main = on_main_thread(py);
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let worker_stop = Arc::clone(&stop);
    std::thread::Builder::new()
        .name("replica-mi-spectrum".into())
        .spawn(move || {
            // the receiver is gone after an interrupt: the result is dropped
            let _ = tx.send(f(&worker_stop));
        })
        .map_err(|e| pyo3::exceptions::PyOSError::new_err(format!("cannot start a thread: {e}")))?;
    // the receiver is not Sync: it waits inside detach by value and comes back each slice
    let mut rx = Some(rx);
    loop {
        let (back, got) = py.detach(|| {
            let r = rx.take().expect("put back after every slice");
            let got = r.recv_timeout(POLL_EVERY);
            (r, got)
        });
        rx = Some(back);
        match got {
            Ok(v) => return Ok(v),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(pyo3::exceptions::PyRuntimeError::new_err(
                    "the worker thread of the computation panicked",
                ))
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if main {
                    if let Err(e) = py.check_signals() {
                        stop.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                }
            }
        }
    }
}
