#!/usr/bin/env python3
"""Calls the simulated T+ through Chanjet's official Python SDK (chanjet-openapi-python-sdk,
pinned 1.0.2) and checks the documented shapes of the endpoints jst2tplus reads:
otherDispatch/Create, OtherDispatchOpenApi/FindVoucherList, GetVoucherDTO (by id and by code),
Audit, inventory/Query and warehouse/Query.

Usage: tplus_sdk_check.py BASE_URL APP_KEY APP_SECRET OPEN_TOKEN
  BASE_URL is the simulator's T+ port, e.g. http://127.0.0.1:8082 (the SDK's server_url).
Exits 0 when every check holds, 1 naming the first that does not, 2 when the SDK is missing.
Expects a simulator without vouchers, with the demo master data.
"""

import logging
import sys

try:
    from chanjet_openapi_python_sdk.chanjet_client import ChanjetClient
    from chanjet_openapi_python_sdk.chanjet_request import ChanjetRequest
    from chanjet_openapi_python_sdk.content.tplus.query_inventory_content import (
        QueryInventoryContent,
    )
    from chanjet_openapi_python_sdk.request.tplus.query_inventory_request import (
        QueryInventoryRequest,
    )
    from chanjet_openapi_python_sdk.response.tplus.query_inventory_response import (
        QueryInventoryResponse,
    )
except ImportError as e:  # pragma: no cover
    print(f"chanjet-openapi-python-sdk is not installed ({e}): "
          "python3 -m pip install chanjet-openapi-python-sdk==1.0.2", file=sys.stderr)
    sys.exit(2)


class Post(ChanjetRequest):
    """Any POST endpoint: the SDK's request classes differ only in their URI and method."""

    def __init__(self, uri, content):
        super().__init__(uri)
        self.content = content

    def get_http_method(self):
        return "post"


CHECKS = 0


def check(condition, what, got=None):
    global CHECKS
    if not condition:
        print(f"FAILED: {what}" + (f"; got {got!r}" if got is not None else ""), file=sys.stderr)
        sys.exit(1)
    CHECKS += 1


def dto(external_code):
    return {"dto": {
        "ExternalCode": external_code, "VoucherType": {"Code": "ST1024"},
        "VoucherDate": "2026-11-25", "BusiType": {"Code": "13"}, "Warehouse": {"Code": "1"},
        "Memo": "sdk check",
        "RDRecordDetails": [
            {"Inventory": {"Code": "SKU-TEA-001"}, "BaseQuantity": 2, "Amount": 176.0},
            {"Inventory": {"Code": "SKU-CUP-002"}, "BaseQuantity": 1},
        ],
    }}


