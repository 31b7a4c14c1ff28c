#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SQLiteDB
import Supervision

/// One row of `sandbox template list`.
public struct TemplateSummary: Codable, Sendable, Equatable {
    public var name: String
    /// True for the templates novaos ships (`ab-test`, `model-sweep`), which take `--set`.
    public var builtIn: Bool
    public var description: String
    /// How many agents and experiments it makes; null for built-ins (their settings decide).
    @NullEncoded public var agents: Int?
    @NullEncoded public var experiments: Int?
    /// When it was saved or imported; null for built-ins.
    @NullEncoded public var createdAt: Date?

    enum CodingKeys: String, CodingKey {
        case name, description, agents, experiments
        case builtIn = "built_in", createdAt = "created_at"
    }
}

/// The templates `sandbox template list` shows: the built-ins, then the saved ones by name.
public struct TemplateList: Codable, Sendable, Equatable {
    public var templates: [TemplateSummary]
}

/// One template, for `sandbox template show`.
public struct TemplateDetail: Codable, Sendable, Equatable {
    public var name: String
    public var builtIn: Bool
    /// What a built-in takes (`--set …`); null for saved templates.
    @NullEncoded public var usage: String?
    /// A saved template's document, as `export` writes it; null for built-ins.
    @NullEncoded public var template: ProjectTemplate?
    public var description: String

    enum CodingKeys: String, CodingKey {
        case name, usage, template, description
        case builtIn = "built_in"
    }
}

/// What `template delete` did.
public struct TemplateDeletion: Codable, Sendable, Equatable {
    public var name: String
    public var deleted: Bool
}

extension Sandbox {
    /// Saves the shape of a project as a template called `name`: description, cap, lifetime,
    /// agents (type, name, config, normal budget, whatever their status) and experiments
    /// (name, hypothesis, config). None of its data comes along.
    ///
    /// - Parameter replace: overwrite a saved template of that name instead of refusing.
    public func saveTemplate(project id: ProjectID, name: String, replace: Bool = false) throws -> ProjectTemplate {
        try ProjectTemplate.validateName(name)
        try refuseBuiltInName(name)
        return try write {
            let project = try loadProject(id)
            let agents = try db.query(
                "SELECT type, name, config, normal_token_budget, token_budget FROM agents WHERE project_id = ? ORDER BY deployed_at, rowid", [id.rawValue]
            ) { row in
                var agent = ProjectTemplate.Agent(type: row.text(0), name: row.text(1), config: JSONValue.decodeStored(row.text(2)), budgetTokens: row.int64(3))
                // A budget changed since deployment (`sandbox budget AGENT --tokens N`) is kept as such.
                if agent.deployedSandboxBudget != row.int64(4) { agent.sandboxBudgetTokens = row.int64(4) }
                return agent
            }
            let experiments = try db.query(
                "SELECT name, hypothesis, config FROM experiments WHERE project_id = ? ORDER BY id", [id.rawValue]
            ) { row in
                ProjectTemplate.Experiment(name: row.text(0), hypothesis: row.text(1), config: JSONValue.decodeStored(row.text(2)))
            }
            let lifetime = project.expiresAt.map { Int64($0.timeIntervalSince(project.createdAt)) }
            var template = ProjectTemplate(
                name: name, description: project.description, budget: project.budget,
                expiresInSeconds: lifetime.map { max(1, $0) }, deleteOnExpiry: project.deleteOnExpiry && lifetime != nil,
                agents: agents, experiments: experiments
            )
            if let seconds = template.expiresInSeconds, Double(seconds) > ProjectExpiry.maximumDuration {
                template.expiresInSeconds = Int64(ProjectExpiry.maximumDuration)
            }
            try template.validate(where: name)
            try storeTemplate(template, replace: replace)
            return template
        }
    }

    /// Stores a template read from a shared file (`ProjectTemplate.parse` validated it).
    public func importTemplate(_ template: ProjectTemplate, replace: Bool = false) throws -> ProjectTemplate {
        try template.validate(where: template.name)
        try refuseBuiltInName(template.name)
        try write { try storeTemplate(template, replace: replace) }
        return template
    }

    /// The built-in templates, then the saved ones by name.
    public func templates() throws -> TemplateList {
        let builtIns = BuiltInTemplate.allCases.map {
            TemplateSummary(name: $0.rawValue, builtIn: true, description: $0.summary, agents: nil, experiments: nil, createdAt: nil)
        }
        let saved = try read {
            try db.query("SELECT name, document, created_at FROM templates ORDER BY name") { (row: Row) throws -> TemplateSummary in
                let template = try decodeTemplate(row.text(1), name: row.text(0))
                let createdAt: Date = Timestamp.date(from: row.text(2) as String)
                return TemplateSummary(
                    name: template.name, builtIn: false, description: template.description, agents: template.agents.count,
                    experiments: template.experiments.count, createdAt: createdAt
                )
            }
        }
        return TemplateList(templates: builtIns + saved)
    }

    /// One template: a built-in's usage, or a saved template's document.
    public func template(named name: String) throws -> TemplateDetail {
        if let builtIn = BuiltInTemplate(rawValue: name) {
            return TemplateDetail(name: name, builtIn: true, usage: builtIn.usage, template: nil, description: builtIn.summary)
        }
        let template = try savedTemplate(name)
        return TemplateDetail(name: name, builtIn: false, usage: nil, template: template, description: template.description)
    }

