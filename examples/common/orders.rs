//! The demo workload: parse a CSV of orders, aggregate per country, render a summary.
//!
//! Written the way a lot of real code is: correct, readable, and allocating more than it has
//! to. `quickstart` profiles it as it is.

use std::collections::HashMap;

use alloc_probe::track_allocs;

/// One order line item.
#[derive(Debug, Clone)]
pub struct Item {
    pub product: String,
    pub quantity: u32,
    pub price: f64,
}

/// One parsed record.
#[derive(Debug, Clone)]
pub struct Order {
    /// Parsed to validate the record; the summary does not use it.
    #[allow(dead_code)]
    pub id: u64,
    pub customer: String,
    pub country: String,
    pub items: Vec<Item>,
}

/// Per-country totals.
#[derive(Debug, Default, Clone)]
pub struct Totals {
    pub orders: u64,
    pub revenue: f64,
    pub customers: Vec<String>,
    pub products: HashMap<String, u32>,
}

/// Parses one CSV line (`id,customer,country,product:qty:price;...`).
#[track_allocs]
pub fn parse_line(line: &str) -> Option<Order> {
    let fields: Vec<String> = line.split(',').map(|f| f.trim().to_string()).collect();
    if fields.len() != 4 {
        return None;
    }
    let mut items = Vec::new();
    for part in fields[3].split(';') {
        let bits: Vec<&str> = part.split(':').collect();
        if bits.len() != 3 {
            return None;
        }
        items.push(Item {
            product: bits[0].to_string(),
            quantity: bits[1].parse().ok()?,
            price: bits[2].parse().ok()?,
        });
    }
    Some(Order {
        id: fields[0].parse().ok()?,
        customer: fields[1].clone(),
        country: fields[2].clone(),
        items,
    })
}

/// Parses every record after the header.
#[track_allocs]
pub fn parse(text: &str) -> Vec<Order> {
    text.lines().skip(1).filter_map(parse_line).collect()
}

/// Folds one order into the per-country totals.
#[track_allocs]
pub fn add_order(totals: &mut HashMap<String, Totals>, order: &Order) {
    let key = order.country.to_uppercase();
    let t = totals.entry(key).or_default();
    t.orders += 1;
    if !t.customers.contains(&order.customer) {
        t.customers.push(order.customer.clone());
    }
    for item in &order.items {
        t.revenue += f64::from(item.quantity) * item.price;
        *t.products.entry(item.product.clone()).or_insert(0) += item.quantity;
    }
}

/// Aggregates all orders per country.
pub fn aggregate(orders: &[Order]) -> HashMap<String, Totals> {
    let mut totals = HashMap::new();
    for o in orders {
        add_order(&mut totals, o);
    }
    totals
}

/// Renders the top countries by revenue, with each one's best-selling product.
#[track_allocs]
pub fn render(totals: &HashMap<String, Totals>) -> String {
    let mut rows: Vec<(String, Totals)> =
        totals.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    rows.sort_by(|a, b| b.1.revenue.total_cmp(&a.1.revenue));
    let mut out = String::new();
    for (country, t) in rows {
        let best = t
            .products
            .iter()
            .max_by_key(|(name, qty)| (**qty, name.to_string()))
            .map(|(name, _)| name.clone())
            .unwrap_or_default();
        out += &format!(
            "{country:<4}{:>6} orders {:>6} customers {:>12.2} revenue   best: {best}\n",
            t.orders,
            t.customers.len(),
            t.revenue
        );
    }
    out
}
