//! Why a row differs, from lineage: each io_id behind it and where it is now. Pure: the
//! facts are gathered (in batches) by `lineage`, the decision is made here.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::lines::Amounts;
use crate::{Explanation, Whereabouts};

/// What the pipeline and T+ know about the io_ids and vouchers behind the differing rows.
#[derive(Debug, Default, Clone)]
pub struct Facts {
    /// io_id → the ExternalCode of the voucher it was merged into (lineage claims).
    pub claims: HashMap<i64, String>,
    /// io_ids the fetcher published (`j2t_seen`), among those asked about.
    pub fetched: HashSet<i64>,
    /// Every ExternalCode T+ holds (of any date).
    pub in_tplus: HashSet<String>,
    /// ExternalCode → what the writer recorded (`created`, `already_exists`, `confirmed`,
    /// `dead_lettered`).
    pub states: HashMap<String, String>,
    /// Pending dead letters holding an order: io_id → (letter id, reason).
    pub letters_by_io: HashMap<i64, (u64, String)>,
    /// Pending dead letters holding a voucher: ExternalCode → (letter id, reason).
    pub letters_by_code: HashMap<String, (u64, String)>,
    /// ExternalCode → its io_ids (write results and claims), when known.
    pub voucher_io_ids: HashMap<String, BTreeSet<i64>>,
    /// Every io_id JST returned for the range (any key).
    pub in_jst: HashSet<i64>,
}

/// One differing key: the JST orders contributing to it and the T+ vouchers holding it.
pub struct KeySides<'a> {
    pub jst: &'a [(i64, Amounts)],
    pub tplus: &'a [(String, Amounts)],
}

/// The explanations of one differing key, JST's io_ids first (ascending), then vouchers.
pub fn explain(sides: &KeySides<'_>, facts: &Facts) -> Vec<Explanation> {
    let mut out = Vec::new();
    let mut jst_ids: Vec<(i64, Amounts)> = sides.jst.to_vec();
    jst_ids.sort_by_key(|(id, _)| *id);
    // Orders that are not in a voucher T+ holds.
    for (io_id, _) in &jst_ids {
        let code = facts.claims.get(io_id);
        if code.is_some_and(|c| facts.in_tplus.contains(c)) {
            continue;
        }
        out.push(of_missing_order(*io_id, code, facts));
    }
    // Vouchers T+ holds, at this key or holding an order of it: their lines against their
    // orders' lines.
    let mut codes: BTreeSet<&String> = sides.tplus.iter().map(|(c, _)| c).collect();
    codes.extend(
        jst_ids
            .iter()
            .filter_map(|(id, _)| facts.claims.get(id))
            .filter(|c| facts.in_tplus.contains(*c)),
    );
    for code in codes {
        let mut actual = Amounts::default();
        sides
            .tplus
            .iter()
            .filter(|(c, _)| c == code)
            .for_each(|(_, a)| actual.add(*a));
        let mine: Vec<i64> = jst_ids
            .iter()
            .filter(|(id, _)| facts.claims.get(id) == Some(code))
            .map(|(id, _)| *id)
            .collect();
        let mut expected = Amounts::default();
        jst_ids
            .iter()
            .filter(|(id, _)| mine.contains(id))
            .for_each(|(_, a)| expected.add(*a));
        if expected == actual {
            continue;
        }
        out.extend(of_voucher(code, &mine, facts));
    }
    out
}

/// An order of this key whose voucher T+ does not hold.
fn of_missing_order(io_id: i64, code: Option<&String>, facts: &Facts) -> Explanation {
    let explained = |whereabouts, detail: String| Explanation {
        io_id: Some(io_id),
        voucher: code.cloned(),
        whereabouts,
        detail,
    };
    let Some(code) = code else {
        if let Some((id, reason)) = facts.letters_by_io.get(&io_id) {
            return explained(
                Whereabouts::DeadLettered {
                    id: *id,
                    reason: reason.clone(),
                },
                format!("order {io_id} is held in dead letter {id} ({reason})"),
            );
        }
        if facts.fetched.contains(&io_id) {
            return explained(
                Whereabouts::InFlight,
                format!("order {io_id} was fetched and is not merged into a voucher yet"),
            );
        }
        return explained(
            Whereabouts::NeverFetched,
            format!("order {io_id} is in JST but the pipeline never fetched it"),
        );
    };
    if let Some((id, reason)) = facts
        .letters_by_code
        .get(code)
        .or_else(|| facts.letters_by_io.get(&io_id))
    {
        return explained(
            Whereabouts::DeadLettered {
                id: *id,
                reason: reason.clone(),
            },
            format!("order {io_id} is in voucher {code}, held in dead letter {id} ({reason})"),
        );
    }
    match facts.states.get(code).map(String::as_str) {
        Some("created" | "already_exists" | "confirmed") => explained(
            Whereabouts::MissingInTplus,
            format!("order {io_id} is in voucher {code}, written to T+ but T+ does not have it"),
        ),
        _ => explained(
            Whereabouts::InFlight,
            format!("order {io_id} is in voucher {code}, not written to T+ yet"),
        ),
    }
}

