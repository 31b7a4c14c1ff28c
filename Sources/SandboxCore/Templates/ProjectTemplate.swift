#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The shape of a project, to create more like it: its description, cost cap, lifetime, agents
/// and experiment hypotheses, without any of its data. This is also the file teams share
/// (`template export` / `import`), so it is validated field by field when read.
public struct ProjectTemplate: Codable, Sendable, Equatable {
    /// The `format` of the documents this version writes and reads.
    public static let currentFormat = "novaos-template/1"
    /// The most agents or experiments a template holds.
    public static let maximumEntries = 1_000
    /// The largest template kept in the sandbox, as compact JSON.
    public static let maximumStoredBytes = 1 << 20
    /// The largest template file read (an export is pretty-printed, so larger than what is kept).
    public static let maximumFileBytes = 4 << 20

    public var format: String
    public var name: String
    public var description: String
    /// The project's cost cap.
    @NullEncoded public var budget: Money?
    /// The project's lifetime: each project made from it expires this long after its creation.
    @NullEncoded public var expiresInSeconds: Int64?
    public var deleteOnExpiry: Bool
    public var agents: [Agent]
    public var experiments: [Experiment]

    /// One agent to deploy.
    public struct Agent: Codable, Sendable, Equatable {
        public var type: String
        public var name: String
        /// Its configuration, a JSON object.
        public var config: JSONValue
        /// Its normal token budget (the sandbox gives 10×); ignored when `config` has `token_budget`.
        public var budgetTokens: Int64
        /// Its sandbox token budget when it was set apart from the 10× rule (`sandbox budget
        /// AGENT --tokens N`); null: 10 × `budget_tokens`.
        @NullEncoded public var sandboxBudgetTokens: Int64?

        public init(type: String, name: String, config: JSONValue = .object([:]), budgetTokens: Int64? = nil, sandboxBudgetTokens: Int64? = nil) {
            self.type = type
            self.name = name
            self.config = config
            self.budgetTokens = budgetTokens ?? AgentTypes.normalBudget(for: type)
            self.sandboxBudgetTokens = sandboxBudgetTokens
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            type = try container.decode(String.self, forKey: .type)
            name = try container.decodeIfPresent(String.self, forKey: .name) ?? type
            config = try container.decodeIfPresent(JSONValue.self, forKey: .config) ?? .object([:])
            budgetTokens = try container.decodeIfPresent(Int64.self, forKey: .budgetTokens) ?? AgentTypes.normalBudget(for: type)
            sandboxBudgetTokens = try container.decodeIfPresent(Int64.self, forKey: .sandboxBudgetTokens)
        }

        enum CodingKeys: String, CodingKey {
            case type, name, config
            case budgetTokens = "budget_tokens", sandboxBudgetTokens = "sandbox_budget_tokens"
        }
    }

    /// One experiment to start, with its hypothesis.
    public struct Experiment: Codable, Sendable, Equatable {
        public var name: String
        public var hypothesis: String
        public var config: JSONValue

        public init(name: String, hypothesis: String, config: JSONValue = .object([:])) {
            self.name = name
            self.hypothesis = hypothesis
            self.config = config
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            hypothesis = try container.decodeIfPresent(String.self, forKey: .hypothesis) ?? ""
            config = try container.decodeIfPresent(JSONValue.self, forKey: .config) ?? .object([:])
        }

        enum CodingKeys: String, CodingKey {
            case name, hypothesis, config
        }
    }

    public init(
        name: String, description: String = "", budget: Money? = nil, expiresInSeconds: Int64? = nil, deleteOnExpiry: Bool = false,
        agents: [Agent] = [], experiments: [Experiment] = []
    ) {
        self.format = Self.currentFormat
        self.name = name
        self.description = description
        self.budget = budget
        self.expiresInSeconds = expiresInSeconds
        self.deleteOnExpiry = deleteOnExpiry
        self.agents = agents
        self.experiments = experiments
    }

