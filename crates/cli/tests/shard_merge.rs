//! Sharding on batch engines and `ringfence merge`: a sweep split into n = 1, 2, 3 and 7 shards,
//! each shard a separate process of the built binary with the environment a Kubernetes Indexed
//! Job (`JOB_COMPLETION_INDEX`, plus `RINGFENCE_SHARD_COUNT` from the manifest) or a Slurm job
//! array (`SLURM_ARRAY_TASK_ID`, `SLURM_ARRAY_TASK_COUNT`, `SLURM_ARRAY_TASK_MIN`) sets, merged
//! into the outputs of the one-machine run, byte for byte (tables, JSON and report). Also: stress
//! outputs do not depend on the thread count, and bad shard values or a missing shard are exit 2.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// A small scenario on the demo data (one account, isolated and cross, four leverage caps: 8
/// runs), written into `dir`.
fn scenario(dir: &Path) -> PathBuf {
    scenario_with(dir, "")
}

/// [`scenario`] with `extra` appended to its text.
fn scenario_with(dir: &Path, extra: &str) -> PathBuf {
    let root = Path::new(DEMO).canonicalize().unwrap();
    let text = format!(
        r#"name = "shards"
signals = ["{root}/scenarios/demo-signals.csv"]

[data]
dir = "{root}/datasets/demo"
timeframe = "1h"

[[brackets]]
file = "{root}/datasets/demo/brackets.json"
effective = "2024-10-01"

[exchange]
preset = "binance_usdm"

[[account]]
name = "small"
collateral = {{ USDT = 1000 }}

[[policy]]
name = "isolated"
mode = "isolated"
margin_fraction = 0.05

[[policy]]
name = "cross"
mode = "cross"
margin_fraction = 0.05

[sweep]
max_leverage = [5, 10, 20, 25]
{extra}"#,
        root = root.display()
    );
    let path = dir.join("shards.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// How a batch engine tells a process which shard it is.
#[derive(Clone, Copy, Debug)]
enum Engine {
    Kubernetes,
    Slurm,
    Flag,
}

const ENGINE_VARS: [&str; 5] = [
    "JOB_COMPLETION_INDEX",
    "RINGFENCE_SHARD_COUNT",
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MIN",
];

fn ringfence(cwd: &Path, args: &[&str], env: &[(&str, String)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ringfence"));
    c.current_dir(cwd).args(args);
    for v in ENGINE_VARS {
        c.env_remove(v);
    }
    c.env_remove("RAYON_NUM_THREADS");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("the ringfence binary runs")
}

fn ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what} failed ({:?}):\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Runs shard `i` of `n` as `engine` would start it (Slurm arrays here run 1..=n, as
/// `--array=1-n` does).
fn shard(cwd: &Path, engine: Engine, i: usize, n: usize, args: &[&str]) {
    let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let env: Vec<(&str, String)> = match engine {
        Engine::Kubernetes => vec![
            ("JOB_COMPLETION_INDEX", i.to_string()),
            ("RINGFENCE_SHARD_COUNT", n.to_string()),
        ],
        Engine::Slurm => vec![
            ("SLURM_ARRAY_TASK_ID", (i + 1).to_string()),
            ("SLURM_ARRAY_TASK_COUNT", n.to_string()),
            ("SLURM_ARRAY_TASK_MIN", "1".to_string()),
        ],
        Engine::Flag => {
            args.extend(["--shard".to_string(), format!("{i}/{n}")]);
            vec![]
        }
    };
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(
        &ringfence(cwd, &a, &env),
        &format!("shard {i}/{n} ({engine:?})"),
    );
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

fn assert_same_dirs(a: &Path, b: &Path) {
    let (fa, fb) = (files(a), files(b));
    assert_eq!(
        fa,
        fb,
        "{} and {} hold different files",
        a.display(),
        b.display()
    );
    assert!(!fa.is_empty());
    for f in fa {
        let (x, y) = (
            std::fs::read(a.join(&f)).unwrap(),
            std::fs::read(b.join(&f)).unwrap(),
        );
        assert!(
            x == y,
            "{} differs between {} and {}",
            f.display(),
            a.display(),
            b.display()
        );
    }
}

fn sharded_equals_single(command: &[&str], extra: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let sc = scenario(cwd);
    let sc = sc.to_str().unwrap();
    let mut single: Vec<&str> = command.to_vec();
    single.push(sc);
    single.extend(extra);
    let mut args = single.clone();
    args.extend(["--out", "single"]);
    ok(&ringfence(cwd, &args, &[]), "single run");
    for (n, engine) in [
        (1, Engine::Flag),
        (2, Engine::Kubernetes),
        (3, Engine::Slurm),
        (7, Engine::Kubernetes),
    ] {
        let parts = format!("parts-{n}");
        for i in 0..n {
            let mut a = single.clone();
            a.extend(["--out", &parts]);
            shard(cwd, engine, i, n, &a);
        }
        assert_eq!(
            std::fs::read_dir(cwd.join(&parts)).unwrap().count(),
            n,
            "one shard=i directory per shard"
        );
        let merged = format!("merged-{n}");
        ok(
            &ringfence(cwd, &["merge", &parts, "--out", &merged], &[]),
            &format!("merge of {n}"),
        );
        assert_same_dirs(&cwd.join("single"), &cwd.join(&merged));
    }
}

/// A sweep larger than `report.detail_runs`: the tables are those of the same sweep reported run
/// by run, byte for byte; the report keeps the best and the worst run of each account × policy
/// and the distribution of all of them; a sharded run merges to it byte for byte.
#[test]
fn a_large_sweep_keeps_every_run_in_the_tables_and_its_extremes_in_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let all = scenario(cwd);
    let large_dir = cwd.join("large");
    std::fs::create_dir(&large_dir).unwrap();
    let large = scenario_with(&large_dir, "\n[report]\ndetail_runs = 3\n");
    let (all, large) = (all.to_str().unwrap(), large.to_str().unwrap());
    ok(
        &ringfence(cwd, &["run", all, "--out", "all"], &[]),
        "run by run",
    );
    let o = ringfence(cwd, &["run", large, "--out", "large-out"], &[]);
    ok(&o, "large sweep");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("small/isolated"), "{stdout}");
    assert!(
        stdout.contains("(8 runs: every one in summary.csv"),
        "{stdout}"
    );
    for f in [
        "summary.csv",
        "summary.json",
        "trades.csv",
        "trades.parquet",
        "liquidations.csv",
        "skipped.csv",
    ] {
        assert!(
            std::fs::read(cwd.join("all").join(f)).unwrap()
                == std::fs::read(cwd.join("large-out").join(f)).unwrap(),
            "{f} differs between the sweep reported run by run and the large one"
        );
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cwd.join("all/summary.json")).unwrap()).unwrap();
    let input: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cwd.join("large-out/report-input.json")).unwrap())
            .unwrap();
    assert_eq!(input["sweep"]["runs"], 8);
    let groups = input["sweep"]["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    let kept: Vec<&str> = input["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run"].as_str().unwrap())
        .collect();
    for (g, policy) in groups.iter().zip(["isolated", "cross"]) {
        assert_eq!(g["policy"], policy);
        assert_eq!(g["paths"], 4);
        let finals: Vec<(f64, &str)> = summary
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["policy"] == policy)
            .map(|r| {
                let f: f64 = r["summary"]["final_equity"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                (f, r["run"].as_str().unwrap())
            })
            .collect();
        let best = finals.iter().max_by(|a, b| a.0.total_cmp(&b.0)).unwrap();
        let worst = finals.iter().min_by(|a, b| a.0.total_cmp(&b.0)).unwrap();
        assert!(kept.contains(&best.1), "best {best:?} not in {kept:?}");
        assert!(kept.contains(&worst.1), "worst {worst:?} not in {kept:?}");
        let median = g["final_median"].as_f64().unwrap();
        assert!(worst.0 <= median && median <= best.0);
    }
    assert!(kept.len() <= 4, "{kept:?}");
    // equity.csv holds the curves of the runs shown in detail, as the run-by-run sweep has them.
    let rows_of = |dir: &str, keep: &dyn Fn(&str) -> bool| -> Vec<String> {
        std::fs::read_to_string(cwd.join(dir).join("equity.csv"))
            .unwrap()
            .lines()
            .filter(|l| keep(l))
            .map(str::to_string)
            .collect()
    };
    let shown =
        |l: &str| l.starts_with("run,") || kept.iter().any(|k| l.starts_with(&format!("{k},")));
    assert_eq!(rows_of("large-out", &|_| true), rows_of("all", &shown));
    let html = std::fs::read_to_string(cwd.join("large-out/report.html")).unwrap();
    assert!(html.contains("8 runs (") && html.contains("Whole sweep"));
    assert!(!cwd.join("large-out/sweep_heatmap.png").exists());
    for n in [2, 3] {
        let parts = format!("large-parts-{n}");
        for i in 0..n {
            shard(
                cwd,
                Engine::Kubernetes,
                i,
                n,
                &["run", large, "--out", &parts],
            );
        }
        let merged = format!("large-merged-{n}");
        ok(
            &ringfence(cwd, &["merge", &parts, "--out", &merged], &[]),
            &format!("merge of {n}"),
        );
        assert_same_dirs(&cwd.join("large-out"), &cwd.join(&merged));
    }
}

