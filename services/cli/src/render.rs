//! `jst2tplus render --orders FILE.json [--mapping FILE]`: a dry run of a mapping. Prints the
//! T+ payloads the orders become (pretty JSON on stdout) and what became of every order that
//! is not in them (rejected or skipped, with the reason, on stderr). Writes nothing anywhere;
//! needs NATS only for `--live-window`, which reads a fetched window's orders instead.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use j2t_mapping::{MapOutput, Mapping, map_orders};
use serde_json::Value;

use crate::check::mapping_text;

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// JST outbound orders: a JSON array of orders, or a JST response page
    /// `{"data":{"datas":[…]}}`.
    #[arg(
        long,
        required_unless_present = "live_window",
        conflicts_with = "live_window"
    )]
    pub orders: Option<PathBuf>,
    /// Instead of a file: the orders the fetcher stored for this window id (e.g.
    /// 20261125000000-20261125235959), read from NATS (`nats.url`).
    #[arg(long)]
    pub live_window: Option<String>,
    /// The sync task of `--live-window`.
    #[arg(long, default_value = "default")]
    pub task: String,
    /// Mapping file (TOML); the built-in mapping when omitted.
    #[arg(long)]
    pub mapping: Option<PathBuf>,
    /// Window id recorded in the envelopes; payloads and ExternalCodes do not depend on it.
    #[arg(long, default_value = "render")]
    pub window: String,
    /// Print whole voucher envelopes (ExternalCode, group, part, io_ids, window, payload)
    /// instead of the bare payloads.
    #[arg(long)]
    pub envelopes: bool,
}

pub fn run(args: RenderArgs) -> anyhow::Result<()> {
    let path = args
        .orders
        .as_deref()
        .context("--orders FILE or --live-window ID")?;
    let file =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let orders =
        orders_from_json(&file).with_context(|| format!("orders file {}", path.display()))?;
    render(&args, orders)
}

/// `--live-window`: the window's orders as the fetcher stored them in JetStream.
pub async fn run_live(cfg: j2t_config::Config, args: RenderArgs) -> anyhow::Result<()> {
    let window = args.live_window.as_deref().context("--live-window ID")?;
    let topology = j2t_topology::attach(&cfg)
        .await
        .with_context(|| format!("opening the pipeline's NATS topology at {}", cfg.nats.url))?;
    let subject = j2t_topology::names::orders_subject(&args.task, window);
    let orders = j2t_transformer::window_orders(&topology.js, &subject).await?;
    if orders.is_empty() {
        anyhow::bail!(
            "no orders stored on {subject} (task `{}`, window `{window}`)",
            args.task
        );
    }
    render(&args, orders)
}

fn render(args: &RenderArgs, orders: Vec<Value>) -> anyhow::Result<()> {
    let (name, text) = mapping_text(args.mapping.as_deref())?;
    let mapping = Mapping::from_toml(&text).with_context(|| name.clone())?;
    let count = orders.len();
    let out = map_orders(&mapping, orders, &args.window);
    let shown = if args.envelopes {
        serde_json::to_value(&out.vouchers)?
    } else {
        Value::Array(out.vouchers.iter().map(|v| v.payload.clone()).collect())
    };
    println!("{}", serde_json::to_string_pretty(&shown)?);
    eprint!("{}", report(&out, count));
    Ok(())
}

/// The orders in a file: a JSON array, a JST response page, or one order.
pub fn orders_from_json(text: &str) -> anyhow::Result<Vec<Value>> {
    let value: Value = serde_json::from_str(text).context("not JSON")?;
    match value {
        Value::Array(orders) => Ok(orders),
        Value::Object(ref page) if page.contains_key("data") => value
            .pointer("/data/datas")
            .and_then(Value::as_array)
            .cloned()
            .context("a JST response page without a `data.datas` list"),
        Value::Object(ref order) if order.contains_key("io_id") => Ok(vec![value]),
        _ => anyhow::bail!(
            "expected a JSON array of orders or a JST page {{\"data\":{{\"datas\":[…]}}}}"
        ),
    }
}

/// What happened to every order, for stderr.
pub fn report(out: &MapOutput, orders: usize) -> String {
    let mut lines = vec![format!(
        "{} vouchers from {orders} orders; {} rejected, {} orders and {} lines skipped",
        out.vouchers.len(),
        out.rejected.len(),
        out.skipped_orders.len(),
        out.skipped_lines.len(),
    )];
    lines.extend(out.vouchers.iter().map(|v| {
        let ids: Vec<String> = v.io_ids.iter().map(i64::to_string).collect();
        format!(
            "voucher {} (part {}/{}): orders {}",
            v.external_code,
            v.part,
            v.parts,
            ids.join(",")
        )
    }));
    // Reasons start with the order they are about (`order 1006: …`).
    lines.extend(
        out.rejected
            .iter()
            .map(|r| format!("rejected {}", r.reason)),
    );
    lines.extend(
        out.skipped_orders
            .iter()
            .map(|s| format!("skipped order {}: {}", s.io_id, s.reason)),
    );
    lines.extend(
        out.skipped_lines
            .iter()
            .map(|s| format!("skipped line {} of order {}: {}", s.line, s.io_id, s.reason)),
    );
    lines.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_arrays_pages_and_single_orders() {
        let order = json!({"io_id": 1});
        let page = json!({"code": 0, "data": {"page_index": 1, "datas": [order]}});
        assert_eq!(
            orders_from_json(&page.to_string()).expect("page"),
            vec![order.clone()]
        );
        assert_eq!(
            orders_from_json(&json!([order]).to_string()).expect("array"),
            vec![order.clone()]
        );
        assert_eq!(
            orders_from_json(&order.to_string()).expect("one"),
            vec![order]
        );
        assert!(orders_from_json(r#"{"data": null}"#).is_err());
        assert!(orders_from_json("3").is_err());
    }

    #[test]
    fn the_report_names_every_order_left_out() {
        let mapping = Mapping::builtin();
        let orders = vec![
            json!({"io_id": 1, "io_date": "2026-11-25 10:00:00", "wms_co_id": 1,
                   "items": [{"sku_id": "A", "qty": 1, "sale_amount": 1}]}),
            json!({"io_id": 2, "io_date": "bad", "wms_co_id": 1, "items": []}),
        ];
        let out = map_orders(&mapping, orders, "w");
        let report = report(&out, 2);
        assert!(
            report.starts_with("1 vouchers from 2 orders; 1 rejected"),
            "{report}"
        );
        assert!(report.contains("rejected order 2: `io_date`"), "{report}");
        assert!(report.contains(": orders 1\n"), "{report}");
    }
}
