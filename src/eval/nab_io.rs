//! Reading a NAB checkout: data files, label windows, profiles, thresholds and shipped
//! results. Paths are discovered by scanning, never hard-coded, because acceptance runs use
//! categories that are not present during development.

use super::nab::CostMatrix;
use chrono::NaiveDateTime;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Label windows per relative file name (`"<category>/<file>.csv"`).
pub type Windows = BTreeMap<String, Vec<(NaiveDateTime, NaiveDateTime)>>;

/// One data file: relative name, timestamps and values (and scores when it is a result file).
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// `"<category>/<file>.csv"`.
    pub name: String,
    /// Row timestamps.
    pub timestamps: Vec<NaiveDateTime>,
    /// Row values.
    pub values: Vec<f64>,
    /// `anomaly_score` column for result files (empty for data files).
    pub scores: Vec<f64>,
}

/// Parse NAB timestamps (`YYYY-MM-DD HH:MM:SS` with optional fraction).
pub fn parse_ts(s: &str) -> Result<NaiveDateTime, String> {
    NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S%.f").map_err(|e| format!("bad timestamp {s:?}: {e}"))
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Load `labels/combined_windows.json`.
pub fn load_windows(root: &Path) -> Result<Windows, String> {
    load_windows_file(&root.join("labels/combined_windows.json"))
}

/// Load a windows file in the layout of `combined_windows.json`.
pub fn load_windows_file(path: &Path) -> Result<Windows, String> {
    let v = read_json(path)?;
    let obj = v.as_object().ok_or(format!("{} is not an object", path.display()))?;
    let mut out = Windows::new();
    for (name, list) in obj {
        let mut ws = Vec::new();
        for w in list.as_array().ok_or("window list is not an array")? {
            let pair = w.as_array().ok_or("window is not an array")?;
            let (Some(a), Some(b)) = (pair.first().and_then(Value::as_str), pair.get(1).and_then(Value::as_str)) else {
                return Err(format!("bad window in {name}"));
            };
            ws.push((parse_ts(a)?, parse_ts(b)?));
        }
        ws.sort();
        out.insert(name.clone(), ws);
    }
    Ok(out)
}

/// Load label instants in the layout of `combined_labels.json` (`{file: [timestamp, …]}`).
pub fn load_instants(path: &Path) -> Result<BTreeMap<String, Vec<NaiveDateTime>>, String> {
    let v = read_json(path)?;
    let obj = v.as_object().ok_or(format!("{} is not an object", path.display()))?;
    let mut out = BTreeMap::new();
    for (name, list) in obj {
        let list = list.as_array().ok_or(format!("{}: labels of {name} are not an array", path.display()))?;
        let mut ts = list
            .iter()
            .map(|t| t.as_str().ok_or(format!("bad label in {name}")).and_then(parse_ts))
            .collect::<Result<Vec<_>, _>>()?;
        ts.sort();
        out.insert(name.clone(), ts);
    }
    Ok(out)
}

/// Load `config/profiles.json` as `(name, weights)` in a stable order.
pub fn load_profiles(root: &Path) -> Result<Vec<(String, CostMatrix)>, String> {
    let v = read_json(&root.join("config/profiles.json"))?;
    let obj = v.as_object().ok_or("profiles.json is not an object")?;
    let mut out = Vec::new();
    for (name, p) in obj {
        let m = &p["CostMatrix"];
        let get = |k: &str| m[k].as_f64().ok_or(format!("profile {name} lacks {k}"));
        out.push((name.clone(), CostMatrix { tp: get("tpWeight")?, fp: get("fpWeight")?, fn_: get("fnWeight")? }));
    }
    out.sort_by_key(|(n, _)| if n == "standard" { 0 } else { 1 });
    Ok(out)
}

/// The tuned threshold of `detector` for `profile` from `config/thresholds.json`.
pub fn load_threshold(root: &Path, detector: &str, profile: &str) -> Result<f64, String> {
    let v = read_json(&root.join("config/thresholds.json"))?;
    v[detector][profile]["threshold"].as_f64().ok_or(format!("no threshold for {detector}/{profile}"))
}

/// All `data/*/*.csv` files, sorted by relative name.
pub fn list_data_files(root: &Path) -> Result<Vec<String>, String> {
    let data = root.join("data");
    let mut out = Vec::new();
    let cats = fs::read_dir(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    for cat in cats.flatten() {
        if !cat.path().is_dir() {
            continue;
        }
        let cat_name = cat.file_name().to_string_lossy().into_owned();
        for f in fs::read_dir(cat.path()).map_err(|e| e.to_string())?.flatten() {
            let fname = f.file_name().to_string_lossy().into_owned();
            if fname.ends_with(".csv") {
                out.push(format!("{cat_name}/{fname}"));
            }
        }
    }
    if out.is_empty() {
        // Scoring no files reports zeros that read like a result; refuse instead.
        return Err(format!(
            "{}: no CSV files in its category folders (NAB layout: data/<category>/<file>.csv)",
            data.display()
        ));
    }
    out.sort();
    Ok(out)
}

/// Read a CSV with `timestamp`, `value` and optionally `anomaly_score` columns.
pub fn read_series(path: &Path, name: &str) -> Result<Series, String> {
    let mut rdr = csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let headers = rdr.headers().map_err(|e| e.to_string())?.clone();
    let col = |n: &str| headers.iter().position(|h| h.trim() == n);
    let ts_i = col("timestamp").ok_or(format!("{}: no timestamp column", path.display()))?;
    let val_i = col("value");
    let score_i = col("anomaly_score");
    let mut s = Series { name: name.to_string(), ..Series::default() };
    for rec in rdr.records() {
        let rec = rec.map_err(|e| format!("{}: {e}", path.display()))?;
        let field = |i: usize| rec.get(i).unwrap_or("").trim().to_string();
        s.timestamps.push(parse_ts(&field(ts_i))?);
        s.values.push(val_i.and_then(|i| field(i).parse().ok()).unwrap_or(f64::NAN));
        if let Some(i) = score_i {
            s.scores.push(field(i).parse().unwrap_or(0.0));
        }
    }
    Ok(s)
}

/// Path of the shipped result file of `detector` for a relative data file name.
pub fn result_path(root: &Path, detector: &str, name: &str) -> PathBuf {
    let (cat, file) = name.split_once('/').unwrap_or(("", name));
    root.join("results").join(detector).join(cat).join(format!("{detector}_{file}"))
}

/// One row of a shipped `<detector>_<profile>_scores.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct ShippedScore {
    /// Threshold used.
    pub threshold: f64,
    /// Raw score.
    pub score: f64,
    /// Counts.
    pub tp: usize,
    /// Counts.
    pub tn: usize,
    /// Counts.
    pub fp: usize,
    /// Counts.
    pub fn_: usize,
    /// Rows.
    pub total: usize,
}

/// Read a shipped scores table (`Detector,Profile,File,Threshold,Score,TP,TN,FP,FN,Total_Count`)
/// keyed by relative file name.
pub fn read_scores_table(path: &Path) -> Result<BTreeMap<String, ShippedScore>, String> {
    let mut rdr = csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = BTreeMap::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| e.to_string())?;
        let f = |i: usize| rec.get(i).unwrap_or("").trim();
        let num = |i: usize| f(i).parse::<f64>().map_err(|e| format!("{}: {e}", f(i)));
        if f(2).is_empty() || f(0) == "Totals" {
            continue;
        }
        out.insert(
            f(2).to_string(),
            ShippedScore {
                threshold: num(3)?,
                score: num(4)?,
                tp: num(5)? as usize,
                tn: num(6)? as usize,
                fp: num(7)? as usize,
                fn_: num(8)? as usize,
                total: num(9)? as usize,
            },
        );
    }
    Ok(out)
}
