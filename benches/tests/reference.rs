//! The engine and the naive `Decimal` reference produce the same trades on the synthetic
//! isolated workloads (with and without funding).

use ringfence_benches::reference::{compare_trades, run_reference};
use ringfence_benches::workload::{self, Workload};
use ringfence_model::ExitReason;

fn engine_trades(w: &Workload) -> Vec<ringfence_model::Trade> {
    ringfence_sim::simulate(
        &w.market,
        &w.brackets,
        &w.signals,
        &w.account,
        &w.policy,
        &w.cfg,
    )
    .expect("synthetic workload runs")
    .trades
}

fn check(w: &Workload) -> Vec<ringfence_model::Trade> {
    let engine = engine_trades(w);
    let reference = run_reference(&w.market, &w.brackets, &w.signals, &w.policy, &w.cfg)
        .expect("workload inside the reference's scope");
    if let Err(e) = compare_trades(&engine, &reference) {
        panic!("{}: {e}", w.name);
    }
    engine
}

#[test]
fn same_trades_without_funding() {
    let w = workload::isolated_heavy(24, 1_500, None);
    let trades = check(&w);
    // the workload exercises every exit the reference knows
    for reason in [
        ExitReason::Stop,
        ExitReason::Liquidation,
        ExitReason::EndOfData,
    ] {
        assert!(
            trades
                .iter()
                .any(|t| t.exits.iter().any(|e| e.reason == reason)),
            "no {reason:?} exit in the workload"
        );
    }
    assert!(trades.iter().any(|t| {
        t.exits
            .iter()
            .any(|e| matches!(e.reason, ExitReason::Target(_)))
    }));
    assert!(trades.iter().any(|t| t.exits.len() >= 2), "no partial exit");
}

#[test]
fn same_trades_with_funding_and_breakeven() {
    let mut w = workload::isolated_heavy(24, 1_500, Some(8));
    w.policy.breakeven_after_first_target = true;
    let trades = check(&w);
    assert!(trades.iter().any(|t| !t.funding.is_zero()));
}

#[test]
fn the_comparison_catches_a_difference() {
    let w = workload::isolated_heavy(6, 300, None);
    let engine = engine_trades(&w);
    let mut reference =
        run_reference(&w.market, &w.brackets, &w.signals, &w.policy, &w.cfg).expect("in scope");
    assert!(compare_trades(&engine, &reference).is_ok());
    reference[0].exits[0].price *= 1.0 + 1e-6;
    assert!(compare_trades(&engine, &reference).is_err());
    reference.pop();
    assert!(compare_trades(&engine, &reference).is_err());
}

#[test]
fn out_of_scope_workloads_are_refused() {
    let w = workload::cross_heavy(4, 100, None);
    assert!(run_reference(&w.market, &w.brackets, &w.signals, &w.policy, &w.cfg).is_err());
}
