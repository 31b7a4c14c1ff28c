import SQLiteDB

/// The database schemas, one list of migrations per kind of database.
///
/// Each migration runs in its own transaction and bumps `PRAGMA user_version`; a database
/// whose version is newer than the last migration here is refused.
enum Schema {
    /// The ledger: agents, what they spent and what they earned. Identical in both databases.
    ///
    /// Tables are STRICT, so SQLite refuses a value of the wrong type instead of storing it,
    /// which also turns an integer overflow of a running total (SQLite would silently make it
    /// a REAL) into an error.
    static let ledger = """
        CREATE TABLE agents (
            id                       TEXT PRIMARY KEY,
            project_id               TEXT,
            type                     TEXT NOT NULL,
            name                     TEXT NOT NULL,
            status                   TEXT NOT NULL CHECK (status IN ('active', 'paused', 'killed')),
            token_budget             INTEGER NOT NULL CHECK (token_budget > 0),
            normal_token_budget      INTEGER NOT NULL CHECK (normal_token_budget > 0),
            config                   TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(config)),
            metadata                 TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
            tokens_used              INTEGER NOT NULL DEFAULT 0 CHECK (tokens_used >= 0),
            cost_micros              INTEGER NOT NULL DEFAULT 0 CHECK (cost_micros >= 0),
            revenue_micros           INTEGER NOT NULL DEFAULT 0 CHECK (revenue_micros >= 0),
            deployed_at              TEXT NOT NULL,
            promoted_from_project_id TEXT,
            promoted_from_agent_id   TEXT UNIQUE
        ) STRICT;
        CREATE INDEX agents_by_project ON agents (project_id, status);

        CREATE TABLE api_costs (
            id            INTEGER PRIMARY KEY,
            agent_id      TEXT NOT NULL REFERENCES agents (id),
            event_id      TEXT,
            model         TEXT NOT NULL,
            operation     TEXT NOT NULL,
            input_tokens  INTEGER NOT NULL CHECK (input_tokens >= 0),
            output_tokens INTEGER NOT NULL CHECK (output_tokens >= 0),
            cost_micros   INTEGER NOT NULL CHECK (cost_micros >= 0),
            recorded_at   TEXT NOT NULL
        ) STRICT;
        CREATE UNIQUE INDEX api_costs_by_event ON api_costs (event_id) WHERE event_id IS NOT NULL;

        CREATE TABLE revenue (
            id            INTEGER PRIMARY KEY,
            agent_id      TEXT NOT NULL REFERENCES agents (id),
            event_id      TEXT,
            amount_micros INTEGER NOT NULL CHECK (amount_micros > 0),
            source        TEXT NOT NULL,
            description   TEXT NOT NULL DEFAULT '',
            recorded_at   TEXT NOT NULL
        ) STRICT;
        CREATE UNIQUE INDEX revenue_by_event ON revenue (event_id) WHERE event_id IS NOT NULL;
        """

