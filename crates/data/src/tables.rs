//! Writing result tables as Parquet (the large tables of a run: trades, equity), keeping polars
//! behind this crate's boundary.

use crate::DataError;
use polars::prelude::*;
use std::path::Path;

/// One typed column of a result table.
#[derive(Debug, Clone, PartialEq)]
pub enum TableColumn {
    /// Text (symbols, names, ISO times, decimals rendered exactly).
    Str(Vec<String>),
    /// Floating point (prices, ratios).
    F64(Vec<f64>),
    /// Integers (counts, millisecond timestamps).
    I64(Vec<i64>),
}

impl TableColumn {
    fn len(&self) -> usize {
        match self {
            TableColumn::Str(v) => v.len(),
            TableColumn::F64(v) => v.len(),
            TableColumn::I64(v) => v.len(),
        }
    }
}

/// Writes the named columns (all of one length) to a Parquet file (zstd-compressed).
pub fn write_parquet(path: &Path, columns: Vec<(String, TableColumn)>) -> Result<(), DataError> {
    let name = path.display().to_string();
    let mut df = frame(&name, columns)?;
    let file = std::fs::File::create(path).map_err(|e| DataError::io(path, e))?;
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(None))
        .finish(&mut df)
        .map_err(|e| DataError::file(&name, format!("cannot write parquet: {e}")))?;
    Ok(())
}

/// Writes a Parquet file one batch of rows at a time (one row group per batch), so memory holds
/// one batch, not the table. Every batch has the same named columns; the first batch (possibly
/// empty) fixes the schema. No batch at all writes nothing and is an error.
pub fn write_parquet_batches(
    path: &Path,
    batches: impl IntoIterator<Item = Vec<(String, TableColumn)>>,
) -> Result<(), DataError> {
    let name = path.display().to_string();
    let pe = |e: PolarsError| DataError::file(&name, format!("cannot write parquet: {e}"));
    let mut writer = None;
    for cols in batches {
        let df = frame(&name, cols)?;
        if writer.is_none() {
            let file = std::fs::File::create(path).map_err(|e| DataError::io(path, e))?;
            writer = Some(
                ParquetWriter::new(file)
                    .with_compression(ParquetCompression::Zstd(None))
                    .batched(df.schema())
                    .map_err(pe)?,
            );
        }
        if let Some(w) = writer.as_mut() {
            w.write_batch(&df).map_err(pe)?;
        }
    }
    let Some(w) = writer else {
        return Err(DataError::file(
            &name,
            "no rows to write (not even an empty batch)",
        ));
    };
    w.finish().map_err(pe)?;
    Ok(())
}

/// A data frame of the named columns, all of one length.
fn frame(name: &str, columns: Vec<(String, TableColumn)>) -> Result<DataFrame, DataError> {
    let height = columns.first().map_or(0, |(_, c)| c.len());
    if let Some((n, c)) = columns.iter().find(|(_, c)| c.len() != height) {
        return Err(DataError::file(
            name,
            format!("column {n} has {} rows, expected {height}", c.len()),
        ));
    }
    let cols: Vec<Column> = columns
        .into_iter()
        .map(|(n, c)| match c {
            TableColumn::Str(v) => Column::new(n.into(), v),
            TableColumn::F64(v) => Column::new(n.into(), v),
            TableColumn::I64(v) => Column::new(n.into(), v),
        })
        .collect();
    DataFrame::new(height, cols)
        .map_err(|e| DataError::file(name, format!("cannot build table: {e}")))
}

/// Reads a table written by [`write_parquet`]: every column, typed as it was written (text,
/// float, integer). Any other column type, or a null cell, is an error naming the file and column.
pub fn read_parquet(path: &Path) -> Result<Vec<(String, TableColumn)>, DataError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let df = ParquetReader::new(file)
        .finish()
        .map_err(|e| DataError::file(&name, format!("cannot read parquet: {e}")))?;
    let mut out = Vec::with_capacity(df.width());
    for col in df.columns() {
        let s = col.as_materialized_series();
        let cname = s.name().to_string();
        let bad = |what: &str| DataError::file(&name, format!("column {cname}: {what}"));
        if s.null_count() > 0 {
            return Err(bad("has empty cells"));
        }
        let c = match s.dtype() {
            DataType::String => TableColumn::Str(
                s.str()
                    .map_err(|e| bad(&e.to_string()))?
                    .iter()
                    .map(|v| v.unwrap_or_default().to_string())
                    .collect(),
            ),
            DataType::Float64 => TableColumn::F64(
                s.f64()
                    .map_err(|e| bad(&e.to_string()))?
                    .iter()
                    .map(Option::unwrap_or_default)
                    .collect(),
            ),
            DataType::Int64 => TableColumn::I64(
                s.i64()
                    .map_err(|e| bad(&e.to_string()))?
                    .iter()
                    .map(Option::unwrap_or_default)
                    .collect(),
            ),
            other => return Err(bad(&format!("unexpected type {other}"))),
        };
        out.push((cname, c));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_table_and_refuses_ragged_columns() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.parquet");
        write_parquet(
            &p,
            vec![
                ("run".into(), TableColumn::Str(vec!["a".into(), "b".into()])),
                ("x".into(), TableColumn::F64(vec![1.0, 2.5])),
                ("t".into(), TableColumn::I64(vec![1, 2])),
            ],
        )
        .unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));
        let back = read_parquet(&p).unwrap();
        assert_eq!(
            back,
            vec![
                ("run".into(), TableColumn::Str(vec!["a".into(), "b".into()])),
                ("x".into(), TableColumn::F64(vec![1.0, 2.5])),
                ("t".into(), TableColumn::I64(vec![1, 2])),
            ]
        );
        let q = dir.path().join("b.parquet");
        let batch = |a: &str, x: f64| {
            vec![
                ("run".to_string(), TableColumn::Str(vec![a.to_string()])),
                ("x".to_string(), TableColumn::F64(vec![x])),
            ]
        };
        write_parquet_batches(&q, [batch("a", 1.0), batch("b", 2.5)]).unwrap();
        assert_eq!(
            read_parquet(&q).unwrap(),
            vec![
                ("run".into(), TableColumn::Str(vec!["a".into(), "b".into()])),
                ("x".into(), TableColumn::F64(vec![1.0, 2.5])),
            ]
        );
        assert!(write_parquet_batches(&q, []).is_err());
        let err = write_parquet(
            &p,
            vec![
                ("a".into(), TableColumn::F64(vec![1.0])),
                ("b".into(), TableColumn::I64(vec![])),
            ],
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("column b has 0 rows, expected 1"),
            "{err}"
        );
    }
}