const CHANGED_AFTER_WRITE: &str = "changed_after_write";

/// The io_ids known to be in voucher `code`, and those of this key claimed by it.
fn known_ids(code: &str, mine: &[i64], facts: &Facts) -> BTreeSet<i64> {
    let mut ids: BTreeSet<i64> = mine.iter().copied().collect();
    ids.extend(
        facts
            .voucher_io_ids
            .get(code)
            .into_iter()
            .flatten()
            .copied(),
    );
    ids
}

/// A voucher T+ holds whose lines at this key differ from those of its orders.
fn of_voucher(code: &str, mine: &[i64], facts: &Facts) -> Vec<Explanation> {
    let explained = |io_id, whereabouts, detail| Explanation {
        io_id,
        voucher: Some(code.to_string()),
        whereabouts,
        detail,
    };
    // Orders the corrections reported as changed after the write: named as such.
    let reported: Vec<Explanation> = known_ids(code, mine, facts)
        .into_iter()
        .filter_map(|id| {
            let (letter, reason) = facts.letters_by_io.get(&id)?;
            reason.contains(CHANGED_AFTER_WRITE).then(|| {
                explained(
                    Some(id),
                    Whereabouts::ChangedAfterWrite,
                    format!(
                        "order {id} changed in JST after it was written in voucher {code};                          reported in dead letter {letter} (corrections.policy = report; replay                          it under reverse to correct T+)"
                    ),
                )
            })
        })
        .collect();
    if !reported.is_empty() {
        return reported;
    }
    let known = facts.voucher_io_ids.get(code);
    let gone: Vec<i64> = known
        .into_iter()
        .flatten()
        .filter(|id| !facts.in_jst.contains(id))
        .copied()
        .collect();
    if !gone.is_empty() {
        return gone
            .into_iter()
            .map(|id| {
                explained(
                    Some(id),
                    Whereabouts::NotInJst,
                    format!(
                        "order {id} is in voucher {code} in T+, but JST no longer returns it \
                         for this range and task (cancelled or out of the filters)"
                    ),
                )
            })
            .collect();
    }
    if known.is_none() && mine.is_empty() {
        return vec![explained(
            None,
            Whereabouts::NotInJst,
            format!(
                "voucher {code} in T+ has this line, and none of JST's orders for it are known \
                 to be in that voucher"
            ),
        )];
    }
    if mine.is_empty() {
        return vec![explained(
            None,
            Whereabouts::ChangedAfterWrite,
            format!(
                "voucher {code} in T+ has this line, but its orders no longer do (changed in JST \
                 after the write, or the voucher edited in T+)"
            ),
        )];
    }
    mine.iter()
        .map(|id| {
            explained(
                Some(*id),
                Whereabouts::ChangedAfterWrite,
                format!(
                    "order {id} is in voucher {code}, whose line in T+ differs from the order's \
                     lines in JST now (changed after the write, or edited in T+)"
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(qty: f64) -> Amounts {
        Amounts::new(qty, qty * 10.0)
    }

    fn facts() -> Facts {
        let mut f = Facts::default();
        f.in_tplus.insert("V1".into());
        f.claims.insert(1, "V1".into());
        f.claims.insert(2, "V1".into());
        f.voucher_io_ids.insert("V1".into(), [1, 2].into());
        f.in_jst.extend([1, 2]);
        f.states.insert("V1".into(), "created".into());
        f
    }

    fn kinds(out: &[Explanation]) -> Vec<(Option<i64>, Whereabouts)> {
        out.iter()
            .map(|e| (e.io_id, e.whereabouts.clone()))
            .collect()
    }

    #[test]
    fn table() {
        struct Case {
            name: &'static str,
            jst: Vec<(i64, Amounts)>,
            tplus: Vec<(String, Amounts)>,
            facts: Facts,
            want: Vec<(Option<i64>, Whereabouts)>,
        }
        let v1 = |qty| vec![("V1".to_string(), a(qty))];
        let cases = vec![
            Case {
                name: "a new order the fetcher never saw",
                jst: vec![(1, a(1.0)), (2, a(1.0)), (3, a(5.0))],
                tplus: v1(2.0),
                facts: {
                    let mut f = facts();
                    f.in_jst.insert(3);
                    f
                },
                want: vec![(Some(3), Whereabouts::NeverFetched)],
            },
            Case {
                name: "fetched, not merged yet",
                jst: vec![(1, a(1.0)), (2, a(1.0)), (3, a(5.0))],
                tplus: v1(2.0),
                facts: {
                    let mut f = facts();
                    f.fetched.insert(3);
                    f
                },
                want: vec![(Some(3), Whereabouts::InFlight)],
            },
            Case {
                name: "held as a dead letter before merging",
                jst: vec![(3, a(5.0))],
                tplus: vec![],
                facts: {
                    let mut f = facts();
                    f.fetched.insert(3);
                    f.letters_by_io.insert(3, (42, "unknown_inventory".into()));
                    f
                },
                want: vec![(
                    Some(3),
                    Whereabouts::DeadLettered {
                        id: 42,
                        reason: "unknown_inventory".into(),
                    },
                )],
            },
            Case {
                name: "voucher deleted in T+",
                jst: vec![(1, a(1.0)), (2, a(1.0))],
                tplus: vec![],
                facts: {
                    let mut f = facts();
                    f.in_tplus.clear();
                    f
                },
                want: vec![
                    (Some(1), Whereabouts::MissingInTplus),
                    (Some(2), Whereabouts::MissingInTplus),
                ],
            },
            Case {
                name: "voucher not written yet",
                jst: vec![(1, a(1.0))],
                tplus: vec![],
                facts: {
                    let mut f = facts();
                    f.in_tplus.clear();
                    f.states.clear();
                    f
                },
                want: vec![(Some(1), Whereabouts::InFlight)],
            },
            Case {
                name: "voucher dead-lettered by the writer",
                jst: vec![(1, a(1.0))],
                tplus: vec![],
                facts: {
                    let mut f = facts();
                    f.in_tplus.clear();
                    f.letters_by_code
                        .insert("V1".into(), (7, "rejected".into()));
                    f
                },
                want: vec![(
                    Some(1),
                    Whereabouts::DeadLettered {
                        id: 7,
                        reason: "rejected".into(),
                    },
                )],
            },
            Case {
                name: "an order changed after its voucher was written",
                jst: vec![(1, a(1.0)), (2, a(3.0))],
                tplus: v1(2.0),
                facts: facts(),
                want: vec![
                    (Some(1), Whereabouts::ChangedAfterWrite),
                    (Some(2), Whereabouts::ChangedAfterWrite),
                ],
            },
            Case {
                name: "an order reported changed after the write",
                jst: vec![(1, a(1.0))],
                tplus: v1(2.0),
                facts: {
                    let mut f = facts();
                    f.in_jst.remove(&2);
                    f.letters_by_io.insert(2, (9, "changed_after_write".into()));
                    f
                },
                want: vec![(Some(2), Whereabouts::ChangedAfterWrite)],
            },
            Case {
                name: "an order cancelled in JST after the write",
                jst: vec![(1, a(1.0))],
                tplus: v1(2.0),
                facts: {
                    let mut f = facts();
                    f.in_jst.remove(&2);
                    f
                },
                want: vec![(Some(2), Whereabouts::NotInJst)],
            },
            Case {
                name: "a voucher of ours whose orders are unknown",
                jst: vec![],
                tplus: vec![("V9".to_string(), a(1.0))],
                facts: facts(),
                want: vec![(None, Whereabouts::NotInJst)],
            },
            Case {
                name: "vouchers that match their orders are not blamed",
                jst: vec![(1, a(1.0)), (2, a(1.0)), (3, a(1.0))],
                tplus: v1(2.0),
                facts: facts(),
                want: vec![(Some(3), Whereabouts::NeverFetched)],
            },
        ];
        for case in cases {
            let sides = KeySides {
                jst: &case.jst,
                tplus: &case.tplus,
            };
            assert_eq!(
                kinds(&explain(&sides, &case.facts)),
                case.want,
                "{}",
                case.name
            );
        }
    }
}
