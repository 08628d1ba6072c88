//! Shards: one slice of a job list per process of a batch engine (`--shard i/n`, or the array
//! index a Kubernetes Indexed Job or a Slurm job array sets), and the `shard=i` directories they
//! write for `ringfence merge`.

use crate::exit::bad_input;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Shard `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: usize,
    /// How many shards share the job list.
    pub count: usize,
}

/// The environment variable a Kubernetes Indexed Job sets to the pod's completion index.
pub const K8S_INDEX: &str = "JOB_COMPLETION_INDEX";
/// The shard count beside [`K8S_INDEX`]: Kubernetes does not expose `spec.completions` to the pod
/// (kubernetes/kubernetes#106009), so the manifest sets this variable to the same number.
pub const K8S_COUNT: &str = "RINGFENCE_SHARD_COUNT";
/// Slurm job arrays: the task id, the number of tasks and the lowest task id.
pub const SLURM_ID: &str = "SLURM_ARRAY_TASK_ID";
/// See [`SLURM_ID`].
pub const SLURM_COUNT: &str = "SLURM_ARRAY_TASK_COUNT";
/// See [`SLURM_ID`].
pub const SLURM_MIN: &str = "SLURM_ARRAY_TASK_MIN";

impl Shard {
    /// Parses `i/n` (`0 ≤ i < n`); `what` names where the value came from in errors.
    pub fn parse(s: &str, what: &str) -> Result<Shard> {
        let bad = |why: &str| {
            bad_input(format!(
                "{what}: {s:?} {why}; expected i/n with 0 <= i < n, e.g. 0/4 for the first of four shards"
            ))
        };
        let (i, n) = s.trim().split_once('/').ok_or_else(|| bad("is not i/n"))?;
        let index: usize = i
            .trim()
            .parse()
            .map_err(|_| bad("has no whole shard index"))?;
        let count: usize = n
            .trim()
            .parse()
            .map_err(|_| bad("has no whole shard count"))?;
        if count == 0 {
            return Err(bad("has a shard count of 0"));
        }
        if index >= count {
            return Err(bad("has an index past the last shard"));
        }
        Ok(Shard { index, count })
    }

    /// The shard of `--shard` when given, else of the batch engine's environment, else `None`.
    pub fn resolve(flag: Option<&str>) -> Result<Option<Shard>> {
        if let Some(s) = flag {
            return Shard::parse(s, "--shard").map(Some);
        }
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        if let Some(i) = var(K8S_INDEX) {
            let Some(n) = var(K8S_COUNT) else {
                return Err(bad_input(format!(
                    "{K8S_INDEX}={i} is set (a Kubernetes Indexed Job) but {K8S_COUNT} is not: \
                     Kubernetes does not pass the completion count to the pod, so set {K8S_COUNT} \
                     to the Job's spec.completions in the manifest (see docs/cluster.md), or pass \
                     --shard i/n"
                )));
            };
            return Shard::parse(&format!("{i}/{n}"), &format!("{K8S_INDEX}/{K8S_COUNT}"))
                .map(Some);
        }
        if let Some(id) = var(SLURM_ID) {
            let what = format!("{SLURM_ID}/{SLURM_COUNT}");
            let Some(n) = var(SLURM_COUNT) else {
                return Err(bad_input(format!(
                    "{SLURM_ID}={id} is set but {SLURM_COUNT} is not; pass --shard i/n"
                )));
            };
            let num = |k: &str, v: &str| -> Result<usize> {
                v.trim().parse().map_err(|_| {
                    bad_input(format!("{k}: {v:?} is not a whole number (from {what})"))
                })
            };
            let id_n = num(SLURM_ID, &id)?;
            let min = match var(SLURM_MIN) {
                Some(m) => num(SLURM_MIN, &m)?,
                None => 0,
            };
            let Some(index) = id_n.checked_sub(min) else {
                return Err(bad_input(format!(
                    "{SLURM_ID}={id} is below {SLURM_MIN}={min}"
                )));
            };
            return Shard::parse(&format!("{index}/{n}"), &what).map(Some);
        }
        Ok(None)
    }

    /// This shard's contiguous part of `0..len`: `[i·len/n, (i+1)·len/n)`. The parts of all
    /// shards, in shard order, are `0..len` exactly once.
    pub fn range(&self, len: usize) -> Range<usize> {
        let at = |k: usize| (k as u128 * len as u128 / self.count as u128) as usize;
        at(self.index)..at(self.index + 1)
    }

    /// The shard's directory name, `shard=i`.
    pub fn dir_name(&self) -> String {
        format!("shard={}", self.index)
    }
}

/// What every shard directory records in `shard.json`: enough to check that shards belong
/// together and to rebuild the outputs of a one-machine run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// `run` or `stress`.
    pub kind: String,
    /// The program that wrote it (`ringfence 0.1.0`): shards of different versions do not merge.
    pub program: String,
    /// This shard.
    pub shard: Shard,
    /// Items of the whole job list (runs, or paths for `stress`).
    pub items: usize,
    /// The part of the job list this shard ran.
    pub range: (usize, usize),
    /// FNV-1a of everything the outputs depend on (scenario text, arguments): shards of
    /// different sweeps do not merge.
    pub fingerprint: String,
    /// The working directory the shard ran in.
    pub cwd: PathBuf,
    /// The scenario path as given.
    pub scenario: PathBuf,
    /// The command's own settings (for `stress`: the parameters and labels of the outputs).
    pub settings: serde_json::Value,
}

/// FNV-1a, 64 bit, as 16 hex digits.
pub fn fingerprint(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0xff]) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// The shard directories under `dirs`: each given directory is a `shard=i` directory itself or
/// holds them. Read, checked to be one complete set (same kind, program, fingerprint and count;
/// every index exactly once) and returned in shard order.
pub fn collect(dirs: &[PathBuf]) -> Result<Vec<(PathBuf, Manifest)>> {
    let mut found: Vec<PathBuf> = Vec::new();
    for d in dirs {
        if d.join("shard.json").is_file() {
            found.push(d.clone());
            continue;
        }
        let rd = std::fs::read_dir(d).map_err(|e| {
            bad_input(format!(
                "{}: cannot read the shard directory ({e}); give the directories the shards \
                 wrote (shard=i, or their parent)",
                d.display()
            ))
        })?;
        let mut subs: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("shard="))
                    && p.join("shard.json").is_file()
            })
            .collect();
        if subs.is_empty() {
            return Err(bad_input(format!(
                "{}: no shard here (no shard.json, no shard=i directory with one)",
                d.display()
            )));
        }
        subs.sort();
        found.extend(subs);
    }
    let mut shards: Vec<(PathBuf, Manifest)> = Vec::new();
    for d in found {
        let path = d.join("shard.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let m: Manifest = serde_json::from_str(&text)
            .map_err(|e| bad_input(format!("{}: not a shard manifest ({e})", path.display())))?;
        shards.push((d, m));
    }
    let Some((first_dir, first)) = shards.first().cloned() else {
        return Err(bad_input("merge: no shard directory given"));
    };
    for (d, m) in &shards {
        let differs = |what: &str, a: &str, b: &str| {
            bad_input(format!(
                "{}: {what} {a} differs from {b} in {}; these shards are not one sweep",
                d.display(),
                first_dir.display()
            ))
        };
        if m.kind != first.kind {
            return Err(differs("kind", &m.kind, &first.kind));
        }
        if m.program != first.program {
            return Err(differs("program", &m.program, &first.program));
        }
        if m.fingerprint != first.fingerprint {
            return Err(differs(
                "fingerprint (scenario and arguments)",
                &m.fingerprint,
                &first.fingerprint,
            ));
        }
        if m.shard.count != first.shard.count {
            return Err(differs(
                "shard count",
                &m.shard.count.to_string(),
                &first.shard.count.to_string(),
            ));
        }
    }
    shards.sort_by_key(|(_, m)| m.shard.index);
    for w in shards.windows(2) {
        if w[0].1.shard.index == w[1].1.shard.index {
            return Err(bad_input(format!(
                "shard {} of {} given twice: {} and {}",
                w[0].1.shard.index,
                first.shard.count,
                w[0].0.display(),
                w[1].0.display()
            )));
        }
    }
    let have: Vec<usize> = shards.iter().map(|(_, m)| m.shard.index).collect();
    let missing: Vec<String> = (0..first.shard.count)
        .filter(|i| !have.contains(i))
        .map(|i| format!("shard={i}"))
        .collect();
    if !missing.is_empty() {
        return Err(bad_input(format!(
            "merge: {} of {} shards missing ({}); run them (or wait for them) and merge again",
            missing.len(),
            first.shard.count,
            missing.join(", ")
        )));
    }
    Ok(shards)
}

/// The directory a shard writes: `<out>/shard=i`.
pub fn shard_dir(out: &Path, shard: &Shard) -> PathBuf {
    out.join(shard.dir_name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_slices() {
        let s = Shard::parse("2/7", "--shard").unwrap();
        assert_eq!((s.index, s.count), (2, 7));
        for bad in ["7/7", "1", "a/3", "1/0", "-1/3", "1/b"] {
            let e = Shard::parse(bad, "--shard").unwrap_err();
            assert!(crate::exit::is_bad_input(&e), "{bad}");
            assert!(e.to_string().contains("--shard"), "{e}");
        }
        for n in [1usize, 2, 3, 7] {
            for len in [0usize, 1, 5, 40, 41] {
                let all: Vec<usize> = (0..n)
                    .flat_map(|i| Shard { index: i, count: n }.range(len))
                    .collect();
                assert_eq!(all, (0..len).collect::<Vec<_>>());
            }
        }
    }
}
