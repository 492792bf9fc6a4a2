#!/usr/bin/env python3
"""Checks for .ci/compose-e2e, from the host, over the ports compose publishes on 127.0.0.1:
the simulator's admin API (what JST holds, what T+ received, fault knobs) and NATS's
monitoring endpoint (/jsz). Standard library only.

The sums are those of the demo's closing table (services/cli/src/reconcile.rs): quantity
per (ship date, SKU) of the orders with status Confirmed against the lines of the vouchers
T+ holds. The amounts are checked by `jst2tplus reconcile`, which the stage runs in a
container.
"""

import argparse
import collections
import datetime
import json
import sys
import time
import urllib.error
import urllib.request

SIMULATOR = "http://127.0.0.1:8081"
NATS_MONITOR = "http://127.0.0.1:8222"
STATUS = "Confirmed"
JST_UTC_OFFSET = datetime.timedelta(minutes=480)


def http(method, url, body=None, timeout=10):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


def orders():
    return http("GET", f"{SIMULATOR}/admin/jst/orders")


def vouchers():
    return [v["dto"] for v in http("GET", f"{SIMULATOR}/admin/tplus/vouchers")]


def expected(order_list):
    out = collections.Counter()
    for o in order_list:
        if o.get("status") != STATUS:
            continue
        day = o["io_date"][:10]
        for item in o.get("items", []):
            out[(day, item["sku_id"])] += item["qty"]
    return out


def actual(dtos):
    out = collections.Counter()
    for dto in dtos:
        for line in dto.get("RDRecordDetails", []):
            qty = line.get("BaseQuantity", line.get("Quantity", 0))
            out[(dto["VoucherDate"], line["Inventory"]["Code"])] += qty
    return out


def duplicates(dtos):
    seen = collections.Counter(d.get("ExternalCode") for d in dtos)
    return sorted(c for c, n in seen.items() if n > 1)


def differences(want, got):
    keys = sorted(set(want) | set(got))
    return [(k, want.get(k, 0), got.get(k, 0)) for k in keys if abs(want.get(k, 0) - got.get(k, 0)) > 1e-6]


def state(order_file):
    want = expected(json.load(open(order_file)) if order_file else orders())
    dtos = vouchers()
    got = actual(dtos)
    return want, dtos, got


def cmd_wait_admin(args):
    deadline = time.monotonic() + args.timeout
    while True:
        try:
            http("GET", f"{SIMULATOR}/admin/stats", timeout=2)
            return 0
        except (urllib.error.URLError, OSError, ValueError) as e:
            if time.monotonic() > deadline:
                print(f"simulator admin API at {SIMULATOR} not answering after {args.timeout}s: {e}", file=sys.stderr)
                return 1
            time.sleep(0.5)


def cmd_faults(args):
    http("PUT", f"{SIMULATOR}/admin/tplus/faults", json.loads(args.json))
    return 0


def cmd_wait_vouchers(args):
    """Until T+ holds at least N vouchers; then says how far the sync is."""
    deadline = time.monotonic() + args.timeout
    while True:
        want, dtos, got = state(None)
        if len(dtos) >= args.at_least:
            print(f"{len(dtos)} vouchers in T+, quantity {sum(got.values())} of {sum(want.values())}")
            if args.not_all and not differences(want, got):
                print("everything was written already: the faults would not hit a sync in progress", file=sys.stderr)
                return 1
            return 0
        if time.monotonic() > deadline:
            print(f"T+ holds {len(dtos)} vouchers after {args.timeout}s, expected at least {args.at_least}", file=sys.stderr)
            return 1
        time.sleep(0.3)


def consumer(stream, name):
    jsz = http("GET", f"{NATS_MONITOR}/jsz?consumers=true")
    for account in jsz.get("account_details", []):
        for s in account.get("stream_detail", []):
            if s["name"] != stream:
                continue
            for c in s.get("consumer_detail", []) or []:
                if c["name"] == name:
                    return s, c
            return s, None
    return None, None


