//! Micro-benchmarks of the daemon's hot pure code: registry parsing and validation, the restart
//! policy (intensity window, strategy selection, backoff) and the `status` snapshot.
//!
//! Run with `cargo bench --bench micro` (add `-- --warm-up-time 1 --measurement-time 2` for a
//! quicker run). Under `cargo test --benches` every benchmark runs once, as a smoke test.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use actors::group::decide::{Decision, Effect, Input, Key, Settings};
use actors::messages::StartOutcome;
use actors::policy::{self, Exit, ExitStatus, RestartWindow};
use actors::spec::{Backoff, Intensity, RestartType, Strategy};
use actors::status::ComponentStatus;
use criterion::measurement::WallTime;
use criterion::{
    BatchSize, BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main,
};
use supervisor::registry::{self, MAX_BYTES, NODES_LIMIT};

/// Where the generated registries pretend to live (`parse` reads nothing from it).
fn registry_path() -> PathBuf {
    std::env::temp_dir()
        .join("supervisor-bench")
        .join("SupervisorRegistry.xml")
}

/// The part of every generated registry before the servers.
const HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<supervisor>
<config><tracelevel>2</tracelevel><logRetentionDays>10</logRetentionDays></config>
<restartStrategy type="one_for_one" intensity="5" period="30"/>
<profiles>
<profile id="p">
<executable>/opt/imaging/bin/standin</executable>
<arguments><argument>--name</argument></arguments>
<environment><variable name="LANG">C.UTF-8</variable></environment>
<backoff initial="0.1" max="30" multiplier="2" reset="10"/>
</profile>
</profiles>
<servers>
"#;

const TAIL: &str = "</servers>\n</supervisor>\n";

/// `count` servers of the smallest useful shape: an id, a profile and one argument. 10,000 of
/// them fit the loader's limits ([`MAX_BYTES`], [`NODES_LIMIT`]).
fn compact_registry(count: usize) -> String {
    let mut text = String::from(HEAD);
    for i in 0..count {
        text.push_str(&format!(
            "<server id=\"c{i:04}\"><profile ref=\"p\"/><arguments><argument>c{i:04}</argument></arguments></server>\n"
        ));
    }
    text.push_str(TAIL);
    text
}

/// `count` servers as an operator writes them: description, profile, arguments, environment,
/// priority, delays, restart type and backoff, one setting per line.
fn full_registry(count: usize) -> String {
    let mut text = String::from(HEAD);
    for i in 0..count {
        text.push_str(&format!(
            r#"<server id="s{i:05}">
  <description>Image Server worker {i}</description>
  <profile ref="p"/>
  <arguments><argument>s{i:05}</argument><argument>--port</argument><argument>{port}</argument></arguments>
  <environment><variable name="ROLE">worker</variable></environment>
  <startPriority>{priority}</startPriority>
  <startDelay>0.5</startDelay>
  <stopTimeout>10s</stopTimeout>
  <restart>permanent</restart>
  <backoff initial="0.1" max="30" multiplier="2" reset="10"/>
</server>
"#,
            port = 20_000 + i % 40_000,
            priority = 1 + i % 3,
        ));
    }
    text.push_str(TAIL);
    text
}

/// The most servers of the full shape the loader accepts (size and node limits).
fn largest_full_count(path: &Path) -> usize {
    let (mut fits, mut too_many) = (1usize, 10_001usize);
    while too_many - fits > 1 {
        let mid = (fits + too_many) / 2;
        if registry::parse(path, &full_registry(mid)).is_ok() {
            fits = mid;
        } else {
            too_many = mid;
        }
    }
    fits
}

fn registry_parse(c: &mut Criterion) {
    let path = registry_path();
    let largest = largest_full_count(&path);
    let mut cases = Vec::new();
    for count in [1, 100, 10_000] {
        cases.push(("compact", count, compact_registry(count)));
    }
    for count in [1, 100, largest] {
        cases.push(("full", count, full_registry(count)));
    }
    println!(
        "registry_parse inputs (the loader accepts at most {MAX_BYTES} bytes and {NODES_LIMIT} XML nodes):"
    );
    for (shape, count, text) in &cases {
        let parsed = registry::parse(&path, text).unwrap_or_else(|e| {
            panic!("the generated {shape} registry of {count} servers is invalid: {e}")
        });
        assert_eq!(parsed.tree.root.components().len(), *count);
        println!("  {shape:<7} {count:>6} servers  {:>9} bytes", text.len());
    }
    println!(
        "  (compact: id + profile ref + 1 argument, so 10,000 servers fit; full: 10 settings a \
         server, the largest count that fits is {largest}, so it is used instead of 10,000)"
    );

    let mut group = c.benchmark_group("registry_parse");
    for (shape, count, text) in &cases {
        group.throughput(Throughput::Bytes(text.len() as u64));
        if *count > 1000 {
            group.sample_size(20);
        } else {
            group.sample_size(100);
        }
        group.bench_with_input(BenchmarkId::new(*shape, count), text, |b, text| {
            b.iter(|| registry::parse(black_box(&path), black_box(text)).expect("valid"))
        });
    }
    group.finish();
}