    /// `format` and `name` are required; every other field may be left out.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        format = try container.decode(String.self, forKey: .format)
        name = try container.decode(String.self, forKey: .name)
        description = try container.decodeIfPresent(String.self, forKey: .description) ?? ""
        budget = try container.decodeIfPresent(Money.self, forKey: .budget)
        expiresInSeconds = try container.decodeIfPresent(Int64.self, forKey: .expiresInSeconds)
        deleteOnExpiry = try container.decodeIfPresent(Bool.self, forKey: .deleteOnExpiry) ?? false
        agents = try container.decodeIfPresent([Agent].self, forKey: .agents) ?? []
        experiments = try container.decodeIfPresent([Experiment].self, forKey: .experiments) ?? []
    }

    enum CodingKeys: String, CodingKey {
        case format, name, description, budget, agents, experiments
        case expiresInSeconds = "expires_in_seconds", deleteOnExpiry = "delete_on_expiry"
    }

    /// Checks a template name: 1-64 letters, digits, `.`, `_` or `-`, starting with a letter or
    /// digit (it is typed on command lines and used in file names).
    public static func validateName(_ name: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard let first = name.first, first.isASCII, first.isLetter || first.isNumber, name.count <= 64, name.allSatisfy({ allowed.contains($0) }) else {
            throw SandboxError.invalidInput(
                "invalid template name \(quoted(name)): use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        }
    }

    /// Checks every field; `where` names the template in messages (its name, or the file it came from).
    func validate(where source: String) throws {
        func fail(_ message: String) -> SandboxError { .invalidInput("template \(source): \(message)") }
        guard format == Self.currentFormat else {
            throw fail("format \(quoted(format)) is not one this novaos reads (\(Self.currentFormat))")
        }
        do {
            try Self.validateName(name)
            try validateText(description, field: "description", maximumLength: Sandbox.maximumDescriptionLength, allowEmpty: true)
        } catch let error as SandboxError {
            throw fail(error.description)
        }
        if let budget, budget.micros <= 0 || budget > Money.recordLimit {
            throw fail("budget must be greater than zero and at most \(Money.recordLimit)")
        }
        if let seconds = expiresInSeconds, seconds <= 0 || Double(seconds) > ProjectExpiry.maximumDuration {
            throw fail("expires_in_seconds must be from 1 to \(Int64(ProjectExpiry.maximumDuration)) (366 days)")
        }
        if deleteOnExpiry, expiresInSeconds == nil { throw fail("delete_on_expiry needs expires_in_seconds") }
        guard agents.count <= Self.maximumEntries, experiments.count <= Self.maximumEntries else {
            throw fail("at most \(Self.maximumEntries) agents and \(Self.maximumEntries) experiments")
        }
        for (index, agent) in agents.enumerated() {
            do {
                try AgentTypes.validate(agent.type)
                try validateText(agent.name, field: "name", maximumLength: Sandbox.maximumNameLength)
                guard case .object = agent.config else { throw SandboxError.invalidInput("config must be a JSON object") }
                guard agent.budgetTokens > 0, agent.budgetTokens <= AgentTypes.maximumNormalBudget else {
                    throw SandboxError.invalidInput("budget_tokens must be a whole number from 1 to \(AgentTypes.maximumNormalBudget)")
                }
                if let tokens = agent.sandboxBudgetTokens, tokens <= 0 || tokens > Sandbox.maximumTokenBudget {
                    throw SandboxError.invalidInput("sandbox_budget_tokens must be a whole number from 1 to \(Sandbox.maximumTokenBudget)")
                }
                _ = try AgentBudget.resolve(type: agent.type, config: agent.configObject)
            } catch let error as SandboxError {
                throw fail("agents[\(index)]: \(error.description)")
            }
        }
        for (index, experiment) in experiments.enumerated() {
            do {
                try validateText(experiment.name, field: "name", maximumLength: Sandbox.maximumNameLength)
                try validateText(experiment.hypothesis, field: "hypothesis", maximumLength: Sandbox.maximumDescriptionLength, allowEmpty: true)
                guard case .object = experiment.config else { throw SandboxError.invalidInput("config must be a JSON object") }
            } catch let error as SandboxError {
                throw fail("experiments[\(index)]: \(error.description)")
            }
        }
    }

    /// Reads a template document (a shared file), refusing what is not exactly one: malformed
    /// JSON, a missing or mistyped field, an unknown key (a typo would otherwise be dropped in
    /// silence), or a value out of range.
    ///
    /// - Parameter source: the file's name, for messages.
    public static func parse(_ data: [UInt8], source: String) throws -> ProjectTemplate {
        func fail(_ message: String) -> SandboxError { .invalidInput("template \(source): \(message)") }
        guard data.count <= maximumFileBytes else {
            throw fail("too large: \(data.count) bytes, at most \(maximumFileBytes) (4 MiB)")
        }
        guard let text = String(validating: data, as: UTF8.self) else { throw fail("not UTF-8 text") }
        // The strict reader first: it refuses what `JSONDecoder` lets by, a key given twice
        // (the second would be dropped in silence) above all.
        do {
            _ = try PositionedJSON.parse(data)
        } catch {
            throw fail("line \(error.line): \(error.message)")
        }
        let object = try JSONValue.parseObject(text, what: "template \(source)", maximumBytes: maximumFileBytes)
        if let unknown = object.keys.sorted().first(where: { !CodingKeys.allNames.contains($0) }) {
            throw fail("unknown key \(quoted(unknown)) (known: \(CodingKeys.allNames.sorted().joined(separator: ", ")))")
        }
        for (list, keys) in [("agents", Agent.CodingKeys.allNames), ("experiments", Experiment.CodingKeys.allNames)] {
            guard case .array(let items)? = object[list] else { continue }
            for (index, item) in items.enumerated() {
                guard case .object(let fields) = item else { throw fail("\(list)[\(index)] must be a JSON object") }
                if let unknown = fields.keys.sorted().first(where: { !keys.contains($0) }) {
                    throw fail("\(list)[\(index)]: unknown key \(quoted(unknown)) (known: \(keys.sorted().joined(separator: ", ")))")
                }
            }
        }
        let template: ProjectTemplate
        do {
            template = try JSONDecoder().decode(ProjectTemplate.self, from: Data(text.utf8))
        } catch let error as SandboxError {
            throw fail(error.description)
        } catch let error as DecodingError {
            throw fail(describe(error))
        }
        try template.validate(where: source)
        return template
    }

    /// A decoding error as one line naming the field.
    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined().drop { $0 == "." }.description
        }
        switch error {
        case .keyNotFound(let key, let context):
            let at = path(context)
            return "missing \(at.isEmpty ? "" : at + ".")\(key.stringValue)"
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            return "\(path(context)) must be \(typeName(type))"
        case .dataCorrupted(let context):
            let at = path(context)
            return at.isEmpty ? "a number out of range" : "\(at): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int64.Type, is Int.Type: "a whole number"
        case is Decimal.Type: "a number"
        default: "a \(type)"
        }
    }
}

extension ProjectTemplate.Agent {
    /// The sandbox budget `deploy` gives it: `token_budget` in its config, else 10 × its normal budget.
    var deployedSandboxBudget: Int64 {
        if case .integer(let tokens)? = configObject["token_budget"] { return tokens }
        return budgetTokens * AgentTypes.sandboxMultiplier
    }

    /// The configuration as an object (`validate` makes sure it is one).
    var configObject: [String: JSONValue] {
        if case .object(let object) = config { return object }
        return [:]
    }
}

protocol NamedKeys: CodingKey, CaseIterable {}

extension NamedKeys {
    static var allNames: Set<String> { Set(allCases.map(\.stringValue)) }
}

extension ProjectTemplate.CodingKeys: NamedKeys {}
extension ProjectTemplate.Agent.CodingKeys: NamedKeys {}
extension ProjectTemplate.Experiment.CodingKeys: NamedKeys {}