#[test]
fn run_shards_merge_to_the_single_run_byte_for_byte() {
    sharded_equals_single(&["run"], &[]);
}

/// With `--full-equity` the shards keep every equity point (for `equity.parquet`); without it
/// they store the curves at the bounded resolution, and both merge to the single run.
#[test]
fn full_equity_run_shards_merge_to_the_single_run_byte_for_byte() {
    sharded_equals_single(&["run"], &["--full-equity", "--no-report"]);
}

#[test]
fn stress_shards_merge_to_the_single_run_byte_for_byte() {
    sharded_equals_single(&["stress"], &["--paths", "9", "--seed", "5"]);
}

#[test]
fn stress_does_not_depend_on_the_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let sc = scenario(cwd);
    let sc = sc.to_str().unwrap();
    let base = ["stress", sc, "--paths", "6", "--no-report"];
    let mut a = base.to_vec();
    a.extend(["--out", "t1"]);
    ok(
        &ringfence(cwd, &a, &[("RAYON_NUM_THREADS", "1".into())]),
        "1 thread",
    );
    let mut b = base.to_vec();
    b.extend(["--out", "t2", "--threads", "2"]);
    ok(&ringfence(cwd, &b, &[]), "2 threads");
    assert_same_dirs(&cwd.join("t1"), &cwd.join("t2"));
    // the same seed gives the same paths; another seed other paths
    let mut c = base.to_vec();
    c.extend(["--out", "t3", "--seed", "2"]);
    ok(&ringfence(cwd, &c, &[]), "seed 2");
    let p1 = std::fs::read(cwd.join("t1/stress_paths.csv")).unwrap();
    assert_ne!(p1, std::fs::read(cwd.join("t3/stress_paths.csv")).unwrap());
}

