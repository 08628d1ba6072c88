//! `report.html` in a real browser: headless Chromium (Debian's `chromium`, which `.ci/run`
//! installs) driven through the DevTools protocol by the `headless_chrome` crate.
//!
//! On the demo and on the real-data scenario (`scenarios/harthor-oct-2025.toml`) it checks that the
//! page logs no console error and throws nothing, that every chart is drawn (the static SVGs and
//! the uPlot canvases, non-blank), that a click on a column heading sorts the table, that the run
//! picker shows the chosen run's trades and liquidations and the trade filter works, and that the
//! verdict names the policy that wiped out the `usdt` account (cross). Screenshots at 1,400 px and
//! 390 px are written to `<target>/tmp/report-screens/`.
//!
//! In CI (`CI=true`) a missing Chromium or missing shared data fails the test; elsewhere it is
//! skipped with a note.

use headless_chrome::browser::tab::Tab;
use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::protocol::cdp::{Emulation, Page};
use headless_chrome::{Browser, LaunchOptions};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// The Chromium binary (`$CHROMIUM`, else `/usr/bin/chromium`).
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if path.is_file() {
        return Some(path);
    }
    assert!(
        !in_ci(),
        "chromium is missing at {} (CI=true): `.ci/run` installs it with `apt-get install -y chromium`",
        path.display()
    );
    eprintln!(
        "note: {} missing; browser test skipped (apt-get install -y chromium)",
        path.display()
    );
    None
}

