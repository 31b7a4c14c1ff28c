#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Dashboard
import Hummingbird
import SandboxCore

/// The dashboard: `/`, `/projects/{id}`, `/compare?projects=…`, `/production`, as HTML.
struct DashboardRoutes {
    let configuration: ServerConfiguration
    let pool: SandboxPool

    func register(on router: Router<BasicRequestContext>) {
        let paths = configuration.paths
        let pool = pool
        router.get("/") { _, _ in
            try await html {
                try pool.with(create: false) { sandbox in
                    try sandbox.readingOneSnapshot { DashboardPages.projects(try sandbox.listProjects(), status: try sandbox.status()) }
                }
            }
        }
        router.get("projects/:id") { _, context in
            let id = try ProjectID(context.parameters.require("id"))
            return try await html {
                try pool.with(create: false) { sandbox in
                    try sandbox.readingOneSnapshot {
                        DashboardPages.project(try sandbox.projectDetail(id), daily: try sandbox.dailyFigures(project: id))
                    }
                }
            }
        }
        router.get("compare") { request, _ in
            guard let list = request.uri.queryParameters.get("projects") else {
                throw APIFailure.badRequest("give ?projects=ID,ID...")
            }
            let ids = try list.split(separator: ",").map { try ProjectID(String($0)) }
            return try await html { try pool.with(create: false) { DashboardPages.comparison(try $0.compare(projects: ids)) } }
        }
        router.get("production") { _, _ in
            try await html {
                let production = Production(paths: paths)
                return DashboardPages.production(try production.listAgents(), verdicts: try production.latestChecks(), history: try production.history())
            }
        }
    }

    private func html(_ render: @escaping @Sendable () throws -> String) async throws -> Response {
        let text = try await blocking(render)
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        // Pages are self-contained: nothing may be fetched or run.
        headers[.contentSecurityPolicy] = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