#[test]
fn bad_shard_values_and_missing_shards_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let sc = scenario(cwd);
    let sc = sc.to_str().unwrap();
    for bad in ["3/3", "x/2", "1/0", "2"] {
        let o = ringfence(cwd, &["run", sc, "--shard", bad, "--out", "o"], &[]);
        assert_eq!(o.status.code(), Some(2), "--shard {bad}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("--shard") && err.contains("i/n"), "{err}");
        assert!(!cwd.join("o").exists());
    }
    let o = ringfence(
        cwd,
        &["run", sc, "--out", "o"],
        &[("JOB_COMPLETION_INDEX", "1".into())],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("RINGFENCE_SHARD_COUNT"));
    let o = ringfence(
        cwd,
        &["stress", sc, "--paths", "2", "--out", "o"],
        &[
            ("SLURM_ARRAY_TASK_ID", "4".into()),
            ("SLURM_ARRAY_TASK_COUNT", "3".into()),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("SLURM_ARRAY_TASK_ID"));

    // shards 0 and 2 of 3: merge names the missing one and writes nothing
    for i in [0, 2] {
        shard(
            cwd,
            Engine::Flag,
            i,
            3,
            &[
                "stress",
                sc,
                "--paths",
                "3",
                "--out",
                "parts",
                "--no-report",
            ],
        );
    }
    let o = ringfence(cwd, &["merge", "parts", "--out", "merged"], &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("1 of 3 shards missing (shard=1)"), "{err}");
    assert!(!cwd.join("merged").exists());
    let o = ringfence(cwd, &["merge", "nowhere", "--out", "merged"], &[]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn crash_transplant_places_the_window_every_week_and_bad_options_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let sc = scenario(cwd);
    let sc = sc.to_str().unwrap();
    // the demo market: 2025-07-01 00:00 .. 2025-10-28 23:00, hourly (2880 bars); a 12-bar window
    // at the same weekday and hour each week fits 17 times
    let o = ringfence(
        cwd,
        &[
            "stress",
            sc,
            "--method",
            "crash-transplant",
            "--window",
            "2025-08-20T12:00..2025-08-21T00:00",
            "--every",
            "7d",
            "--out",
            "ct",
            "--no-report",
        ],
        &[],
    );
    ok(&o, "crash transplant");
    let summary = std::fs::read_to_string(cwd.join("ct/stress_summary.csv")).unwrap();
    let mut lines = summary.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "paths").unwrap();
    for l in lines {
        assert_eq!(l.split(',').nth(col), Some("17"), "{l}");
    }
    let plan = std::fs::read_to_string(cwd.join("ct/stress.json")).unwrap();
    assert!(plan.contains("\"crash-transplant\""), "{plan}");
    for (args, needle) in [
        (vec!["--paths", "0"], "--paths"),
        (vec![], "--paths"),
        (vec!["--paths", "2", "--method", "shuffle"], "--method"),
        (vec!["--paths", "2", "--block", "10m"], "--block"),
        (vec!["--method", "crash-transplant"], "--window"),
        (
            vec![
                "--method",
                "crash-transplant",
                "--window",
                "2030-01-01..2030-01-02",
            ],
            "--window",
        ),
        (vec!["--paths", "2", "--pair", "cross:nope"], "--pair"),
    ] {
        let mut a = vec!["stress", sc, "--out", "bad"];
        a.extend(args.iter().copied());
        let o = ringfence(cwd, &a, &[]);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!cwd.join("bad").exists());
    }
}