fn restart_window(c: &mut Criterion) {
    let mut group = c.benchmark_group("policy/restart_window_record");
    // Steady state at the limit: intensity 5 per 30 s, one restart every 6 s, so every record
    // drops the oldest restart and keeps 5 in the window (and allows the restart).
    let steady = Intensity {
        max_restarts: 5,
        period: Duration::from_secs(30),
    };
    window_at_the_limit(
        &mut group,
        "steady_5_per_30s",
        steady,
        Duration::from_secs(6),
    );
    // The crash-loop scenario's setting: 10,000 per 0.1 s at 100,000 restarts/s, 10,000 in the window.
    let burst = Intensity {
        max_restarts: 10_000,
        period: Duration::from_millis(100),
    };
    window_at_the_limit(
        &mut group,
        "steady_10000_per_100ms",
        burst,
        Duration::from_micros(10),
    );
    group.finish();
}

/// Benchmarks `RestartWindow::record` with one restart every `step` (`intensity`'s period over
/// its restarts): the window is first filled to the limit, then every record drops the oldest
/// restart, keeps the window full and allows the restart.
fn window_at_the_limit(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    intensity: Intensity,
    step: Duration,
) {
    let full = intensity.max_restarts as usize;
    group.bench_function(name, |b| {
        let mut now = Instant::now();
        let mut window = RestartWindow::default();
        for _ in 0..full {
            now += step;
            assert!(window.record(intensity, now));
        }
        b.iter(|| {
            now += step;
            black_box(window.record(intensity, black_box(now)))
        });
        assert_eq!(window.len(), full);
    });
}

fn restart_set(c: &mut Criterion) {
    let mut group = c.benchmark_group("policy/restart_set_1000_children_failed_500");
    for (name, strategy) in [
        ("one_for_one", Strategy::OneForOne),
        ("one_for_all", Strategy::OneForAll),
        ("rest_for_one", Strategy::RestForOne),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| policy::restart_set(black_box(strategy), black_box(500), black_box(1000)))
        });
    }
    group.finish();
}

fn backoff(c: &mut Criterion) {
    let mut group = c.benchmark_group("policy/backoff_delay");
    let backoff = Backoff::default();
    group.bench_function("default_attempts_0_to_11", |b| {
        let mut attempt = 0u32;
        b.iter(|| {
            attempt = (attempt + 1) % 12;
            black_box(policy::backoff_delay(
                black_box(&backoff),
                black_box(attempt),
            ))
        })
    });
    group.bench_function("default_capped_attempt_1000", |b| {
        b.iter(|| policy::backoff_delay(black_box(&backoff), black_box(1000)))
    });
    group.finish();
}

/// The whole decision a group takes on one exit of a permanent child among 1,000 siblings
/// (`group::decide`: restart type, intensity, backoff, strategy, the `Start` it sends), and on
/// the child's answer that it started again; then a whole first start of 1,000 children.
fn decision(c: &mut Criterion) {
    let intensity = Some(Intensity {
        max_restarts: 5,
        period: Duration::from_secs(30),
    });
    let children: Vec<(Key, Settings)> = (0..1000u64)
        .map(|key| {
            let settings = Settings {
                id: format!("c{key}"),
                priority: 1 + key as u32 / 100,
                restart: RestartType::Permanent,
                success_exit_codes: vec![0],
                backoff: Backoff::default(),
                autostart: true,
            };
            (key, settings)
        })
        .collect();
    let up = || {
        let mut decision = Decision::new(Strategy::OneForOne, intensity, children.clone());
        let now = Instant::now();
        let mut owed = decision.decide(Input::Start, now);
        while let Some(effect) = owed.pop() {
            if let Effect::Start { key, ticket, .. } = effect {
                let outcome = StartOutcome::Started;
                let answer = Input::StartAnswered {
                    key,
                    ticket,
                    outcome,
                };
                owed.extend(decision.decide(answer, now));
            }
        }
        decision
    };
    c.bench_function("decide/one_exit_and_restart_among_1000_children", |b| {
        let mut decision = up();
        let mut now = Instant::now();
        b.iter(|| {
            now += Duration::from_secs(7);
            let exit = Exit::Process(ExitStatus::Signal(9));
            let uptime = Duration::from_millis(1500);
            let input = Input::Exited {
                key: black_box(500),
                exit,
                uptime,
            };
            for effect in decision.decide(input, now) {
                if let Effect::Start { key, ticket, .. } = effect {
                    let outcome = StartOutcome::Started;
                    decision.decide(
                        Input::StartAnswered {
                            key,
                            ticket,
                            outcome,
                        },
                        now,
                    );
                }
            }
        })
    });
    c.bench_function("decide/first_start_of_1000_children_in_10_levels", |b| {
        b.iter(|| black_box(up()))
    });
    let priorities: Vec<u32> = (0..1000u32).map(|i| 1 + i / 100).collect();
    let order: Vec<usize> = (0..1000).collect();
    c.bench_function("policy/start_levels_1000_children_10_levels", |b| {
        b.iter(|| policy::start_levels(black_box(&order), |i| priorities[i]))
    });
}

