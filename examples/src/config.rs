//! The example's configuration from the environment (`PORT`, `SESSION_STORE`, `SESSION_SECRET`,
//! `SESSION_SECURE`) and the [`SessionManager`] it describes. A bad value is a one-line error
//! that names the variable.

use std::path::PathBuf;

use session_core::{
    KeyRing, PREVIOUS_SECRETS_ENV, SECRET_ENV, SessionConfig, SessionManager, Storage,
};

/// The port served when `PORT` is not set.
pub const DEFAULT_PORT: u16 = 8000;

/// A configuration mistake, reported at start-up as one line naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    var: &'static str,
    message: String,
}

impl ConfigError {
    fn new(var: &'static str, message: impl Into<String>) -> Self {
        Self {
            var,
            message: message.into(),
        }
    }

    /// The environment variable at fault.
    pub fn var(&self) -> &'static str {
        self.var
    }
}

/// Where sessions live, from `SESSION_STORE`.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreSpec {
    /// `cookie` (the default): the whole session in an encrypted cookie.
    Cookie,
    /// `memory`: in this process, lost on restart.
    Memory,
    /// `file:DIR`: one file per session in `DIR`.
    File(PathBuf),
    /// `redis://…`: one Redis server.
    Redis(String),
    /// `redis+cluster://host:port,host:port…`: a Redis Cluster, by some of its nodes.
    RedisCluster(Vec<String>),
    /// `sqlite:PATH`: an SQLite database file.
    Sqlite(String),
    /// `postgres://…` or `postgresql://…`.
    Postgres(String),
    /// `mongodb://…/DATABASE` (database `sessions` when the URL names none).
    MongoDb(String),
}

// URLs may carry passwords: Debug shows only which store.
impl std::fmt::Debug for StoreSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}

impl StoreSpec {
    /// Parses a `SESSION_STORE` value.
    pub fn parse(value: &str) -> Result<Self, ConfigError> {
        let err = |message: String| ConfigError::new("SESSION_STORE", message);
        let spec = match value {
            "cookie" => Self::Cookie,
            "memory" => Self::Memory,
            _ if value.starts_with("file:") => {
                let dir = &value["file:".len()..];
                if dir.is_empty() {
                    return Err(err(
                        "`file:` needs a directory, e.g. `file:/tmp/sessions`".into()
                    ));
                }
                Self::File(PathBuf::from(dir))
            }
            _ if value.starts_with("redis+cluster://") => {
                let nodes: Vec<String> = value["redis+cluster://".len()..]
                    .split(',')
                    .filter(|node| !node.is_empty())
                    .map(|node| format!("redis://{node}"))
                    .collect();
                if nodes.is_empty() {
                    return Err(err("`redis+cluster://` needs node addresses, e.g. \
                         `redis+cluster://127.0.0.1:7001,127.0.0.1:7002`"
                        .into()));
                }
                Self::RedisCluster(nodes)
            }
            _ if value.starts_with("redis://") || value.starts_with("rediss://") => {
                Self::Redis(value.to_owned())
            }
            _ if value.starts_with("sqlite:") => Self::Sqlite(value.to_owned()),
            _ if value.starts_with("postgres://") || value.starts_with("postgresql://") => {
                Self::Postgres(value.to_owned())
            }
            _ if value.starts_with("mongodb://") || value.starts_with("mongodb+srv://") => {
                Self::MongoDb(value.to_owned())
            }
            _ => {
                let shown = value.split("://").next().unwrap_or(value);
                return Err(err(format!(
                    "`{shown}` is not a store; use cookie, memory, file:DIR, redis://…, \
                     redis+cluster://host:port,…, sqlite:PATH, postgres://… or mongodb://…"
                )));
            }
        };
        Ok(spec)
    }

