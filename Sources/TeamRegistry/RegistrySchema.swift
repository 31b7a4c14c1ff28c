import PostgresDB
import SandboxCore

/// The production registry's schema on PostgreSQL (team mode): the tables of `production.db`
/// (agents with their slots, usage and revenue records, runs, guardrails and their checks, the
/// history), versioned in `schema_version`, each migration in a transaction of its own.
///
/// Differences from SQLite, each for a reason:
/// - values keep SQLite's shapes (text timestamps in ISO 8601, integer micro-units, 0/1 flags,
///   JSON as text checked by a cast to `jsonb`), so both backends give the same JSON documents;
/// - `agents.rowid` (an identity column) stands for SQLite's implicit `rowid`: the order agents
///   were added in, which slots and paging rely on; named so, the same SQL reads both;
/// - `production_events` is append-only through a trigger function (SQLite: three triggers),
///   and its `id` comes from an identity column: writers that append take the history's
///   advisory lock first, so ids are given in commit order and a reader paging by id never
///   skips a row committed later with a smaller id;
/// - usage and revenue records have no foreign key to their agent, which made a large
///   import twice as slow (migration 2): agents are never deleted nor renamed instead, by
///   triggers, and every writer checks the agent first.
public enum RegistrySchema {
    /// The advisory lock (`pg_advisory_xact_lock`) migrations take, so teammates upgrading at
    /// once apply each migration once.
    public static let migrationLock: Int64 = 0x6E6F_7661_6F73_0001
    /// The advisory lock every transaction that appends to the history takes.
    public static let historyLock: Int64 = 0x6E6F_7661_6F73_0002
    /// Takes the advisory lock of the slot `$1`, which every change of the slot's live version
    /// (promotion, rollback, retirement) holds until its transaction ends.
    static let slotLockSQL = "SELECT pg_advisory_xact_lock(hashtextextended('novaos slot ' || $1, 0))"
    /// The version of `production.db` whose tables this schema has (the production commands
    /// read older files differently).
    static let productionVersion = 5