    /// What only the sandbox keeps: projects, experiments, evaluations, promotions.
    static let sandboxOnly = """
        CREATE TABLE projects (
            id            TEXT PRIMARY KEY CHECK (length(id) = 12 AND id GLOB 'prj_[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]'),
            name          TEXT NOT NULL,
            description   TEXT NOT NULL DEFAULT '',
            status        TEXT NOT NULL CHECK (status IN ('active', 'promoted', 'killed')),
            budget_micros INTEGER CHECK (budget_micros > 0),
            created_at    TEXT NOT NULL,
            promoted_at   TEXT,
            killed_at     TEXT
        ) STRICT;
        CREATE INDEX projects_by_status ON projects (status);

        CREATE TABLE experiments (
            id           INTEGER PRIMARY KEY AUTOINCREMENT,
            project_id   TEXT NOT NULL REFERENCES projects (id),
            name         TEXT NOT NULL,
            hypothesis   TEXT NOT NULL DEFAULT '',
            config       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(config)),
            results      TEXT CHECK (results IS NULL OR json_valid(results)),
            success      INTEGER CHECK (success IN (0, 1)),
            started_at   TEXT NOT NULL,
            completed_at TEXT
        ) STRICT;
        CREATE INDEX experiments_by_project ON experiments (project_id);

        CREATE TABLE evaluations (
            id             INTEGER PRIMARY KEY,
            project_id     TEXT NOT NULL REFERENCES projects (id),
            recommendation TEXT NOT NULL,
            reason         TEXT NOT NULL,
            roi            REAL NOT NULL,
            criteria       TEXT NOT NULL CHECK (json_valid(criteria)),
            metrics        TEXT NOT NULL CHECK (json_valid(metrics)),
            evaluated_at   TEXT NOT NULL
        ) STRICT;
        CREATE INDEX evaluations_by_project ON evaluations (project_id, id);

        -- A promotion is planned here first (state 'pending'), then copied to production,
        -- then completed; the plan fixes every production ID, so re-running it is harmless.
        CREATE TABLE promotions (
            project_id    TEXT PRIMARY KEY REFERENCES projects (id),
            state         TEXT NOT NULL CHECK (state IN ('pending', 'complete')),
            evaluation_id INTEGER NOT NULL REFERENCES evaluations (id),
            forced        INTEGER NOT NULL CHECK (forced IN (0, 1)),
            started_at    TEXT NOT NULL,
            completed_at  TEXT
        ) STRICT;

        CREATE TABLE promotion_agents (
            sandbox_agent_id    TEXT PRIMARY KEY REFERENCES agents (id),
            project_id          TEXT NOT NULL REFERENCES promotions (project_id),
            decision            TEXT NOT NULL CHECK (decision IN ('migrate', 'skip')),
            production_agent_id TEXT UNIQUE,
            reason              TEXT NOT NULL DEFAULT '',
            roi                 REAL NOT NULL,
            CHECK ((decision = 'migrate') = (production_agent_id IS NOT NULL))
        ) STRICT;
        CREATE INDEX promotion_agents_by_project ON promotion_agents (project_id);
        """

    /// Version 2: agent runs started by `sandbox run`.
    static let runs = """
        CREATE TABLE runs (
            id              INTEGER PRIMARY KEY,
            agent_id        TEXT NOT NULL REFERENCES agents (id),
            command         TEXT NOT NULL CHECK (json_valid(command)),
            log_path        TEXT NOT NULL,
            started_at      TEXT NOT NULL,
            ended_at        TEXT,
            exit_code       INTEGER,
            signal          INTEGER,
            stop_reason     TEXT CHECK (stop_reason IN ('exited', 'signaled', 'budget_exceeded', 'project_budget_exceeded', 'timeout', 'interrupted', 'failed_to_start')),
            tokens_used     INTEGER NOT NULL DEFAULT 0,
            cost_micros     INTEGER NOT NULL DEFAULT 0,
            revenue_micros  INTEGER NOT NULL DEFAULT 0,
            events          INTEGER NOT NULL DEFAULT 0,
            rejected_events INTEGER NOT NULL DEFAULT 0
        ) STRICT;
        CREATE INDEX runs_by_agent ON runs (agent_id, id);
        """

