import Foundation
import Testing
@testable import SandboxCore

/// What everything novaos runs must not see, team mode's credentials among it.
@Suite struct HiddenPathsTests {
    @Test func libpqCredentialsAreHiddenWhereverTheEnvironmentPutsThem() throws {
        let paths = SandboxPaths(
            home: URL(fileURLWithPath: "/srv/nova"),
            productionRegistryURL: "postgresql://nova@db/prod?sslmode=verify-full&passfile=/srv/keys/pg%20pass&SSLKEY=/srv/keys/client.key"
        )
        let hidden = paths.hiddenFromUntrustedCode(environment: [
            "HOME": "/home/ana", "PGPASSFILE": "/etc/nova/pgpass", "PGSSLKEY": "/etc/nova/client.key", "PGSERVICEFILE": "relative/not-hideable",
            "PGSYSCONFDIR": "/etc/nova/pg", "NOVAOS_HIDE": "/run/secrets/a:/run/secrets/b",
        ])
        for path in ["/home/ana/.pgpass", "/home/ana/.pg_service.conf", "/home/ana/.postgresql", "/etc/nova/pgpass", "/etc/nova/client.key",
                     "/etc/nova/pg", "/srv/keys/pg pass", "/srv/keys/client.key", "/run/secrets/a", "/run/secrets/b",
                     "/srv/nova/production.db", "/srv/nova/sandbox", "/srv/nova/production"] {
            #expect(hidden.contains(path), "\(path)")
        }
        #expect(!hidden.contains("relative/not-hideable"))
    }
}
