import ExperimentRepos
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import SQLiteDB
import Supervision

extension Sandbox {
    /// `HOME/sandbox/repositories`.
    var repositoriesFolder: URL { paths.sandboxFolder.appendingPathComponent("repositories", isDirectory: true) }

    /// Creates an experiment repository: `README.md`, `experiments/`, `tests/`, `results/` and
    /// `logs/` committed on `branch`, under `HOME/sandbox/repositories/NAME/`.
    ///
    /// The remote is `remote`, else `EXPERIMENT_REPOSITORY_URL`; with neither, and with
    /// `GITHUB_TOKEN` and `GITHUB_USERNAME` set, a private repository is created through the
    /// GitHub API (`GITHUB_API_URL` for GitHub Enterprise) and used as `origin`; if GitHub
    /// cannot be reached the repository stays local, with a warning. Commits are pushed
    /// unless `EXPERIMENT_AUTO_PUSH=false`. The token is sent only in HTTP headers.
    ///
    /// - Parameters:
    ///   - agentType: the type of agent its experiments are for (checked like `deploy`'s).
    ///   - createdBy: who creates it; nil: the login name of the user running novaos.
    public func createRepository(
        name: String? = nil, project: ProjectID? = nil, description: String = "", branch: String? = nil, remote: String? = nil,
        agentType: String? = nil, createdBy: String? = nil, options: RepositoryOptions = RepositoryOptions()
    ) throws -> ExperimentRepository {
        guard !isEphemeral else {
            throw SandboxError.invalidState("there is no sandbox yet at \(paths.sandboxDatabase.path): create a project first")
        }
        try requireWritable()
        try validateText(description, field: "description", maximumLength: Self.maximumDescriptionLength, allowEmpty: true)
        if let agentType { try AgentTypes.validate(agentType) }
        let createdBy = createdBy ?? ProductionStore.userName ?? ""
        try validateText(createdBy, field: "created_by", maximumLength: Self.maximumNameLength, allowEmpty: true)
        let branch = branch ?? nonEmpty(options.environment["EXPERIMENT_BRANCH"]) ?? "main"
        try Self.validateGitName(branch, what: "branch")
        if let name { try Self.validateGitName(name, what: "repository name") }
        let remote = remote ?? nonEmpty(options.environment["EXPERIMENT_REPOSITORY_URL"])
        if let remote { try Self.validateRemote(remote) }
        if let project {
            let status = try read { try loadProject(project).status }
            guard status == .active else { throw SandboxError.invalidState("project \(project) is \(status.rawValue); repositories can only be added to an active project") }
        }
        let git = try mappingLowerErrors { try Git(environment: options.environment, identity: options.identity) }
        let createdAt = now()

        // Choose the name and claim the folder (mkdir fails if another process took it).
        do {
            try FileManager.default.createDirectory(at: repositoriesFolder, withIntermediateDirectories: true)
        } catch {
            let path = failingPath(of: error) ?? repositoriesFolder.path
            throw SandboxError.fileSystem(path: path, message: "cannot create \(path): \(firstLine(of: error))")
        }
        let base = name ?? "ai-sandbox-experiments-" + Self.compactTimestamp(createdAt)
        var chosen = base
        var suffix = 1
        while true {
            let taken = try read { try db.scalarInt("SELECT count(*) FROM repositories WHERE name = ?", [chosen]) } > 0
            if !taken, mkdir(repositoriesFolder.appendingPathComponent(chosen).path, 0o755) == 0 { break }
            if name != nil {
                throw SandboxError.invalidState("a repository named \(quoted(chosen)) already exists")
            }
            suffix += 1
            chosen = "\(base)-\(suffix)"
        }
        let folder = repositoriesFolder.appendingPathComponent(chosen)
        var created = false
        defer { if !created { try? FileManager.default.removeItem(at: folder) } }

        let id = "rep_" + String(UUID().uuidString.lowercased().replacing("-", with: "").prefix(12))
        try writeSkeleton(folder: folder, name: chosen, description: description, project: project)
        try mappingLowerErrors {
            try git.run(["init", "--quiet", "--initial-branch", branch], in: folder.path)
            try git.run(["add", "--all"], in: folder.path)
            try git.run(["commit", "--quiet", "-m", "Create experiment repository \(chosen)"], in: folder.path)
        }

        var type = RepositoryType.local
        var url: String?
        var pushAuthorization: [String: String] = [:]
        if let remote {
            type = .remote
            url = remote
        } else if let token = nonEmpty(options.environment["GITHUB_TOKEN"]), let user = nonEmpty(options.environment["GITHUB_USERNAME"]) {
            let api = URL(string: nonEmpty(options.environment["GITHUB_API_URL"]) ?? "https://api.github.com") ?? URL(string: "https://api.github.com")!
            do {
                let repository = try GitHubClient(baseURL: api, username: user, token: token, environment: options.environment).createRepository(
                    name: chosen, description: description.isEmpty ? "novaos experiment repository" : description, isPrivate: true
                )
                type = .github
                url = repository.cloneURL
                pushAuthorization = Git.authorization(username: user, token: token)
            } catch {
                options.warn("GitHub repository not created (\(token.isEmpty ? firstLine(of: error) : firstLine(of: error).replacing(token, with: "***"))); keeping \(chosen) local")
            }
        }
        if let url {
            try mappingLowerErrors { try git.run(["remote", "add", "origin", url], in: folder.path) }
        }
        let repository = ExperimentRepository(
            id: id, name: chosen, path: folder.path, url: url, description: description, projectID: project,
            repositoryType: type, isPrivate: type != .remote, branch: branch, createdAt: createdAt, agentType: agentType, createdBy: createdBy
        )
        try write {
            if let project {
                guard try loadProject(project).status == .active else { throw SandboxError.invalidState("project \(project) is no longer active") }
            }
            try db.run(
                """
                INSERT INTO repositories (id, name, path, url, description, project_id, repository_type, is_private, branch, created_at,
                                          agent_type, created_by)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                id, chosen, folder.path, url, description, project?.rawValue, type.rawValue, repository.isPrivate, branch,
                Timestamp.string(from: createdAt), agentType, createdBy
            )
        }
        created = true
        if url != nil { push(repository, git: git, options: options, authorization: pushAuthorization) }
        return repository
    }

    /// Pushes the branch to `origin` unless auto-push is off; a failure is a warning, since
    /// the commit is safe locally and the next push carries it.
    private func push(_ repository: ExperimentRepository, git: Git, options: RepositoryOptions, authorization: [String: String]) {
        guard options.autoPush, repository.url != nil else { return }
        do {
            try git.run(["push", "--quiet", "--set-upstream", "origin", repository.branch], in: repository.path, extraEnvironment: authorization)
        } catch {
            options.warn("push of \(repository.name) to origin failed (\(firstLine(of: error))); the commit is kept locally")
        }
    }

    /// The token for pushing to a GitHub repository, from the environment, as headers.
    private func authorization(for repository: ExperimentRepository, options: RepositoryOptions) -> [String: String] {
        guard repository.repositoryType == .github, let token = nonEmpty(options.environment["GITHUB_TOKEN"]),
              let user = nonEmpty(options.environment["GITHUB_USERNAME"]) else { return [:] }
        return Git.authorization(username: user, token: token)
    }

    private func writeSkeleton(folder: URL, name: String, description: String, project: ProjectID?) throws {
        let readme = """
            # \(name)

            An experiment repository of [novaos](https://example.invalid/novaos): the code and evidence of AI-agent
            experiments, kept apart from the main codebase.\(project.map { "\n\nIt belongs to sandbox project `\($0)`." } ?? "")
            \(description.isEmpty ? "" : "\n\(description)\n")
            - `experiments/<id>/metadata.json`: what was tested (repository, commit, time, outcome)
            - `results/<id>.json`: the full result: test suites and code analysis
            - `logs/<id>.log`: the test suites' output
            - `tests/`: tests of the experiments themselves

            Results are recorded by `novaos repo run`; every result is one commit.

            """
        do {
            try readme.write(to: folder.appendingPathComponent("README.md"), atomically: true, encoding: .utf8)
            for sub in ["experiments", "tests", "results", "logs"] {
                let subfolder = folder.appendingPathComponent(sub)
                try FileManager.default.createDirectory(at: subfolder, withIntermediateDirectories: true)
                try Data().write(to: subfolder.appendingPathComponent(".gitkeep"))
            }
        } catch {
            throw SandboxError.fileSystem(path: folder.path, message: "cannot write the repository skeleton (\(firstLine(of: error)))")
        }
    }

    /// Every experiment repository (or a project's), with figures from git and the database.
    public func listRepositories(project: ProjectID? = nil, options: RepositoryOptions = RepositoryOptions()) throws -> RepositoryList {
        let (repositories, counts): ([ExperimentRepository], [String: Int]) = try read {
            if let project { _ = try loadProject(project) }
            var counts: [String: Int] = [:]
            for (id, count) in try db.query("SELECT repository_id, count(*) FROM experiment_results GROUP BY repository_id", [], { ($0.text(0), $0.int(1)) }) {
                counts[id] = count
            }
            return (try loadRepositories(project: project), counts)
        }
        let git = try? Git(environment: options.environment, identity: options.identity, timeout: 30)
        var summaries: [RepositorySummary] = []
        for repository in repositories {
            var commits = 0
            var last: Date?
            if let git {
                commits = Int((try? git.line(["rev-list", "--count", "HEAD"], in: repository.path)) ?? "") ?? 0
                if let stamp = try? git.line(["log", "-1", "--format=%ct"], in: repository.path), let seconds = TimeInterval(stamp) {
                    last = Date(timeIntervalSince1970: seconds)
                }
            }
            let status = FileManager.default.fileExists(atPath: repository.path + "/.git") ? "active" : "missing"
            summaries.append(RepositorySummary(
                id: repository.id, name: repository.name, url: repository.url, repositoryType: repository.repositoryType,
                status: status, branch: repository.branch, experimentsCount: counts[repository.id] ?? 0, totalCommits: commits,
                lastActivity: last, createdAt: repository.createdAt, projectID: repository.projectID,
                description: repository.description, agentType: repository.agentType, isPrivate: repository.isPrivate, createdBy: repository.createdBy
            ))
        }
        return RepositoryList(repositories: summaries)
    }

    static let repositoryColumns = "id, name, path, url, description, project_id, repository_type, is_private, branch, created_at, agent_type, created_by"

    static func decodeRepository(_ row: Row) -> ExperimentRepository {
        ExperimentRepository(
            id: row.text(0), name: row.text(1), path: row.text(2), url: row.optionalText(3), description: row.text(4),
            projectID: row.optionalText(5).map(ProjectID.init(unchecked:)), repositoryType: RepositoryType(rawValue: row.text(6)) ?? .local,
            isPrivate: row.bool(7), branch: row.text(8), createdAt: Timestamp.date(from: row.text(9)),
            agentType: row.optionalText(10), createdBy: row.text(11)
        )
    }

    func loadRepositories(project: ProjectID?) throws -> [ExperimentRepository] {
        try db.query(
            "SELECT \(Self.repositoryColumns) FROM repositories WHERE ?1 IS NULL OR project_id = ?1 ORDER BY created_at, rowid",
            [project?.rawValue], Self.decodeRepository
        )
    }

    /// A repository by ID or name.
    func loadRepository(_ reference: String) throws -> ExperimentRepository {
        guard let repository = try db.queryFirst(
            "SELECT \(Self.repositoryColumns) FROM repositories WHERE id = ?1 OR name = ?1", [reference], Self.decodeRepository
        ) else {
            throw SandboxError.notFound(kind: "experiment repository", id: reference)
        }
        return repository
    }

    /// Checks what `runRepository` is asked for, without starting anything: the repository, a
    /// running experiment, `last` (1 to 1,000), the revisions' form (at most 1,000), and a
    /// source that is a folder or a remote URL without credentials. Returns the repository.
    @discardableResult
    public func checkRepositoryRun(
        _ reference: String, source: String?, revisions: [String], last: Int?, experiment: Int64?, currentDirectory: String
    ) throws -> ExperimentRepository {
        if let last, last < 1 || last > 1_000 { throw SandboxError.invalidInput("--last must be between 1 and 1000") }
        guard revisions.count <= 1_000 else { throw SandboxError.invalidInput("at most 1000 revisions at once, not \(revisions.count)") }
        for revision in revisions where revision.hasPrefix("-") || revision.isEmpty || revision.utf8.contains(0) || revision.utf8.count > 1_000 {
            throw SandboxError.invalidInput("invalid revision \(quoted(revision))")
        }
        if let source {
            if RemoteURL.looksLikeURL(source) {
                try mappingLowerErrors { try RemoteURL.validate(source) }
            } else {
                let local = source.hasPrefix("/") ? source : joinedPath(currentDirectory, source)
                var info = stat()
                guard !source.isEmpty, !source.utf8.contains(0), stat(local, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
                    throw SandboxError.invalidInput("\(quoted(source)) is not a git repository (no such folder)")
                }
            }
        }
        return try read {
            let repository = try loadRepository(reference)
            if let experiment {
                guard try loadExperiment(experiment).completedAt == nil else { throw SandboxError.invalidState("experiment \(experiment) is already completed") }
            }
            return repository
        }
    }

    /// Tests and analyses revisions of `source` (default: the experiment repository itself),
    /// records each result in the database and commits it into the experiment repository.
    ///
    /// - Parameters:
    ///   - revisions: revisions to test; when empty, the last `last` commits, or HEAD.
    ///   - timeout: for each test suite; a suite still running then is killed with its group.
    ///   - experiment: a sandbox experiment (running) completed with these results.
    public func runRepository(
        _ reference: String, source: String? = nil, revisions: [String] = [], last: Int? = nil, timeout: TimeInterval = 600,
        experiment: Int64? = nil, options: RepositoryOptions = RepositoryOptions()
    ) throws -> RepositoryRunSummary {
        try requireWritable()
        let repository = try checkRepositoryRun(
            reference, source: source, revisions: revisions, last: last, experiment: experiment, currentDirectory: options.currentDirectory
        )
        let bubblewrap: Bubblewrap? = options.isolation == .namespace
            ? try mappingLowerErrors { try Bubblewrap.locate(path: options.environment["PATH"], only: nonEmpty(options.environment["NOVAOS_TEST_BWRAP"])) } : nil
        return try mappingLowerErrors {
            try testRevisions(of: repository, source: source, revisions: revisions, last: last, timeout: timeout, experiment: experiment,
                              bubblewrap: bubblewrap, options: options)
        }
    }

    private func testRevisions(
        of repository: ExperimentRepository, source: String?, revisions: [String], last: Int?, timeout: TimeInterval, experiment: Int64?,
        bubblewrap: Bubblewrap?, options: RepositoryOptions
    ) throws -> RepositoryRunSummary {
        let git = try Git(environment: options.environment, identity: options.identity)
        let scratch = try makeTemporaryFolder(prefix: "novaos-repo")
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        // The source, copied once into the scratch folder as a mirror with novaos's own
        // configuration: every later git call reads that copy, never a configuration the
        // repository's owner (or an agent) could have written.
        let sourceName = source ?? repository.path
        let sourcePath = scratch + "/source.git"
        if let source, RemoteURL.looksLikeURL(source) {
            // Validated by `checkRepositoryRun` before anything started.
            try git.run(["clone", "--quiet", "--mirror", "--", source, sourcePath], in: scratch)
        } else {
            let local = source.map { $0.hasPrefix("/") ? $0 : joinedPath(options.currentDirectory, $0) } ?? repository.path
            do {
                try git.mirror(local, to: sourcePath, in: scratch)
            } catch {
                throw SandboxError.invalidInput("\(sourceName) is not a git repository (\(error))")
            }
        }

        var shas: [String] = []
        if !revisions.isEmpty {
            for revision in revisions {
                do {
                    shas.append(try git.line(["rev-parse", "--verify", "--quiet", "--end-of-options", revision + "^{commit}"], in: sourcePath))
                } catch {
                    throw SandboxError.invalidInput("unknown revision \(quoted(revision)) in \(sourceName)")
                }
            }
        } else {
            let output = try git.run(["rev-list", "--max-count=\(last ?? 1)", "HEAD"], in: sourcePath)
            shas = output.split(whereSeparator: \.isNewline).map(String.init).reversed() // oldest first
        }

        var results: [ExperimentResult] = []
        func interrupted() -> SandboxError {
            .invalidState("interrupted after \(results.count) of \(shas.count) revisions; the results of those are recorded")
        }
        for sha in shas {
            if options.shouldInterrupt() { throw interrupted() }
            let message = try git.line(["log", "-1", "--format=%B", sha], in: sourcePath)
            // A private checkout: the revision's files only, no .git and no alternates that
            // would lead the suite back to the source or the experiment repository.
            let checkout = scratch + "/checkout-\(sha.prefix(12))"
            let home = scratch + "/home-\(sha.prefix(12))"
            guard mkdir(checkout, 0o700) == 0, mkdir(home, 0o700) == 0 else {
                throw SandboxError.fileSystem(path: checkout, message: "cannot create the checkout: \(String(cString: strerror(errno)))")
            }
            try git.export(commit: sha, from: sourcePath, into: checkout, scratch: scratch)
            if bubblewrap != nil { paths.prepareHiding() }
            let containment = bubblewrap.map {
                ProcessRunner.Containment(bubblewrap: $0, layout: SandboxLayout(
                    writable: [checkout, home], hidden: paths.hiddenFromUntrustedCode(environment: options.environment),
                    network: options.network, directory: checkout
                ))
            }
            let environment = TestSuites.environment(from: options.environment, home: home)
            let suites = TestSuites.detect(in: checkout)
            let suiteResults = suites.map {
                TestSuites.run($0, in: checkout, environment: environment, timeout: timeout, containment: containment, shouldStop: options.shouldInterrupt)
            }
            let analysis = CodeAnalysis.analyse(checkout, environment: environment, containment: containment, shouldStop: options.shouldInterrupt)
            try? FileManager.default.removeItem(atPath: checkout)
            try? FileManager.default.removeItem(atPath: home)
            if options.shouldInterrupt() { throw interrupted() }

            let ran = suiteResults.filter { $0.status != "skipped" }
            let success = !ran.isEmpty && ran.allSatisfy(\.success)
            let status = ran.isEmpty ? "no_tests" : (success ? "passed" : "failed")
            // Recorded one run at a time per repository (other processes too): the result's ID
            // is chosen, its files committed and its row stored under one lock, so two runs of
            // the same revision in the same second get two IDs and git never sees two commits
            // at once.
            let result = try mappingLowerErrors { () throws -> ExperimentResult in
                let lock = try FileLock("novaos-record.lock", in: try Directory.open(repository.path + "/.git"))
                defer { withExtendedLifetime(lock) {} }
                let timestamp = now()
                var result = ExperimentResult(
                    experimentID: try newResultID(sha: sha, at: timestamp, repository: repository), repositoryID: repository.id,
                    sandboxExperimentID: experiment, source: sourceName, commitSHA: sha, commitMessage: message, status: status,
                    success: success, timestamp: timestamp, testResults: suiteResults, analysisResults: analysis, repositoryCommit: nil
                )
                result.repositoryCommit = try recordInRepository(result, repository: repository, git: git)
                try storeResult(result)
                return result
            }
            push(repository, git: git, options: options, authorization: authorization(for: repository, options: options))
            results.append(result)
        }

        let summary = RepositoryRunSummary(
            experimentsRun: results.count, successfulExperiments: results.filter(\.success).count,
            testsRun: results.reduce(0) { $0 + $1.testResults.filter { $0.status != "skipped" }.count }, results: results
        )
        if let experiment {
            let document = JSONValue.object([
                "repository_id": .string(repository.id),
                "experiments_run": .integer(Int64(summary.experimentsRun)),
                "successful_experiments": .integer(Int64(summary.successfulExperiments)),
                "results": .array(results.map { .object(["experiment_id": .string($0.experimentID), "commit_sha": .string($0.commitSHA), "status": .string($0.status)]) }),
            ])
            _ = try completeExperiment(experiment, success: !results.isEmpty && summary.successfulExperiments == results.count, resultsJSON: document.jsonText)
        }
        return summary
    }

    /// Writes a result's files into the experiment repository and commits them; returns the commit.
    private func recordInRepository(_ result: ExperimentResult, repository: ExperimentRepository, git: Git) throws -> String {
        let encoder = SandboxJSON.encoder()
        let folder = URL(fileURLWithPath: repository.path)
        let id = result.experimentID
        let metadata = JSONValue.object([
            "experiment_id": .string(id), "repository_id": .string(result.repositoryID), "source": .string(result.source),
            "commit_sha": .string(result.commitSHA), "commit_message": .string(result.commitMessage), "status": .string(result.status),
            "success": .bool(result.success), "timestamp": .string(Timestamp.string(from: result.timestamp)),
            "sandbox_experiment_id": result.sandboxExperimentID.map(JSONValue.integer) ?? .null,
        ])
        var log = ""
        for suite in result.testResults {
            log += "=== \(suite.type): \(suite.status) (\(suite.command)) ===\n"
            if let reason = suite.reason { log += "\(reason)\n" }
            log += suite.output + (suite.output.hasSuffix("\n") || suite.output.isEmpty ? "" : "\n")
        }
        if result.testResults.isEmpty { log += "No test suite found.\n" }
        do {
            let experimentFolder = folder.appendingPathComponent("experiments/\(id)")
            try FileManager.default.createDirectory(at: experimentFolder, withIntermediateDirectories: true)
            try (String(decoding: try encoder.encode(metadata), as: UTF8.self) + "\n").write(to: experimentFolder.appendingPathComponent("metadata.json"), atomically: true, encoding: .utf8)
            var stored = result
            stored.repositoryCommit = nil
            try (String(decoding: try encoder.encode(stored), as: UTF8.self) + "\n").write(to: folder.appendingPathComponent("results/\(id).json"), atomically: true, encoding: .utf8)
            try log.write(to: folder.appendingPathComponent("logs/\(id).log"), atomically: true, encoding: .utf8)
        } catch {
            throw SandboxError.fileSystem(path: repository.path, message: "cannot write the result files (\(firstLine(of: error)))")
        }
        try git.run(["add", "--", "experiments/\(id)", "results/\(id).json", "logs/\(id).log"], in: repository.path)
        let subject = result.commitMessage.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        try git.run(["commit", "--quiet", "-m", "Record \(id): \(result.status) at \(result.commitSHA.prefix(12)) \(subject)"], in: repository.path)
        return try git.line(["rev-parse", "HEAD"], in: repository.path)
    }

    private func storeResult(_ result: ExperimentResult) throws {
        let encoder = SandboxJSON.encoder(pretty: false)
        try write {
            try db.run(
                """
                INSERT INTO experiment_results (id, repository_id, sandbox_experiment_id, source, commit_sha, commit_message, status, success,
                                                timestamp, test_results, analysis_results, repository_commit)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                result.experimentID, result.repositoryID, result.sandboxExperimentID, result.source, result.commitSHA, result.commitMessage,
                result.status, result.success, Timestamp.string(from: result.timestamp),
                String(decoding: try encoder.encode(result.testResults), as: UTF8.self),
                String(decoding: try encoder.encode(result.analysisResults), as: UTF8.self), result.repositoryCommit
            )
        }
    }

    /// One stored result.
    public func experimentResult(_ id: String) throws -> ExperimentResult {
        try read {
            let decoder = SandboxJSON.decoder()
            let result = try db.queryFirst(
                """
                SELECT id, repository_id, sandbox_experiment_id, source, commit_sha, commit_message, status, success, timestamp,
                       test_results, analysis_results, repository_commit
                FROM experiment_results WHERE id = ?
                """,
                [id]
            ) { row in
                ExperimentResult(
                    experimentID: row.text(0), repositoryID: row.text(1), sandboxExperimentID: row.optionalInt64(2), source: row.text(3),
                    commitSHA: row.text(4), commitMessage: row.text(5), status: row.text(6), success: row.bool(7),
                    timestamp: Timestamp.date(from: row.text(8)),
                    testResults: try decoder.decode([TestSuiteResult].self, from: Data(row.text(9).utf8)),
                    analysisResults: try decoder.decode(AnalysisResult.self, from: Data(row.text(10).utf8)),
                    repositoryCommit: row.optionalText(11)
                )
            }
            guard let result else { throw SandboxError.notFound(kind: "experiment result", id: id) }
            return result
        }
    }

    /// An ID no stored result and no result file of the repository has (a run that crashed
    /// between its commit and its row left the file); called under the repository's lock.
    private func newResultID(sha: String, at date: Date, repository: ExperimentRepository) throws -> String {
        let base = "exp_" + Self.compactTimestamp(date) + "_" + sha.prefix(7)
        var id = base
        var suffix = 1
        while try read({ try db.scalarInt("SELECT count(*) FROM experiment_results WHERE id = ?", [id]) }) > 0
            || FileManager.default.fileExists(atPath: repository.path + "/results/\(id).json") {
            suffix += 1
            id = "\(base)_\(suffix)"
        }
        return id
    }

    static func compactTimestamp(_ date: Date) -> String {
        let text = Timestamp.string(from: date) // 2026-11-22T04:30:00Z
        return text.replacing("-", with: "").replacing(":", with: "").replacing("T", with: "_").replacing("Z", with: "")
    }

    /// Checks the arguments of `createRepository` without touching anything, so a caller can
    /// refuse bad input before it opens (or creates) the sandbox.
    public static func validateRepositoryArguments(name: String?, branch: String?, remote: String?) throws {
        if let name { try validateGitName(name, what: "repository name") }
        if let branch { try validateGitName(branch, what: "branch") }
        if let remote { try validateRemote(remote) }
    }

    /// Repository names and branches: letters, digits, `.`, `_`, `-`; not starting with `.` or `-`.
    static func validateGitName(_ value: String, what: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard !value.isEmpty, value.count <= 100, value.allSatisfy({ allowed.contains($0) }), !value.hasPrefix("."), !value.hasPrefix("-"),
              !value.hasSuffix(".lock"), !value.contains("..")
        else {
            throw SandboxError.invalidInput("invalid \(what) \(quoted(value)): use 1-100 letters, digits, '.', '_' or '-', not starting with '.' or '-'")
        }
    }

    /// A remote URL must not carry a credential (it would end up in the database and git's
    /// config) nor look like an option; see `RemoteURL.validate`.
    static func validateRemote(_ value: String) throws {
        try mappingLowerErrors { try RemoteURL.validate(value) }
    }
}
