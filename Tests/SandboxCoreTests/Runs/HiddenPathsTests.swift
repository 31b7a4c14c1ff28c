import Foundation
import Testing
@testable import SandboxCore

/// What everything novaos runs must not see, team mode's credentials among it.
@Suite struct HiddenPathsTests {
    @Test func libpqCredentialsAreHiddenWhereverTheEnvironmentPutsThem() throws {
        let paths = SandboxPaths(home: URL(fileURLWithPath: "/srv/nova"))
        let hidden = paths.hiddenFromUntrustedCode(environment: [
            "HOME": "/home/ana", "PGPASSFILE": "/etc/nova/pgpass", "PGSSLKEY": "/etc/nova/client.key", "PGSERVICEFILE": "relative/not-hideable",
            "NOVAOS_HIDE": "/run/secrets/a:/run/secrets/b",
        ])
        for path in ["/home/ana/.pgpass", "/home/ana/.postgresql", "/etc/nova/pgpass", "/etc/nova/client.key", "/run/secrets/a", "/run/secrets/b",
                     "/srv/nova/production.db", "/srv/nova/sandbox", "/srv/nova/production"] {
            #expect(hidden.contains(path), "\(path)")
        }
        #expect(!hidden.contains("relative/not-hideable"))
    }
}
