//! `run --timings`: the time of each phase of a run, printed to stderr.
//!
//! Phases in order: `load` (scenario, data, signals, brackets read and checked), `prepare` (jobs
//! listed, shared market statistics set up), `simulate` (the engine, band runs included),
//! `annotate` (book correlation and correlated exposure of every equity point), `checklist`
//! (pre-signal checklist and claims), `outputs` (tables, `run.json`, the report's input) and
//! `report` (charts and `report.html`). The runs go in parallel: `simulate` and `annotate` are
//! thread time summed over runs, beside the wall time of the whole sweep (`runs`), which also
//! holds the writing of each run's rows as it finished.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The phases, in the order they are printed.
pub const PHASES: [&str; 7] = [
    "load",
    "prepare",
    "simulate",
    "annotate",
    "checklist",
    "outputs",
    "report",
];

/// Time per phase (nanoseconds, added to from any thread) and the sweep's wall time.
#[derive(Default)]
pub struct Timings {
    phases: [AtomicU64; 7],
    sweep: AtomicU64,
    runs: AtomicU64,
}

impl Timings {
    /// Adds `d` to `phase` (one of [`PHASES`]).
    pub fn add(&self, phase: &str, d: Duration) {
        if let Some(k) = PHASES.iter().position(|p| *p == phase) {
            self.phases[k].fetch_add(nanos(d), Ordering::Relaxed);
        }
    }

    /// Runs `f`, adding its time to `phase`.
    pub fn time<T>(&self, phase: &str, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let out = f();
        self.add(phase, t.elapsed());
        out
    }

    /// Records the wall time of the sweep of `runs` runs.
    pub fn sweep(&self, runs: usize, wall: Duration) {
        self.sweep.store(nanos(wall), Ordering::Relaxed);
        self.runs.store(runs as u64, Ordering::Relaxed);
    }

    /// Time spent in `phase` so far.
    pub fn of(&self, phase: &str) -> Duration {
        PHASES
            .iter()
            .position(|p| *p == phase)
            .map_or(Duration::ZERO, |k| {
                Duration::from_nanos(self.phases[k].load(Ordering::Relaxed))
            })
    }

    /// The table printed by `--timings`: one line per phase, then the total and the sweep.
    pub fn render(&self, total: Duration, threads: usize) -> String {
        let mut out = String::from("timings (seconds)\n");
        for p in PHASES {
            out.push_str(&format!("  {p:<10} {:>8.3}\n", self.of(p).as_secs_f64()));
        }
        out.push_str(&format!("  {:<10} {:>8.3}\n", "total", total.as_secs_f64()));
        let runs = self.runs.load(Ordering::Relaxed);
        out.push_str(&format!(
            "  {runs} run(s) on {threads} thread(s) took {:.3} s of wall time; simulate and annotate are summed over runs\n",
            Duration::from_nanos(self.sweep.load(Ordering::Relaxed)).as_secs_f64()
        ));
        out
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_add_up_and_render_in_order() {
        let t = Timings::default();
        t.add("simulate", Duration::from_millis(250));
        t.add("simulate", Duration::from_millis(250));
        t.add("report", Duration::from_millis(1500));
        t.add("no such phase", Duration::from_secs(9));
        assert_eq!(t.time("load", || 7), 7);
        t.sweep(3, Duration::from_millis(400));
        assert_eq!(t.of("simulate"), Duration::from_millis(500));
        let s = t.render(Duration::from_secs(2), 2);
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 1 + PHASES.len() + 2);
        assert!(
            lines[3].starts_with("  simulate") && lines[3].ends_with("0.500"),
            "{s}"
        );
        assert!(lines[7].ends_with("1.500"), "{s}");
        assert!(
            lines[8].contains("total") && lines[8].ends_with("2.000"),
            "{s}"
        );
        assert!(
            lines[9].contains("3 run(s) on 2 thread(s) took 0.400 s"),
            "{s}"
        );
    }
}
