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
    let height = columns.first().map_or(0, |(_, c)| c.len());
    if let Some((n, c)) = columns.iter().find(|(_, c)| c.len() != height) {
        return Err(DataError::file(
            &name,
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
    let mut df = DataFrame::new(height, cols)
        .map_err(|e| DataError::file(&name, format!("cannot build table: {e}")))?;
    let file = std::fs::File::create(path).map_err(|e| DataError::io(path, e))?;
    ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(None))
        .finish(&mut df)
        .map_err(|e| DataError::file(&name, format!("cannot write parquet: {e}")))?;
    Ok(())
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
