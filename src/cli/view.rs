//! The live step view on stderr (`flowc run`, `flowc repl`): a spinner with
//! the elapsed time, how many steps are done or failed, and which are running.

use std::future::Future;
use std::time::Duration;

use crate::run::record::Recorder;

pub struct StepView {
    bar: Option<indicatif::ProgressBar>,
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
        StepView { bar }
    }

    /// Runs `run`, redrawing the view every 100 ms from the recorder's steps.
    pub async fn drive<F: Future>(&self, run: F, recorder: &Recorder) -> F::Output {
        let Some(bar) = &self.bar else {
            return run.await;
        };
        tokio::pin!(run);
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                r = &mut run => return r,
                _ = tick.tick() => {
                    let (running, done, failed) = recorder.progress();
                    let mut names: Vec<String> = running.iter().take(4).cloned().collect();
                    if running.len() > 4 {
                        names.push(format!("+{}", running.len() - 4));
                    }
                    bar.set_message(format!(
                        "{done} done, {failed} failed, {} running: {}",
                        running.len(),
                        names.join(" ")
                    ));
                    bar.tick();
                }
            }
        }
    }

    /// Clears the view (before the result is printed).
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
