// Owning smart-pointer aliases for SQLite handles.
#pragma once

#include <sqlite3.h>

#include <memory>

namespace minisync {

struct SqliteClose {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
using SqlitePtr = std::unique_ptr<sqlite3, SqliteClose>;

struct SqliteFinalize {
    void operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }
};
using SqliteStmtPtr = std::unique_ptr<sqlite3_stmt, SqliteFinalize>;

} // namespace minisync
