//! Chanjet T+ OpenAPI client, and the pure classification of every answer into what the
//! writer does next; reading T+ back (voucher list, vouchers, master data) and the
//! ExternalCode index over it. Facts: `docs/tplus-api.md`.

mod classify;
mod client;
mod index;
mod read;
mod records;

pub use classify::{Answer, DuplicateRule, Outcome, classify, is_auth_failure};
pub use client::{
    AUDIT_PATH, FIND_VOUCHER_LIST_PATH, GET_VOUCHER_DTO_PATH, INVENTORY_QUERY_PATH,
    OTHER_DISPATCH_CREATE_PATH, REFRESH_TOKEN_PATH, TplusClient, WAREHOUSE_QUERY_PATH,
};
pub use index::VoucherIndex;
pub use read::{MAX_MASTER_PAGE_SIZE, ReadError};
pub use records::{MasterRecord, VoucherDto, VoucherLine, VoucherRow};
