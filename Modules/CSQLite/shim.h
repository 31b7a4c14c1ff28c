#ifndef NOVAOS_CSQLITE_SHIM_H
#define NOVAOS_CSQLITE_SHIM_H

// The system SQLite (Debian: libsqlite3-dev). Not vendored.
#include <sqlite3.h>

#endif
