//! Poll-to-snapshot: what one refresh of one environment costs the
//! dashboard (five HTTP queries, parsing, merging, states, layout), set
//! against fetching the same five responses raw. The difference is the
//! dashboard's own work, and it must stay small next to the network.

#[path = "../tests/fake_prometheus/mod.rs"]
mod fake_prometheus;

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use site_status::app::{App, Settings};
use site_status::config::Config;
use site_status::poller::{Fetched, Slot};
use site_status::source::FleetSource;
use site_status::source::http::ProcessSecrets;
use site_status::source::prometheus::{FleetQueries, PrometheusSource};

fn bench_poll(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("poll");
    group.sample_size(20);
    for sites in [320usize, 10_000] {
        let (server, _) = runtime.block_on(fake_prometheus::fleet_server(sites));
        let text = format!(
            "[[environment]]\nname = \"prod\"\nselector = 'env=\"prod\"'\n[environment.prometheus]\nurl = \"{}\"\n",
            server.uri()
        );
        let config = Config::parse(&text, Path::new("bench.toml")).unwrap();
        let source =
            PrometheusSource::new(&config, &config.environments[0], &ProcessSecrets).unwrap();
        let queries = FleetQueries::new(&config, &config.environments[0]).grid();
        let client = reqwest::Client::new();
        let url = format!("{}/api/v1/query", server.uri());

        group.bench_with_input(BenchmarkId::new("raw_fetch", sites), &sites, |b, _| {
            b.iter(|| {
                runtime.block_on(async {
                    let fetches = queries.iter().map(|q| {
                        let request = client.get(&url).query(&[("query", q)]);
                        async move { request.send().await.unwrap().bytes().await.unwrap().len() }
                    });
                    black_box(futures::future::join_all(fetches).await)
                })
            })
        });

        group.bench_with_input(BenchmarkId::new("fetch_fleet", sites), &sites, |b, _| {
            b.iter(|| black_box(runtime.block_on(source.fetch_fleet()).unwrap().sites.len()))
        });

        let report = Arc::new(runtime.block_on(source.fetch_fleet()).unwrap());
        group.bench_with_input(BenchmarkId::new("apply_fleet", sites), &sites, |b, _| {
            let mut app = App::new(Settings::default(), &["prod".to_string()], 200, 50);
            b.iter(|| {
                app.now = SystemTime::now();
                app.apply_fleet(
                    0,
                    &Slot {
                        last_good: Some(Fetched {
                            value: report.clone(),
                            at: app.now,
                        }),
                        ..Slot::default()
                    },
                );
                black_box(app.grid.layout.sites.len())
            })
        });

        group.bench_with_input(
            BenchmarkId::new("poll_to_snapshot", sites),
            &sites,
            |b, _| {
                let mut app = App::new(Settings::default(), &["prod".to_string()], 200, 50);
                b.iter(|| {
                    let report = runtime.block_on(source.fetch_fleet()).unwrap();
                    app.now = SystemTime::now();
                    app.apply_fleet(
                        0,
                        &Slot {
                            last_good: Some(Fetched {
                                value: Arc::new(report),
                                at: app.now,
                            }),
                            ..Slot::default()
                        },
                    );
                    black_box(app.grid.layout.sites.len())
                })
            },
        );
    }
    group.finish();
}

/// Setting up one backend's HTTP client, as every command does for every
/// backend at start: plain http loads no TLS root store, https the
/// system's.
fn endpoint_setup(c: &mut Criterion) {
    let mut group = c.benchmark_group("endpoint_setup");
    for url in ["http://127.0.0.1:9090", "https://127.0.0.1:9090"] {
        let config: site_status::config::BackendConfig =
            toml::from_str(&format!("url = \"{url}\"")).expect("a backend");
        let scheme = url.split(':').next().unwrap_or("http");
        group.bench_function(BenchmarkId::from_parameter(scheme), |b| {
            b.iter(|| {
                site_status::source::http::Endpoint::new(
                    black_box(&config),
                    "bench",
                    &ProcessSecrets,
                )
                .expect("an endpoint")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_poll, endpoint_setup);
criterion_main!(benches);
