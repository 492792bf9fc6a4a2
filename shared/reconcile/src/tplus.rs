//! The T+ side: our vouchers (ExternalCode with the mapping's prefix) found through the
//! ExternalCode index (`FindVoucherList`), their lines read back from T+ itself with
//! `GetVoucherDTO`, never from our streams. Vouchers whose code dates them outside the range
//! are not read.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use chrono::NaiveDate;
use futures::StreamExt;
use j2t_mapping::Mapping;
use j2t_tplus::{ReadError, TplusClient, VoucherDto, VoucherIndex, VoucherRow};

use crate::lines::{Amounts, Key, Micro, date_of_code};
use crate::{Progress, ReconcileError};

/// `GetVoucherDTO` calls in flight at once (the client's limiter spaces them further).
const CONCURRENCY: usize = 4;
/// Tries of one read before the run gives up (transient failures only).
const READ_TRIES: usize = 6;

#[derive(Debug, Default)]
pub struct TplusSide {
    pub by_key: BTreeMap<Key, Amounts>,
    /// The vouchers behind each key, with their share.
    pub vouchers_at: HashMap<Key, Vec<(String, Amounts)>>,
    /// Every ExternalCode T+ holds.
    pub in_tplus: HashSet<String>,
    /// Our vouchers dated in the range.
    pub vouchers: u64,
    pub requests: u64,
}

