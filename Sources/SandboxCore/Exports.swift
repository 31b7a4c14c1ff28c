// Types of the layers below that SandboxCore's API hands out, so `import SandboxCore` is enough.
@_exported import enum Supervision.IsolationMode
@_exported import enum Supervision.StopReason
@_exported import struct ExperimentRepos.AnalysisResult
@_exported import struct ExperimentRepos.CodeIssue
@_exported import struct ExperimentRepos.TestSuiteResult
