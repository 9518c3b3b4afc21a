//! # session-tests
//!
//! One HTTP suite, written once ([`suite`]), run against every framework adapter (axum,
//! actix-web, Rocket) and every store, each app served in-process on an ephemeral loopback port
//! and driven by a real HTTP client with a cookie jar. The apps are the example app's routes
//! (`session-examples`) plus a few test-only routes ([`routes`]).
//!
//! `tests/http.rs` instantiates [`http_suite!`] once per framework and store. The server-side
//! stores need the servers `scripts/test` starts; a missing one fails the test and says so.

pub mod faults;
pub mod harness;
pub mod logs;
pub mod mounts;
pub mod panics;
pub mod proxy;
pub mod routes;
pub mod servers;
pub mod stores;
pub mod suite;

pub use crate::harness::{Agent, ApiClient, Harness};

/// The README's code blocks, compiled as doctests so they cannot rot. They live here because
/// this crate depends on every adapter and framework they use.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
pub use crate::servers::{Framework, Server};
pub use crate::stores::StoreKind;

/// Expands to one `#[tokio::test]` per case of [`suite`] for one framework and one store; with
/// `server_side`, also the cases that need a server-side record.
///
/// ```text
/// mod axum_redis { session_tests::http_suite!(Framework::Axum, StoreKind::Redis, server_side); }
/// ```
#[macro_export]
macro_rules! http_suite {
    ($framework:expr, $store:expr) => {
        $crate::http_suite!(@cases ($framework, $store);
            new_session_cookie_has_the_configured_attributes
            untouched_session_gets_no_cookie
            set_get_has_delete_across_requests
            typed_extractor_round_trips_the_login_state
            a_login_greets_once_on_the_next_page
            login_cycles_the_id_and_the_old_cookie_stops_working
            logout_removes_the_user
            destroy_sends_a_removal_cookie
            tampered_cookie_gets_a_fresh_session
            expired_session_is_not_served
            server_error_response_persists_nothing
            oversized_session_is_refused_with_413
            kv_cannot_forge_the_login_state
            a_cookie_copied_before_logout_dies
            counters_count_and_refuse_what_is_not_an_integer
            a_recent_login_passes_the_sudo_check_and_an_old_one_does_not
            remember_me_keeps_the_session_past_the_idle_timeout
            an_api_client_keeps_its_session_in_a_bearer_token
            a_user_sees_their_sessions_and_logs_out_everywhere
        );
    };
    ($framework:expr, $store:expr, server_side) => {
        $crate::http_suite!($framework, $store);
        $crate::http_suite!(@cases ($framework, $store);
            fifty_concurrent_writers_lose_no_key
            writers_racing_a_cycle_lose_no_key
            writers_racing_a_slow_cycle_of_a_large_session_lose_no_key
            same_key_written_concurrently_ends_with_one_of_the_values
            writers_racing_a_destroy_resurrect_nothing
            concurrent_sessions_never_see_each_other
            fifty_concurrent_increments_are_all_counted
            increments_racing_a_login_are_all_counted
            a_flash_is_shown_once_to_concurrent_requests
            writes_racing_a_remember_me_login_keep_its_lifetime
            concurrent_increments_over_a_bearer_token_are_all_counted
            concurrent_logins_of_one_user_are_all_listed_and_revoked
        );
    };
    (@cases $args:tt; $($case:ident)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::http_suite!(@call $case $args);
            }
        )*
    };
    (@call $case:ident ($($arg:expr),*)) => {
        $crate::suite::$case($($arg),*).await
    };
}
