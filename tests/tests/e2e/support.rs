//! What several e2e modules do alike: seed the simulator, run the operator CLI.

use std::process::{Command, Output};

use j2t_e2e::harness::Stack;
use j2t_simulator::DemoSpec;
use j2t_testkit::workspace_bin;
use jst2tplus::reconcile::{self, QtyBySku};
use serde_json::Value;

/// Seeds `days` days of orders ending the day before yesterday (clear of the fetcher's lag),
/// plus `extra` orders; returns the expected Σ qty per (date, SKU) and the fetcher's start
/// time.
pub async fn seed(
    stack: &Stack,
    orders: u32,
    days: u32,
    seed: u64,
    extra: &[Value],
) -> (QtyBySku, String) {
    let end = j2t_simulator::jst_today(480) - chrono::Duration::days(2);
    stack
        .admin
        .seed(&DemoSpec {
            orders,
            days,
            seed,
            end_date: Some(end),
        })
        .await
        .expect("seeding");
    if !extra.is_empty() {
        stack.admin.add_orders(extra).await.expect("extra orders");
    }
    let source = stack.admin.orders().await.expect("orders");
    let first = end - chrono::Duration::days(i64::from(days) - 1);
    (
        reconcile::expected(&source, "Confirmed"),
        format!("{first} 00:00:00"),
    )
}

/// Runs `jst2tplus` with the stack's environment plus `extra`.
pub fn cli_output(stack: &Stack, extra: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(workspace_bin("jst2tplus").expect("cli"))
        .args(args)
        .envs(stack.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .envs(extra.iter().copied())
        .output()
        .expect("cli runs")
}

/// Runs `jst2tplus`: (succeeded, stdout + stderr).
pub fn cli(stack: &Stack, extra: &[(&str, &str)], args: &[&str]) -> (bool, String) {
    let output = cli_output(stack, extra, args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}
