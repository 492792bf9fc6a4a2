//! What merging one closed window amounts to, decided without I/O: which orders are merged
//! here, which go to the dead letters and why, which lineage claims the vouchers need. The
//! window module reads the orders and the claims, then carries the plan out.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use j2t_domain::{DeadLetter, DeadLetterReason, Stage, VoucherEnvelope, WindowClosed, io_id_of};
use j2t_mapping::{Mapping, external_code, map_orders};
use j2t_stores::Claim;
use serde_json::{Value, json};

use crate::master_data::{CodeKind, UnknownCode};
use crate::screen::Screening;

/// A window's orders as read from the stream.
#[derive(Debug, Default)]
pub struct WindowOrders {
    pub orders: Vec<Value>,
    /// Bodies that are not JSON, by stream sequence.
    pub unreadable: Vec<(u64, Vec<u8>)>,
    /// Each order's message headers (its trace context), by io_id.
    pub traces: HashMap<i64, async_nats::HeaderMap>,
}

/// What one window produced, for the log and the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowOutcome {
    pub window: String,
    pub orders: usize,
    pub vouchers: usize,
    pub rejected: usize,
    /// Orders skipped because a voucher from another window already holds them.
    pub already_merged: usize,
    /// Orders held back as dead letters because they name a code T+ lacks.
    pub held: usize,
    /// Orders and lines the mapping's conditions left out (not errors).
    pub skipped_orders: usize,
    pub skipped_lines: usize,
}

impl WindowOutcome {
    /// A window dead-lettered as a whole (an unreadable event, a window too big to merge).
    pub fn rejected_whole(window: String) -> Self {
        WindowOutcome {
            window,
            orders: 0,
            vouchers: 0,
            rejected: 1,
            already_merged: 0,
            held: 0,
            skipped_orders: 0,
            skipped_lines: 0,
        }
    }
}

/// Everything to store for one window, in this order: dead letters, claims, vouchers.
#[derive(Debug)]
pub struct WindowPlan {
    /// Each with its `Nats-Msg-Id`, so a repeated window stores it once.
    pub dead_letters: Vec<(String, DeadLetter)>,
    /// Every merged io_id for its voucher; claimed before any voucher is visible.
    pub claims: Vec<(i64, Claim)>,
    pub vouchers: Vec<VoucherEnvelope>,
    /// The orders' trace contexts, for the vouchers' spans.
    pub traces: HashMap<i64, async_nats::HeaderMap>,
    pub outcome: WindowOutcome,
}