def cmd_wait_pending(args):
    """Until the writers' durable consumer has vouchers waiting or in flight."""
    deadline = time.monotonic() + args.timeout
    while True:
        _, c = consumer("J2T_VOUCHERS", "writer")
        if c and c["num_pending"] + c["num_ack_pending"] > 0:
            print(f"writer consumer: {c['num_pending']} vouchers waiting, {c['num_ack_pending']} in flight (unacked)")
            return 0
        if time.monotonic() > deadline:
            print(f"the writers never held a voucher within {args.timeout}s (consumer: {c})", file=sys.stderr)
            return 1
        time.sleep(0.3)


def cmd_wait_settled(args):
    """Until T+ holds exactly the expected quantities; on timeout, what differs."""
    deadline = time.monotonic() + args.timeout
    started = time.monotonic()
    last_report = 0.0
    while True:
        try:
            want, dtos, got = state(args.orders)
            diff = differences(want, got)
            dups = duplicates(dtos)
        except (urllib.error.URLError, OSError) as e:
            diff, dups, dtos, got, want = [("?", 0, 0)], [], [], {}, {}
            print(f"  simulator not answering: {e}")
        if not diff and not dups:
            print(f"settled: {len(dtos)} vouchers, quantity {sum(got.values())} = {sum(want.values())} "
                  f"over {len(want)} (date, SKU) pairs, no ExternalCode twice")
            return 0
        if dups:
            print(f"ExternalCodes written twice: {dups}", file=sys.stderr)
            return 1
        # More in T+ than shipped never heals by waiting: something was written twice.
        over = [(k, w, g) for k, w, g in diff if g > w + 1e-6]
        if over:
            print(f"T+ holds more than was shipped (written twice?); (date, SKU, expected, in T+):", file=sys.stderr)
            for (day, sku), w, g in over[:20]:
                print(f"  {day} {sku} {w} {g}", file=sys.stderr)
            return 1
        now = time.monotonic()
        if now > deadline:
            print(f"T+ does not match after {args.timeout}s: {len(dtos)} vouchers, quantity "
                  f"{sum(got.values())} of {sum(want.values())}; (date, SKU, expected, in T+):", file=sys.stderr)
            for (day, sku), w, g in diff[:20]:
                print(f"  {day} {sku} {w} {g}", file=sys.stderr)
            return 1
        if now - last_report >= 10:
            last_report = now
            print(f"  {int(now - started)}s: {len(dtos)} vouchers, quantity {sum(got.values())} of {sum(want.values())}")
        time.sleep(1)


def cmd_queues_empty(args):
    """Nothing left behind: no voucher waiting or unacked, no dead letter."""
    _, c = consumer("J2T_VOUCHERS", "writer")
    dlq, _ = consumer("J2T_DLQ", "")
    problems = []
    if c is None:
        problems.append("no writer consumer on J2T_VOUCHERS")
    elif c["num_pending"] or c["num_ack_pending"]:
        problems.append(f"writer consumer: {c['num_pending']} waiting, {c['num_ack_pending']} unacked")
    dead = dlq["state"]["messages"] if dlq else 0
    if dead:
        problems.append(f"{dead} dead letters in J2T_DLQ (jst2tplus dlq list)")
    if problems:
        print("; ".join(problems), file=sys.stderr)
        return 1
    print("nothing pending: no voucher waiting or unacked on the writer consumer, no dead letter")
    return 0


def cmd_codes(args):
    for dto in vouchers():
        print(dto["ExternalCode"])
    return 0


def cmd_dates(args):
    source = json.load(open(args.orders)) if args.orders else orders()
    days = sorted({o["io_date"][:10] for o in source if o.get("status") == STATUS})
    print(days[0], days[-1])
    return 0


