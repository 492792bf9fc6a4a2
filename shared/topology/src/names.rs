//! Names of streams, subjects, consumers, buckets and headers. Subject tokens built from data
//! (task names, window ids, reasons) are restricted to `[A-Za-z0-9_-]` by their producers.

/// Raw JST outbound orders, as fetched. Limits retention: kept for audit and re-merging.
pub const ORDERS_STREAM: &str = "J2T_ORDERS";
pub const ORDERS_SUBJECTS: &str = "j2t.orders.>";

/// Raw orders of one window of one sync task.
pub fn orders_subject(task: &str, window_id: &str) -> String {
    format!("j2t.orders.{task}.{window_id}")
}

/// "Window closed" events: the fetcher stored every order of a window. Work queue: each
/// window is merged by one transformer at a time.
pub const WINDOWS_STREAM: &str = "J2T_WINDOWS";
pub const WINDOWS_SUBJECTS: &str = "j2t.windows.>";

pub fn windows_subject(task: &str) -> String {
    format!("j2t.windows.{task}")
}

/// T+ vouchers ready to post.
pub const VOUCHERS_STREAM: &str = "J2T_VOUCHERS";
pub const VOUCHERS_SUBJECTS: &str = "j2t.vouchers.>";
pub const VOUCHERS_SUBJECT: &str = "j2t.vouchers.other_dispatch";

/// Dead letters of every stage: `j2t.dlq.<stage>.<reason>`.
pub const DLQ_STREAM: &str = "J2T_DLQ";
pub const DLQ_SUBJECTS: &str = "j2t.dlq.>";

pub fn dlq_subject(stage: j2t_domain::Stage, reason: j2t_domain::DeadLetterReason) -> String {
    format!("j2t.dlq.{}.{}", stage.as_str(), reason.as_str())
}

/// Audit trail of vouchers T+ accepted: `j2t.results.<outcome>`.
pub const RESULTS_STREAM: &str = "J2T_RESULTS";
pub const RESULTS_SUBJECTS: &str = "j2t.results.>";

pub fn results_subject(outcome: &str) -> String {
    format!("j2t.results.{outcome}")
}

/// Orders JST changed after their voucher was written (found by the fetcher's change scan),
/// one event per (io_id, JST row version); handled once by the transformer's corrections.
pub const CHANGES_STREAM: &str = "J2T_CHANGES";
pub const CHANGES_SUBJECTS: &str = "j2t.changes.>";

pub fn changes_subject(task: &str) -> String {
    format!("j2t.changes.{task}")
}

/// `Nats-Msg-Id` of a change: the same change detected again (a fetcher killed before it
/// published, a rescan) is stored once.
pub fn change_msg_id(io_id: i64, ts: i64) -> String {
    format!("change:{io_id}:{ts}")
}

/// Durable consumers, shared by all replicas of a stage.
pub const TRANSFORMER_CONSUMER: &str = "transformer";
pub const CORRECTIONS_CONSUMER: &str = "corrections";
pub const WRITER_CONSUMER: &str = "writer";

/// Sync cursors, one key per fetcher task.
pub const CURSORS_BUCKET: &str = "j2t_cursors";

/// io_ids already published by a fetcher: key = io_id, value = `task/window`.
pub const SEEN_BUCKET: &str = "j2t_seen";

/// The newest API tokens (a refresh invalidates the old pair, so every replica needs them).
pub const TOKENS_BUCKET: &str = "j2t_tokens";
pub fn jst_tokens_key(app_key: &str) -> String {
    format!("jst.{}", kv_token(app_key))
}

pub fn tplus_tokens_key(app_key: &str) -> String {
    format!("tplus.{}", kv_token(app_key))
}

/// Leases: which process is the active fetcher of a JST app. Entries expire (bucket max age).
pub const LEASES_BUCKET: &str = "j2t_leases";
pub fn fetcher_lease_key(app_key: &str) -> String {
    format!("fetcher.{}", kv_token(app_key))
}

/// Shared rate-limit state of each JST app (next free request slot).
pub const RATE_BUCKET: &str = "j2t_rate";
pub fn jst_rate_key(app_key: &str) -> String {
    format!("jst.{}", kv_token(app_key))
}

/// Lineage: which voucher holds each io_id (key: io_id). Claimed with `create` by the
/// transformer, so an io_id is merged into one voucher only, whatever window brought it.
pub const LINEAGE_BUCKET: &str = "j2t_lineage";

/// What was written for each io_id (key: io_id): its lines as merged into its voucher, the
/// JST version they come from, and the changes seen and corrected since. Kept
/// `corrections.watch_days` (longer than J2T_ORDERS keeps the raw order). Keys `scan.<task>`
/// hold the fetcher's change-scan cursor of each task.
pub const WRITTEN_BUCKET: &str = "j2t_written";
pub fn written_key(io_id: i64) -> String {
    io_id.to_string()
}
pub fn change_scan_key(task: &str) -> String {
    format!("scan.{}", kv_token(task))
}