    /// Version 3: running totals over the whole sandbox, kept by triggers, so `status` reads
    /// one row whatever the number of projects. Projects and agents are never deleted, so
    /// inserts and updates are all the triggers need to follow.
    static let totals = """
        CREATE TABLE sandbox_totals (
            id                INTEGER PRIMARY KEY CHECK (id = 1),
            total_projects    INTEGER NOT NULL,
            active_projects   INTEGER NOT NULL,
            promoted_projects INTEGER NOT NULL,
            killed_projects   INTEGER NOT NULL,
            total_agents      INTEGER NOT NULL,
            active_agents     INTEGER NOT NULL,
            cost_micros       INTEGER NOT NULL,
            revenue_micros    INTEGER NOT NULL
        ) STRICT;
        INSERT INTO sandbox_totals SELECT 1,
            (SELECT count(*) FROM projects), (SELECT count(*) FROM projects WHERE status = 'active'),
            (SELECT count(*) FROM projects WHERE status = 'promoted'), (SELECT count(*) FROM projects WHERE status = 'killed'),
            (SELECT count(*) FROM agents), (SELECT count(*) FROM agents WHERE status = 'active'),
            (SELECT coalesce(sum(cost_micros), 0) FROM agents), (SELECT coalesce(sum(revenue_micros), 0) FROM agents);

        CREATE TRIGGER sandbox_totals_project_insert AFTER INSERT ON projects BEGIN
            UPDATE sandbox_totals SET
                total_projects = total_projects + 1,
                active_projects = active_projects + (NEW.status = 'active'),
                promoted_projects = promoted_projects + (NEW.status = 'promoted'),
                killed_projects = killed_projects + (NEW.status = 'killed');
        END;
        CREATE TRIGGER sandbox_totals_project_status AFTER UPDATE OF status ON projects WHEN OLD.status <> NEW.status BEGIN
            UPDATE sandbox_totals SET
                active_projects = active_projects + (NEW.status = 'active') - (OLD.status = 'active'),
                promoted_projects = promoted_projects + (NEW.status = 'promoted') - (OLD.status = 'promoted'),
                killed_projects = killed_projects + (NEW.status = 'killed') - (OLD.status = 'killed');
        END;
        CREATE TRIGGER sandbox_totals_agent_insert AFTER INSERT ON agents BEGIN
            UPDATE sandbox_totals SET
                total_agents = total_agents + 1,
                active_agents = active_agents + (NEW.status = 'active'),
                cost_micros = cost_micros + NEW.cost_micros,
                revenue_micros = revenue_micros + NEW.revenue_micros;
        END;
        CREATE TRIGGER sandbox_totals_agent_update AFTER UPDATE OF status, cost_micros, revenue_micros ON agents BEGIN
            UPDATE sandbox_totals SET
                active_agents = active_agents + (NEW.status = 'active') - (OLD.status = 'active'),
                cost_micros = cost_micros + NEW.cost_micros - OLD.cost_micros,
                revenue_micros = revenue_micros + NEW.revenue_micros - OLD.revenue_micros;
        END;
        """

    /// Version 4: experiment repositories and the results of the revisions tested in them.
    static let repositories = """
        CREATE TABLE repositories (
            id              TEXT PRIMARY KEY,
            name            TEXT NOT NULL UNIQUE,
            path            TEXT NOT NULL,
            url             TEXT,
            description     TEXT NOT NULL DEFAULT '',
            project_id      TEXT REFERENCES projects (id),
            repository_type TEXT NOT NULL CHECK (repository_type IN ('local', 'remote', 'github')),
            is_private      INTEGER NOT NULL CHECK (is_private IN (0, 1)),
            branch          TEXT NOT NULL,
            status          TEXT NOT NULL DEFAULT 'active',
            created_at      TEXT NOT NULL
        ) STRICT;
        CREATE INDEX repositories_by_project ON repositories (project_id);

        CREATE TABLE experiment_results (
            id                    TEXT PRIMARY KEY,
            repository_id         TEXT NOT NULL REFERENCES repositories (id),
            sandbox_experiment_id INTEGER REFERENCES experiments (id),
            source                TEXT NOT NULL,
            commit_sha            TEXT NOT NULL,
            commit_message        TEXT NOT NULL,
            status                TEXT NOT NULL,
            success               INTEGER NOT NULL CHECK (success IN (0, 1)),
            timestamp             TEXT NOT NULL,
            test_results          TEXT NOT NULL CHECK (json_valid(test_results)),
            analysis_results      TEXT NOT NULL CHECK (json_valid(analysis_results)),
            repository_commit     TEXT
        ) STRICT;
        CREATE INDEX experiment_results_by_repository ON experiment_results (repository_id);
        """

