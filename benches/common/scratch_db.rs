//! A scratch Postgres database for one benchmark run, shared by the benchmarks with `#[path]`.

use anyhow::{Context, Result};
use sqlx::Connection;

/// A database created on the server `DATABASE_URL` points at, dropped by [`ScratchDb::drop`].
pub struct ScratchDb {
    admin: sqlx::PgConnection,
    name: String,
    /// The scratch database's URL.
    pub url: String,
}

impl ScratchDb {
    /// Creates `<prefix>_<pid>`; the process id keeps parallel runs apart.
    pub async fn create(prefix: &str) -> Result<ScratchDb> {
        let url = std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".into());
        let name = format!("{prefix}_{}", std::process::id());
        let mut admin = sqlx::PgConnection::connect(&url).await.context("connect to DATABASE_URL")?;
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await?;
        let url = format!("{}/{name}", url.rsplit_once('/').context("DATABASE_URL has no database")?.0);
        Ok(ScratchDb { admin, name, url })
    }

    /// Drops the database, closing whatever connections are still open to it.
    pub async fn drop(mut self) -> Result<()> {
        sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).execute(&mut self.admin).await?;
        Ok(())
    }
}
