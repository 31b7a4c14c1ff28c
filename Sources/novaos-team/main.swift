import NovaCLI
import TeamRegistry

// `novaos` with team mode: the production registry on PostgreSQL. `novaos` hands over to it
// when `--production-db` or `NOVAOS_PRODUCTION_DB` is a postgres:// URL.
CommandLineTool.main(teamRegistry: TeamRegistry.registry(url:))