def main(base_url, app_key, app_secret, open_token):
    # The SDK logs request headers (secrets included) at INFO: keep them out of the output.
    logging.basicConfig(level=logging.CRITICAL)
    client = ChanjetClient(base_url, app_key, app_secret, open_token)
    call = lambda uri, content: client.execute(Post("/tplus/api/v2/" + uri, content))

    for code in ("SDK-1", "SDK-2", "SDK-3"):
        check(call("otherDispatch/Create", dto(code)) is None, f"Create {code} answers null")
    dup = call("otherDispatch/Create", dto("SDK-1"))
    check(isinstance(dup, dict) and dup.get("code") == "999" and "已存在" in dup.get("message", ""),
          "a duplicate ExternalCode is a business error", dup)

    page = call("OtherDispatchOpenApi/FindVoucherList",
                {"pageIndex": 0, "pageSize": 2, "paramDic": {}})
    check(page.get("code") == "0" and isinstance(page.get("data"), list),
          "FindVoucherList answers {code: '0', data: [...]}", page)
    rows = page["data"]
    check([r["externalcode"] for r in rows] == ["SDK-1", "SDK-2"],
          "page 0 (0-based) holds the first two vouchers in arrival order", rows)
    check(all(set(r) == {"id", "code", "externalcode", "ts"} for r in rows),
          "rows hold only id, code, externalcode, ts", rows)
    last = call("OtherDispatchOpenApi/FindVoucherList",
                {"pageIndex": 1, "pageSize": 2, "paramDic": {}})["data"]
    check([r["externalcode"] for r in last] == ["SDK-3"], "page 1 holds the third", last)

    second = rows[1]
    by_id = call("OtherDispatchOpenApi/GetVoucherDTO", {"param": {"voucherID": str(second["id"])}})
    check(by_id.get("code") == "0", "GetVoucherDTO by voucherID succeeds", by_id)
    voucher = by_id["data"]
    check(voucher["ExternalCode"] == "SDK-2" and str(voucher["ID"]) == str(second["id"])
          and voucher["Code"] == second["code"], "the DTO carries ExternalCode, ID and Code", voucher)
    lines = [(l["Inventory"]["Code"], l["BaseQuantity"]) for l in voucher["RDRecordDetails"]]
    check(lines == [("SKU-TEA-001", 2), ("SKU-CUP-002", 1)], "RDRecordDetails as written", lines)
    check(voucher["Warehouse"]["Code"] == "1" and voucher["VoucherDate"] == "2026-11-25",
          "header as written", voucher)
    by_code = call("OtherDispatchOpenApi/GetVoucherDTO",
                   {"param": {"voucherCode": second["code"], "voucherTypeCode": "ST1024"}})
    check(by_code.get("data", {}).get("ExternalCode") == "SDK-2", "GetVoucherDTO by voucherCode", by_code)
    missing = call("OtherDispatchOpenApi/GetVoucherDTO", {"param": {"voucherID": "999999"}})
    check(missing.get("code") == "999" and "不存在" in missing.get("message", ""),
          "an unknown voucher is code 999 '…不存在'", missing)

    audited = call("OtherDispatchOpenApi/Audit", {"param": {"voucherID": str(second["id"])}})
    check(audited.get("code") == "0", "Audit succeeds", audited)

    # The SDK's own inventory request, content and response classes.
    req = QueryInventoryRequest()
    req.request_uri = "/tplus/api/v2/inventory/Query"
    req.content = QueryInventoryContent("SKU-TEA-001", "", False, True)
    found = client.execute(req, QueryInventoryResponse)
    check(isinstance(found, list) and len(found) == 1
          and isinstance(found[0], QueryInventoryResponse) and found[0].Code == "SKU-TEA-001",
          "inventory/Query answers a bare array the SDK's response class reads", found)
    tea = call("inventory/Query", {"param": {"Code": "%TEA%", "SelectFields": "Code,Name"}})
    check(isinstance(tea, list) and sorted(r["Code"] for r in tea)
          == ["SKU-TEA-001", "SKU-TEA-002", "SKU-TEA-003"], "Code accepts %kw%", tea)
    pages = [call("inventory/Query", {"param": {"PageSize": 5, "PageIndex": i}}) for i in (1, 2, 3)]
    check([len(p) for p in pages] == [5, 5, 2], "PageSize/PageIndex page inside param",
          [len(p) for p in pages])
    too_big = call("inventory/Query", {"param": {"PageSize": 1001}})
    check(isinstance(too_big, dict) and too_big.get("code") == "999", "PageSize over 1000 refused", too_big)

    warehouses = call("warehouse/Query", {"param": {"Code": "1"}})
    check(isinstance(warehouses, list) and [w["Code"] for w in warehouses] == ["1"],
          "warehouse/Query answers a bare array", warehouses)

    stale = ChanjetClient(base_url, app_key, app_secret, "stale-token")
    refused = stale.execute(Post("/tplus/api/v2/warehouse/Query", {"param": {}}))
    check(refused.get("code") == "50000", "a stale openToken is refused with 50000", refused)

    print(f"ok: {CHECKS} checks through chanjet-openapi-python-sdk against {base_url}")


if __name__ == "__main__":
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(*sys.argv[1:])
