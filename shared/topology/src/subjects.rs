//! Reading back what a subject built by [`crate::names`] says: the inverse of its
//! `*_subject` functions, beside them so the two cannot drift apart.

/// What a message's subject says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject<'a> {
    /// `j2t.orders.<task>.<window_id>`: a raw order of one window of one task.
    Orders { task: &'a str, window_id: &'a str },
    /// `j2t.vouchers.<kind>`: a voucher ready to post.
    Vouchers,
    /// `j2t.windows.<task>`: a window-closed event.
    Windows { task: &'a str },
    /// `j2t.changes.<task>`: an order JST changed after its voucher was written.
    Changes { task: &'a str },
    /// Anything else (or an orders subject without task and window).
    Other,
}

impl<'a> Subject<'a> {
    pub fn parse(subject: &'a str) -> Self {
        let mut tokens = subject.split('.');
        match (tokens.next(), tokens.next()) {
            (Some("j2t"), Some("orders")) => match (tokens.next(), tokens.next(), tokens.next()) {
                (Some(task), Some(window_id), None)
                    if !task.is_empty() && !window_id.is_empty() =>
                {
                    Subject::Orders { task, window_id }
                }
                _ => Subject::Other,
            },
            (Some("j2t"), Some("vouchers")) if tokens.next().is_some() => Subject::Vouchers,
            (Some("j2t"), Some("windows")) => match (tokens.next(), tokens.next()) {
                (Some(task), None) if !task.is_empty() => Subject::Windows { task },
                _ => Subject::Other,
            },
            (Some("j2t"), Some("changes")) => match (tokens.next(), tokens.next()) {
                (Some(task), None) if !task.is_empty() => Subject::Changes { task },
                _ => Subject::Other,
            },
            _ => Subject::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names;

    #[test]
    fn subjects_built_by_names_parse_back() {
        let orders = names::orders_subject("shop1", "20261125T000000-20261125T235959");
        assert_eq!(
            Subject::parse(&orders),
            Subject::Orders {
                task: "shop1",
                window_id: "20261125T000000-20261125T235959"
            }
        );
        assert_eq!(Subject::parse(names::VOUCHERS_SUBJECT), Subject::Vouchers);
        let replayed = names::replay_orders_subject(&orders, 7);
        let Subject::Orders { task, window_id } = Subject::parse(&replayed) else {
            panic!("{replayed} is an orders subject");
        };
        assert_eq!(task, "shop1");
        assert_eq!(
            names::replayed_window_id(window_id),
            "20261125T000000-20261125T235959"
        );
        // A letter from a replay window replays beside the first window.
        assert_eq!(
            names::replay_orders_subject(&replayed, 9),
            format!("{orders}_replay9")
        );
    }

    #[test]
    fn other_subjects_are_other() {
        for subject in [
            "j2t.orders.shop1",
            "j2t.orders",
            "j2t.vouchers",
            "x.orders.a.b",
            "",
        ] {
            assert_eq!(Subject::parse(subject), Subject::Other, "{subject}");
        }
    }
}