    /// The store's name, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Cookie => "cookie",
            Self::Memory => "memory",
            Self::File(_) => "file",
            Self::Redis(_) => "redis",
            Self::RedisCluster(_) => "redis cluster",
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
            Self::MongoDb(_) => "mongodb",
        }
    }

    /// Connects to the store (creating tables and indexes where it has them).
    pub async fn open(&self) -> Result<Storage, ConfigError> {
        match self {
            Self::Cookie => Ok(Storage::Cookie),
            Self::Memory => Ok(session_core::MemoryStore::new().into()),
            #[cfg(feature = "file")]
            Self::File(dir) => Ok(session_core::FileStore::new(dir)
                .map_err(|error| self.failed(error))?
                .into()),
            #[cfg(feature = "redis")]
            Self::Redis(url) => Ok(session_core::RedisStore::connect(url)
                .await
                .map_err(|error| self.failed(error))?
                .into()),
            #[cfg(feature = "redis")]
            Self::RedisCluster(nodes) => Ok(session_core::RedisStore::connect_cluster(nodes)
                .await
                .map_err(|error| self.failed(error))?
                .into()),
            #[cfg(feature = "sqlite")]
            Self::Sqlite(url) => {
                let store = session_core::SqliteStore::connect(url)
                    .await
                    .map_err(|error| self.failed(error))?;
                store.migrate().await.map_err(|error| self.failed(error))?;
                Ok(store.into())
            }
            #[cfg(feature = "postgres")]
            Self::Postgres(url) => {
                let store = session_core::PostgresStore::connect(url)
                    .await
                    .map_err(|error| self.failed(error))?;
                store.migrate().await.map_err(|error| self.failed(error))?;
                Ok(store.into())
            }
            #[cfg(feature = "mongodb")]
            Self::MongoDb(url) => {
                Ok(
                    session_core::MongoStore::connect(url, &mongo_database(url), "sessions")
                        .await
                        .map_err(|error| self.failed(error))?
                        .into(),
                )
            }
            #[cfg(not(feature = "file"))]
            Self::File(_) => Err(self.not_built("file")),
            #[cfg(not(feature = "redis"))]
            Self::Redis(_) | Self::RedisCluster(_) => Err(self.not_built("redis")),
            #[cfg(not(feature = "sqlite"))]
            Self::Sqlite(_) => Err(self.not_built("sqlite")),
            #[cfg(not(feature = "postgres"))]
            Self::Postgres(_) => Err(self.not_built("postgres")),
            #[cfg(not(feature = "mongodb"))]
            Self::MongoDb(_) => Err(self.not_built("mongodb")),
        }
    }

    /// The one-line error for a store that could not be opened, with the causes that add
    /// something (many already include their own source's text).
    #[cfg_attr(
        not(any(
            feature = "file",
            feature = "redis",
            feature = "sqlite",
            feature = "postgres",
            feature = "mongodb"
        )),
        allow(dead_code)
    )]
    fn failed(&self, error: session_core::StoreError) -> ConfigError {
        let mut message = format!("could not open the {} store: {error}", self.kind());
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            let text = cause.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            source = cause.source();
        }
        ConfigError::new("SESSION_STORE", message)
    }

    /// The error for a store whose cargo feature this binary was built without.
    #[cfg_attr(
        all(
            feature = "file",
            feature = "redis",
            feature = "sqlite",
            feature = "postgres",
            feature = "mongodb"
        ),
        allow(dead_code)
    )]
    fn not_built(&self, feature: &str) -> ConfigError {
        ConfigError::new(
            "SESSION_STORE",
            format!(
                "the {} store is not built into this binary; run it with \
                 `cargo run -p session-examples --features {feature} --bin …`",
                self.kind()
            ),
        )
    }
}

/// The database named in a MongoDB URL's path, or `sessions`.
#[cfg_attr(not(feature = "mongodb"), allow(dead_code))]
fn mongo_database(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme.split_once('/').map_or("", |(_, path)| path);
    let database = path.split('?').next().unwrap_or("");
    if database.is_empty() {
        "sessions".to_owned()
    } else {
        database.to_owned()
    }
}

