//! The signals that end a run or a session: SIGINT (Ctrl-C), SIGTERM and
//! SIGHUP. Each cancels what is running (dropping a run kills its tools'
//! process groups) and ends with the shell's status, 128 + the signal number.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// A signal that ends a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interrupt {
    Int,
    Term,
    Hup,
    /// Cancelled by whoever started it (the service's API), not a signal.
    Cancel,
}

impl Interrupt {
    /// The exit status: 130 (SIGINT, or a cancel), 143 (SIGTERM), 129 (SIGHUP).
    pub fn exit_code(self) -> u8 {
        128 + match self {
            Interrupt::Int | Interrupt::Cancel => 2,
            Interrupt::Hup => 1,
            Interrupt::Term => 15,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Interrupt::Int => "SIGINT",
            Interrupt::Term => "SIGTERM",
            Interrupt::Hup => "SIGHUP",
            Interrupt::Cancel => "cancel",
        }
    }
}

/// Listeners for the three signals. Once made, the signals no longer end the
/// process by themselves: whoever holds this decides (a signal that arrives
/// before `recv` is kept for it).
pub struct Signals {
    int: Option<Signal>,
    term: Option<Signal>,
    hup: Option<Signal>,
}

impl Signals {
    /// Listens to SIGTERM and SIGHUP, and to SIGINT when `sigint`. Must be
    /// called inside a tokio runtime with I/O enabled.
    pub fn new(sigint: bool) -> Signals {
        let listen = |k: SignalKind| signal(k).ok();
        Signals {
            int: if sigint {
                listen(SignalKind::interrupt())
            } else {
                None
            },
            term: listen(SignalKind::terminate()),
            hup: listen(SignalKind::hangup()),
        }
    }

    /// The next signal.
    pub async fn recv(&mut self) -> Interrupt {
        async fn one(s: &mut Option<Signal>) {
            match s {
                Some(s) => {
                    if s.recv().await.is_none() {
                        std::future::pending::<()>().await;
                    }
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            _ = one(&mut self.int) => Interrupt::Int,
            _ = one(&mut self.term) => Interrupt::Term,
            _ = one(&mut self.hup) => Interrupt::Hup,
        }
    }

    /// Forgets a SIGINT that came before now (Ctrl-C at an earlier prompt).
    pub fn forget_sigint(&mut self) {
        use futures_util::FutureExt;
        if let Some(s) = &mut self.int {
            while let Some(Some(())) = s.recv().now_or_never() {}
        }
    }
}