/// 1,000 components in the states a status shows, most of them running.
fn synthetic_statuses() -> Vec<ComponentStatus> {
    const STATES: [&str; 7] = [
        "running", "running", "running", "running", "backoff", "stopped", "exited",
    ];
    (0..1000u32)
        .map(|i| {
            let state = STATES[i as usize % STATES.len()];
            let running = state == "running";
            ComponentStatus {
                id: format!("component-{i:04}"),
                group: if i % 3 == 0 {
                    String::new()
                } else {
                    format!("platform/pool-{}", i % 10)
                },
                description: format!("Image Server worker {i}"),
                state,
                pid: running.then_some(100_000 + i),
                uptime: Duration::from_millis(if running { u64::from(i) * 7_919_000 } else { 0 }),
                restarts: i % 17,
                last_exit: match i % 4 {
                    0 => None,
                    1 => Some(ExitStatus::Code(1)),
                    2 => Some(ExitStatus::Signal(9)),
                    _ => Some(ExitStatus::Code(0)),
                },
                reason: None,
                wanted: true,
                held: false,
                done: false,
                last_error: None,
                sockets: Vec::new(),
            }
        })
        .collect()
}

fn status(c: &mut Criterion) {
    let statuses = synthetic_statuses();
    let mut group = c.benchmark_group("status_1000_components");
    group.bench_function("rows_with_proc_scan", |b| {
        b.iter_batched(
            || statuses.clone(),
            |statuses| {
                supervisor::status::rows(black_box(statuses), supervisor::status::Wait::ForFresh)
            },
            BatchSize::LargeInput,
        )
    });
    let rows = supervisor::status::rows(statuses.clone(), supervisor::status::Wait::ForFresh);
    group.bench_function("table", |b| {
        b.iter(|| supervisor::status::table(black_box(&rows)))
    });
    group.bench_function("json", |b| {
        b.iter(|| serde_json::to_string(black_box(&rows)).expect("serializable"))
    });
    group.finish();
}

/// The inode of a socket of this process, as the kernel's tables name it.
fn inode(socket: &impl std::os::fd::AsRawFd) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let path = format!("/proc/self/fd/{}", socket.as_raw_fd());
    std::fs::metadata(path).expect("a descriptor").ino()
}

/// The queues of one status report with 16 held sockets of a family: one read of
/// `/proc/net/tcp`, or one sock_diag dump, shared by the 16.
fn socket_queues(c: &mut Criterion) {
    use actors::process::procnet::{Family, Queues};
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixListener};
    let tcp: Vec<std::net::TcpListener> = (0..16)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    let unix: Vec<UnixListener> = (0..16)
        .map(|n| {
            let name = format!("supervisor-bench-{}-{n}", std::process::id());
            let address = SocketAddr::from_abstract_name(name).expect("address");
            UnixListener::bind_addr(&address).expect("bind")
        })
        .collect();
    let mut group = c.benchmark_group("socket_queues_16_held");
    for (name, family, inodes) in [
        (
            "tcp",
            Family::Tcp,
            tcp.iter().map(inode).collect::<Vec<_>>(),
        ),
        ("unix", Family::Unix, unix.iter().map(inode).collect()),
    ] {
        // Where the kernel does not tell (no sock_diag for unix sockets, say), there is no
        // figure to take: say so rather than fail the whole run.
        if Queues::default().depth(family, inodes[0]).is_none() {
            println!("socket_queues_16_held/{name}: skipped: the kernel gives no queue here");
            continue;
        }
        group.bench_function(name, |b| {
            b.iter(|| {
                let queues = Queues::default();
                let depths = inodes.iter().map(|&i| queues.depth(family, i));
                assert!(depths.map(|d| d.expect("a queue")).sum::<u64>() == 0);
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    registry_parse,
    restart_window,
    restart_set,
    backoff,
    decision,
    status,
    socket_queues
);
criterion_main!(benches);