/// The example's settings.
#[derive(Debug)]
pub struct Settings {
    /// `PORT`: where to listen, on 127.0.0.1.
    pub port: u16,
    /// `SESSION_STORE`: where sessions live.
    pub store: StoreSpec,
    /// `SESSION_SECURE`: whether the cookie has the `Secure` attribute (and so the `__Host-`
    /// prefix). Default `true`, as in the library: browsers and curl keep and send `Secure`
    /// cookies on `http://localhost` and `http://127.0.0.1`. Set it to `false` only to serve
    /// plain HTTP on another host, for development.
    pub secure: bool,
    /// The signing and encryption keys: from `SESSION_SECRET` (and `SESSION_SECRET_PREVIOUS`), or
    /// random for this process.
    pub keys: KeyRing,
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `var`, which returns a variable's value if set.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let port = match var("PORT") {
            None => DEFAULT_PORT,
            Some(value) => value.trim().parse::<u16>().map_err(|_| {
                ConfigError::new(
                    "PORT",
                    format!("`{value}` is not a port number (0 to 65535)"),
                )
            })?,
        };
        let store = match var("SESSION_STORE") {
            None => StoreSpec::Cookie,
            Some(value) => StoreSpec::parse(value.trim())?,
        };
        let secure = match var("SESSION_SECURE").as_deref().map(str::trim) {
            None | Some("true" | "1") => true,
            Some("false" | "0") => false,
            Some(other) => {
                return Err(ConfigError::new(
                    "SESSION_SECURE",
                    format!("`{other}` is not true or false"),
                ));
            }
        };
        let keys = match var(SECRET_ENV).filter(|secret| !secret.is_empty()) {
            Some(secret) => {
                let mut keys = KeyRing::from_secret(secret.as_bytes())
                    .map_err(|error| ConfigError::new(SECRET_ENV, error.to_string()))?;
                for previous in var(PREVIOUS_SECRETS_ENV)
                    .iter()
                    .flat_map(|list| list.split(','))
                {
                    let previous = previous.trim();
                    if !previous.is_empty() {
                        keys = keys.with_previous(previous.as_bytes()).map_err(|error| {
                            ConfigError::new(PREVIOUS_SECRETS_ENV, error.to_string())
                        })?;
                    }
                }
                keys
            }
            None => {
                tracing::warn!(
                    "{SECRET_ENV} is not set: using a random key, so sessions end when this \
                     process stops (generate a secret with `openssl rand -base64 48`)"
                );
                KeyRing::generate()
            }
        };
        Ok(Self {
            port,
            store,
            secure,
            keys,
        })
    }

    /// The engine for these settings: opens the store.
    pub async fn manager(&self) -> Result<SessionManager, ConfigError> {
        let storage = self.store.open().await?;
        let config = SessionConfig::default().with_secure(self.secure);
        SessionManager::new(storage, self.keys.clone(), config)
            .map_err(|error| ConfigError::new("SESSION_SECURE", error.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_vars(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn defaults_are_port_8000_the_cookie_store_and_secure_cookies() {
        let defaults = settings(&[]).unwrap();
        assert_eq!(defaults.port, 8000);
        assert_eq!(defaults.store, StoreSpec::Cookie);
        assert!(
            defaults.secure,
            "Secure unless SESSION_SECURE=false says otherwise"
        );
        assert!(!settings(&[("SESSION_SECURE", "false")]).unwrap().secure);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (vars, var, needle) in [
            (&[("PORT", "80a")][..], "PORT", "`80a` is not a port number"),
            (&[("PORT", "70000")][..], "PORT", "not a port number"),
            (
                &[("SESSION_SECURE", "yes")][..],
                "SESSION_SECURE",
                "`yes` is not true or false",
            ),
            (
                &[("SESSION_STORE", "mysql://u:pw@h/db")][..],
                "SESSION_STORE",
                "`mysql` is not a store",
            ),
            (
                &[("SESSION_STORE", "file:")][..],
                "SESSION_STORE",
                "needs a directory",
            ),
            (
                &[("SESSION_STORE", "redis+cluster://")][..],
                "SESSION_STORE",
                "needs node addresses",
            ),
        ] {
            let error = settings(vars).unwrap_err();
            assert_eq!(error.var(), var);
            let line = error.to_string();
            assert!(line.starts_with(&format!("{var}: ")), "{line}");
            assert!(line.contains(needle), "{line}");
            assert!(!line.contains('\n'), "one line: {line}");
            assert!(!line.contains("pw"), "no password in {line}");
        }
    }

    #[test]
    fn every_store_url_is_recognised() {
        let cases = [
            ("memory", StoreSpec::Memory),
            ("file:/tmp/s", StoreSpec::File("/tmp/s".into())),
            (
                "redis://127.0.0.1:6379",
                StoreSpec::Redis("redis://127.0.0.1:6379".into()),
            ),
            (
                "redis+cluster://127.0.0.1:7001,127.0.0.1:7002",
                StoreSpec::RedisCluster(vec![
                    "redis://127.0.0.1:7001".into(),
                    "redis://127.0.0.1:7002".into(),
                ]),
            ),
            (
                "sqlite:/tmp/s.db",
                StoreSpec::Sqlite("sqlite:/tmp/s.db".into()),
            ),
            (
                "postgres://u@h/db",
                StoreSpec::Postgres("postgres://u@h/db".into()),
            ),
            (
                "mongodb://h:27017/app",
                StoreSpec::MongoDb("mongodb://h:27017/app".into()),
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(StoreSpec::parse(value).unwrap(), expected, "{value}");
        }
    }

    #[test]
    fn the_mongodb_database_comes_from_the_url_path() {
        assert_eq!(mongo_database("mongodb://h:1/app?w=1"), "app");
        assert_eq!(mongo_database("mongodb://u:p@h:1/?w=1"), "sessions");
        assert_eq!(mongo_database("mongodb://h:1"), "sessions");
    }

    #[test]
    fn secrets_come_from_session_secret_and_previous() {
        let secret = "0123456789abcdef0123456789abcdef";
        let ring = settings(&[
            ("SESSION_SECRET", secret),
            ("SESSION_SECRET_PREVIOUS", &format!("{secret}x, {secret}y")),
        ]);
        assert_eq!(ring.unwrap().keys.len(), 3);
        for (vars, var) in [
            (&[("SESSION_SECRET", "short")][..], "SESSION_SECRET"),
            (
                &[
                    ("SESSION_SECRET", secret),
                    ("SESSION_SECRET_PREVIOUS", "short"),
                ][..],
                "SESSION_SECRET_PREVIOUS",
            ),
        ] {
            let line = settings(vars).unwrap_err().to_string();
            assert!(line.starts_with(&format!("{var}: ")), "{line}");
            assert!(line.contains("is 5 bytes; at least 32"), "{line}");
            assert!(!line.contains("short"), "the secret is not shown: {line}");
        }
    }

    #[tokio::test]
    async fn a_store_left_out_of_the_build_says_which_feature_to_enable() {
        #[cfg(not(feature = "redis"))]
        {
            let error = StoreSpec::parse("redis://127.0.0.1:1")
                .unwrap()
                .open()
                .await
                .unwrap_err();
            assert!(error.to_string().contains("--features redis"), "{error}");
        }
        let storage = StoreSpec::Memory.open().await.unwrap();
        assert!(matches!(storage, Storage::Server(_)));
    }
}