/// Plans a closed window. `held` are the lineage claims already recorded for its io_ids:
/// an order a voucher of another window holds is not merged twice. `screening` is the
/// master-data check of the window's orders (`None`: not checked): an order naming a code
/// T+ lacks is taken out before the merge and held in a dead letter, one per unknown code
/// holding every order that brings it (an order with several is held once, under its first),
/// so that replaying the letter writes those orders as one more voucher.
pub fn plan_window(
    mapping: &Mapping,
    closed: &WindowClosed,
    read: WindowOrders,
    held: &HashMap<i64, Claim>,
    screening: Option<&Screening>,
) -> WindowPlan {
    // The orders are moved, not copied: a busy day holds tens of thousands.
    let WindowOrders {
        orders: read_orders,
        unreadable,
        traces,
    } = read;
    let count = read_orders.len();
    let window = closed.window.id();
    let subject = &closed.orders_subject;
    let mut dead_letters = Vec::new();
    for (seq, body) in &unreadable {
        let letter = dead_letter(
            DeadLetterReason::BadJson,
            "raw order is not JSON".into(),
            subject,
            raw(body),
        );
        dead_letters.push((format!("bad_json:{window}:{seq}"), letter));
    }
    let (orders, elsewhere): (Vec<Value>, Vec<Value>) = read_orders.into_iter().partition(|o| {
        io_id_of(o)
            .and_then(|id| held.get(&id))
            .is_none_or(|claim| &claim.orders_subject == subject)
    });
    for order in &elsewhere {
        tracing::warn!(io_id = ?io_id_of(order), "order already merged from another window; skipped");
    }
    let holds = screening.map_or_else(BTreeMap::new, |s| {
        let here: HashSet<i64> = orders.iter().filter_map(io_id_of).collect();
        decide_holds(mapping, s, &here, held, subject)
    });
    let (orders, held_orders): (Vec<Value>, Vec<Value>) = orders
        .into_iter()
        .partition(|o| io_id_of(o).is_none_or(|id| !holds.contains_key(&id)));
    let held_count = holds.len();
    dead_letters.extend(hold_letters(&window, subject, &holds, held_orders, &traces));
    let out = map_orders(mapping, orders, &window);
    for (i, rejected) in out.rejected.iter().enumerate() {
        let mut letter = dead_letter(
            DeadLetterReason::BadOrder,
            rejected.reason.clone(),
            subject,
            rejected.order.clone(),
        );
        letter.trace_id = rejected
            .io_id
            .and_then(|id| j2t_runtime::trace_id(traces.get(&id)));
        let id = rejected
            .io_id
            .map_or_else(|| format!("noid{i}"), |id| id.to_string());
        dead_letters.push((format!("bad_order:{window}:{id}"), letter));
    }
    let claims = out
        .vouchers
        .iter()
        .flat_map(|v| {
            v.io_ids.iter().map(|id| {
                let claim = Claim {
                    orders_subject: subject.clone(),
                    external_code: v.external_code.clone(),
                };
                (*id, claim)
            })
        })
        .collect();
    let outcome = WindowOutcome {
        window,
        orders: count,
        vouchers: out.vouchers.len(),
        rejected: out.rejected.len() + unreadable.len(),
        already_merged: elsewhere.len(),
        held: held_count,
        skipped_orders: out.skipped_orders.len(),
        skipped_lines: out.skipped_lines.len(),
    };
    WindowPlan {
        dead_letters,
        claims,
        vouchers: out.vouchers,
        traces,
        outcome,
    }
}

/// Why an order is held back.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Hold {
    /// It names these codes T+ lacks (sorted, at least one).
    Unknown(BTreeSet<UnknownCode>),
    /// An earlier delivery of this window held it back and wrote its group without it; the
    /// master data changed since. Merging it now would give that group a second voucher.
    HeldBefore,
}

/// Which orders of `here` (the window's io_ids not merged elsewhere) are held back.
///
/// A repeat keeps what an earlier delivery decided: an order already claimed from this
/// window was merged then, so it is merged again whatever the master data says now; and a
/// group whose claimed orders would now get another ExternalCode (orders the earlier
/// delivery held back now pass) keeps its voucher, the newcomers being held again.
fn decide_holds(
    mapping: &Mapping,
    screening: &Screening,
    here: &HashSet<i64>,
    held: &HashMap<i64, Claim>,
    subject: &str,
) -> BTreeMap<i64, Hold> {
    let pinned = |id: &i64| {
        held.get(id)
            .filter(|c| c.orders_subject == subject)
            .map(|c| c.external_code.as_str())
    };
    let mut holds = BTreeMap::new();
    let mut groups: BTreeMap<&[String], Vec<i64>> = BTreeMap::new();
    for (id, screened) in &screening.orders {
        if !here.contains(id) {
            continue;
        }
        if !screened.unknown.is_empty() && pinned(id).is_none() {
            holds.insert(*id, Hold::Unknown(screened.unknown.clone()));
        } else {
            groups.entry(&screened.group).or_default().push(*id);
        }
    }
    for (group, mut ids) in groups {
        let Some(claimed) = ids.iter().find_map(pinned) else {
            continue;
        };
        ids.sort_unstable();
        let now = external_code(&mapping.merge.code_prefix, group, &ids, 1);
        if stem(&now) != stem(claimed) {
            for id in ids.into_iter().filter(|id| pinned(id).is_none()) {
                holds.insert(id, Hold::HeldBefore);
            }
        }
    }
    holds
}

