#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Supervision

/// The outcome of one test suite on one revision.
public struct TestSuiteResult: Codable, Sendable, Equatable {
    /// pytest, swift, npm, cargo or go.
    public var type: String
    /// `passed`, `failed`, `timeout`, `skipped` (marker found, tool missing) or `interrupted`.
    public var status: String
    public var success: Bool
    public var passed: Int
    public var failed: Int
    public var skipped: Int
    public var durationSeconds: Double
    /// The command run, or why it was not.
    public var command: String
    public var exitCode: Int32?
    public var reason: String?
    /// What the suite printed, cut to 256 KiB (head and tail).
    public var output: String
    /// How the suite ran: `namespace` (bubblewrap) or `none`; null when it did not run.
    public var isolation: IsolationMode?

    enum CodingKeys: String, CodingKey {
        case type, status, success, passed, failed, skipped, command, reason, output
        case durationSeconds = "duration_seconds", exitCode = "exit_code", isolation
    }

    public init(type: String, status: String, success: Bool, passed: Int, failed: Int, skipped: Int, durationSeconds: Double,
                command: String, exitCode: Int32?, reason: String?, output: String, isolation: IsolationMode?) {
        self.type = type
        self.status = status
        self.success = success
        self.passed = passed
        self.failed = failed
        self.skipped = skipped
        self.durationSeconds = durationSeconds
        self.command = command
        self.exitCode = exitCode
        self.reason = reason
        self.output = output
        self.isolation = isolation
    }

    /// Every key is written, absent values as `null`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(type, forKey: .type)
        try container.encode(status, forKey: .status)
        try container.encode(success, forKey: .success)
        try container.encode(passed, forKey: .passed)
        try container.encode(failed, forKey: .failed)
        try container.encode(skipped, forKey: .skipped)
        try container.encode(durationSeconds, forKey: .durationSeconds)
        try container.encode(command, forKey: .command)
        try container.encode(exitCode, forKey: .exitCode)
        try container.encode(reason, forKey: .reason)
        try container.encode(output, forKey: .output)
        try container.encode(isolation, forKey: .isolation)
    }
}

/// A problem the analysis found in a file.
public struct CodeIssue: Codable, Sendable, Equatable {
    public var file: String
    public var line: Int
    /// `syntax_error`, `long_function` or `complex_function`.
    public var kind: String
    public var message: String
}

/// What the analysis of a revision found.
public struct AnalysisResult: Codable, Sendable, Equatable {
    /// False when no `python3` was found; the Python figures are then zero, not guessed.
    public var pythonAvailable: Bool
    public var filesAnalyzed: Int
    public var totalLines: Int
    public var functionsFound: Int
    public var classesFound: Int
    /// Mean cyclomatic complexity per function: 1 + each `if`, `elif`, loop, `except`,
    /// conditional expression, `assert`, comprehension `if`, `match` case, and each extra
    /// operand of `and`/`or`.
    public var complexityScore: Double
    public var potentialIssues: [CodeIssue]
    /// Files and lines of other languages, counted but not parsed, by extension.
    public var otherLanguages: [String: FileCount]
    public var note: String?

    public struct FileCount: Codable, Sendable, Equatable {
        public var files: Int
        public var lines: Int
    }

    enum CodingKeys: String, CodingKey {
        case note
        case pythonAvailable = "python_available", filesAnalyzed = "files_analyzed", totalLines = "total_lines"
        case functionsFound = "functions_found", classesFound = "classes_found", complexityScore = "complexity_score"
        case potentialIssues = "potential_issues", otherLanguages = "other_languages"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(pythonAvailable, forKey: .pythonAvailable)
        try container.encode(filesAnalyzed, forKey: .filesAnalyzed)
        try container.encode(totalLines, forKey: .totalLines)
        try container.encode(functionsFound, forKey: .functionsFound)
        try container.encode(classesFound, forKey: .classesFound)
        try container.encode(complexityScore, forKey: .complexityScore)
        try container.encode(potentialIssues, forKey: .potentialIssues)
        try container.encode(otherLanguages, forKey: .otherLanguages)
        try container.encode(note, forKey: .note)
    }
}