    /// Migration n (1-based) brings the schema from version n-1 to n.
    static let migrations: [String] = [
        """
        CREATE TABLE agents (
            id                       text PRIMARY KEY,
            rowid                    bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
            project_id               text,
            type                     text NOT NULL,
            name                     text NOT NULL,
            status                   text NOT NULL CHECK (status IN ('active', 'paused', 'killed')),
            pause_reason             text CHECK (pause_reason IN ('manual', 'budget_exceeded', 'project_budget_exceeded')),
            token_budget             bigint NOT NULL CHECK (token_budget > 0),
            normal_token_budget      bigint NOT NULL CHECK (normal_token_budget > 0),
            config                   text NOT NULL DEFAULT '{}' CHECK (config::jsonb IS NOT NULL),
            metadata                 text NOT NULL DEFAULT '{}' CHECK (metadata::jsonb IS NOT NULL),
            tokens_used              bigint NOT NULL DEFAULT 0 CHECK (tokens_used >= 0),
            cost_micros              bigint NOT NULL DEFAULT 0 CHECK (cost_micros >= 0),
            revenue_micros           bigint NOT NULL DEFAULT 0 CHECK (revenue_micros >= 0),
            deployed_at              text NOT NULL,
            promoted_from_project_id text,
            promoted_from_agent_id   text UNIQUE,
            slot                     text,
            state                    text CHECK (state IN ('live', 'standby', 'rolled_back', 'retired')),
            live_since               text
        );
        CREATE INDEX agents_by_project ON agents (project_id, status);
        CREATE INDEX agents_by_slot ON agents (slot);
        -- The arbiter of "one live version per slot", whatever the writers do.
        CREATE UNIQUE INDEX agents_one_live_per_slot ON agents (slot) WHERE state = 'live';

        CREATE TABLE api_costs (
            id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            agent_id           text NOT NULL REFERENCES agents (id),
            event_id           text,
            model              text NOT NULL,
            operation          text NOT NULL,
            input_tokens       bigint NOT NULL CHECK (input_tokens >= 0),
            output_tokens      bigint NOT NULL CHECK (output_tokens >= 0),
            cache_read_tokens  bigint NOT NULL DEFAULT 0 CHECK (cache_read_tokens >= 0),
            cache_write_tokens bigint NOT NULL DEFAULT 0 CHECK (cache_write_tokens >= 0),
            cache_ttl          text NOT NULL DEFAULT '5m' CHECK (cache_ttl IN ('5m', '1h')),
            batch              smallint NOT NULL DEFAULT 0 CHECK (batch IN (0, 1)),
            cost_micros        bigint NOT NULL CHECK (cost_micros >= 0),
            price_source       text NOT NULL DEFAULT 'explicit',
            recorded_at        text NOT NULL
        );
        CREATE UNIQUE INDEX api_costs_by_event ON api_costs (event_id) WHERE event_id IS NOT NULL;
        CREATE INDEX api_costs_by_agent_time ON api_costs (agent_id, recorded_at);

        CREATE TABLE revenue (
            id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            agent_id      text NOT NULL REFERENCES agents (id),
            event_id      text,
            amount_micros bigint NOT NULL CHECK (amount_micros > 0),
            source        text NOT NULL,
            description   text NOT NULL DEFAULT '',
            recorded_at   text NOT NULL
        );
        CREATE UNIQUE INDEX revenue_by_event ON revenue (event_id) WHERE event_id IS NOT NULL;
        CREATE INDEX revenue_by_agent_time ON revenue (agent_id, recorded_at);

        CREATE TABLE production_events (
            id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at                text NOT NULL,
            kind              text NOT NULL CHECK (kind IN ('promotion', 'rollback', 'retire', 'guardrail', 'budget')),
            slot              text,
            agent_id          text,
            previous_agent_id text,
            live_agent_id     text,
            actor             text NOT NULL,
            reason            text NOT NULL DEFAULT '',
            details           text NOT NULL DEFAULT '{}' CHECK (details::jsonb IS NOT NULL)
        );
        CREATE INDEX production_events_by_slot ON production_events (slot, id);
        CREATE INDEX production_events_by_agent ON production_events (agent_id, id);
        CREATE FUNCTION production_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'production_events is append-only' USING ERRCODE = 'restrict_violation';
        END
        $$;
        CREATE TRIGGER production_events_no_change BEFORE UPDATE OR DELETE ON production_events
            FOR EACH ROW EXECUTE FUNCTION production_events_append_only();
        CREATE TRIGGER production_events_no_truncate BEFORE TRUNCATE ON production_events
            FOR EACH STATEMENT EXECUTE FUNCTION production_events_append_only();

        CREATE TABLE guardrails (
            agent_id               text PRIMARY KEY REFERENCES agents (id),
            min_roi                double precision NOT NULL DEFAULT 0,
            min_roi_vs_sandbox     double precision NOT NULL DEFAULT 50 CHECK (min_roi_vs_sandbox >= 0),
            min_events             bigint NOT NULL DEFAULT 20 CHECK (min_events >= 0),
            window_seconds         bigint NOT NULL DEFAULT 86400 CHECK (window_seconds > 0),
            bake_seconds           bigint NOT NULL DEFAULT 86400 CHECK (bake_seconds >= 0),
            failure_limit          bigint NOT NULL DEFAULT 3 CHECK (failure_limit >= 1),
            sandbox_tokens         bigint,
            sandbox_cost_micros    bigint,
            sandbox_revenue_micros bigint,
            sandbox_usage_events   bigint,
            sandbox_revenue_events bigint
        );

        CREATE TABLE guardrail_checks (
            id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            agent_id             text NOT NULL REFERENCES agents (id),
            slot                 text NOT NULL,
            checked_at           text NOT NULL,
            verdict              text NOT NULL CHECK (verdict IN ('pass', 'fail', 'inconclusive')),
            reason               text NOT NULL,
            consecutive_failures bigint NOT NULL CHECK (consecutive_failures >= 0),
            action               text NOT NULL CHECK (action IN ('none', 'rolled_back')),
            measurements         text NOT NULL CHECK (measurements::jsonb IS NOT NULL)
        );
        CREATE INDEX guardrail_checks_by_agent ON guardrail_checks (agent_id, id);

        CREATE TABLE runs (
            id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            agent_id         text NOT NULL REFERENCES agents (id),
            command          text NOT NULL CHECK (command::jsonb IS NOT NULL),
            log_path         text NOT NULL,
            started_at       text NOT NULL,
            ended_at         text,
            exit_code        bigint,
            signal           bigint,
            stop_reason      text CHECK (stop_reason IN ('exited', 'signaled', 'budget_exceeded', 'project_budget_exceeded', 'timeout',
                                                         'interrupted', 'failed_to_start', 'agent_paused', 'agent_killed',
                                                         'database_unavailable', 'disk_full', 'lost')),
            tokens_used      bigint NOT NULL DEFAULT 0,
            cost_micros      bigint NOT NULL DEFAULT 0,
            revenue_micros   bigint NOT NULL DEFAULT 0,
            events           bigint NOT NULL DEFAULT 0,
            rejected_events  bigint NOT NULL DEFAULT 0,
            isolation        text NOT NULL DEFAULT 'none' CHECK (isolation IN ('namespace', 'none')),
            supervisor_host  text,
            supervisor_pid   bigint,
            supervisor_start bigint,
            reserved_tokens  bigint NOT NULL DEFAULT 0 CHECK (reserved_tokens >= 0)
        );
        CREATE INDEX runs_by_agent ON runs (agent_id, id);
        CREATE INDEX runs_open ON runs (id) WHERE ended_at IS NULL;
        """,
        // 2: records fast to import (a million usage records a `COPY` in about 7 s instead of
        // 14 s on 2 cores, measured by novaos-bench --team). The records' foreign key to their
        // agent is a per-row lookup and row lock; instead, agents are never deleted nor renamed
        // (refused below), and every writer checks a record's agent is live in the same
        // transaction, as the sandbox's import does. Their text keys compare byte by byte
        // (collation "C", SQLite's BINARY), not by the database's locale.
        """
        ALTER TABLE api_costs DROP CONSTRAINT api_costs_agent_id_fkey;
        ALTER TABLE revenue DROP CONSTRAINT revenue_agent_id_fkey;
        ALTER TABLE api_costs
            ALTER COLUMN agent_id TYPE text COLLATE "C",
            ALTER COLUMN event_id TYPE text COLLATE "C",
            ALTER COLUMN recorded_at TYPE text COLLATE "C";
        ALTER TABLE revenue
            ALTER COLUMN agent_id TYPE text COLLATE "C",
            ALTER COLUMN event_id TYPE text COLLATE "C",
            ALTER COLUMN recorded_at TYPE text COLLATE "C";
        CREATE FUNCTION agents_kept() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'production agents are never deleted or renamed: their records name them' USING ERRCODE = 'restrict_violation';
        END
        $$;
        CREATE TRIGGER agents_never_deleted BEFORE DELETE ON agents
            FOR EACH ROW EXECUTE FUNCTION agents_kept();
        CREATE TRIGGER agents_never_renamed BEFORE UPDATE OF id ON agents
            FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION agents_kept();
        CREATE TRIGGER agents_never_truncated BEFORE TRUNCATE ON agents
            FOR EACH STATEMENT EXECUTE FUNCTION agents_kept();
        """,
    ]

