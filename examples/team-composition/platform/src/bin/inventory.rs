//! A remote inventory server: what the platform proxies under `remote`. It runs as its
//! own process — over stdio when the platform starts it, or over HTTP
//! (`inventory serve --transport http`) when it runs elsewhere.

use platform_runtime::prelude::*;

/// Stock levels.
struct Inventory;

/// Stock levels by product.
#[server(name = "inventory", version = "0.4.0")]
impl Inventory {
    /// How many of a product are in stock.
    ///
    /// # Arguments
    /// * `sku` - the product code
    #[tool(read_only)]
    fn stock(&self, sku: String) -> String {
        let count = sku.bytes().map(u32::from).sum::<u32>() % 50;
        format!("{sku}: {count} in stock")
    }

    /// Reserve units of a product, reporting progress per unit.
    ///
    /// # Arguments
    /// * `sku` - the product code
    /// * `units` - how many
    #[tool]
    async fn reserve(&self, sku: String, units: u32, ctx: Context) -> String {
        for unit in 1..=units {
            ctx.progress(f64::from(unit), Some(f64::from(units)), None)
                .await;
        }
        format!("{units} x {sku} reserved")
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    platform_runtime::serve(Inventory).await?;
    Ok(())
}
