//! SQL for savings proposals, shared by both stores like `sql.rs`.

/// Implements `ProposalStore` for a struct with a `pool` field.
macro_rules! impl_proposal_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::ProposalStore for $store {
            async fn proposal_rows(
                &self,
                states: &[&str],
            ) -> anyhow::Result<$crate::domain::proposal::StoredProposals> {
                let mut builder = sqlx::QueryBuilder::<$db>::new("SELECT id, record FROM proposals");
                if !states.is_empty() {
                    builder.push(" WHERE state IN (");
                    let mut list = builder.separated(", ");
                    for state in states {
                        list.push_bind(state.to_string());
                    }
                    builder.push(")");
                }
                builder.push(" ORDER BY updated_at, id");
                let rows: Vec<(String, String)> = builder.build_query_as().fetch_all(&self.pool).await?;
                let mut out = $crate::domain::proposal::StoredProposals::default();
                for (id, record) in rows {
                    match $crate::store::record::proposal::decode_proposal(&record) {
                        Ok(p) => out.readable.push(p),
                        Err(error) => out.unreadable.push($crate::domain::proposal::Unreadable {
                            id: $crate::domain::proposal::ProposalId(id),
                            error: format!("{error:#}"),
                        }),
                    }
                }
                Ok(out)
            }

            async fn change_proposal(
                &self,
                change: &$crate::store::ProposalChange<'_>,
            ) -> anyhow::Result<Option<$crate::domain::audit::AuditEntry>> {
                // The compare-and-swap comes first: on SQLite it also takes the writer lock
                // before anything is read, and a lost race writes nothing at all.
                let mut tx = self.pool.begin().await?;
                if !swap_proposal_in(&mut tx, change.next, change.from_version).await? {
                    tx.rollback().await?;
                    return Ok(None);
                }
                record_and_commit(tx, &change.audit, &change.cards, change.now).await.map(Some)
            }

            async fn proposal(
                &self,
                id: &$crate::domain::proposal::ProposalId,
            ) -> anyhow::Result<Option<$crate::domain::proposal::Proposal>> {
                let row: Option<String> = sqlx::query_scalar("SELECT record FROM proposals WHERE id = $1")
                    .bind(&id.0)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| $crate::store::record::proposal::decode_proposal(&r)).transpose()
            }

            async fn create_proposal(
                &self,
                new: &$crate::store::NewProposal<'_>,
            ) -> anyhow::Result<Option<$crate::domain::audit::AuditEntry>> {
                // The insert comes first, as the compare-and-swap does in `change_proposal`.
                let mut tx = self.pool.begin().await?;
                if !insert_proposal_in(&mut tx, new.proposal).await? {
                    tx.rollback().await?;
                    return Ok(None);
                }
                record_and_commit(tx, &new.audit, &new.cards, new.now).await.map(Some)
            }

            async fn insert_proposal(&self, proposal: &$crate::domain::proposal::Proposal) -> anyhow::Result<bool> {
                let mut tx = self.pool.begin().await?;
                let inserted = insert_proposal_in(&mut tx, proposal).await?;
                tx.commit().await?;
                Ok(inserted)
            }

            async fn remind_proposal(
                &self,
                entries: &[$crate::domain::outbox::OutboxEntry],
                audit: &$crate::domain::audit::AuditRecord,
                now: chrono::NaiveDateTime,
            ) -> anyhow::Result<bool> {
                let mut tx = self.pool.begin().await?;
                // Dropping the transaction rolls it back: a reminder stored before writes nothing.
                if entries.is_empty() || enqueue_in(&mut tx, entries, now).await? == 0 {
                    return Ok(false);
                }
                append_audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn save_proposal(
                &self,
                next: &$crate::domain::proposal::Proposal,
                from_version: u32,
            ) -> anyhow::Result<bool> {
                let mut tx = self.pool.begin().await?;
                let swapped = swap_proposal_in(&mut tx, next, from_version).await?;
                tx.commit().await?;
                Ok(swapped)
            }
        }

        /// Appends a proposal write's audit record and enqueues its cards in its transaction,
        /// then commits all of it together.
        async fn record_and_commit(
            mut tx: sqlx::Transaction<'_, $db>,
            audit: &$crate::domain::audit::AuditRecord,
            cards: &[$crate::domain::outbox::OutboxEntry],
            now: chrono::NaiveDateTime,
        ) -> anyhow::Result<$crate::domain::audit::AuditEntry> {
            let entry = append_audit_in(&mut tx, audit).await?;
            enqueue_in(&mut tx, cards, now).await?;
            tx.commit().await?;
            tracing::info!(audit_head = %entry.checkpoint(), "audit log appended");
            Ok(entry)
        }

        /// Inserts a new proposal inside the caller's transaction; `false` when one with its
        /// id exists already.
        async fn insert_proposal_in(
            tx: &mut sqlx::Transaction<'_, $db>,
            proposal: &$crate::domain::proposal::Proposal,
        ) -> anyhow::Result<bool> {
            let inserted = sqlx::query(
                "INSERT INTO proposals (id, version, state, account_id, resource_id, record, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&proposal.id.0)
            .bind(i64::from(proposal.version))
            .bind(proposal.state.name())
            .bind(proposal.finding.resource.reference.account.as_str())
            .bind(&proposal.finding.resource.reference.id)
            .bind($crate::store::record::proposal::encode_proposal(proposal)?)
            .bind(proposal.updated_at)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            Ok(inserted == 1)
        }

        /// The compare-and-swap of a proposal inside the caller's transaction: `true` when it
        /// was still at `from_version` and now holds `next`.
        async fn swap_proposal_in(
            tx: &mut sqlx::Transaction<'_, $db>,
            next: &$crate::domain::proposal::Proposal,
            from_version: u32,
        ) -> anyhow::Result<bool> {
            let updated = sqlx::query(
                "UPDATE proposals SET version = $2, state = $3, record = $4, updated_at = $5
                 WHERE id = $1 AND version = $6",
            )
            .bind(&next.id.0)
            .bind(i64::from(next.version))
            .bind(next.state.name())
            .bind($crate::store::record::proposal::encode_proposal(next)?)
            .bind(next.updated_at)
            .bind(i64::from(from_version))
            .execute(&mut **tx)
            .await?
            .rows_affected();
            Ok(updated == 1)
        }
    };
}

pub(super) use impl_proposal_store;
