#ifndef NOVAOS_CPOSTGRESQL_SHIM_H
#define NOVAOS_CPOSTGRESQL_SHIM_H

// The system libpq (Debian: libpq-dev), which installs its headers under postgresql/.
// Not vendored.
#include <postgresql/libpq-fe.h>

#endif