fn run_scenario(scenario: &str, out: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_ringfence"))
        .args(["run", &format!("{ROOT}/scenarios/{scenario}"), "--out"])
        .arg(out)
        .output()
        .expect("ringfence runs");
    assert!(
        status.status.success(),
        "run {scenario}: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}

fn launch(chrome: &Path, profile: &Path) -> Browser {
    let args: Vec<&OsStr> = [
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
    ]
    .iter()
    .map(OsStr::new)
    .collect();
    let options = LaunchOptions::default_builder()
        .path(Some(chrome.to_path_buf()))
        .headless(true)
        .sandbox(false)
        .user_data_dir(Some(profile.to_path_buf()))
        .window_size(Some((1400, 1000)))
        .idle_browser_timeout(Duration::from_secs(300))
        .args(args)
        .build()
        .expect("launch options");
    Browser::new(options).expect("chromium starts")
}

/// Evaluates `expr` in the page and returns its value (passed through JSON, so arrays and
/// objects come back whole).
fn js(tab: &Tab, expr: &str) -> serde_json::Value {
    let r = tab
        .evaluate(&format!("JSON.stringify({expr})"), false)
        .unwrap_or_else(|e| panic!("evaluate {expr}: {e}"));
    match r.value {
        Some(serde_json::Value::String(s)) => serde_json::from_str(&s).unwrap_or_default(),
        _ => serde_json::Value::Null,
    }
}

fn js_u64(tab: &Tab, expr: &str) -> u64 {
    js(tab, expr)
        .as_u64()
        .unwrap_or_else(|| panic!("{expr} is not a count"))
}

/// Opens `report.html` in a new tab, collecting console errors and exceptions.
fn open(browser: &Browser, dir: &Path) -> (Arc<Tab>, Arc<Mutex<Vec<String>>>) {
    let tab = browser.new_tab().expect("tab");
    let errors: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&errors);
    tab.add_event_listener(Arc::new(move |event: &Event| {
        let msg = match event {
            Event::RuntimeExceptionThrown(e) => Some(format!(
                "exception: {}",
                e.params
                    .exception_details
                    .exception
                    .as_ref()
                    .and_then(|x| x.description.clone())
                    .unwrap_or_else(|| e.params.exception_details.text.clone())
            )),
            Event::RuntimeConsoleAPICalled(e)
                if format!("{:?}", e.params.Type)
                    .to_lowercase()
                    .contains("error") =>
            {
                Some(format!("console.error: {:?}", e.params.args))
            }
            Event::LogEntryAdded(e)
                if format!("{:?}", e.params.entry.level)
                    .to_lowercase()
                    .contains("error") =>
            {
                Some(format!("log: {}", e.params.entry.text))
            }
            _ => None,
        };
        if let (Some(m), Ok(mut v)) = (msg, sink.lock()) {
            v.push(m);
        }
    }))
    .expect("listener");
    tab.enable_runtime().expect("runtime events");
    tab.enable_log().expect("log events");
    let url = format!("file://{}", dir.join("report.html").display());
    tab.navigate_to(&url)
        .and_then(|t| t.wait_until_navigated())
        .expect("report loads");
    tab.wait_for_element("#urun canvas")
        .expect("run chart drawn");
    (tab, errors)
}

/// Every static chart has drawn content and every uPlot canvas has painted pixels.
fn check_charts(tab: &Tab, name: &str) {
    let figures = js_u64(tab, "document.querySelectorAll('figure svg').length");
    let drawn = js_u64(
        tab,
        "Array.from(document.querySelectorAll('figure svg')).filter(s => \
           s.getBoundingClientRect().width > 300 && s.querySelectorAll('path,polyline,rect,circle,text').length > 10).length",
    );
    assert!(figures >= 6, "{name}: {figures} static charts");
    assert_eq!(
        drawn, figures,
        "{name}: a static chart is empty or collapsed"
    );
    let boxes = js_u64(tab, "document.querySelectorAll('.uplot-box').length");
    let painted = js_u64(
        tab,
        "Array.from(document.querySelectorAll('.uplot-box')).filter(b => { \
           const c = b.querySelector('canvas'); if (!c || c.width < 200) return false; \
           const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; \
           let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; \
           return n > 1000; }).length",
    );
    assert!(boxes >= 2, "{name}: {boxes} interactive charts");
    assert_eq!(painted, boxes, "{name}: an interactive chart is blank");
}

/// A click on a heading sorts the rows by that column, ascending then descending.
fn check_sorting(tab: &Tab, table: &str, heading: &str) {
    let column = |tab: &Tab| -> Vec<f64> {
        let v = js(
            tab,
            &format!(
                "(() => {{ const t = document.getElementById('{table}'); \
                   const i = Array.from(t.tHead.rows[0].cells).findIndex(c => c.textContent.startsWith('{heading}')); \
                   return Array.from(t.tBodies[0].rows).map(r => +r.cells[i].getAttribute('data-v')); }})()"
            ),
        );
        v.as_array()
            .expect("column values")
            .iter()
            .map(|x| x.as_f64().expect("number"))
            .collect()
    };
    let button = format!(
        "#{table} thead th:nth-child({}) button",
        js_u64(
            tab,
            &format!(
                "Array.from(document.getElementById('{table}').tHead.rows[0].cells).findIndex(c => c.textContent.startsWith('{heading}')) + 1"
            )
        )
    );
    tab.find_element(&button)
        .expect("heading button")
        .click()
        .expect("click");
    let asc = column(tab);
    assert!(asc.len() >= 2, "{table}: too few rows to sort");
    assert!(
        asc.windows(2).all(|w| w[0] <= w[1]),
        "{table} by {heading} ascending: {asc:?}"
    );
    tab.find_element(&button)
        .expect("heading button")
        .click()
        .expect("click");
    let desc = column(tab);
    assert!(
        desc.windows(2).all(|w| w[0] >= w[1]),
        "{table} by {heading} descending: {desc:?}"
    );
}

/// Picking a run shows its trades and liquidations (counts from `report-input.json`).
fn check_run_picker(tab: &Tab, dir: &Path) {
    let input: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("report-input.json")).expect("report-input.json"),
    )
    .expect("json");
    let runs = input["runs"].as_array().expect("runs");
    // The run with the most trades other than the one shown first.
    let first = js_u64(tab, "+document.getElementById('run-picker').value") as usize;
    let pick = (0..runs.len())
        .filter(|&i| i != first)
        .max_by_key(|&i| runs[i]["trades"].as_array().map_or(0, Vec::len))
        .expect("a second run");
    js(
        tab,
        &format!(
            "(() => {{ const p = document.getElementById('run-picker'); p.value = '{pick}'; \
               p.dispatchEvent(new Event('change')); return true; }})()"
        ),
    );
    let name = runs[pick]["run"].as_str().expect("name");
    let info = js(tab, "document.getElementById('run-info').textContent");
    assert!(
        info.as_str().is_some_and(|s| s.starts_with(name)),
        "run info {info} for {name}"
    );
    let trades = runs[pick]["trades"].as_array().map_or(0, Vec::len) as u64;
    let liqs = runs[pick]["liquidations"].as_array().map_or(0, Vec::len) as u64;
    assert!(trades > 0, "{name} has trades");
    assert_eq!(
        js_u64(
            tab,
            "document.querySelectorAll('#trades-table tbody tr').length"
        ),
        trades
    );
    assert_eq!(
        js_u64(
            tab,
            "document.querySelectorAll('#liqs-table tbody tr').length"
        ),
        liqs
    );
    check_sorting(tab, "trades-table", "Net");
    // The filter keeps only matching rows.
    js(
        tab,
        "(() => { const f = document.getElementById('trade-filter'); f.value = 'stop'; \
           f.dispatchEvent(new Event('input')); return true; })()",
    );
    let shown = js_u64(
        tab,
        "Array.from(document.querySelectorAll('#trades-table tbody tr')).filter(r => !r.hidden).length",
    );
    let matching = js_u64(
        tab,
        "Array.from(document.querySelectorAll('#trades-table tbody tr')).filter(r => !r.hidden && r.textContent.toLowerCase().includes('stop')).length",
    );
    assert_eq!(shown, matching, "filter shows a row without 'stop'");
    assert!(shown < trades || trades == 0, "filter hid nothing");
}

