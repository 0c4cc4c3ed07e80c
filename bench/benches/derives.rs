//! The prelude's `Serialize`/`Deserialize` (serde's derive on a private remote copy, called
//! through the user's type) against serde's own derive on the same shape, same run:
//!
//!     cargo bench -p platform-bench --bench derives
//!
//! Each group measures both back to back; the two should be equal within noise.
#![allow(clippy::expect_used)] // a benchmark whose fixture does not serialize has nothing to measure

use criterion::{Criterion, criterion_group, criterion_main};

/// The shape, derived twice: once by serde itself, once through the prelude.
macro_rules! shapes {
    ($module:ident, $($derive:path),+) => {
        mod $module {
            #[allow(unused_imports)]
            use platform_runtime::prelude::*;

            #[derive(Clone, $($derive),+)]
            #[serde(rename_all = "camelCase")]
            pub(crate) struct Ticket {
                pub(crate) id: u64,
                pub(crate) title: String,
                pub(crate) opened_by: String,
                pub(crate) priority: Priority,
                pub(crate) tags: Vec<String>,
                #[serde(default)]
                pub(crate) assignee: Option<String>,
            }

            #[derive(Clone, $($derive),+)]
            #[serde(rename_all = "lowercase")]
            pub(crate) enum Priority {
                Low,
                Urgent,
            }

            pub(crate) fn tickets() -> Vec<Ticket> {
                (0..64)
                    .map(|id| Ticket {
                        id,
                        title: format!("ticket number {id}"),
                        opened_by: "ada".into(),
                        priority: if id % 2 == 0 { Priority::Low } else { Priority::Urgent },
                        tags: vec!["billing".into(), "vip".into()],
                        assignee: (id % 3 == 0).then(|| "grace".into()),
                    })
                    .collect()
            }
        }
    };
}

shapes!(by_serde, serde::Serialize, serde::Deserialize);
shapes!(by_prelude, Serialize, Deserialize);

fn derives(c: &mut Criterion) {
    let serde_tickets = by_serde::tickets();
    let prelude_tickets = by_prelude::tickets();
    let bytes = serde_json::to_vec(&serde_tickets).expect("serializes");
    assert_eq!(
        bytes,
        serde_json::to_vec(&prelude_tickets).expect("serializes"),
        "the same JSON either way"
    );

    let mut group = c.benchmark_group("derive/serialize-64");
    group.bench_function("serde", |b| {
        b.iter(|| serde_json::to_vec(std::hint::black_box(&serde_tickets)))
    });
    group.bench_function("prelude", |b| {
        b.iter(|| serde_json::to_vec(std::hint::black_box(&prelude_tickets)))
    });
    group.finish();

    let mut group = c.benchmark_group("derive/deserialize-64");
    group.bench_function("serde", |b| {
        b.iter(|| serde_json::from_slice::<Vec<by_serde::Ticket>>(std::hint::black_box(&bytes)))
    });
    group.bench_function("prelude", |b| {
        b.iter(|| serde_json::from_slice::<Vec<by_prelude::Ticket>>(std::hint::black_box(&bytes)))
    });
    group.finish();
}

criterion_group!(benches, derives);
criterion_main!(benches);