    /// The columns of `runs` as of sandbox version 5 (production's table has them too).
    static let runColumns = """
            id               INTEGER PRIMARY KEY,
            agent_id         TEXT NOT NULL REFERENCES agents (id),
            command          TEXT NOT NULL CHECK (json_valid(command)),
            log_path         TEXT NOT NULL,
            started_at       TEXT NOT NULL,
            ended_at         TEXT,
            exit_code        INTEGER,
            signal           INTEGER,
            stop_reason      TEXT CHECK (stop_reason IN ('exited', 'signaled', 'budget_exceeded', 'project_budget_exceeded', 'timeout',
                                                         'interrupted', 'failed_to_start', 'agent_paused', 'agent_killed',
                                                         'database_unavailable', 'disk_full', 'lost')),
            tokens_used      INTEGER NOT NULL DEFAULT 0,
            cost_micros      INTEGER NOT NULL DEFAULT 0,
            revenue_micros   INTEGER NOT NULL DEFAULT 0,
            events           INTEGER NOT NULL DEFAULT 0,
            rejected_events  INTEGER NOT NULL DEFAULT 0,
            isolation        TEXT NOT NULL DEFAULT 'none' CHECK (isolation IN ('namespace', 'none')),
            supervisor_pid   INTEGER,
            supervisor_start INTEGER
        """

    /// Version 5: runs say how they were isolated and which supervisor watches them (its PID
    /// and start time, so a later command can tell a dead supervisor from a live one), and
    /// have the new stop reasons. A CHECK constraint cannot be altered in place, so the table
    /// is rebuilt (SQLite docs, lang_altertable, "other kinds of table schema changes").
    static let supervisedRuns = """
        CREATE TABLE runs_v5 (
        \(runColumns)
        ) STRICT;
        INSERT INTO runs_v5 (id, agent_id, command, log_path, started_at, ended_at, exit_code, signal, stop_reason, tokens_used,
                             cost_micros, revenue_micros, events, rejected_events)
            SELECT id, agent_id, command, log_path, started_at, ended_at, exit_code, signal,
                   CASE WHEN ended_at IS NULL THEN 'lost' ELSE stop_reason END,
                   tokens_used, cost_micros, revenue_micros, events, rejected_events
            FROM runs;
        UPDATE runs_v5 SET ended_at = started_at WHERE ended_at IS NULL;
        DROP TABLE runs;
        ALTER TABLE runs_v5 RENAME TO runs;
        CREATE INDEX runs_by_agent ON runs (agent_id, id);
        CREATE INDEX runs_open ON runs (id) WHERE ended_at IS NULL;
        """

    /// Why an agent is paused: the same column in both databases, so the ledger stays one schema
    /// (production version 2).
    static let pauseReason = """
        ALTER TABLE agents ADD COLUMN pause_reason TEXT
            CHECK (pause_reason IN ('manual', 'budget_exceeded', 'project_budget_exceeded'));

        """

    /// Version 6: budgets that bind. An agent paused by a budget says why (`pause_reason`), and
    /// every change of a budget or cap is kept with its time.
    static let budgets = pauseReason + """
        UPDATE agents SET pause_reason = 'manual' WHERE status = 'paused';
        CREATE TABLE budget_changes (
            id          INTEGER PRIMARY KEY,
            target_kind TEXT NOT NULL CHECK (target_kind IN ('agent', 'project')),
            target_id   TEXT NOT NULL,
            previous    INTEGER,
            budget      INTEGER,
            changed_at  TEXT NOT NULL
        ) STRICT;
        CREATE INDEX budget_changes_by_target ON budget_changes (target_id, id);
        ALTER TABLE runs ADD COLUMN reserved_tokens INTEGER NOT NULL DEFAULT 0 CHECK (reserved_tokens >= 0);
        """

