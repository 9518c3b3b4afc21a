//! The HTTP suite on every framework and every store: `<framework>_<store>::<case>`. The
//! server-side stores need `scripts/test` (or `scripts/services start` and its env).

use session_tests::{Framework, StoreKind};

macro_rules! framework {
    ($name:ident, $framework:expr) => {
        mod $name {
            use super::*;

            mod cookie {
                use super::*;
                session_tests::http_suite!($framework, StoreKind::Cookie);
            }
            mod memory {
                use super::*;
                session_tests::http_suite!($framework, StoreKind::Memory, server_side);
            }
            mod file {
                use super::*;
                session_tests::http_suite!($framework, StoreKind::File, server_side);
            }
            mod redis {
                use super::*;
                session_tests::http_suite!($framework, StoreKind::Redis, server_side);
            }
            mod redis_cluster {
                use super::*;
                session_tests::http_suite!($framework, StoreKind::RedisCluster, server_side);
            }
            mod sqlite {
                use super::*;
                session_tests::http_suite!($framework, StoreKind::Sqlite, server_side);
            }
            mod postgres {
                use super::*;
                session_tests::http_suite!($framework, StoreKind::Postgres, server_side);
            }
            mod mongodb {
                use super::*;
                session_tests::http_suite!($framework, StoreKind::MongoDb, server_side);
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn store_failure_is_an_opaque_500() {
                session_tests::suite::store_failure_is_an_opaque_500($framework).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_write_racing_a_failed_login_is_a_500_not_a_lost_204() {
                session_tests::suite::a_write_racing_a_failed_login_is_a_500_not_a_lost_204(
                    $framework,
                )
                .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn missing_middleware_is_a_500_with_an_install_hint() {
                session_tests::suite::missing_middleware_is_a_500_with_an_install_hint($framework)
                    .await;
            }
        }
    };
}

framework!(axum, Framework::Axum);
framework!(actix, Framework::Actix);
framework!(rocket, Framework::Rocket);
