/// The templates novaos ships, made into a `ProjectTemplate` by the settings given with
/// `create --template NAME --set KEY=VALUE`.
public enum BuiltInTemplate: String, CaseIterable, Sendable {
    /// Two agents of one type that differ in one configuration key: `--set KEY=A,B`
    /// (and `--set type=TYPE`, `assistant` by default).
    case abTest = "ab-test"
    /// One agent per model: `--set model=M1,M2,...` (and `--set type=TYPE`).
    case modelSweep = "model-sweep"

    /// What it makes, in one line.
    public var summary: String {
        switch self {
        case .abTest: "Two agents of one type that differ in one config key, and an experiment comparing them."
        case .modelSweep: "One agent per model, the same type and config otherwise, and an experiment comparing them."
        }
    }

    /// How to call it.
    public var usage: String {
        switch self {
        case .abTest: "--set KEY=A,B [--set type=TYPE] (e.g. --set temperature=0.2,0.8)"
        case .modelSweep: "--set model=M1,M2,... [--set type=TYPE] (models from 'novaos prices list')"
        }
    }

    /// The template for these settings (each `KEY=VALUE` as given), for a project called
    /// `projectName`. Models are checked against `prices`.
    public func template(projectName: String, settings: [String], prices: PriceCatalog) throws -> ProjectTemplate {
        let values = try Self.parseSettings(settings)
        let type = values.first { $0.key == "type" }?.value ?? "assistant"
        try AgentTypes.validate(type)
        let varying = values.filter { $0.key != "type" }
        switch self {
        case .abTest:
            guard varying.count == 1, let (key, list) = varying.first else {
                throw SandboxError.invalidInput("ab-test takes one key to vary: \(usage)")
            }
            let options = list.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard options.count == 2, !options[0].isEmpty, !options[1].isEmpty, !Self.sameValue(options[0], options[1]) else {
                throw SandboxError.invalidInput("ab-test needs two different values for \(key), like --set \(key)=A,B; got \(quoted(list))")
            }
            let agents = options.map { option in
                ProjectTemplate.Agent(type: type, name: "\(key)=\(option)", config: .object([key: Self.configValue(option)]))
            }
            return ProjectTemplate(
                name: rawValue, description: "A/B test of \(key): \(options[0]) against \(options[1])", agents: agents,
                experiments: [ProjectTemplate.Experiment(
                    name: "\(key) a/b", hypothesis: "\(key)=\(options[1]) earns a better ROI than \(key)=\(options[0])",
                    config: .object(["variable": .string(key), "baseline": Self.configValue(options[0]), "variant": Self.configValue(options[1])])
                )]
            )
        case .modelSweep:
            guard varying.count == 1, let (key, list) = varying.first, key == "model" else {
                throw SandboxError.invalidInput("model-sweep takes the models to sweep: \(usage)")
            }
            var models: [String] = []
            var canonical: [String: String] = [:]
            for model in list.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
                guard !model.isEmpty else { throw SandboxError.invalidInput("model-sweep: an empty model name in \(quoted(list))") }
                guard let name = prices.canonicalName(model) else { throw SandboxError.unknownModel(model) }
                // Aliases and case name the same model: one agent each would measure it twice.
                if let first = canonical[name] {
                    throw SandboxError.invalidInput("model-sweep: \(quoted(model)) is the same model as \(quoted(first)) (\(name))")
                }
                canonical[name] = model
                models.append(model)
            }
            guard (1...ProjectTemplate.maximumEntries).contains(models.count) else {
                throw SandboxError.invalidInput("model-sweep takes 1 to \(ProjectTemplate.maximumEntries) models")
            }
            return ProjectTemplate(
                name: rawValue, description: "Model sweep: \(models.joined(separator: ", "))",
                agents: models.map { ProjectTemplate.Agent(type: type, name: $0, config: .object(["model": .string($0)])) },
                experiments: [ProjectTemplate.Experiment(
                    name: "model sweep", hypothesis: "one of \(models.joined(separator: ", ")) earns the best ROI",
                    config: .object(["models": .array(models.map(JSONValue.string))])
                )]
            )
        }
    }

    /// True when two settings are the same value in a configuration (`1` and `1.0` too).
    static func sameValue(_ first: String, _ second: String) -> Bool {
        switch (configValue(first), configValue(second)) {
        case (.integer(let a), .number(let b)), (.number(let b), .integer(let a)): Double(a) == b
        case (.number(let a), .number(let b)): a == b
        case (let a, let b): a == b
        }
    }

    /// The `--set` values as pairs, checked: `KEY=VALUE` with a key, each key once.
    public static func parseSettings(_ settings: [String]) throws -> [(key: String, value: String)] {
        var values: [(key: String, value: String)] = []
        for setting in settings {
            guard let equals = setting.firstIndex(of: "="), equals != setting.startIndex else {
                throw SandboxError.invalidInput("--set takes KEY=VALUE, got \(quoted(setting))")
            }
            let key = String(setting[..<equals])
            guard !values.contains(where: { $0.key == key }) else { throw SandboxError.invalidInput("--set \(key) is given twice") }
            values.append((key, String(setting[setting.index(after: equals)...])))
        }
        return values
    }

    /// A setting's value in a configuration: a JSON number, `true`, `false` or `null` as that,
    /// anything else as a string.
    static func configValue(_ text: String) -> JSONValue {
        switch text {
        case "true": return .bool(true)
        case "false": return .bool(false)
        case "null": return .null
        default:
            if let integer = Int64(text) { return .integer(integer) }
            if JSONNumber.isNumber(text), let number = Double(text), number.isFinite { return .number(number) }
            return .string(text)
        }
    }
}