/// Tells sets of io_ids apart in a letter's `Nats-Msg-Id`: a repeated window stores its letter
/// once, but a letter holding other orders (the master data changed in between) is stored
/// too, so no held order is lost to deduplication. The ExternalCode hash serves: stable, short.
fn fingerprint(io_ids: &[i64]) -> String {
    let code = external_code("", &[], io_ids, 1);
    code.trim_start_matches('-')
        .trim_end_matches("-1")
        .to_string()
}

/// An ExternalCode without its part number: the same for every part of one voucher group.
fn stem(code: &str) -> &str {
    code.rsplit_once('-').map_or(code, |(stem, _)| stem)
}

/// The dead letters of the held orders: one per unknown code (the first of each order's),
/// one for the orders held again after an earlier delivery. Each holds its orders (every
/// version of each io_id) and their io_ids, so `whereis` finds them and replay merges them
/// into one voucher.
fn hold_letters(
    window: &str,
    subject: &str,
    holds: &BTreeMap<i64, Hold>,
    orders: Vec<Value>,
    traces: &HashMap<i64, async_nats::HeaderMap>,
) -> Vec<(String, DeadLetter)> {
    let mut by_code: BTreeMap<Option<&UnknownCode>, Vec<Value>> = BTreeMap::new();
    for order in orders {
        let key = match io_id_of(&order).and_then(|id| holds.get(&id)) {
            Some(Hold::Unknown(codes)) => codes.first(),
            _ => None,
        };
        by_code.entry(key).or_default().push(order);
    }
    by_code
        .into_iter()
        .map(|(code, orders)| {
            let mut io_ids: Vec<i64> = orders.iter().filter_map(io_id_of).collect();
            io_ids.sort_unstable();
            io_ids.dedup();
            let list = io_ids
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            let (reason, msg_id, error, payload) = match code {
                Some(code) => {
                    let reason = match code.kind {
                        CodeKind::Warehouse => DeadLetterReason::UnknownWarehouse,
                        CodeKind::Inventory => DeadLetterReason::UnknownInventory,
                    };
                    let also: Vec<String> = io_ids
                        .iter()
                        .filter_map(|id| match holds.get(id) {
                            Some(Hold::Unknown(codes)) if codes.len() > 1 => {
                                let rest: Vec<String> =
                                    codes.iter().skip(1).map(ToString::to_string).collect();
                                Some(format!("order {id} also names {}", rest.join(", ")))
                            }
                            _ => None,
                        })
                        .collect();
                    let mut error = format!(
                        "T+ has no {code}: orders {list} of window {window} held back, the rest \
                         of the window goes on; create the {} in T+, then replay this \
                         dead letter: the orders become one more voucher per day and warehouse",
                        code.kind.as_str()
                    );
                    if !also.is_empty() {
                        error.push_str(&format!(" ({})", also.join("; ")));
                    }
                    let payload = json!({
                        "kind": code.kind.as_str(), "code": code.code,
                        "io_ids": io_ids, "orders": orders,
                    });
                    let msg_id = format!(
                        "{}:{subject}:{}:{}",
                        reason.as_str(),
                        code.code,
                        fingerprint(&io_ids)
                    );
                    (reason, msg_id, error, payload)
                }
                None => {
                    let error = format!(
                        "orders {list} of window {window} held back again: an earlier delivery \
                         of this window held them (a code T+ lacked then) and wrote their \
                         voucher group without them; replay this dead letter or the earlier \
                         one (whichever comes second finds them merged)"
                    );
                    let payload = json!({"io_ids": io_ids, "orders": orders});
                    let reason = DeadLetterReason::UnknownInventory;
                    let msg_id = format!("held_again:{subject}:{}", fingerprint(&io_ids));
                    (reason, msg_id, error, payload)
                }
            };
            let mut letter = dead_letter(reason, error, subject, payload);
            letter.trace_id = io_ids
                .first()
                .and_then(|id| j2t_runtime::trace_id(traces.get(id)));
            (msg_id, letter)
        })
        .collect()
}

pub fn dead_letter(
    reason: DeadLetterReason,
    error: String,
    original_subject: &str,
    payload: Value,
) -> DeadLetter {
    let subject = original_subject.to_string();
    DeadLetter::first_attempt(Stage::Transformer, reason, error, subject, payload)
}