fn set_viewport(tab: &Tab, width: u32, height: u32, mobile: bool) {
    tab.call_method(Emulation::SetDeviceMetricsOverride {
        width,
        height,
        device_scale_factor: 1.0,
        mobile,
        scale: None,
        screen_width: None,
        screen_height: None,
        position_x: None,
        position_y: None,
        dont_set_visible_size: None,
        screen_orientation: None,
        viewport: None,
        display_feature: None,
        device_posture: None,
    })
    .expect("device metrics");
    // Let the page re-lay out and the charts resize.
    std::thread::sleep(Duration::from_millis(400));
}

/// Full-page PNG at `width` CSS pixels.
fn screenshot(tab: &Tab, width: u32, path: &Path) {
    set_viewport(tab, width, 900, width < 600);
    let height = js(tab, "document.documentElement.scrollHeight")
        .as_f64()
        .expect("page height")
        .min(16_000.0);
    // The whole page in the viewport, so that every part of it is painted.
    set_viewport(tab, width, height as u32, width < 600);
    js(tab, "window.scrollTo(0, 0) || true");
    // Phones scroll sideways inside wide tables and charts, never the page itself.
    let page_width = js_u64(tab, "document.documentElement.scrollWidth");
    let wide = js(
        tab,
        &format!(
            "Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > {width} + 1 \
               && !e.closest('.scroll, figure') ).slice(0, 8).map(e => e.tagName + '#' + e.id + '.' + e.className)"
        ),
    );
    assert!(
        page_width <= u64::from(width) + 1,
        "{}: the page is {page_width} px wide at {width} px; too wide: {wide}",
        path.display()
    );
    let png = tab
        .capture_screenshot(
            Page::CaptureScreenshotFormatOption::Png,
            None,
            Some(Page::Viewport {
                x: 0.0,
                y: 0.0,
                width: f64::from(width),
                height,
                scale: 1.0,
            }),
            true,
        )
        .expect("screenshot");
    std::fs::write(path, png).expect("write screenshot");
    // For reading the page piece by piece: `REPORT_SCREEN_PARTS=1` also writes 1,800 px slices.
    if std::env::var_os("REPORT_SCREEN_PARTS").is_some() {
        let mut y = 0.0;
        let mut k = 0;
        while y < height {
            let part = tab
                .capture_screenshot(
                    Page::CaptureScreenshotFormatOption::Png,
                    None,
                    Some(Page::Viewport {
                        x: 0.0,
                        y,
                        width: f64::from(width),
                        height: 1800.0_f64.min(height - y),
                        scale: 1.0,
                    }),
                    true,
                )
                .expect("screenshot part");
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("page");
            std::fs::write(path.with_file_name(format!("{stem}-part{k}.png")), part)
                .expect("write part");
            y += 1800.0;
            k += 1;
        }
    }
}

#[test]
fn report_works_in_headless_chromium() {
    let Some(chrome) = chromium() else {
        return;
    };
    let work = tempfile::tempdir().expect("tempdir");
    let mut reports = vec![("demo", work.path().join("demo"))];
    run_scenario("demo.toml", &reports[0].1);
    let real = ringfence_data::testing::shared_data().is_some();
    if real {
        let dir = work.path().join("harthor");
        run_scenario("harthor-oct-2025.toml", &dir);
        reports.push(("harthor", dir));
    }
    let screens = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screens");
    std::fs::create_dir_all(&screens).expect("screens dir");
    let browser = launch(&chrome, &work.path().join("profile"));
    for (name, dir) in &reports {
        let (tab, errors) = open(&browser, dir);
        check_charts(&tab, name);
        check_sorting(&tab, "summary-table", "Final equity");
        check_run_picker(&tab, dir);
        if *name == "harthor" {
            let verdict = js(
                &tab,
                "document.querySelector('.verdict[data-account=\"usdt\"] .headline').textContent",
            );
            let verdict = verdict.as_str().expect("usdt verdict");
            assert!(
                verdict.contains("cross wiped out the account"),
                "verdict: {verdict}"
            );
            let fates = js(
                &tab,
                "document.querySelector('.verdict[data-account=\"usdt\"] .fates').textContent",
            );
            assert!(
                fates
                    .as_str()
                    .is_some_and(|f| f.contains("cross: wiped out 2025-10-10")),
                "fates: {fates}"
            );
        }
        for width in [1400, 390] {
            screenshot(&tab, width, &screens.join(format!("{name}-{width}.png")));
        }
        let errors = errors.lock().map(|v| v.clone()).unwrap_or_default();
        assert!(errors.is_empty(), "{name}: console errors {errors:?}");
    }
}
