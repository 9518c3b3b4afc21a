//! The typed layer (`#[derive(SessionSchema)]`) through the engine, on the memory store and the
//! cookie store: what a handler reads back on the next request, what the session holds under
//! which raw key, and what the browser gets when a `renew_on_change` field changes.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use serde::{Deserialize, Serialize};
use serde_json::json;
use session_core::{
    Error, Key, KeyRing, MemoryStore, Session, SessionConfig, SessionManager, SessionSchema,
    Storage,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Profile {
    display_name: String,
    langs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Role {
    Guest,
    Member { since: u16 },
}

/// One field of every kind of type a session commonly holds.
#[derive(Debug, PartialEq, SessionSchema)]
struct Everything {
    flag: bool,
    count: u64,
    below_zero: i64,
    ratio: f64,
    name: String,
    profile: Profile,
    role: Role,
    nickname: Option<String>,
    tags: Vec<String>,
    scores: BTreeMap<String, u32>,
    limits: HashMap<String, i8>,
}

fn everything() -> Everything {
    Everything {
        flag: true,
        count: u64::MAX,
        below_zero: i64::MIN,
        // Read back one bit off without serde_json's float_roundtrip (the cookie store parses
        // JSON): a regression test.
        ratio: 1819.9412000000002,
        name: "Zoë 🦀 \"quoted\"".to_owned(),
        profile: Profile {
            display_name: "Ada".to_owned(),
            langs: vec!["en".to_owned(), "fr".to_owned()],
        },
        role: Role::Member { since: 2024 },
        nickname: Some("ada".to_owned()),
        tags: vec!["a".to_owned(), String::new()],
        scores: BTreeMap::from([("x".to_owned(), 1), ("y".to_owned(), 2)]),
        limits: HashMap::from([("min".to_owned(), -128)]),
    }
}

fn default_theme() -> String {
    "dark".to_owned()
}

/// The login schema of DESIGN.md, with both kinds of default.
#[derive(Debug, PartialEq, SessionSchema)]
#[session(prefix = "auth.")]
struct Auth {
    #[session(renew_on_change)]
    user_id: u64,
    #[session(rename = "display")]
    name: String,
    #[session(default)]
    visits: u32,
    #[session(default = "default_theme")]
    theme: String,
    email: Option<String>,
}

/// A second schema with the same field name under another prefix.
#[derive(Debug, PartialEq, SessionSchema)]
#[session(prefix = "cart.")]
struct Cart {
    user_id: u64,
    #[session(default)]
    items: Vec<String>,
}

/// Flash messages: read once.
#[derive(Debug, PartialEq, SessionSchema)]
#[session(prefix = "flash.")]
struct Notices {
    #[session(flash)]
    notice: String,
    #[session(flash, default)]
    count: u32,
}

/// A browser: one manager and the cookie it holds between requests.
struct Browser {
    manager: SessionManager,
    cookie: Option<String>,
}

impl Browser {
    fn new(storage: Storage) -> Self {
        let keys = KeyRing::from_secret(&[42; 32]).unwrap();
        Self {
            manager: SessionManager::new(storage, keys, SessionConfig::default()).unwrap(),
            cookie: None,
        }
    }

    /// Runs `handler` as one request and keeps the cookie the response sets, if any. Returns
    /// what the handler returned and the `Set-Cookie` value.
    async fn request<F, Fut, T>(&mut self, handler: F) -> (T, Option<String>)
    where
        F: FnOnce(Session) -> Fut,
        Fut: Future<Output = T>,
    {
        let header = self.cookie.clone().unwrap_or_default();
        let session = self.manager.session([header.as_bytes()]);
        let out = handler(session.clone()).await;
        let set_cookie = self.manager.finish(&session, 200).await.unwrap();
        let set_cookie = set_cookie.map(|c| c.as_str().to_owned());
        if let Some(value) = &set_cookie {
            self.cookie = Some(value.split(';').next().unwrap().to_owned());
        }
        (out, set_cookie)
    }
}

fn both_stores() -> [(&'static str, Storage); 2] {
    [
        ("memory", Storage::from(MemoryStore::new())),
        ("cookie", Storage::Cookie),
    ]
}

#[tokio::test]
async fn every_kind_of_value_round_trips_through_the_typed_accessors() {
    for (store, storage) in both_stores() {
        let mut browser = Browser::new(storage);
        let value = everything();
        browser
            .request(|session| async move {
                let typed = EverythingSession::from(session);
                typed.set_flag(value.flag).await.unwrap();
                typed.set_count(value.count).await.unwrap();
                typed.set_below_zero(value.below_zero).await.unwrap();
                typed.set_ratio(value.ratio).await.unwrap();
                typed.set_name(value.name).await.unwrap();
                typed.set_profile(value.profile).await.unwrap();
                typed.set_role(value.role).await.unwrap();
                typed.set_nickname(value.nickname.unwrap()).await.unwrap();
                typed.set_tags(value.tags).await.unwrap();
                typed.set_scores(value.scores).await.unwrap();
                typed.set_limits(value.limits).await.unwrap();
            })
            .await;

        let (read, _) = browser
            .request(|session| async move {
                let typed = EverythingSession::from(session);
                let one_by_one = Everything {
                    flag: typed.flag().await.unwrap().unwrap(),
                    count: typed.count().await.unwrap().unwrap(),
                    below_zero: typed.below_zero().await.unwrap().unwrap(),
                    ratio: typed.ratio().await.unwrap().unwrap(),
                    name: typed.name().await.unwrap().unwrap(),
                    profile: typed.profile().await.unwrap().unwrap(),
                    role: typed.role().await.unwrap().unwrap(),
                    nickname: typed.nickname().await.unwrap(),
                    tags: typed.tags().await.unwrap().unwrap(),
                    scores: typed.scores().await.unwrap().unwrap(),
                    limits: typed.limits().await.unwrap().unwrap(),
                };
                (one_by_one, typed.load_all().await.unwrap())
            })
            .await;
        assert_eq!(read.0, everything(), "{store}: field by field");
        assert_eq!(read.1, everything(), "{store}: load_all");
    }
}

#[tokio::test]
async fn values_are_stored_as_plain_json_under_the_prefixed_and_renamed_keys() {
    for (store, storage) in both_stores() {
        let mut browser = Browser::new(storage);
        browser
            .request(|session| async move {
                let auth = AuthSession::from(session);
                auth.set_user_id(7).await.unwrap();
                auth.set_name("Ada".to_owned()).await.unwrap();
                auth.set_email("ada@example.com".to_owned()).await.unwrap();
            })
            .await;
        let (entries, _) = browser
            .request(|session| async move { session.entries().await.unwrap() })
            .await;
        assert_eq!(
            serde_json::Value::Object(entries),
            json!({"auth.user_id": 7, "auth.display": "Ada", "auth.email": "ada@example.com"}),
            "{store}"
        );
    }
    assert_eq!(
        Auth::KEYS,
        [
            "auth.user_id",
            "auth.display",
            "auth.visits",
            "auth.theme",
            "auth.email"
        ]
    );
    assert_eq!(AuthSession::USER_ID.name(), "auth.user_id");
    assert_eq!(AuthSession::NAME.name(), "auth.display");
}

#[tokio::test]
async fn absent_fields_read_as_none_or_their_default_and_load_all_names_the_missing_key() {
    for (store, storage) in both_stores() {
        let mut browser = Browser::new(storage);
        let (checks, _) = browser
            .request(|session| async move {
                let auth = AuthSession::from(session);
                let absent = (
                    auth.user_id().await.unwrap(),
                    auth.has_user_id().await.unwrap(),
                    auth.email().await.unwrap(),
                    auth.visits().await.unwrap(),
                    auth.theme().await.unwrap(),
                );
                let missing = auth.load_all().await.unwrap_err();
                auth.set_user_id(1).await.unwrap();
                let still_missing = auth.load_all().await.unwrap_err();
                auth.set_name("Bo".to_owned()).await.unwrap();
                (
                    absent,
                    missing,
                    still_missing,
                    auth.load_all().await.unwrap(),
                )
            })
            .await;
        let (absent, missing, still_missing, loaded) = checks;
        assert_eq!(
            absent,
            (None, false, None, 0, "dark".to_owned()),
            "{store}: absent"
        );
        assert!(
            matches!(&missing, Error::MissingKey { key } if key == "auth.user_id"),
            "{store}: {missing:?}"
        );
        assert!(
            missing.to_string().contains("`auth.user_id` is not set"),
            "{store}: {missing}"
        );
        assert!(
            matches!(&still_missing, Error::MissingKey { key } if key == "auth.display"),
            "{store}: {still_missing:?}"
        );
        assert_eq!(
            loaded,
            Auth {
                user_id: 1,
                name: "Bo".to_owned(),
                visits: 0,
                theme: "dark".to_owned(),
                email: None,
            },
            "{store}"
        );
    }
}

#[tokio::test]
async fn has_and_delete_work_per_field_across_requests() {
    for (store, storage) in both_stores() {
        let mut browser = Browser::new(storage);
        browser
            .request(|session| async move {
                let auth = AuthSession::from(session);
                auth.set_visits(3).await.unwrap();
                auth.set_email("x@example.com".to_owned()).await.unwrap();
            })
            .await;
        let (seen, _) = browser
            .request(|session| async move {
                let auth = AuthSession::from(session);
                let before = (
                    auth.has_visits().await.unwrap(),
                    auth.visits().await.unwrap(),
                );
                let deleted = auth.delete_visits().await.unwrap();
                let deleted_again = auth.delete_visits().await.unwrap();
                (before, deleted, deleted_again)
            })
            .await;
        assert_eq!(seen, ((true, 3), true, false), "{store}");
        let (after, _) = browser
            .request(|session| async move {
                let auth = AuthSession::from(session);
                (
                    auth.has_visits().await.unwrap(),
                    auth.visits().await.unwrap(),
                    auth.email().await.unwrap(),
                )
            })
            .await;
        assert_eq!(
            after,
            (false, 0, Some("x@example.com".to_owned())),
            "{store}"
        );
    }
}

#[tokio::test]
async fn a_flash_field_is_read_once_and_survives_requests_that_do_not_read_it() {
    for (store, storage) in both_stores() {
        let mut browser = Browser::new(storage);
        browser
            .request(|session| async move {
                let notices = NoticesSession::from(session);
                notices
                    .set_notice("Welcome back, Ada".to_owned())
                    .await
                    .unwrap();
                notices.set_count(2).await.unwrap();
            })
            .await;
        // A request that only looks at it, and one that loads the whole struct, leave it.
        let (looked, _) = browser
            .request(|session| async move {
                let notices = NoticesSession::from(session);
                (
                    notices.has_notice().await.unwrap(),
                    notices.load_all().await.unwrap(),
                )
            })
            .await;
        let expected = Notices {
            notice: "Welcome back, Ada".to_owned(),
            count: 2,
        };
        assert_eq!(looked, (true, expected), "{store}");
        let (first, _) = browser
            .request(|session| async move {
                let notices = NoticesSession::from(session);
                (
                    notices.notice().await.unwrap(),
                    notices.count().await.unwrap(),
                    // Taken already in this request.
                    notices.notice().await.unwrap(),
                )
            })
            .await;
        assert_eq!(
            first,
            (Some("Welcome back, Ada".to_owned()), 2, None),
            "{store}"
        );
        let (second, _) = browser
            .request(|session| async move {
                let notices = NoticesSession::from(session.clone());
                (
                    notices.notice().await.unwrap(),
                    notices.count().await.unwrap(),
                    session.keys().await.unwrap(),
                )
            })
            .await;
        assert_eq!(second, (None, 0, Vec::<String>::new()), "{store}");
    }
}

#[tokio::test]
async fn taking_a_value_of_the_wrong_type_is_an_error_and_keeps_it() {
    for (store, storage) in both_stores() {
        let mut browser = Browser::new(storage);
        browser
            .request(|session| async move { session.set("flash.notice", &7).await.unwrap() })
            .await;
        let (taken, _) = browser
            .request(|session| async move {
                let wrong = NoticesSession::from(session.clone()).notice().await;
                let raw: Option<u32> = session.take("flash.notice").await.unwrap();
                (
                    matches!(wrong, Err(Error::WrongType { ref key, .. }) if key == "flash.notice"),
                    raw,
                )
            })
            .await;
        assert_eq!(taken, (true, Some(7)), "{store}");
    }
}

#[tokio::test]
async fn two_schemas_with_the_same_field_names_do_not_see_each_other() {
    for (store, storage) in both_stores() {
        let mut browser = Browser::new(storage);
        browser
            .request(|session| async move {
                let auth = AuthSession::from(session.clone());
                let cart = CartSession::from(session);
                auth.set_user_id(1).await.unwrap();
                cart.set_user_id(2).await.unwrap();
                cart.set_items(vec!["pear".to_owned()]).await.unwrap();
            })
            .await;
        let (seen, _) = browser
            .request(|session| async move {
                let auth = AuthSession::from(session.clone());
                let cart = CartSession::from(session.clone());
                let whole_cart = cart.load_all().await.unwrap();
                cart.delete_user_id().await.unwrap();
                (
                    whole_cart,
                    auth.user_id().await.unwrap(),
                    cart.user_id().await.unwrap(),
                    cart.items().await.unwrap(),
                    session.keys().await.unwrap(),
                )
            })
            .await;
        let cart = Cart {
            user_id: 2,
            items: vec!["pear".to_owned()],
        };
        assert_eq!(
            seen,
            (
                cart,
                Some(1),
                None,
                vec!["pear".to_owned()],
                vec!["auth.user_id".to_owned(), "cart.items".to_owned()]
            ),
            "{store}"
        );
    }
}

#[tokio::test]
async fn a_raw_value_of_the_wrong_type_under_a_typed_key_is_an_error_naming_the_key() {
    for (store, storage) in both_stores() {
        let mut browser = Browser::new(storage);
        browser
            .request(|session| async move {
                session.set("auth.user_id", "not a number").await.unwrap();
                session.set("auth.display", "Ada").await.unwrap();
            })
            .await;
        let (errors, _) = browser
            .request(|session| async move {
                let auth = AuthSession::from(session);
                (
                    auth.user_id().await.unwrap_err(),
                    auth.load_all().await.unwrap_err(),
                    auth.name().await.unwrap(),
                )
            })
            .await;
        for error in [&errors.0, &errors.1] {
            assert!(
                matches!(error, Error::WrongType { key, .. } if key == "auth.user_id"),
                "{store}: {error:?}"
            );
            assert!(error.to_string().contains("`auth.user_id`"), "{store}");
        }
        assert_eq!(errors.2, Some("Ada".to_owned()), "{store}");
    }
}

#[tokio::test]
async fn setting_a_renew_on_change_field_gives_a_new_id_with_the_same_data() {
    let mut browser = Browser::new(Storage::from(MemoryStore::new()));
    let (_, first) = browser
        .request(|session| async move {
            let cart = CartSession::from(session);
            cart.set_items(vec!["apple".to_owned()]).await.unwrap();
        })
        .await;
    let before_login = browser.cookie.clone().unwrap();
    assert!(first.is_some());

    let (_, login) = browser
        .request(|session| async move {
            AuthSession::from(session).set_user_id(42).await.unwrap();
        })
        .await;
    let after_login = browser.cookie.clone().unwrap();
    assert!(login.is_some(), "login must send the new id");
    assert_ne!(after_login, before_login, "the id must change on login");

    let (seen, _) = browser
        .request(|session| async move {
            (
                AuthSession::from(session.clone()).user_id().await.unwrap(),
                CartSession::from(session).items().await.unwrap(),
            )
        })
        .await;
    assert_eq!(seen, (Some(42), vec!["apple".to_owned()]));

    // The pre-login cookie no longer reaches the session.
    browser.cookie = Some(before_login);
    let (stale, _) = browser
        .request(|session| async move { session.is_new().await.unwrap() })
        .await;
    assert!(stale, "the old id must stop working after the renewal");
}

#[tokio::test]
async fn deleting_a_renew_on_change_field_also_renews_and_other_fields_do_not() {
    let mut browser = Browser::new(Storage::from(MemoryStore::new()));
    browser
        .request(|session| async move {
            let auth = AuthSession::from(session);
            auth.set_user_id(42).await.unwrap();
            auth.set_visits(1).await.unwrap();
        })
        .await;
    let logged_in = browser.cookie.clone().unwrap();

    // An ordinary field: the id stays (the cookie may be re-sent to extend its Max-Age).
    browser
        .request(|session| async move {
            AuthSession::from(session).set_visits(2).await.unwrap();
        })
        .await;
    assert_eq!(browser.cookie.as_ref(), Some(&logged_in));

    // Logout: the renew field is deleted, the id changes, the other field stays.
    let (_, set_cookie) = browser
        .request(|session| async move {
            assert!(AuthSession::from(session).delete_user_id().await.unwrap());
        })
        .await;
    assert!(set_cookie.is_some());
    assert_ne!(browser.cookie.as_ref(), Some(&logged_in));
    let (seen, _) = browser
        .request(|session| async move {
            let auth = AuthSession::from(session);
            (auth.user_id().await.unwrap(), auth.visits().await.unwrap())
        })
        .await;
    assert_eq!(seen, (None, 2));
}

#[tokio::test]
async fn renewal_on_the_cookie_store_keeps_the_data_in_the_new_cookie() {
    let mut browser = Browser::new(Storage::Cookie);
    browser
        .request(|session| async move {
            CartSession::from(session)
                .set_items(vec!["apple".to_owned()])
                .await
                .unwrap();
        })
        .await;
    let (_, login) = browser
        .request(|session| async move {
            AuthSession::from(session).set_user_id(42).await.unwrap();
        })
        .await;
    assert!(login.is_some());
    let (seen, _) = browser
        .request(|session| async move {
            (
                AuthSession::from(session.clone()).user_id().await.unwrap(),
                CartSession::from(session).items().await.unwrap(),
            )
        })
        .await;
    assert_eq!(seen, (Some(42), vec!["apple".to_owned()]));
}

#[tokio::test]
async fn save_all_writes_every_field_deletes_none_options_and_renews() {
    for (store, storage) in both_stores() {
        let mut browser = Browser::new(storage);
        browser
            .request(|session| async move {
                session.set("auth.email", "old@example.com").await.unwrap();
            })
            .await;
        let before = browser.cookie.clone();
        let auth = Auth {
            user_id: 9,
            name: "Cy".to_owned(),
            visits: 4,
            theme: "light".to_owned(),
            email: None,
        };
        let (_, set_cookie) = browser
            .request(|session| async move {
                AuthSession::from(session).save_all(&auth).await.unwrap();
            })
            .await;
        assert!(set_cookie.is_some(), "{store}");
        if store == "memory" {
            assert_ne!(browser.cookie, before, "{store}: save_all renews the id");
        }
        let (loaded, _) = browser
            .request(|session| async move {
                (
                    Auth::load(&session).await.unwrap(),
                    session.has("auth.email").await.unwrap(),
                )
            })
            .await;
        assert_eq!(
            loaded,
            (
                Auth {
                    user_id: 9,
                    name: "Cy".to_owned(),
                    visits: 4,
                    theme: "light".to_owned(),
                    email: None,
                },
                false
            ),
            "{store}"
        );
    }
}

#[tokio::test]
async fn key_constants_work_on_the_raw_session_and_the_handle_derefs_to_it() {
    let mut browser = Browser::new(Storage::from(MemoryStore::new()));
    let (seen, _) = browser
        .request(|session| async move {
            let cart = CartSession::from(session.clone());
            CartSession::ITEMS
                .set(&session, &vec!["fig".to_owned()])
                .await
                .unwrap();
            const RAW: Key<Vec<String>> = Key::new("cart.items");
            (
                cart.items().await.unwrap(),
                RAW.get(&session).await.unwrap(),
                // Deref: the raw API is reachable from the handle.
                cart.keys().await.unwrap(),
                cart.session().has("cart.items").await.unwrap(),
            )
        })
        .await;
    assert_eq!(
        seen,
        (
            vec!["fig".to_owned()],
            Some(vec!["fig".to_owned()]),
            vec!["cart.items".to_owned()],
            true
        )
    );
}

#[tokio::test]
async fn update_accessors_start_from_the_default_or_none_and_keep_the_result() {
    for (store, storage) in both_stores() {
        let mut browser = Browser::new(storage);
        let ((visits, email, items), _) = browser
            .request(|session| async move {
                let auth = AuthSession::from(session.clone());
                // `visits` has a default: the closure gets a `u32`, not an `Option`.
                let visits = auth.update_visits(|visits| visits + 1).await.unwrap();
                let email = auth
                    .update_email(|email| email.unwrap_or_default() + "ada@example.com")
                    .await
                    .unwrap();
                let items = CartSession::from(session)
                    .update_items(|mut items| {
                        items.push("book".to_owned());
                        items
                    })
                    .await
                    .unwrap();
                (visits, email, items)
            })
            .await;
        assert_eq!(visits, 1, "{store}");
        assert_eq!(email, "ada@example.com", "{store}");
        assert_eq!(items, ["book"], "{store}");

        let ((visits, raw), _) = browser
            .request(|session| async move {
                let auth = AuthSession::from(session.clone());
                let visits = auth.update_visits(|visits| visits * 10).await.unwrap();
                (visits, session.get_value("auth.visits").await.unwrap())
            })
            .await;
        assert_eq!(visits, 10, "{store}");
        assert_eq!(raw, Some(json!(10)), "{store}: stored as plain JSON");
    }
}

#[tokio::test]
async fn updating_a_renew_on_change_field_renews_the_id() {
    let mut browser = Browser::new(Storage::from(MemoryStore::new()));
    let (_, first) = browser
        .request(|session| async move {
            AuthSession::from(session)
                .set_name("Ada".to_owned())
                .await
                .unwrap();
        })
        .await;
    let first = first.expect("a new session sets a cookie");
    let (user_id, renewed) = browser
        .request(|session| async move {
            AuthSession::from(session)
                .update_user_id(|id| id.unwrap_or(0) + 7)
                .await
                .unwrap()
        })
        .await;
    assert_eq!(user_id, 7);
    let renewed = renewed.expect("a renew_on_change update sends the new id");
    assert_ne!(
        renewed.split(';').next(),
        first.split(';').next(),
        "the id was renewed"
    );
    let (name, _) = browser
        .request(|session| async move { AuthSession::from(session).name().await.unwrap() })
        .await;
    assert_eq!(name.as_deref(), Some("Ada"), "the data moved to the new id");
}