    /// Sandbox version 7, production version 3: usage records keep their cache tokens, batch
    /// flag and the price they were charged at (`price_source`). Records written before are
    /// explained by the five-model table they were priced with: a cost equal to that table's
    /// price is `table:<entry>`, any other cost was given explicitly.
    ///
    /// `price_source` has no CHECK of its shape: it only ever comes from `PriceEntry.priceSource`
    /// or `explicit`, and a prefix check cost 2-4 % of an import's instructions (callgrind),
    /// more than the 5 % the new columns may cost together.
    static let pricing = """
        ALTER TABLE api_costs ADD COLUMN cache_read_tokens INTEGER NOT NULL DEFAULT 0 CHECK (cache_read_tokens >= 0);
        ALTER TABLE api_costs ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0 CHECK (cache_write_tokens >= 0);
        ALTER TABLE api_costs ADD COLUMN cache_ttl TEXT NOT NULL DEFAULT '5m' CHECK (cache_ttl IN ('5m', '1h'));
        ALTER TABLE api_costs ADD COLUMN batch INTEGER NOT NULL DEFAULT 0 CHECK (batch IN (0, 1));
        ALTER TABLE api_costs ADD COLUMN price_source TEXT NOT NULL DEFAULT 'explicit';
        UPDATE api_costs SET price_source = CASE
            WHEN model = 'claude-opus-4' AND cost_micros = (input_tokens * 15000000 + output_tokens * 75000000 + 500000) / 1000000
                THEN 'table:claude-opus-4@2025-05-22'
            WHEN model = 'claude-sonnet-4' AND cost_micros = (input_tokens * 3000000 + output_tokens * 15000000 + 500000) / 1000000
                THEN 'table:claude-sonnet-4@2025-05-22'
            WHEN model = 'claude-haiku-3.5' AND cost_micros = (input_tokens * 800000 + output_tokens * 4000000 + 500000) / 1000000
                THEN 'table:claude-haiku-3.5@2024-11-04'
            WHEN model = 'gpt-4o' AND cost_micros = (input_tokens * 2500000 + output_tokens * 10000000 + 500000) / 1000000
                THEN 'table:gpt-4o@2024-10-02'
            WHEN model = 'gpt-4o-mini' AND cost_micros = (input_tokens * 150000 + output_tokens * 600000 + 500000) / 1000000
                THEN 'table:gpt-4o-mini@2024-07-18'
            ELSE 'explicit' END;
        """

    /// Sandbox version 8: each project keeps the totals of its agents, kept by triggers as
    /// `sandbox_totals` is, and projects are indexed in creation order, so `sandbox list`
    /// reads one row per project in order instead of joining and sorting (callgrind: about
    /// 30k instructions per project before, 5k after). `sandbox usage` pays one more row
    /// update; an import, which adds to each agent's totals once, one per agent.
    static let projectTotals = """
        ALTER TABLE projects ADD COLUMN total_agents INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE projects ADD COLUMN active_agents INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE projects ADD COLUMN tokens_used INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE projects ADD COLUMN cost_micros INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE projects ADD COLUMN revenue_micros INTEGER NOT NULL DEFAULT 0;
        UPDATE projects SET (total_agents, active_agents, tokens_used, cost_micros, revenue_micros) = (
            SELECT count(*), coalesce(sum(status = 'active'), 0), coalesce(sum(tokens_used), 0),
                   coalesce(sum(cost_micros), 0), coalesce(sum(revenue_micros), 0)
            FROM agents WHERE project_id = projects.id
        );
        CREATE INDEX projects_in_order ON projects (created_at);

        CREATE TRIGGER project_totals_agent_insert AFTER INSERT ON agents BEGIN
            UPDATE projects SET
                total_agents = total_agents + 1,
                active_agents = active_agents + (NEW.status = 'active'),
                tokens_used = tokens_used + NEW.tokens_used,
                cost_micros = cost_micros + NEW.cost_micros,
                revenue_micros = revenue_micros + NEW.revenue_micros
            WHERE id = NEW.project_id;
        END;
        CREATE TRIGGER project_totals_agent_update AFTER UPDATE OF status, tokens_used, cost_micros, revenue_micros ON agents BEGIN
            UPDATE projects SET
                active_agents = active_agents + (NEW.status = 'active') - (OLD.status = 'active'),
                tokens_used = tokens_used + NEW.tokens_used - OLD.tokens_used,
                cost_micros = cost_micros + NEW.cost_micros - OLD.cost_micros,
                revenue_micros = revenue_micros + NEW.revenue_micros - OLD.revenue_micros
            WHERE id = NEW.project_id;
        END;
        """

