//! Writing result tables as Parquet (the large tables of a run: trades, equity, the report's
//! curves), whole or streamed batch by batch, and reading them back; polars stays behind this
//! crate's boundary.

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
    /// Rows in the column.
    pub fn len(&self) -> usize {
        match self {
            TableColumn::Str(v) => v.len(),
            TableColumn::F64(v) => v.len(),
            TableColumn::I64(v) => v.len(),
        }
    }

    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The columns as a polars frame, checked to be of one length.
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

/// A Parquet file written batch by batch (each batch one or more row groups), so that a table
/// larger than memory can be written as its rows are produced. Every batch has the columns of the
/// first, in the same order and of the same types. [`ParquetStream::finish`] writes the footer; a
/// stream dropped without it leaves an unreadable file (the caller's staging directory removes it).
pub struct ParquetStream {
    name: String,
    path: std::path::PathBuf,
    writer: Option<polars::io::parquet::write::BatchedWriter<std::io::BufWriter<std::fs::File>>>,
    rows: usize,
}

impl ParquetStream {
    /// Creates `path` (nothing is written until the first batch).
    pub fn create(path: &Path) -> Result<Self, DataError> {
        Ok(ParquetStream {
            name: path.display().to_string(),
            path: path.to_path_buf(),
            writer: None,
            rows: 0,
        })
    }

    /// Appends one batch of rows (columns of one length).
    pub fn write(&mut self, columns: Vec<(String, TableColumn)>) -> Result<(), DataError> {
        let df = frame(&self.name, columns)?;
        if df.height() == 0 && self.writer.is_some() {
            return Ok(());
        }
        let err =
            |e: PolarsError| DataError::file(&self.name, format!("cannot write parquet: {e}"));
        if self.writer.is_none() {
            let file =
                std::fs::File::create(&self.path).map_err(|e| DataError::io(&self.path, e))?;
            let w = ParquetWriter::new(std::io::BufWriter::new(file))
                .with_compression(ParquetCompression::Zstd(None))
                .batched(df.schema())
                .map_err(err)?;
            self.writer = Some(w);
        }
        if let Some(w) = self.writer.as_mut() {
            w.write_batch(&df).map_err(err)?;
        }
        self.rows += df.height();
        Ok(())
    }

    /// Writes the footer; returns the rows written. A stream that received no batch writes
    /// `empty` (the columns, no rows) so that the file always has its schema.
    pub fn finish(mut self, empty: Vec<(String, TableColumn)>) -> Result<usize, DataError> {
        if self.writer.is_none() {
            self.write(empty)?;
        }
        let err =
            |e: PolarsError| DataError::file(&self.name, format!("cannot write parquet: {e}"));
        if let Some(w) = self.writer.take() {
            w.finish().map_err(err)?;
        }
        Ok(self.rows)
    }
}

/// Reads a Parquet file written by [`write_parquet`] or [`ParquetStream`]: every column by name,
/// text, float and integer columns as such (other types are an error naming the column).
pub fn read_parquet(path: &Path) -> Result<Vec<(String, TableColumn)>, DataError> {
    read_parquet_slice(path, None)
}

/// The number of rows of a Parquet file (from its footer).
pub fn parquet_rows(path: &Path) -> Result<usize, DataError> {
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    ParquetReader::new(file).num_rows().map_err(|e| {
        DataError::file(
            path.display().to_string(),
            format!("unreadable parquet file: {e}"),
        )
    })
}

/// [`read_parquet`] of the rows `offset .. offset + len` only (`None`: every row), so that a
/// large table can be read a slice at a time.
pub fn read_parquet_slice(
    path: &Path,
    slice: Option<(usize, usize)>,
) -> Result<Vec<(String, TableColumn)>, DataError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let df = ParquetReader::new(file)
        .with_slice(slice)
        .finish()
        .map_err(|e| DataError::file(&name, format!("unreadable parquet file: {e}")))?;
    let bad = |c: &str, e: PolarsError| DataError::file(&name, format!("column {c}: {e}"));
    df.columns()
        .iter()
        .map(|c| {
            let n = c.name().to_string();
            let s = c.as_materialized_series();
            let col = match s.dtype() {
                DataType::String => TableColumn::Str(
                    s.str()
                        .map_err(|e| bad(&n, e))?
                        .iter()
                        .map(|v| v.unwrap_or_default().to_string())
                        .collect(),
                ),
                DataType::Float64 => TableColumn::F64(
                    s.f64()
                        .map_err(|e| bad(&n, e))?
                        .iter()
                        .map(|v| v.unwrap_or(f64::NAN))
                        .collect(),
                ),
                DataType::Int64 => TableColumn::I64(
                    s.i64()
                        .map_err(|e| bad(&n, e))?
                        .iter()
                        .map(|v| v.unwrap_or(0))
                        .collect(),
                ),
                other => {
                    return Err(DataError::file(
                        &name,
                        format!("column {n} has type {other}, expected text, f64 or i64"),
                    ));
                }
            };
            Ok((n, col))
        })
        .collect()
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

    #[test]
    fn a_streamed_table_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.parquet");
        let batch = |from: i64, n: i64| {
            vec![
                (
                    "run".to_string(),
                    TableColumn::Str((from..from + n).map(|i| format!("r{i}")).collect()),
                ),
                (
                    "x".to_string(),
                    TableColumn::F64((from..from + n).map(|i| i as f64 * 0.5).collect()),
                ),
                (
                    "t".to_string(),
                    TableColumn::I64((from..from + n).collect()),
                ),
            ]
        };
        let mut s = ParquetStream::create(&p).unwrap();
        s.write(batch(0, 3)).unwrap();
        s.write(batch(3, 0)).unwrap();
        s.write(batch(3, 2)).unwrap();
        assert_eq!(s.finish(batch(0, 0)).unwrap(), 5);
        assert_eq!(read_parquet(&p).unwrap(), batch(0, 5));
        // no batch at all: the schema, no rows
        let e = dir.path().join("e.parquet");
        ParquetStream::create(&e)
            .unwrap()
            .finish(batch(0, 0))
            .unwrap();
        assert_eq!(read_parquet(&e).unwrap(), batch(0, 0));
        let err = read_parquet(&dir.path().join("missing.parquet")).unwrap_err();
        assert!(err.to_string().contains("missing.parquet"), "{err}");
    }
}