/// A body as JSON if it is JSON, else as text.
pub fn raw(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use j2t_domain::Window;
    use serde_json::json;

    use super::*;

    const SUBJECT: &str = "j2t.orders.shop1.w1";

    fn closed() -> WindowClosed {
        let day = NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
        WindowClosed {
            task: "shop1".into(),
            window: Window {
                start: day.and_hms_opt(0, 0, 0).expect("time"),
                end: day.and_hms_opt(23, 59, 59).expect("time"),
            },
            orders_subject: SUBJECT.into(),
            orders: 4,
        }
    }

    fn order(io_id: i64, qty: Value) -> Value {
        json!({
            "io_id": io_id, "io_date": "2026-11-25 09:00:00", "wms_co_id": 1, "status": "Confirmed",
            "items": [{"sku_id": "A", "qty": qty, "sale_amount": 1}]
        })
    }

    fn claim(subject: &str) -> Claim {
        Claim {
            orders_subject: subject.into(),
            external_code: "JT-OTHER".into(),
        }
    }

    #[test]
    fn a_window_plan_merges_what_it_may_and_parks_the_rest() {
        let read = WindowOrders {
            orders: vec![
                order(1, json!(2)),
                order(2, json!("many")),
                order(3, json!(1)),
                order(4, json!(5)),
            ],
            unreadable: vec![(9, b"{not json".to_vec())],
            traces: HashMap::new(),
        };
        // 3 was merged from this very window before (a repeat): merged again, same code.
        // 4 is held by a voucher of another window: skipped.
        let held = HashMap::from([(3, claim(SUBJECT)), (4, claim("j2t.orders.shop1.w0"))]);
        let plan = plan_window(&Mapping::builtin(), &closed(), read, &held, None);

        let letters: Vec<(&str, DeadLetterReason)> = plan
            .dead_letters
            .iter()
            .map(|(id, l)| (id.as_str(), l.reason))
            .collect();
        let window = closed().window.id();
        assert_eq!(
            letters,
            [
                (
                    format!("bad_json:{window}:9").as_str(),
                    DeadLetterReason::BadJson
                ),
                (
                    format!("bad_order:{window}:2").as_str(),
                    DeadLetterReason::BadOrder
                ),
            ]
        );
        assert!(
            plan.dead_letters
                .iter()
                .all(|(_, l)| l.stage == Stage::Transformer && l.original_subject == SUBJECT)
        );
        assert_eq!(plan.vouchers.len(), 1);
        assert_eq!(plan.vouchers[0].io_ids, [1, 3]);
        let claimed: Vec<i64> = plan.claims.iter().map(|(id, _)| *id).collect();
        assert_eq!(claimed, [1, 3]);
        assert!(plan.claims.iter().all(|(_, c)| c.orders_subject == SUBJECT
            && c.external_code == plan.vouchers[0].external_code));
        assert_eq!(
            plan.outcome,
            WindowOutcome {
                window,
                orders: 4,
                vouchers: 1,
                rejected: 2,
                already_merged: 1,
                held: 0,
                skipped_orders: 0,
                skipped_lines: 0,
            }
        );
    }

    #[test]
    fn an_empty_window_plans_nothing() {
        let plan = plan_window(
            &Mapping::builtin(),
            &closed(),
            WindowOrders::default(),
            &HashMap::new(),
            None,
        );
        assert!(plan.dead_letters.is_empty() && plan.claims.is_empty() && plan.vouchers.is_empty());
        assert_eq!(plan.outcome.orders, 0);
    }

    /// An order of warehouse `wh` with one unit of each SKU.
    fn order_of(io_id: i64, wh: i64, skus: &[&str]) -> Value {
        let items: Vec<Value> = skus
            .iter()
            .map(|s| json!({"sku_id": s, "qty": 1, "sale_amount": 1}))
            .collect();
        json!({"io_id": io_id, "io_date": "2026-11-25 09:00:00", "wms_co_id": wh,
               "status": "Confirmed", "items": items})
    }

    /// Plans `orders` checked against T+ knowing warehouse 1 and SKUs A and B.
    fn checked(orders: Vec<Value>, held: &HashMap<i64, Claim>) -> WindowPlan {
        checked_knowing(orders, held, &["A", "B"])
    }

    /// Plans `orders` checked against T+ knowing warehouse 1 and `skus`.
    fn checked_knowing(
        orders: Vec<Value>,
        held: &HashMap<i64, Claim>,
        skus: &[&str],
    ) -> WindowPlan {
        let mapping = Mapping::builtin();
        let known = crate::master_data::Codes {
            warehouses: ["1".to_string()].into(),
            inventories: skus.iter().map(|s| s.to_string()).collect(),
        };
        let paths = crate::master_data::CodePaths::of(&mapping);
        let window = closed().window.id();
        let screening = crate::screen::screen(&mapping, &window, &orders, &known, &paths);
        let read = WindowOrders {
            orders,
            ..Default::default()
        };
        plan_window(&mapping, &closed(), read, held, Some(&screening))
    }

    /// (reason, io_ids in the payload, io_ids of the payload's orders) per letter.
    fn holds(plan: &WindowPlan) -> Vec<(DeadLetterReason, String, Vec<i64>)> {
        plan.dead_letters
            .iter()
            .map(|(_, l)| {
                let ids: Vec<i64> =
                    serde_json::from_value(l.payload["io_ids"].clone()).expect("io_ids");
                let orders: Vec<i64> = l.payload["orders"]
                    .as_array()
                    .expect("orders")
                    .iter()
                    .filter_map(io_id_of)
                    .collect();
                assert_eq!(ids, orders, "the letter holds the orders it names");
                let code = l.payload["code"].as_str().unwrap_or("").to_string();
                (l.reason, code, ids)
            })
            .collect()
    }

    fn merged(plan: &WindowPlan) -> Vec<i64> {
        let mut ids: Vec<i64> = plan
            .vouchers
            .iter()
            .flat_map(|v| v.io_ids.clone())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    #[test]
    fn orders_naming_codes_t_plus_knows_are_all_merged() {
        let orders = (1..=20).map(|id| order_of(id, 1, &["A", "B"])).collect();
        let plan = checked(orders, &HashMap::new());
        assert!(plan.dead_letters.is_empty());
        assert_eq!(merged(&plan), (1..=20).collect::<Vec<_>>());
        assert_eq!(plan.outcome.held, 0);
    }

    #[test]
    fn one_unknown_sku_holds_only_the_orders_that_bring_it() {
        let orders = (1..=200)
            .map(|id| match id {
                7 | 150 => order_of(id, 1, &["A", "NEW-SKU"]),
                _ => order_of(id, 1, &["A", "B"]),
            })
            .collect();
        let plan = checked(orders, &HashMap::new());
        assert_eq!(
            holds(&plan),
            [(
                DeadLetterReason::UnknownInventory,
                "NEW-SKU".into(),
                vec![7, 150]
            )]
        );
        let (msg_id, letter) = &plan.dead_letters[0];
        assert!(
            msg_id.starts_with(&format!("unknown_inventory:{SUBJECT}:NEW-SKU:")),
            "{msg_id}"
        );
        assert!(
            letter.error.contains("inventory `NEW-SKU`") && letter.error.contains("7, 150"),
            "{}",
            letter.error
        );
        assert_eq!(letter.stage, Stage::Transformer);
        assert_eq!(letter.original_subject, SUBJECT);
        let rest: Vec<i64> = (1..=200).filter(|id| ![7, 150].contains(id)).collect();
        assert_eq!(merged(&plan), rest);
        assert_eq!(plan.vouchers.len(), 1, "the rest of the day is one voucher");
        let claimed: HashSet<i64> = plan.claims.iter().map(|(id, _)| *id).collect();
        assert!(!claimed.contains(&7) && !claimed.contains(&150));
        assert_eq!(plan.outcome.held, 2);
        assert_eq!(plan.outcome.orders, 200);
    }

    #[test]
    fn an_order_with_two_unknown_codes_is_held_once_under_its_first() {
        let orders = vec![
            order_of(1, 1, &["X"]),
            order_of(2, 1, &["Y", "X", "A"]),
            order_of(3, 1, &["Y"]),
            order_of(4, 1, &["A"]),
        ];
        let plan = checked(orders, &HashMap::new());
        assert_eq!(
            holds(&plan),
            [
                (DeadLetterReason::UnknownInventory, "X".into(), vec![1, 2]),
                (DeadLetterReason::UnknownInventory, "Y".into(), vec![3]),
            ]
        );
        let error = &plan.dead_letters[0].1.error;
        assert!(
            error.contains("order 2 also names inventory `Y`"),
            "{error}"
        );
        assert_eq!(merged(&plan), [4]);
        assert_eq!(plan.outcome.held, 3);
    }

    #[test]
    fn an_unknown_warehouse_holds_its_orders_whatever_their_skus() {
        let orders = vec![
            order_of(1, 9, &["A"]),
            order_of(2, 9, &["X"]),
            order_of(3, 1, &["A"]),
        ];
        let plan = checked(orders, &HashMap::new());
        assert_eq!(
            holds(&plan),
            [(DeadLetterReason::UnknownWarehouse, "9".into(), vec![1, 2])]
        );
        assert!(plan.dead_letters[0].1.error.contains("warehouse `9`"));
        assert!(
            plan.dead_letters[0]
                .1
                .error
                .contains("order 2 also names inventory `X`")
        );
        assert_eq!(merged(&plan), [3]);
    }

    #[test]
    fn every_version_of_a_held_io_id_is_held_with_it() {
        let mut newer = order_of(1, 1, &["A"]);
        newer["ts"] = json!(2);
        let plan = checked(
            vec![order_of(1, 1, &["X"]), newer, order_of(2, 1, &["A"])],
            &HashMap::new(),
        );
        assert_eq!(plan.dead_letters.len(), 1);
        assert_eq!(
            plan.dead_letters[0].1.payload["orders"]
                .as_array()
                .map(Vec::len),
            Some(2)
        );
        assert_eq!(merged(&plan), [2]);
    }

    #[test]
    fn a_repeat_keeps_what_an_earlier_delivery_merged() {
        let orders = || {
            vec![
                order_of(1, 1, &["A"]),
                order_of(2, 1, &["X"]),
                order_of(3, 1, &["A"]),
            ]
        };
        let first = checked(orders(), &HashMap::new());
        assert_eq!(merged(&first), [1, 3]);
        let earlier: HashMap<i64, Claim> = first.claims.iter().cloned().collect();

        // Same master data: the same plan, the same letter id.
        let again = checked(orders(), &earlier);
        assert_eq!(
            again.vouchers[0].external_code,
            first.vouchers[0].external_code
        );
        assert_eq!(again.dead_letters[0].0, first.dead_letters[0].0);

        // A code T+ lacks now (removed since) on orders merged before: merged again, as before.
        let plan = checked_knowing(orders(), &earlier, &["B"]);
        assert_eq!(
            plan.vouchers[0].external_code,
            first.vouchers[0].external_code
        );
        assert_eq!(
            holds(&plan),
            [(DeadLetterReason::UnknownInventory, "X".into(), vec![2])]
        );

        // T+ learnt X between two deliveries: order 2 would change the voucher the first
        // delivery wrote, so it stays held (again), and the voucher stays the same.
        let plan = checked_knowing(orders(), &earlier, &["A", "X"]);
        assert_eq!(plan.vouchers.len(), 1);
        assert_eq!(
            plan.vouchers[0].external_code,
            first.vouchers[0].external_code
        );
        assert_eq!(plan.dead_letters.len(), 1);
        let (msg_id, letter) = &plan.dead_letters[0];
        assert!(msg_id.starts_with("held_again:"), "{msg_id}");
        assert_eq!(letter.payload["io_ids"], json!([2]));
        assert!(letter.error.contains("held back again"), "{}", letter.error);
    }
}