/// Final state of each voucher (key: ExternalCode): written, or dead-lettered.
pub const VOUCHER_STATE_BUCKET: &str = "j2t_voucher_state";
pub fn voucher_state_key(external_code: &str) -> String {
    kv_token(external_code)
}

/// What only the services observe (quota exhausted, auth failures), for monitors.
pub const SIGNALS_BUCKET: &str = "j2t_signals";

/// Failed write attempts per voucher (key: ExternalCode), kept until it is written or
/// dead-lettered, so the dead letter carries the whole history whichever replica tried.
pub const ATTEMPTS_BUCKET: &str = "j2t_attempts";
pub fn attempts_key(external_code: &str) -> String {
    kv_token(external_code)
}

/// Dead letters already replayed (key: the letter's sequence in the DLQ stream).
pub const DLQ_REPLAYED_BUCKET: &str = "j2t_dlq_replayed";

/// The monitor's daily reconcile: one key per JST day it ran for (claimed with `create`, so
/// one monitor runs it), the latest results, and the daily digests sent.
pub const RECONCILE_BUCKET: &str = "j2t_reconcile";
/// The run of the daily reconcile of JST day `day` (`yyyy-MM-dd`).
pub fn reconcile_run_key(day: &str) -> String {
    format!("run.{}", kv_token(day))
}
/// The latest finished run, whatever its result (for "could not run").
pub const RECONCILE_LATEST_KEY: &str = "latest";
/// The latest run that compared the books (equal or differ).
pub const RECONCILE_CHECKED_KEY: &str = "latest_checked";
/// The daily digest of JST day `day`, claimed with `create` before sending it.
pub fn digest_key(day: &str) -> String {
    format!("digest.{}", kv_token(day))
}

/// Subject of raw orders replayed from the dead-letter stream: a window of their own (one
/// order, or the orders of one held-back letter), because the window they came from was
/// merged already. A letter from a replay window replays beside its first window, not
/// inside the replay's name.
pub fn replay_orders_subject(original_subject: &str, dlq_id: u64) -> String {
    let base = original_subject
        .split_once(REPLAY_MARK)
        .map_or(original_subject, |(base, _)| base);
    format!("{base}{REPLAY_MARK}{dlq_id}")
}

const REPLAY_MARK: &str = "_replay";

/// The window id in an orders subject's last token, without a replay or re-check suffix
/// ([`replay_orders_subject`], [`recheck_orders_subject`]). Window ids hold only digits and
/// `-`, so everything from the first `_` on is a suffix.
pub fn replayed_window_id(window_id: &str) -> &str {
    window_id
        .split_once('_')
        .map_or(window_id, |(base, _)| base)
}

/// The last token of the orders subject of a re-check of `window_id` (a pass started at unix
/// second `pass`): the orders found late form a window of their own, merged into one more
/// voucher, because the window itself was merged already.
pub fn recheck_window_label(window_id: &str, pass: i64) -> String {
    format!("{window_id}{RECHECK_MARK}{pass}")
}

const RECHECK_MARK: &str = "_recheck";

/// Key in the cursors bucket holding a task's re-check progress (`recheck.<task>`).
pub fn recheck_key(task: &str) -> String {
    format!("recheck.{}", kv_token(task))
}

/// Whether a key of the cursors bucket is a task's cursor (task names have no dots; replay
/// requests and re-check progress keys do).
pub fn is_cursor_key(key: &str) -> bool {
    !key.contains('.')
}

/// Rate-limit schedule of the re-checks of a JST app: at most their share of the minute,
/// on top of (never instead of) the app's own schedule [`jst_rate_key`].
pub fn jst_recheck_rate_key(app_key: &str) -> String {
    format!("jst_recheck.{}", kv_token(app_key))
}

/// Key in the cursors bucket asking a task's fetcher to sync a dead-lettered window again
/// (written by `dlq replay`, deleted by the fetcher once the window is closed). Task names
/// have no dots, so these keys never clash with a cursor's.
pub fn window_replay_key(task: &str, window_id: &str) -> String {
    format!("{}{}", window_replay_prefix(task), kv_token(window_id))
}

/// Whether a key of the cursors bucket is a [`window_replay_key`] (not a cursor).
pub fn is_window_replay_key(key: &str) -> bool {
    key.starts_with("replay.")
}

/// What every [`window_replay_key`] of `task` starts with.
pub fn window_replay_prefix(task: &str) -> String {
    format!("replay.{}.", kv_token(task))
}

pub fn tplus_rate_key(app_key: &str) -> String {
    format!("tplus.{}", kv_token(app_key))
}

/// KV keys allow `[-_=A-Za-z0-9]` between dots; anything else becomes `_`.
fn kv_token(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Header naming the sync task of a raw order or window event.
pub const HEADER_TASK: &str = "J2T-Task";
/// Header naming the window of a raw order.
pub const HEADER_WINDOW: &str = "J2T-Window";
