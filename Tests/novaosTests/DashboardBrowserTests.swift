import Foundation
import Testing
@testable import SandboxCore

/// Chromium from the system (Debian's `chromium`), or nil.
let chromiumPath: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first {
    FileManager.default.isExecutableFile(atPath: $0)
}

/// Runs headless Chromium with `arguments` and returns its stdout.
func chromium(_ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: chromiumPath!)
    let profile = FileManager.default.temporaryDirectory.appendingPathComponent("novaos-chromium-\(UUID().uuidString)")
    process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                         "--user-data-dir=\(profile.path)", "--virtual-time-budget=2000"] + arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    try? FileManager.default.removeItem(at: profile)
    return String(decoding: data, as: UTF8.self)
}

/// The dashboard in a real browser (issue 14): pages load in headless Chromium with their
/// numbers and chart in the rendered DOM, and a screenshot shows them.
@Suite(.serialized, .enabled(if: chromiumPath != nil, "Chromium is not installed (apt-get install chromium); .ci/run installs it"))
struct DashboardBrowserTests {
    func seededHome() throws -> (home: URL, project: String) {
        let home = try makeHome()
        let project = try runBinary(["sandbox", "create", "checkout <bot>", "--budget", "40", "--json"], home: home).decode(Project.self).id.rawValue
        let agent = try runBinary(["sandbox", "deploy", project, "customer_support", "--name", "helper", "--json"], home: home).decode(Agent.self).id.rawValue
        for (day, tokens, amount) in [("2026-11-20", 100_000, "2.50"), ("2026-11-21", 200_000, "7.25"), ("2026-11-22", 150_000, "4")] {
            let clock = ["NOVAOS_TEST_NOW": "\(day)T12:00:00Z"]
            _ = try runBinary(["sandbox", "usage", agent, "--model", "gpt-4o", "--input-tokens", String(tokens), "--output-tokens", "1000"], home: home, environment: clock)
            _ = try runBinary(["sandbox", "revenue", agent, amount], home: home, environment: clock)
        }
        _ = try runBinary(["sandbox", "experiment", "start", project, "tone", "--hypothesis", "warm wins"], home: home)
        return (home, project)
    }

    @Test func pagesRenderTheirNumbersAndChartInABrowser() throws {
        let (home, project) = try seededHome()
        let server = try RunningServer(home: home)
        defer { server.stop() }
        let detail = try runBinary(["sandbox", "project", project, "--json"], home: home).decode(ProjectDetail.self)

        let dom = try chromium(["--dump-dom", "http://127.0.0.1:\(server.port)/projects/\(project)"])
        #expect(dom.contains(#"<b id="total-cost">\#(detail.metrics.totalCost)</b>"#), "\(dom.prefix(2000))")
        #expect(dom.contains(#"<b id="total-revenue">$13.75</b>"#))
        #expect(dom.contains("checkout &lt;bot&gt;") && !dom.contains("<bot>"))
        #expect(dom.contains(#"<svg id="daily-chart""#) && dom.components(separatedBy: "<polyline").count == 3)
        #expect(dom.contains("2026-11-20") && dom.contains("2026-11-22") && dom.contains("warm wins"))
        let index = try chromium(["--dump-dom", "http://127.0.0.1:\(server.port)/"])
        #expect(index.contains(#"<table id="projects">"#) && index.contains("/projects/\(project)"))
        #expect(try chromium(["--dump-dom", "http://127.0.0.1:\(server.port)/production"]).contains("Nothing promoted yet."))

        let screenshot = home.appendingPathComponent("dashboard.png")
        _ = try chromium(["--screenshot=\(screenshot.path)", "--window-size=1280,1100", "http://127.0.0.1:\(server.port)/projects/\(project)"])
        let png = try Data(contentsOf: screenshot)
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 20_000, "\(png.count) bytes")
        if let keep = ProcessInfo.processInfo.environment["NOVAOS_KEEP_SCREENSHOT"] { try? png.write(to: URL(fileURLWithPath: keep)) }
    }

    @Test func theReportFileIsTheSamePageSelfContained() throws {
        let (home, project) = try seededHome()
        let file = home.appendingPathComponent("report.html")
        let written = try runBinary(["sandbox", "report", project, "--html", file.path, "--json"], home: home)
        #expect(written.exitCode == 0, "\(written.stderr)")
        let html = try String(contentsOf: file, encoding: .utf8)
        #expect(html.hasPrefix("<!DOCTYPE html>") && html.contains(#"<svg id="daily-chart""#))
        #expect(!html.contains("<script") && !html.contains("http://") || html.contains("xmlns=\"http://www.w3.org/2000/svg\""))
        let dom = try chromium(["--dump-dom", file.absoluteString])
        #expect(dom.contains(#"<b id="total-revenue">$13.75</b>"#))
        #expect(try runBinary(["sandbox", "report", "prj_00000000", "--html", file.path], home: home).exitCode == 1)
    }
}
