//! Copies of a loaded market in other formats, written in set-up so loading can be timed per format.

use ringfence_data::DataError;
use ringfence_data::load::{Columns, FileFormat, FileSpec, SymbolSources};
use ringfence_data::tables::{TableColumn, write_parquet};
use ringfence_model::Market;
use std::path::Path;

/// Writes the candles of `market` as one Parquet file per symbol; returns the sources to load.
pub fn write_parquet_copy(market: &Market, dir: &Path) -> Result<Vec<SymbolSources>, DataError> {
    let mut out = Vec::new();
    for s in &market.series {
        let r = s.first..s.end;
        let path = dir.join(format!("{}.parquet", s.symbol));
        let cols = vec![
            (
                "timestamp".to_string(),
                TableColumn::I64(market.times[r.clone()].to_vec()),
            ),
            ("open".into(), TableColumn::F64(s.open[r.clone()].to_vec())),
            ("high".into(), TableColumn::F64(s.high[r.clone()].to_vec())),
            ("low".into(), TableColumn::F64(s.low[r.clone()].to_vec())),
            (
                "close".into(),
                TableColumn::F64(s.close[r.clone()].to_vec()),
            ),
            (
                "volume".into(),
                TableColumn::F64(
                    s.volume
                        .as_ref()
                        .map_or_else(|| vec![0.0; r.len()], |v| v[r.clone()].to_vec()),
                ),
            ),
        ];
        write_parquet(&path, cols)?;
        out.push(SymbolSources {
            symbol: s.symbol.clone(),
            candles: FileSpec {
                path,
                format: FileFormat::Parquet(Columns::default()),
            },
            mark: None,
            funding: None,
        });
    }
    Ok(out)
}
