//! Writes the fixture report to a directory, to look at it:
//! `cargo run -p ringfence-report --features fixtures --example sample_report -- /tmp/report`.

fn main() {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "sample-report".to_string());
    let input = ringfence_report::fixtures::sample();
    match ringfence_report::write_report(&input, std::path::Path::new(&out)) {
        Ok(files) => {
            println!("{}", files.html.display());
            for p in files.pngs {
                println!("{}", p.display());
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
