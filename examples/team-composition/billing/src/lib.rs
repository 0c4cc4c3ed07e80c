//! The billing team's MCP server: invoices and refunds, mounted by the platform under
//! `billing` for the finance role only.

use platform_runtime::prelude::*;

/// Invoices and refunds.
#[derive(Default)]
pub struct Billing;

/// Invoices and refunds for customer accounts.
#[server(name = "billing", version = "3.0.0")]
impl Billing {
    /// An invoice's total.
    ///
    /// # Arguments
    /// * `invoice` - the invoice number
    #[tool(read_only)]
    fn invoice_total(&self, invoice: u32) -> String {
        format!("invoice {invoice}: 120.00 EUR")
    }

    /// Refund an invoice.
    ///
    /// # Arguments
    /// * `invoice` - the invoice number
    /// * `reason` - why
    #[tool(destructive)]
    fn refund(&self, invoice: u32, reason: String) -> String {
        format!("invoice {invoice} refunded ({reason})")
    }

    /// The refund policy (the first API, kept for old clients).
    #[tool(name = "refund_policy", version = "1")]
    fn refund_policy_v1(&self) -> &'static str {
        "refunds within 14 days"
    }

    /// The refund policy.
    #[tool(name = "refund_policy", version = "2")]
    fn refund_policy_v2(&self) -> &'static str {
        "refunds within 30 days, partial refunds allowed"
    }
}