    /// Sandbox version 9: a promotion's plan fixes each agent's production slot, so a re-run
    /// after a crash fills the slots chosen at the start (`--slot-map`). NULL in plans made
    /// before: those agents go to the slots of their names.
    static let promotionSlots = """
        ALTER TABLE promotion_agents ADD COLUMN slot TEXT;
        """

    /// Sandbox version 10: a promotion's plan fixes the guardrails its agents get in
    /// production (`--guardrail KEY=VALUE`, a JSON array of those pairs, applied in order over
    /// the defaults), so a re-run after a crash gives them the same.
    static let promotionGuardrails = """
        ALTER TABLE promotions ADD COLUMN guardrails TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(guardrails));
        """

    /// Sandbox version 11: time-limited projects, templates and snapshots.
    ///
    /// - A project may expire (`expires_at`); the partial index makes "has anything expired?"
    ///   one index probe that finds nothing when nothing has, which every opening of the
    ///   sandbox asks. A killed project says why (`kill_reason`); a workspace still to delete
    ///   after an expiry is flagged until it is gone, so a crash in between is finished later.
    /// - Runs gain the stop reason `project_expired`: the CHECK is rebuilt as in version 5.
    /// - Experiment repositories say which agent type they hold experiments for, and who made
    ///   them (the HTTP API's fields).
    /// - An in-place restore deletes agents (of the project it rolls back), so the totals
    ///   triggers learn deletions; `workspace_swaps` holds a restore's workspace change until
    ///   it is done, so a crash between the database and the folders is finished by the next
    ///   command.
    static let timeLimits = """
        ALTER TABLE projects ADD COLUMN expires_at TEXT;
        ALTER TABLE projects ADD COLUMN delete_on_expiry INTEGER NOT NULL DEFAULT 0 CHECK (delete_on_expiry IN (0, 1));
        ALTER TABLE projects ADD COLUMN kill_reason TEXT CHECK (kill_reason IN ('manual', 'expired'));
        ALTER TABLE projects ADD COLUMN workspace_deletion_pending INTEGER NOT NULL DEFAULT 0
            CHECK (workspace_deletion_pending IN (0, 1));
        UPDATE projects SET kill_reason = 'manual' WHERE status = 'killed';
        CREATE INDEX projects_expiring ON projects (expires_at) WHERE status = 'active' AND expires_at IS NOT NULL;
        CREATE INDEX projects_deleting ON projects (id) WHERE workspace_deletion_pending = 1;

        CREATE TABLE runs_v11 (
        \(runColumnsV11),
            reserved_tokens  INTEGER NOT NULL DEFAULT 0 CHECK (reserved_tokens >= 0)
        ) STRICT;
        INSERT INTO runs_v11 SELECT * FROM runs;
        DROP TABLE runs;
        ALTER TABLE runs_v11 RENAME TO runs;
        CREATE INDEX runs_by_agent ON runs (agent_id, id);
        CREATE INDEX runs_open ON runs (id) WHERE ended_at IS NULL;

        CREATE TRIGGER sandbox_totals_agent_delete AFTER DELETE ON agents BEGIN
            UPDATE sandbox_totals SET
                total_agents = total_agents - 1,
                active_agents = active_agents - (OLD.status = 'active'),
                cost_micros = cost_micros - OLD.cost_micros,
                revenue_micros = revenue_micros - OLD.revenue_micros;
        END;
        CREATE TRIGGER project_totals_agent_delete AFTER DELETE ON agents BEGIN
            UPDATE projects SET
                total_agents = total_agents - 1,
                active_agents = active_agents - (OLD.status = 'active'),
                tokens_used = tokens_used - OLD.tokens_used,
                cost_micros = cost_micros - OLD.cost_micros,
                revenue_micros = revenue_micros - OLD.revenue_micros
            WHERE id = OLD.project_id;
        END;

        CREATE TABLE templates (
            name       TEXT PRIMARY KEY,
            document   TEXT NOT NULL CHECK (json_valid(document)),
            created_at TEXT NOT NULL
        ) STRICT;

        ALTER TABLE repositories ADD COLUMN agent_type TEXT;
        ALTER TABLE repositories ADD COLUMN created_by TEXT NOT NULL DEFAULT '';

        CREATE TABLE workspace_swaps (
            project_id TEXT PRIMARY KEY REFERENCES projects (id),
            staging    TEXT NOT NULL,
            started_at TEXT NOT NULL
        ) STRICT;
        """