/// Our vouchers that may be dated in the range: the prefix is ours, and the code's date head
/// (when the mapping puts the date first) is in the range.
pub fn candidates(
    mapping: &Mapping,
    rows: &[VoucherRow],
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<VoucherRow> {
    let prefix = &mapping.merge.code_prefix;
    rows.iter()
        .filter(|r| r.external_code.starts_with(prefix.as_str()))
        .filter(|r| date_of_code(mapping, &r.external_code).is_none_or(|d| d >= from && d <= to))
        .cloned()
        .collect()
}

/// Lists T+'s vouchers and reads back ours that may be dated in the range. `index` is new
/// (empty): its first refresh lists every voucher, `page_size` a page. The side comes back
/// without lines: add the vouchers that count with [`add_voucher`].
pub async fn read(
    client: &TplusClient,
    index: &VoucherIndex,
    page_size: u32,
    mapping: &Mapping,
    (from, to): (NaiveDate, NaiveDate),
    progress: &dyn Progress,
) -> Result<(TplusSide, Vec<VoucherDto>), ReconcileError> {
    progress.phase("T+ index", None);
    index.refresh().await.map_err(tplus("listing vouchers"))?;
    let rows = index.rows();
    // A full listing reads pages until the first one that is not full.
    let mut side = TplusSide {
        requests: rows.len() as u64 / u64::from(page_size.max(1)) + 1,
        ..TplusSide::default()
    };
    side.in_tplus = rows.iter().map(|r| r.external_code.clone()).collect();
    let mut wanted = candidates(mapping, &rows, from, to);
    wanted.sort_by(|a, b| a.external_code.cmp(&b.external_code));
    tracing::info!(
        vouchers = rows.len(),
        to_read = wanted.len(),
        "reconcile: T+ vouchers listed"
    );
    progress.phase("T+ vouchers", Some(wanted.len() as u64));
    let reads: Vec<(VoucherRow, VoucherRead)> = futures::stream::iter(wanted)
        .map(|row| async move {
            let read = read_voucher(client, &row.id).await;
            progress.advance(1);
            (row, read)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut dtos = Vec::new();
    for (row, read) in reads {
        let (dto, calls) =
            read.map_err(tplus(&format!("reading voucher {}", row.external_code)))?;
        side.requests += calls;
        match dto {
            Some(dto) => dtos.push(dto),
            // Deleted between the listing and the read: T+ does not have it.
            None => {
                side.in_tplus.remove(&row.external_code);
            }
        }
    }
    dtos.sort_by(|a, b| a.external_code.cmp(&b.external_code));
    Ok((side, dtos))
}

/// Adds a voucher read back from T+ when it is dated in the range.
pub fn add_voucher(side: &mut TplusSide, dto: &VoucherDto, from: NaiveDate, to: NaiveDate) {
    let Ok(date) = NaiveDate::parse_from_str(
        dto.voucher_date.get(..10).unwrap_or(&dto.voucher_date),
        "%Y-%m-%d",
    ) else {
        tracing::warn!(code = %dto.external_code, date = %dto.voucher_date, "reconcile: T+ voucher without a readable date; left out");
        return;
    };
    if date < from || date > to {
        return;
    }
    side.vouchers += 1;
    let mut lines: BTreeMap<Key, Amounts> = BTreeMap::new();
    for line in &dto.lines {
        let amounts = Amounts {
            qty: Micro::from_f64(line.quantity),
            amount: Micro::from_f64(line.amount.unwrap_or(0.0)),
        };
        lines
            .entry((date, dto.warehouse.clone(), line.inventory.clone()))
            .or_default()
            .add(amounts);
    }
    for (key, amounts) in lines {
        side.by_key.entry(key.clone()).or_default().add(amounts);
        side.vouchers_at
            .entry(key)
            .or_default()
            .push((dto.external_code.clone(), amounts));
    }
}

/// One voucher by id, transient failures retried; with the calls it took.
/// One voucher read back: the voucher (if T+ has it) and the calls it took.
type VoucherRead = Result<(Option<VoucherDto>, u64), ReadError>;

async fn read_voucher(client: &TplusClient, id: &str) -> VoucherRead {
    let calls = std::sync::atomic::AtomicU64::new(0);
    let dto = (|| async {
        calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        client.voucher_by_id(id).await
    })
    .retry(
        ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(500))
            .with_max_delay(Duration::from_secs(20))
            .with_jitter()
            .with_max_times(READ_TRIES - 1),
    )
    .when(ReadError::is_transient)
    .await?;
    Ok((dto, calls.into_inner()))
}

fn tplus(what: &str) -> impl Fn(ReadError) -> ReconcileError + '_ {
    move |e| ReconcileError::Tplus(format!("{what}: {e}"))
}

#[cfg(test)]
mod tests {
    use j2t_tplus::VoucherLine;

    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).expect("date")
    }

    fn row(code: &str) -> VoucherRow {
        VoucherRow {
            id: format!("id-{code}"),
            code: format!("QT-{code}"),
            external_code: code.into(),
            ts: None,
        }
    }

    #[test]
    fn only_our_vouchers_of_the_range_are_read() {
        let mapping = Mapping::builtin();
        let rows = [
            row("JT20261124-AAAAAAAAAA-1"),
            row("JT20261125-AAAAAAAAAA-1"),
            row("JT20261126-AAAAAAAAAA-2"),
            row("JT20261127-AAAAAAAAAA-1"),
            row("MANUAL-0001"),
        ];
        let codes: Vec<String> = candidates(&mapping, &rows, day(25), day(26))
            .into_iter()
            .map(|r| r.external_code)
            .collect();
        assert_eq!(
            codes,
            vec!["JT20261125-AAAAAAAAAA-1", "JT20261126-AAAAAAAAAA-2"]
        );
    }

    #[test]
    fn a_voucher_read_back_is_summed_per_key() {
        let dto = VoucherDto {
            id: Some("1".into()),
            code: Some("QT-1".into()),
            external_code: "JT20261125-AAAAAAAAAA-1".into(),
            voucher_date: "2026-11-25".into(),
            warehouse: "1001".into(),
            lines: vec![
                VoucherLine {
                    inventory: "A".into(),
                    quantity: 2.0,
                    amount: Some(3.0),
                },
                VoucherLine {
                    inventory: "A".into(),
                    quantity: 1.0,
                    amount: None,
                },
            ],
            raw: serde_json::Value::Null,
        };
        let mut side = TplusSide::default();
        add_voucher(&mut side, &dto, day(26), day(27));
        assert_eq!(side.vouchers, 0, "dated outside the range");
        add_voucher(&mut side, &dto, day(25), day(25));
        let key = (day(25), "1001".to_string(), "A".to_string());
        assert_eq!(side.by_key[&key], Amounts::new(3.0, 3.0));
        assert_eq!(side.vouchers_at[&key].len(), 1);
        assert_eq!(side.vouchers, 1);
    }
}
