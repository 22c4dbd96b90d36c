//! One conformance suite for [`ObjectStore`], run against every backend:
//! `fs` on a temporary directory, and `s3` against moto's server and
//! against Garage, both started here on loopback.
//!
//! Concurrent create-once and compare-and-swap must have exactly one
//! winner everywhere: natively on `fs` and moto, and through the
//! single-node fallback on Garage, whose missing conditional writes the
//! probe must report.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use portitor::store::fs::{FsStore, FsSync};
use portitor::store::s3::S3Store;
use portitor::store::{CasOutcome, ConditionalWrites, CreateOutcome, ObjectStore, StoreError, Swap};
use support::s3::S3Server;

/// Every behaviour the rest of Portitor relies on.
async fn conformance(store: Arc<dyn ObjectStore>) {
    let run = uuid::Uuid::new_v4().to_string();
    let key = |rest: &str| format!("conf-{run}/{rest}");

    // put / get / overwrite
    assert_eq!(store.get(&key("missing")).await.expect("get"), None);
    let first = store.put(&key("a/one"), Bytes::from_static(b"hello")).await.expect("put");
    let got = store.get(&key("a/one")).await.expect("get").expect("present");
    assert_eq!(got.body, Bytes::from_static(b"hello"));
    assert_eq!(got.etag, first);
    let second = store.put(&key("a/one"), Bytes::from_static(b"hello again")).await.expect("overwrite");
    assert_ne!(first, second, "a new version has a new entity tag");
    assert_eq!(store.get(&key("a/one")).await.expect("get").expect("present").body, Bytes::from_static(b"hello again"));

    // a larger object survives byte for byte
    let big: Vec<u8> = (0..(1 << 20)).map(|i: u32| (i % 251) as u8).collect();
    store.put(&key("big/object"), Bytes::from(big.clone())).await.expect("put big");
    assert_eq!(store.get(&key("big/object")).await.expect("get").expect("big").body.as_ref(), big.as_slice());

    // list by prefix: ordered, string-prefix semantics
    for k in ["l/b/2", "l/b/1", "l/bc/3", "l/c/4", "l/b/x/5"] {
        store.put(&key(k), Bytes::from_static(b"x")).await.expect("put");
    }
    let listed = |prefix: String| {
        let store = store.clone();
        let strip = key("");
        async move {
            store
                .list(&prefix)
                .await
                .expect("list")
                .into_iter()
                .map(|m| m.key.strip_prefix(&strip).expect("under the run").to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(key("l/b/")).await, ["l/b/1", "l/b/2", "l/b/x/5"]);
    assert_eq!(listed(key("l/b")).await, ["l/b/1", "l/b/2", "l/b/x/5", "l/bc/3"]);
    assert!(listed(key("nothing/")).await.is_empty());
    let meta = store.list(&key("big/")).await.expect("list");
    assert_eq!(meta[0].size, 1 << 20);

    // the next segments below a prefix
    let children = store.list_children(&key("l/")).await.expect("children");
    assert_eq!(children, ["b", "bc", "c"]);
    assert_eq!(store.list_children(&key("l/b/")).await.expect("children"), ["1", "2", "x"]);
    assert!(store.list_children(&key("nothing/")).await.expect("children").is_empty());
    let top = store.list_children("").await.expect("top level");
    assert!(top.contains(&format!("conf-{run}")), "{top:?}");

    // a page of them, and how many there are
    let page = |offset, limit| {
        let store = store.clone();
        let prefix = key("l/");
        async move { store.list_children_page(&prefix, offset, limit).await.expect("page") }
    };
    assert_eq!(page(0, 2).await, (3, vec!["b".to_string(), "bc".to_string()]));
    assert_eq!(page(1, 10).await, (3, vec!["bc".to_string(), "c".to_string()]));
    assert_eq!(page(3, 10).await, (3, Vec::<String>::new()));
    assert_eq!(store.list_children_page(&key("nothing/"), 0, 5).await.expect("page"), (0, Vec::new()));

    // a page that starts after a name, whether more follow, and a count
    for entry in ["e5", "e1", "e3", "e2", "e4"] {
        store.put(&key(&format!("p/{entry}")), Bytes::from_static(b"")).await.expect("put");
    }
    let after = |prefix: &'static str, after: Option<&'static str>, limit| {
        let store = store.clone();
        let prefix = key(prefix);
        async move { store.list_children_after(&prefix, after, limit).await.expect("page after") }
    };
    let names = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    assert_eq!(after("p/", None, 2).await, (names(&["e1", "e2"]), true));
    assert_eq!(after("p/", Some("e2"), 2).await, (names(&["e3", "e4"]), true));
    assert_eq!(after("p/", Some("e3"), 2).await, (names(&["e4", "e5"]), false));
    assert_eq!(after("p/", Some("e5"), 2).await, (Vec::new(), false));
    assert_eq!(after("p/", Some("e25"), 10).await, (names(&["e3", "e4", "e5"]), false), "any name, stored or not");
    assert_eq!(after("l/", Some("b"), 10).await, (names(&["bc", "c"]), false), "prefixes count as names");
    assert_eq!(after("nothing/", None, 10).await, (Vec::new(), false));
    for bad in ["", "e1/x"] {
        let refused = store.list_children_after(&key("p/"), Some(bad), 2).await;
        assert!(matches!(refused, Err(StoreError::InvalidKey(_))), "`{bad}`: {refused:?}");
    }
    assert_eq!(store.count_children(&key("p/")).await.expect("count"), 5);
    assert_eq!(store.count_children(&key("l/")).await.expect("count"), 3);
    assert_eq!(store.count_children(&key("nothing/")).await.expect("count"), 0);

    // delete, and deleting what is not there
    store.delete(&key("l/c/4")).await.expect("delete");
    assert_eq!(store.get(&key("l/c/4")).await.expect("get"), None);
    store.delete(&key("l/c/4")).await.expect("deleting a missing key is fine");

    // create-once
    let created = store.create_once(&key("once"), Bytes::from_static(b"first")).await.expect("create");
    assert!(matches!(created, CreateOutcome::Created { .. }));
    let again = store.create_once(&key("once"), Bytes::from_static(b"second")).await.expect("create again");
    assert_eq!(again, CreateOutcome::Exists);
    assert_eq!(store.get(&key("once")).await.expect("get").expect("present").body, Bytes::from_static(b"first"));

    // compare-and-swap
    let swapped = store.compare_and_swap(&key("cas"), None, Bytes::from_static(b"v1")).await.expect("cas");
    let CasOutcome::Swapped { etag: v1 } = swapped else { panic!("creating with None must swap") };
    assert_eq!(
        store.compare_and_swap(&key("cas"), None, Bytes::from_static(b"v1b")).await.expect("cas"),
        CasOutcome::Conflict
    );
    let CasOutcome::Swapped { etag: v2 } =
        store.compare_and_swap(&key("cas"), Some(&v1), Bytes::from_static(b"v2")).await.expect("cas")
    else {
        panic!("the current etag must swap")
    };
    assert_eq!(
        store.compare_and_swap(&key("cas"), Some(&v1), Bytes::from_static(b"v3")).await.expect("cas"),
        CasOutcome::Conflict,
        "a stale etag must not swap"
    );
    let current = store.get(&key("cas")).await.expect("get").expect("present");
    assert_eq!(current.body, Bytes::from_static(b"v2"));
    assert_eq!(current.etag, v2);

    // empty objects in one go, replacing what is there; removed in one go,
    // missing keys included
    store.put(&key("batch/b"), Bytes::from_static(b"was here")).await.expect("put");
    let batch: Vec<String> = ["batch/a", "batch/b", "batch/sub/c"].into_iter().map(key).collect();
    store.put_empty(&batch).await.expect("put_empty");
    for each in &batch {
        let object = store.get(each).await.expect("get").unwrap_or_else(|| panic!("{each} is there"));
        assert!(object.body.is_empty(), "{each} is empty");
    }
    let mut doomed = batch.clone();
    doomed.push(key("batch/never-written"));
    store.delete_all(&doomed).await.expect("delete_all");
    for each in &batch {
        assert_eq!(store.get(each).await.expect("get"), None, "{each} is gone");
    }
    assert!(matches!(store.put_empty(&[key("batch/ok"), "a//b".to_string()]).await, Err(StoreError::InvalidKey(_))));
    assert!(matches!(store.delete_all(&["../escape".to_string()]).await, Err(StoreError::InvalidKey(_))));

    // several reads and compare-and-swaps in one go, each on its own
    let x = store.put(&key("many/x"), Bytes::from_static(b"x0")).await.expect("put");
    store.put(&key("many/z"), Bytes::from_static(b"z0")).await.expect("put");
    let read = store.get_all(&[key("many/x"), key("many/missing"), key("many/z")]).await.expect("get_all");
    let bodies: Vec<Option<Bytes>> = read.into_iter().map(|o| o.map(|o| o.body)).collect();
    assert_eq!(bodies, [Some(Bytes::from_static(b"x0")), None, Some(Bytes::from_static(b"z0"))]);
    let swap = |k: &str, expected: Option<&str>, body: &'static [u8]| Swap {
        key: key(k),
        expected: expected.map(str::to_string),
        body: Bytes::from_static(body),
    };
    let outcomes = store
        .compare_and_swap_all(&[
            swap("many/x", Some(&x), b"x1"),
            swap("many/z", Some("stale"), b"z1"),
            swap("many/y", None, b"y1"),
        ])
        .await
        .expect("compare_and_swap_all");
    assert!(matches!(outcomes[0], CasOutcome::Swapped { .. }), "{outcomes:?}");
    assert_eq!(outcomes[1], CasOutcome::Conflict, "a stale tag does not swap, and does not stop the others");
    assert!(matches!(outcomes[2], CasOutcome::Swapped { .. }), "{outcomes:?}");
    let read = store.get_all(&[key("many/x"), key("many/y"), key("many/z")]).await.expect("get_all");
    let bodies: Vec<Option<Bytes>> = read.into_iter().map(|o| o.map(|o| o.body)).collect();
    assert_eq!(
        bodies,
        [Some(Bytes::from_static(b"x1")), Some(Bytes::from_static(b"y1")), Some(Bytes::from_static(b"z0"))]
    );
    assert!(matches!(store.get_all(&["a//b".to_string()]).await, Err(StoreError::InvalidKey(_))));

    // keys Portitor would never build are refused
    assert!(matches!(store.put("../escape", Bytes::new()).await, Err(StoreError::InvalidKey(_))));
    assert!(matches!(store.get("a//b").await, Err(StoreError::InvalidKey(_))));

    // concurrency: exactly one winner, round after round
    for round in 0..10 {
        let contested = key(&format!("race/create-{round}"));
        let writers = (0..8).map(|w| {
            let store = store.clone();
            let contested = contested.clone();
            tokio::spawn(async move { store.create_once(&contested, Bytes::from(format!("writer {w}"))).await })
        });
        let outcomes: Vec<CreateOutcome> =
            futures::future::join_all(writers).await.into_iter().map(|r| r.expect("task").expect("create")).collect();
        let winners = outcomes.iter().filter(|o| matches!(o, CreateOutcome::Created { .. })).count();
        assert_eq!(winners, 1, "round {round}: {outcomes:?}");

        let contested = key(&format!("race/cas-{round}"));
        let CasOutcome::Swapped { etag: base } =
            store.compare_and_swap(&contested, None, Bytes::from_static(b"base")).await.expect("cas")
        else {
            panic!("fresh key")
        };
        let writers = (0..8).map(|w| {
            let store = store.clone();
            let contested = contested.clone();
            let base = base.clone();
            tokio::spawn(async move {
                store.compare_and_swap(&contested, Some(&base), Bytes::from(format!("writer {w}"))).await
            })
        });
        let outcomes: Vec<CasOutcome> =
            futures::future::join_all(writers).await.into_iter().map(|r| r.expect("task").expect("cas")).collect();
        let winners = outcomes.iter().filter(|o| matches!(o, CasOutcome::Swapped { .. })).count();
        assert_eq!(winners, 1, "round {round}: {outcomes:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fs_backend_with_per_file_fsync_conforms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FsStore::open_with(dir.path(), FsSync::Each).expect("open");
    assert_eq!(store.conditional_writes(), ConditionalWrites::Native);
    conformance(Arc::new(store)).await;
}

/// 64 writers create a key each at once under `prefix`: each returns
/// only once its write is durable, and every one is there after.
async fn sixty_four_writers_at_once(store: &Arc<FsStore>, prefix: &str) {
    let writers = (0..64).map(|w| {
        let (store, key) = (store.clone(), format!("{prefix}/{w}/event"));
        tokio::spawn(async move { store.create_once(&key, Bytes::from(format!("{w}"))).await })
    });
    for outcome in futures::future::join_all(writers).await {
        assert!(matches!(outcome.expect("task").expect("create"), CreateOutcome::Created { .. }));
    }
    for w in 0..64 {
        let object = store.get(&format!("{prefix}/{w}/event")).await.expect("get").expect("stored");
        assert_eq!(object.body, Bytes::from(format!("{w}")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fs_backend_with_the_journal_conforms_and_shares_flushes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(FsStore::open_with(dir.path(), FsSync::Journal).expect("open"));
    conformance(store.clone()).await;

    let (before_records, before_flushes) = store.journal_counts().expect("journal mode");
    sixty_four_writers_at_once(&store, "journal").await;
    let (records, flushes) = store.journal_counts().expect("journal mode");
    assert_eq!(records - before_records, 64, "every write was recorded");
    assert!(flushes - before_flushes < 64, "64 concurrent writes shared flushes: {} flushes", flushes - before_flushes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fs_backend_with_group_commit_conforms_and_shares_syncs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(FsStore::open_with(dir.path(), FsSync::Group).expect("open"));
    conformance(store.clone()).await;

    let (before_writes, before_rounds) = store.group_commit_counts().expect("group mode");
    sixty_four_writers_at_once(&store, "group").await;
    let (writes, rounds) = store.group_commit_counts().expect("group mode");
    assert_eq!(writes - before_writes, 64, "every write took a ticket and was synced");
    assert!(rounds - before_rounds < 64, "64 concurrent writes shared rounds: {} rounds", rounds - before_rounds);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fs_relaxed_view_conforms_and_its_empty_objects_take_no_inode_of_their_own() {
    use std::os::unix::fs::MetadataExt;

    let dir = tempfile::tempdir().expect("tempdir");
    let store = FsStore::open(dir.path()).expect("open");
    let relaxed = store.relaxed();
    conformance(relaxed.clone()).await;

    // Empty objects are links to one shared empty file: no inode each.
    for n in 0..3 {
        relaxed.put(&format!("entries/{n}"), Bytes::new()).await.expect("put empty");
    }
    let inode = |key: &str| std::fs::metadata(dir.path().join(key)).expect("stored").ino();
    assert_eq!(inode("entries/0"), inode("entries/1"));
    assert_eq!(inode("entries/1"), inode("entries/2"));
    // An empty object put over one with content replaces it; the content
    // put over an empty one never reaches the shared file.
    relaxed.put("entries/full", Bytes::from_static(b"content")).await.expect("put");
    relaxed.put("entries/full", Bytes::new()).await.expect("put empty over content");
    assert_eq!(relaxed.get("entries/full").await.expect("get").expect("present").body, Bytes::new());
    relaxed.put("entries/0", Bytes::from_static(b"content")).await.expect("put content over empty");
    assert_eq!(relaxed.get("entries/0").await.expect("get").expect("present").body, Bytes::from_static(b"content"));
    assert_eq!(relaxed.get("entries/1").await.expect("get").expect("present").body, Bytes::new());
    // Deleting one leaves the others.
    relaxed.delete("entries/1").await.expect("delete");
    assert_eq!(relaxed.get("entries/1").await.expect("get"), None);
    assert_eq!(relaxed.get("entries/2").await.expect("get").expect("present").body, Bytes::new());

    // Past an inode's link limit (65,000 on ext4) a new shared file is started.
    let many = 66_000;
    let puts = (0..many).map(|n| {
        let relaxed = relaxed.clone();
        async move { relaxed.put(&format!("many/{}/{n}", n % 64), Bytes::new()).await }
    });
    let results = futures::stream::iter(puts).buffer_unordered(16).collect::<Vec<_>>().await;
    assert!(results.iter().all(Result::is_ok), "every empty put succeeded");
    assert_eq!(relaxed.list("many/").await.expect("list").len(), many);
    store.flush().await.expect("flush");
}

#[tokio::test]
async fn fs_backend_refuses_a_second_process_on_the_same_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _first = FsStore::open(dir.path()).expect("open");
    let second = FsStore::open(dir.path()).expect_err("the directory is taken");
    assert!(second.to_string().contains("another Portitor process"), "{second}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_backend_conforms_on_moto() {
    let server = S3Server::moto().await;
    let store = S3Store::connect(&server.config()).await.expect("connect");
    assert_eq!(store.conditional_writes(), ConditionalWrites::Native, "moto honours conditional writes");
    conformance(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_backend_conforms_on_garage_through_the_single_node_fallback() {
    let server = S3Server::garage().await;
    let store = S3Store::connect(&server.config()).await.expect("connect");
    assert_eq!(
        store.conditional_writes(),
        ConditionalWrites::EmulatedSingleNode,
        "the probe must find that Garage ignores If-None-Match"
    );
    conformance(Arc::new(store)).await;
}

#[tokio::test]
async fn an_unreachable_s3_store_is_unavailable() {
    let mut server = S3Server::moto().await;
    let store = S3Store::connect(&server.config()).await.expect("connect");
    server.stop();
    let error = store.put("acme/x", Bytes::from_static(b"x")).await.expect_err("down");
    assert!(matches!(error, StoreError::Unavailable(_)), "{error}");
}