    /// A saved template's document (what `export` writes).
    public func savedTemplate(_ name: String) throws -> ProjectTemplate {
        if BuiltInTemplate(rawValue: name) != nil {
            throw SandboxError.invalidInput("\(name) is a built-in template: it is made from --set values, so there is no document to export")
        }
        return try read {
            guard let document = try db.queryFirst("SELECT document FROM templates WHERE name = ?", [name], { $0.text(0) }) else {
                throw SandboxError.notFound(kind: "template", id: name)
            }
            return try decodeTemplate(document, name: name)
        }
    }

    /// Writes a saved template to a new file (never replacing one), as JSON teams share.
    public func exportTemplate(_ name: String, to destination: URL) throws -> ProjectTemplate {
        let template = try savedTemplate(name)
        var bytes = try JSONWriter().encode(template)
        bytes.append(UInt8(ascii: "\n"))
        try NewFile.write(bytes, to: destination, what: "an export")
        return template
    }

    /// Deletes a saved template (projects made from it keep everything).
    public func deleteTemplate(_ name: String) throws -> TemplateDeletion {
        try refuseBuiltInName(name)
        return try write {
            try db.run("DELETE FROM templates WHERE name = ?", name)
            guard db.changes == 1 else { throw SandboxError.notFound(kind: "template", id: name) }
            return TemplateDeletion(name: name, deleted: true)
        }
    }

    /// The template `create --template` uses: a built-in made from `settings`, or a saved one
    /// (which takes no settings).
    public func resolveTemplate(_ name: String, settings: [String], projectName: String) throws -> ProjectTemplate {
        if let builtIn = BuiltInTemplate(rawValue: name) {
            return try builtIn.template(projectName: projectName, settings: settings, prices: prices())
        }
        guard settings.isEmpty else {
            throw SandboxError.invalidInput("only the built-in templates (\(BuiltInTemplate.allCases.map(\.rawValue).joined(separator: ", "))) take --set")
        }
        return try savedTemplate(name)
    }

    /// Creates a project from a template, with its agents deployed and its experiments started,
    /// all in one transaction: either all of it exists afterwards or none. `description`,
    /// `budget` and `expiry` replace the template's when given.
    ///
    /// - Parameter deleteOnExpiry: delete the workspace at the template's expiry even if the
    ///   template does not say so (`expiry`, when given, says it itself).
    public func createProject(
        name: String, from template: ProjectTemplate, description: String? = nil, budget: Money? = nil, expiry: ProjectExpiry? = nil,
        deleteOnExpiry: Bool = false
    ) throws -> ProjectDetail {
        try template.validate(where: template.name)
        let now = now()
        let lifetime = expiry ?? template.expiresInSeconds.map {
            ProjectExpiry(after: TimeInterval($0), from: now, deleteWorkspace: template.deleteOnExpiry || deleteOnExpiry)
        }
        var workspace: URL?
        var committed = false
        do {
            let id: ProjectID = try write {
                let project = try createProject(
                    name: name, description: description ?? template.description, budget: budget ?? template.budget, expiry: lifetime
                )
                workspace = URL(fileURLWithPath: project.workspace)
                for agent in template.agents {
                    // A token_budget in the config decides the budget, as it does for deploy.
                    let normal = agent.configObject["token_budget"] == nil ? agent.budgetTokens : nil
                    let deployed = try deployAgent(project: project.id, type: agent.type, name: agent.name, configJSON: agent.config.jsonText, normalBudget: normal)
                    if let tokens = agent.sandboxBudgetTokens, tokens != deployed.tokenBudget {
                        _ = try setTokenBudget(agent: deployed.id, tokens: tokens)
                    }
                }
                for experiment in template.experiments {
                    _ = try startExperiment(project: project.id, name: experiment.name, hypothesis: experiment.hypothesis, configJSON: experiment.config.jsonText)
                }
                return project.id
            }
            committed = true
            return try projectDetail(id)
        } catch {
            // The project was rolled back; its workspace folder, made inside, goes too.
            if !committed, let workspace {
                _ = try? FileTree.remove(workspace.lastPathComponent, in: paths.projectsFolder.path)
            }
            throw error
        }
    }

    private func storeTemplate(_ template: ProjectTemplate, replace: Bool) throws {
        if !replace, try db.scalarInt("SELECT count(*) FROM templates WHERE name = ?", [template.name]) > 0 {
            throw SandboxError.invalidState("a template named \(template.name) exists; delete it first or pass --replace")
        }
        let document = String(decoding: try JSONWriter(pretty: false).encode(template), as: UTF8.self)
        guard document.utf8.count <= ProjectTemplate.maximumStoredBytes else {
            throw SandboxError.invalidInput(
                "template \(template.name) is too large: \(document.utf8.count) bytes as JSON, at most \(ProjectTemplate.maximumStoredBytes) (1 MiB)"
            )
        }
        try db.run(
            "INSERT INTO templates (name, document, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET document = excluded.document, created_at = excluded.created_at",
            template.name, document, Timestamp.string(from: now())
        )
    }

    private func decodeTemplate(_ document: String, name: String) throws -> ProjectTemplate {
        try ProjectTemplate.parse(Array(document.utf8), source: name)
    }

    private func refuseBuiltInName(_ name: String) throws {
        if BuiltInTemplate(rawValue: name) != nil {
            throw SandboxError.invalidInput("\(name) is the name of a built-in template; choose another")
        }
    }
}