    /// The columns of sandbox runs as of version 11: version 5's, with `project_expired`, and
    /// IDs never used twice (AUTOINCREMENT): an in-place restore deletes the runs after its
    /// snapshot, and a new run must not take one of their numbers, which name their log files.
    static let runColumnsV11 = runColumns
        .replacing("'agent_killed',", with: "'agent_killed', 'project_expired',")
        .replacing("id               INTEGER PRIMARY KEY,", with: "id               INTEGER PRIMARY KEY AUTOINCREMENT,")

    static let sandboxMigrations: [String] = [
        ledger + "\n" + sandboxOnly, runs, totals, repositories, supervisedRuns, budgets, pricing, projectTotals, promotionSlots,
        promotionGuardrails, timeLimits,
    ]
    /// Production version 4: slots and their versions, and the append-only history of every
    /// change to production; each row names the slot's live version after it
    /// (`live_agent_id`, NULL for an empty slot), which answers "what was live at T". A promoted agent fills a slot (a stable name callers use); one
    /// version per slot is `live`, the unique index says so. Agents promoted before slots
    /// existed fill the slot of their name, the last promoted (the last row) live and the
    /// others on standby, and the history starts with their promotions (`oldPromotions`).
    static let slots = """
        ALTER TABLE agents ADD COLUMN slot TEXT;
        ALTER TABLE agents ADD COLUMN state TEXT CHECK (state IN ('live', 'standby', 'rolled_back', 'retired'));
        UPDATE agents SET slot = name WHERE promoted_from_agent_id IS NOT NULL;
        CREATE INDEX agents_by_slot ON agents (slot);
        UPDATE agents SET state = CASE
            WHEN rowid = (SELECT max(newest.rowid) FROM agents AS newest WHERE newest.slot = agents.slot) THEN 'live'
            ELSE 'standby' END
        WHERE slot IS NOT NULL;
        CREATE UNIQUE INDEX agents_one_live_per_slot ON agents (slot) WHERE state = 'live';

        CREATE TABLE production_events (
            id                INTEGER PRIMARY KEY AUTOINCREMENT,
            at                TEXT NOT NULL,
            kind              TEXT NOT NULL CHECK (kind IN ('promotion', 'rollback', 'retire', 'guardrail', 'budget')),
            slot              TEXT,
            agent_id          TEXT,
            previous_agent_id TEXT,
            live_agent_id     TEXT,
            actor             TEXT NOT NULL,
            reason            TEXT NOT NULL DEFAULT '',
            details           TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details))
        ) STRICT;
        CREATE INDEX production_events_by_slot ON production_events (slot, id);
        CREATE INDEX production_events_by_agent ON production_events (agent_id, id);
        CREATE TRIGGER production_events_no_replace BEFORE INSERT ON production_events
        WHEN EXISTS (SELECT 1 FROM production_events WHERE id = NEW.id) BEGIN
            SELECT RAISE(ABORT, 'production_events is append-only');
        END;
        CREATE TRIGGER production_events_no_update BEFORE UPDATE ON production_events BEGIN
            SELECT RAISE(ABORT, 'production_events is append-only');
        END;
        CREATE TRIGGER production_events_no_delete BEFORE DELETE ON production_events BEGIN
            SELECT RAISE(ABORT, 'production_events is append-only');
        END;
        INSERT INTO production_events (at, kind, slot, agent_id, previous_agent_id, live_agent_id, actor, reason, details)
            SELECT at, kind, slot, agent_id, previous_agent_id, live_agent_id, actor, reason, details FROM (\(oldPromotions)) ORDER BY number;
        """