    /// The version this novaos writes.
    public static var version: Int { migrations.count }

    /// Brings the registry at `db` to `version`: every missing migration, each in a
    /// transaction of its own under the migration lock, so teammates upgrading at once apply
    /// each one once. Returns the versions before and after.
    ///
    /// - Throws: `SandboxError.newerSchema` for a registry a newer novaos wrote (nothing is
    ///   changed), `PostgresError` for a failing migration (that migration is rolled back).
    @discardableResult
    public static func migrate(_ db: PostgresConnection, name: String) throws -> (from: Int, to: Int) {
        var first: Int?
        while true {
            let applied = try db.inTransaction {
                try db.query("SELECT pg_advisory_xact_lock($1)", [migrationLock])
                try db.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
                let current = try storedVersion(db)
                first = first ?? current
                guard current <= version else { throw SandboxError.newerSchema(path: name, found: current, supported: version) }
                guard current < version else { return false }
                do {
                    try db.execute(migrations[current])
                } catch let error as PostgresError where !error.isRetryable && !error.isConnectionFailure {
                    // Something of the team's own in the way (a view over a table it changes, say).
                    throw SandboxError.invalidState(
                        "upgrading the production registry \(name) to schema version \(current + 1) failed, and nothing was changed: \(error.message)\(error.sqlState.map { " (SQLSTATE \($0))" } ?? ""); see README, Team mode"
                    )
                }
                try db.run("INSERT INTO schema_version (version) VALUES ($1)", [current + 1])
                return true
            }
            if !applied { return (first ?? version, version) }
        }
    }

    /// The registry's version; 0 before the first migration.
    public static func currentVersion(_ db: PostgresConnection) throws -> Int {
        let exists = try db.query("SELECT to_regclass('schema_version') IS NOT NULL AS present")[0].bool("present")
        return exists ? try storedVersion(db) : 0
    }

    private static func storedVersion(_ db: PostgresConnection) throws -> Int {
        Int(try db.query("SELECT coalesce(max(version), 0) AS version FROM schema_version")[0].int64("version"))
    }
}
