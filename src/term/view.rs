//! The live step view on stderr (`flowc run`, `flowc repl`): a spinner with
//! the elapsed time, how many steps are done or failed, and which are running,
//! drawn from the driver's [`Progress`] events.

use crate::driver::runner::Progress;

pub struct StepView {
    bar: Option<indicatif::ProgressBar>,
    /// Hidden while an approval is asked on the terminal.
    hidden: std::cell::Cell<bool>,
}

impl StepView {
    /// A view that draws only when `enabled` (stderr is a terminal, not `--quiet`).
    pub fn new(enabled: bool) -> StepView {
        let bar = enabled.then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                    .expect("a valid template"),
            );
            b
        });
        StepView {
            bar,
            hidden: std::cell::Cell::new(false),
        }
    }

    /// Whether the view draws (the driver then reports progress).
    pub fn enabled(&self) -> bool {
        self.bar.is_some()
    }

    /// Redraws the view.
    pub fn show(&self, p: &Progress) {
        let Some(bar) = &self.bar else {
            return;
        };
        // An approval asked on the terminal: the question is not drawn over.
        let asking = crate::run::approve::asking();
        if asking != self.hidden.get() {
            self.hidden.set(asking);
            bar.set_draw_target(if asking {
                indicatif::ProgressDrawTarget::hidden()
            } else {
                indicatif::ProgressDrawTarget::stderr()
            });
        }
        if asking {
            return;
        }
        let mut names: Vec<String> = p.running.iter().take(4).cloned().collect();
        if p.running.len() > 4 {
            names.push(format!("+{}", p.running.len() - 4));
        }
        bar.set_message(format!(
            "{} done, {} failed, {} running: {}",
            p.done,
            p.failed,
            p.running.len(),
            names.join(" ")
        ));
        bar.tick();
    }

    /// Clears the view (before the result is printed).
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