def cmd_add_orders(args):
    """New Confirmed orders shipped now (JST local time), copied from a demo order with new
    ids; written to FILE for wait-settled --orders."""
    existing = orders()
    # Copies of different demo orders: several SKUs and both warehouses.
    templates = [o for o in existing if o.get("status") == STATUS][: args.count]
    now = (datetime.datetime.now(datetime.timezone.utc) + JST_UTC_OFFSET).strftime("%Y-%m-%d %H:%M:%S")
    base = max(o["io_id"] for o in existing) + 1000
    new = []
    for i in range(args.count):
        o = json.loads(json.dumps(templates[i % len(templates)]))
        io_id = base + i
        o.update(io_id=io_id, o_id=io_id, so_id=f"SO{io_id}", io_date=now, modified=now, created=now,
                 l_id=f"SF{io_id}", remark=f"compose-e2e order {io_id}")
        for n, item in enumerate(o["items"]):
            item.update(ioi_id=io_id * 10 + n, outer_oi_id=f"OI{io_id * 10 + n}", raw_so_id=f"SO{io_id}")
        new.append(o)
    http("POST", f"{SIMULATOR}/admin/jst/orders", new)
    json.dump(new, open(args.file, "w"))
    print(f"added {len(new)} orders shipped at {now} (io_id {base}..{base + args.count - 1})")
    return 0


def windows(log_file):
    """(start, end, already_synced) of each "window synced" line of a fetcher's JSON log."""
    out = []
    for line in open(log_file, errors="replace"):
        line = line[line.find("{"):]
        try:
            fields = json.loads(line).get("fields", {})
        except ValueError:
            continue
        if fields.get("message") == "window synced":
            start, end = fields["window"].split("-")
            out.append((start, end, int(fields.get("already_synced", 0))))
    return out


def cmd_resumed(args):
    """The fetcher after `up` started where the one before `down` stopped, and met no order
    it had already published."""
    before, after = windows(args.before), windows(args.after)
    if not before or not after:
        print(f"no 'window synced' lines: {len(before)} before down, {len(after)} after up", file=sys.stderr)
        return 1
    fmt = "%Y%m%d%H%M%S"
    cursor = datetime.datetime.strptime(before[-1][1], fmt) + datetime.timedelta(seconds=1)
    first = datetime.datetime.strptime(after[0][0], fmt)
    seen_again = sum(w[2] for w in after)
    if first != cursor:
        print(f"the first window after up starts at {first}, the stored cursor was {cursor}", file=sys.stderr)
        return 1
    if seen_again:
        print(f"after up the fetcher met {seen_again} orders it had published before down", file=sys.stderr)
        return 1
    print(f"resumed at the stored cursor {cursor} (first window after up {after[0][0]}-{after[0][1]}), "
          f"{len(after)} windows since, no order fetched twice")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("wait-admin")
    s.add_argument("--timeout", type=int, default=60)
    s = sub.add_parser("faults")
    s.add_argument("json")
    s = sub.add_parser("wait-vouchers")
    s.add_argument("--at-least", type=int, default=1)
    s.add_argument("--not-all", action="store_true")
    s.add_argument("--timeout", type=int, default=180)
    s = sub.add_parser("wait-pending")
    s.add_argument("--timeout", type=int, default=60)
    s = sub.add_parser("wait-settled")
    s.add_argument("--orders", help="compare against these orders, not all of JST's")
    s.add_argument("--timeout", type=int, default=300)
    sub.add_parser("queues-empty")
    sub.add_parser("codes")
    s = sub.add_parser("dates")
    s.add_argument("--orders", help="of these orders, not all of JST's")
    s = sub.add_parser("add-orders")
    s.add_argument("--count", type=int, default=20)
    s.add_argument("file")
    s = sub.add_parser("resumed")
    s.add_argument("before")
    s.add_argument("after")
    args = p.parse_args()
    handler = globals()["cmd_" + args.cmd.replace("-", "_")]
    sys.exit(handler(args))


if __name__ == "__main__":
    main()