    /// The promotions of a production database from before slots, as history rows: each
    /// promoted agent, in the order promoted (rowid), in the slot of its name, after the one
    /// before it there. The upgrade writes them; a read-only command shows them as they
    /// would be written.
    static let oldPromotions = """
        SELECT row_number() OVER (ORDER BY rowid) AS number, deployed_at AS at, 'promotion' AS kind, name AS slot,
               id AS agent_id, lag(id) OVER (PARTITION BY name ORDER BY rowid) AS previous_agent_id, id AS live_agent_id, 'sandbox promote' AS actor,
               'promoted from project ' || coalesce(promoted_from_project_id, '?') || ' before slots existed' AS reason,
               json_object('project_id', promoted_from_project_id, 'sandbox_agent_id', promoted_from_agent_id) AS details
        FROM agents WHERE promoted_from_agent_id IS NOT NULL
        """

    /// Production version 5: guardrails, and runs (`production run`, the sandbox's `runs`
    /// table as it is now). Each promoted agent has its policy (the defaults
    /// for agents promoted before) and the figures of its sandbox period to compare against
    /// (NULL when promoted before: the comparison is then skipped); every check is kept with
    /// what it measured; `live_since` is when the agent last went live, from which its bake
    /// time runs. Records are indexed by agent and time for the checks' windows.
    static let guardrails = """
        ALTER TABLE agents ADD COLUMN live_since TEXT;
        UPDATE agents SET live_since = deployed_at WHERE state = 'live';
        CREATE TABLE guardrails (
            agent_id               TEXT PRIMARY KEY REFERENCES agents (id),
            min_roi                REAL NOT NULL DEFAULT 0,
            min_roi_vs_sandbox     REAL NOT NULL DEFAULT 50 CHECK (min_roi_vs_sandbox >= 0),
            min_events             INTEGER NOT NULL DEFAULT 20 CHECK (min_events >= 0),
            window_seconds         INTEGER NOT NULL DEFAULT 86400 CHECK (window_seconds > 0),
            bake_seconds           INTEGER NOT NULL DEFAULT 86400 CHECK (bake_seconds >= 0),
            failure_limit          INTEGER NOT NULL DEFAULT 3 CHECK (failure_limit >= 1),
            sandbox_tokens         INTEGER,
            sandbox_cost_micros    INTEGER,
            sandbox_revenue_micros INTEGER,
            sandbox_usage_events   INTEGER,
            sandbox_revenue_events INTEGER
        ) STRICT;
        INSERT INTO guardrails (agent_id) SELECT id FROM agents WHERE slot IS NOT NULL;
        CREATE TABLE guardrail_checks (
            id                   INTEGER PRIMARY KEY,
            agent_id             TEXT NOT NULL REFERENCES agents (id),
            slot                 TEXT NOT NULL,
            checked_at           TEXT NOT NULL,
            verdict              TEXT NOT NULL CHECK (verdict IN ('pass', 'fail', 'inconclusive')),
            reason               TEXT NOT NULL,
            consecutive_failures INTEGER NOT NULL CHECK (consecutive_failures >= 0),
            action               TEXT NOT NULL CHECK (action IN ('none', 'rolled_back')),
            measurements         TEXT NOT NULL CHECK (json_valid(measurements))
        ) STRICT;
        CREATE INDEX guardrail_checks_by_agent ON guardrail_checks (agent_id, id);
        CREATE INDEX api_costs_by_agent_time ON api_costs (agent_id, recorded_at);
        CREATE INDEX revenue_by_agent_time ON revenue (agent_id, recorded_at);

        CREATE TABLE runs (
        \(runColumns),
            reserved_tokens  INTEGER NOT NULL DEFAULT 0 CHECK (reserved_tokens >= 0)
        ) STRICT;
        CREATE INDEX runs_by_agent ON runs (agent_id, id);
        CREATE INDEX runs_open ON runs (id) WHERE ended_at IS NULL;
        """

    static let productionMigrations: [String] = [ledger, pauseReason, pricing, slots, guardrails]
}
