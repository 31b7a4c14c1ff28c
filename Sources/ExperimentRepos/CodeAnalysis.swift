#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Supervision

/// Static analysis of a checked-out revision. Python files are parsed by the machine's
/// `python3` and its `ast` module; other languages are only counted.
public enum CodeAnalysis {
    /// Folders never analysed.
    static let skippedFolders: Set<String> = [".git", ".build", "venv", ".venv", "node_modules", "__pycache__"]

    /// Analyses the checkout at `folder`. Symbolic links are never followed: a link in the
    /// checkout may point anywhere on the machine.
    public static func analyse(
        _ folder: String, environment: [String: String], containment: ProcessRunner.Containment? = nil,
        shouldStop: @escaping @Sendable () -> Bool = { false }
    ) -> AnalysisResult {
        var other: [String: AnalysisResult.FileCount] = [:]
        countOtherLanguages(folder, into: &other)
        guard let python = ProcessRunner.which("python3", environment: environment) else {
            return AnalysisResult(
                pythonAvailable: false, filesAnalyzed: 0, totalLines: 0, functionsFound: 0, classesFound: 0, complexityScore: 0,
                potentialIssues: [], otherLanguages: other, note: "python3 not found: Python files were not analysed"
            )
        }
        do {
            let outcome = try ProcessRunner(timeout: 120, outputLimit: 16 << 20, shouldStop: shouldStop).run(
                python, ["-I", "-c", script, folder] + skippedFolders.sorted(), environment: environment, directory: folder, containment: containment
            )
            guard outcome.succeeded, let data = outcome.output.data(using: .utf8) else {
                throw RepositoryError.failed("the analysis script failed: \(outcome.output.split(separator: "\n").last ?? "")")
            }
            var result = try JSONDecoder().decode(AnalysisResult.self, from: data)
            result.otherLanguages = other
            return result
        } catch {
            return AnalysisResult(
                pythonAvailable: true, filesAnalyzed: 0, totalLines: 0, functionsFound: 0, classesFound: 0, complexityScore: 0,
                potentialIssues: [], otherLanguages: other, note: "analysis failed: \(error)"
            )
        }
    }

    /// Files and lines per extension, for everything that is not Python.
    private static func countOtherLanguages(_ folder: String, into counts: inout [String: AnalysisResult.FileCount]) {
        let known: Set<String> = ["swift", "js", "ts", "jsx", "tsx", "go", "rs", "java", "kt", "c", "h", "cc", "cpp", "hpp", "rb", "php", "cs", "sh", "scala", "m"]
        FileWalk.regularFiles(under: folder, skipping: skippedFolders) { relative in
            let name = relative.split(separator: "/").last.map(String.init) ?? relative
            guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return true }
            let ext = name[name.index(after: dot)...].lowercased()
            guard known.contains(ext), let data = FileManager.default.contents(atPath: folder + "/" + relative) else { return true }
            var entry = counts[ext] ?? AnalysisResult.FileCount(files: 0, lines: 0)
            entry.files += 1
            entry.lines += data.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) } + (data.last.map { $0 == 0x0A ? 0 : 1 } ?? 0)
            counts[ext] = entry
            return true
        }
    }

    /// Prints one JSON object: the fields of `AnalysisResult` but `other_languages`.
    static let script = #"""
import ast, json, os, stat, sys

root, skipped = sys.argv[1], set(sys.argv[2:])
LONG_FUNCTION_STATEMENTS = 50
COMPLEX_FUNCTION = 10
files = lines = functions = classes = 0
complexities, issues = [], []

def statements(node):
    count = 0
    for child in ast.walk(node):
        if isinstance(child, ast.stmt) and child is not node:
            count += 1
    return count

def complexity(function):
    score = 1
    for node in ast.walk(function):
        if node is not function and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, (ast.If, ast.For, ast.AsyncFor, ast.While, ast.IfExp, ast.ExceptHandler, ast.Assert)):
            score += 1
        elif isinstance(node, ast.BoolOp):
            score += len(node.values) - 1
        elif isinstance(node, ast.comprehension):
            score += len(node.ifs)
        elif hasattr(ast, "match_case") and isinstance(node, ast.match_case):
            score += 1
    return score

for directory, folders, names in os.walk(root):
    folders[:] = sorted(f for f in folders if f not in skipped)
    for name in sorted(names):
        if not name.endswith(".py"):
            continue
        path = os.path.join(directory, name)
        relative = os.path.relpath(path, root)
        try:
            # Never through a symbolic link (it may point out of the checkout), never a FIFO or device.
            handle = os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK), "rb")
        except OSError:
            continue
        with handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                continue
            source = handle.read()
        files += 1
        lines += source.count(b"\n") + (0 if source.endswith(b"\n") or not source else 1)
        try:
            tree = ast.parse(source, filename=relative)
        except (SyntaxError, ValueError) as error:
            issues.append({"file": relative, "line": getattr(error, "lineno", None) or 0, "kind": "syntax_error",
                           "message": "syntax error: %s" % (getattr(error, "msg", None) or error)})
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                classes += 1
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions += 1
                score = complexity(node)
                complexities.append(score)
                size = statements(node)
                if size > LONG_FUNCTION_STATEMENTS:
                    issues.append({"file": relative, "line": node.lineno, "kind": "long_function",
                                   "message": "function %s has %d statements (more than %d)" % (node.name, size, LONG_FUNCTION_STATEMENTS)})
                if score > COMPLEX_FUNCTION:
                    issues.append({"file": relative, "line": node.lineno, "kind": "complex_function",
                                   "message": "function %s has cyclomatic complexity %d (more than %d)" % (node.name, score, COMPLEX_FUNCTION)})

print(json.dumps({
    "python_available": True, "files_analyzed": files, "total_lines": lines, "functions_found": functions,
    "classes_found": classes, "complexity_score": round(sum(complexities) / len(complexities), 2) if complexities else 0.0,
    "potential_issues": issues, "other_languages": {}, "note": None,
}))
"""#
}
