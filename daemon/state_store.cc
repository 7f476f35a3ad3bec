// SQLite schema, migrations and batched writes for the agent's per-file state: WAL, one writer strand, BEGIN IMMEDIATE batches
// (docs/ARCHITECTURE.md "State").
#include "state_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace minisync::agent {
namespace {

constexpr int SchemaVersion = 3;

constexpr const char* SchemaV1 = R"sql(
CREATE TABLE folders (
    id   INTEGER PRIMARY KEY,
    name BLOB NOT NULL UNIQUE
);
CREATE TABLE files (
    folder_id        INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    path             BLOB NOT NULL,
    size             INTEGER,
    mtime_ns         INTEGER,
    inode            INTEGER,
    mode             INTEGER NOT NULL DEFAULT 0,
    sha256           BLOB,
    upload_size      INTEGER,
    upload_mtime_ns  INTEGER,
    upload_inode     INTEGER,
    upload_offset    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (folder_id, path)
) WITHOUT ROWID;
)sql";

constexpr const char* MigrationV2 = "ALTER TABLE files ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;";
constexpr const char* MigrationV3 =
    "ALTER TABLE folders ADD COLUMN root_device INTEGER; ALTER TABLE folders ADD COLUMN root_inode INTEGER; "
    "ALTER TABLE folders ADD COLUMN root_birth_ns INTEGER NOT NULL DEFAULT 0;";

// Binds the BLOB range [path + "/", path + "0") of everything below path ('0' follows '/') to two
// parameters; the strings must outlive the statement's step.
void bind_below(sqlite3_stmt* stmt, int first, const std::string& below, const std::string& after)
{
    sqlite3_bind_blob(stmt, first, below.data(), static_cast<int>(below.size()), SQLITE_STATIC);
    sqlite3_bind_blob(stmt, first + 1, after.data(), static_cast<int>(after.size()), SQLITE_STATIC);
}

// A corrupt file is DamagedState (rebuilding the database cures it); anything else is State.
ErrorCode code_of(sqlite3* db)
{
    const int code = db == nullptr ? SQLITE_OK : (sqlite3_errcode(db) & 0xff);
    return code == SQLITE_NOTADB || code == SQLITE_CORRUPT ? ErrorCode::DamagedState : ErrorCode::State;
}

std::string blob_text(sqlite3_stmt* stmt, int column)
{
    const void* data = sqlite3_column_blob(stmt, column);
    return data == nullptr ? std::string{}
                           : std::string{static_cast<const char*>(data),
                                         static_cast<std::size_t>(sqlite3_column_bytes(stmt, column))};
}

} // namespace

StateStore::StateStore(SqlitePtr db, std::string path, UniqueFd lock)
    : db_{std::move(db)}, path_{std::move(path)}, lock_{std::move(lock)}
{
}

Result<std::unique_ptr<StateStore>> StateStore::open(const std::string& path)
{
    auto failure = [](std::string message, bool damaged) {
        return Error{damaged ? ErrorCode::DamagedState : ErrorCode::State, std::move(message)};
    };
    auto is_damage = [](sqlite3* db) { return code_of(db) == ErrorCode::DamagedState; };
    const std::string recovery = "; it can be rebuilt by a full rescan";
    // flock is independent of SQLite's own fcntl locks, which it keeps taking and releasing.
    UniqueFd lock{::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)};
    if (!lock) {
        return failure("cannot open state database '" + path + "': " + std::strerror(errno), false);
    }
    if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
        return failure("state database '" + path + "' is in use by another minisyncd (give each agent its own --state)",
                       false);
    }
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                   nullptr);
    SqlitePtr db{raw};
    if (rc != SQLITE_OK) {
        return failure("cannot open state database '" + path + "': " +
                           (db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc)),
                       is_damage(db.get()));
    }
    std::unique_ptr<StateStore> store{new StateStore{std::move(db), path, std::move(lock)}};
    sqlite3_busy_timeout(store->db_.get(), 5000);
    int version = 0;
    {
        sqlite3_stmt* stmt = nullptr;
        sqlite3_prepare_v2(store->db_.get(), "PRAGMA user_version", -1, &stmt, nullptr);
        const SqliteStmtPtr owned{stmt};
        if (stmt == nullptr || sqlite3_step(stmt) != SQLITE_ROW) {
            const bool damaged = is_damage(store->db_.get());
            return failure("state database '" + path + "' is unusable: " + sqlite3_errmsg(store->db_.get()) +
                               (damaged ? recovery : ""),
                           damaged);
        }
        version = sqlite3_column_int(stmt, 0);
    }
    // Refused before anything is written to it: a newer minisyncd may still want this file.
    if (version > SchemaVersion) {
        return failure("state database '" + path + "' has schema version " + std::to_string(version) +
                           ", newer than this minisyncd understands (" + std::to_string(SchemaVersion) + ")",
                       false);
    }
    // quick_check reads every page: a damaged database fails here, not halfway through a batch of writes.
    // It reports problems as rows of text and succeeds itself, so its answer must be read.
    {
        sqlite3_stmt* stmt = nullptr;
        sqlite3_prepare_v2(store->db_.get(), "PRAGMA quick_check(1)", -1, &stmt, nullptr);
        const SqliteStmtPtr owned{stmt};
        const int rc = stmt != nullptr ? sqlite3_step(stmt) : SQLITE_ERROR;
        if (rc != SQLITE_ROW || blob_text(stmt, 0) != "ok") {
            // quick_check answering anything but "ok" is damage; failing to run may be too.
            const bool damaged = rc == SQLITE_ROW || is_damage(store->db_.get());
            const std::string detail =
                rc == SQLITE_ROW ? blob_text(stmt, 0) : std::string{sqlite3_errmsg(store->db_.get())};
            return failure("state database '" + path + "' is unusable: " + detail + (damaged ? recovery : ""),
                           damaged);
        }
    }
    for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON"}) {
        if (Result<void> done = store->exec(sql); !done.ok()) {
            return failure("state database '" + path + "' is unusable: " + done.error().message,
                           is_damage(store->db_.get()));
        }
    }
    if (version < SchemaVersion) {
        std::string migrate = "BEGIN IMMEDIATE;";
        if (version < 1) {
            migrate += SchemaV1;
        }
        if (version < 2) {
            migrate += MigrationV2;
        }
        migrate += MigrationV3;
        migrate += "PRAGMA user_version=" + std::to_string(SchemaVersion) + "; COMMIT;";
        if (Result<void> done = store->exec(migrate.c_str()); !done.ok()) {
            const bool damaged = is_damage(store->db_.get());
            (void)store->exec("ROLLBACK");
            return failure("cannot create or upgrade the schema in '" + path + "': " + done.error().message, damaged);
        }
    }
    return store;
}

Error StateStore::failure(const std::string& doing) const
{
    return Error{code_of(db_.get()), "state database '" + path_ + "': cannot " + doing + ": " + sqlite3_errmsg(db_.get())};
}

// The error's message is SQLite's alone: open() and apply() say what it concerns.
Result<void> StateStore::exec(const char* sql)
{
    char* message = nullptr;
    if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, &message) != SQLITE_OK) {
        std::string text = message != nullptr ? message : sqlite3_errmsg(db_.get());
        sqlite3_free(message);
        return Error{code_of(db_.get()), std::move(text)};
    }
    return {};
}

sqlite3_stmt* StateStore::prepare(SqliteStmtPtr& slot, const char* sql)
{
    if (!slot) {
        sqlite3_stmt* stmt = nullptr;
        sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
        slot.reset(stmt);
    }
    return slot.get();
}

Result<std::int64_t> StateStore::folder_id(const std::string& name)
{
    const std::string doing = "give folder '" + name + "' an id";
    sqlite3_stmt* insert = nullptr;
    sqlite3_prepare_v2(db_.get(), "INSERT OR IGNORE INTO folders(name) VALUES (?1)", -1, &insert, nullptr);
    const SqliteStmtPtr insert_owned{insert};
    if (insert == nullptr ||
        sqlite3_bind_blob(insert, 1, name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_step(insert) != SQLITE_DONE) {
        return failure(doing);
    }
    sqlite3_stmt* select = nullptr;
    sqlite3_prepare_v2(db_.get(), "SELECT id FROM folders WHERE name = ?1", -1, &select, nullptr);
    const SqliteStmtPtr select_owned{select};
    if (select == nullptr ||
        sqlite3_bind_blob(select, 1, name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT) != SQLITE_OK ||
        sqlite3_step(select) != SQLITE_ROW) {
        return failure(doing);
    }
    return sqlite3_column_int64(select, 0);
}

Result<StoredFolder> StateStore::open_folder(const std::string& name)
{
    Result<std::int64_t> id = folder_id(name);
    if (!id.ok()) {
        return id.error();
    }
    Result<std::optional<RootIdentity>> root = root_identity(id.value());
    if (!root.ok()) {
        return root.error();
    }
    return StoredFolder{id.value(), root.value()};
}

Result<std::optional<RootIdentity>> StateStore::root_identity(std::int64_t folder_id)
{
    const std::string doing = "read the root identity of folder id " + std::to_string(folder_id);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db_.get(), "SELECT root_device, root_inode, root_birth_ns FROM folders WHERE id = ?1", -1, &stmt, nullptr);
    const SqliteStmtPtr owned{stmt};
    if (stmt == nullptr || sqlite3_bind_int64(stmt, 1, folder_id) != SQLITE_OK || sqlite3_step(stmt) != SQLITE_ROW) {
        return failure(doing);
    }
    if (sqlite3_column_type(stmt, 0) == SQLITE_NULL || sqlite3_column_type(stmt, 1) == SQLITE_NULL) {
        return std::optional<RootIdentity>{};
    }
    // Stored as the bit patterns of the unsigned numbers: SQLite's integers are signed.
    return std::optional<RootIdentity>{RootIdentity{static_cast<dev_t>(sqlite3_column_int64(stmt, 0)),
                                                    static_cast<ino_t>(sqlite3_column_int64(stmt, 1)),
                                                    sqlite3_column_int64(stmt, 2)}};
}

Result<void> StateStore::set_root_identity(std::int64_t folder_id, RootIdentity identity)
{
    const std::string doing = "record the root identity of folder id " + std::to_string(folder_id);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db_.get(), "UPDATE folders SET root_device = ?2, root_inode = ?3, root_birth_ns = ?4 WHERE id = ?1", -1, &stmt,
                       nullptr);
    const SqliteStmtPtr owned{stmt};
    if (stmt == nullptr || sqlite3_bind_int64(stmt, 1, folder_id) != SQLITE_OK ||
        sqlite3_bind_int64(stmt, 2, static_cast<sqlite3_int64>(identity.device)) != SQLITE_OK ||
        sqlite3_bind_int64(stmt, 3, static_cast<sqlite3_int64>(identity.inode)) != SQLITE_OK ||
        sqlite3_bind_int64(stmt, 4, identity.birth_ns) != SQLITE_OK ||
        sqlite3_step(stmt) != SQLITE_DONE) {
        return failure(doing);
    }
    return {};
}

Result<FolderRecords> StateStore::load_folder(std::int64_t folder_id)
{
    return load(folder_id, nullptr);
}

Result<FolderRecords> StateStore::load_subtree(std::int64_t folder_id, const std::string& path)
{
    return load(folder_id, &path);
}

Result<FolderRecords> StateStore::load(std::int64_t folder_id, const std::string* subtree)
{
    const std::string doing = subtree == nullptr ? "read the records of folder id " + std::to_string(folder_id)
                                                 : "read the records below '" + *subtree + "'";
    FolderRecords records;
    std::string sql = "SELECT path, size, mtime_ns, inode, mode, sha256, upload_size, upload_mtime_ns, upload_inode, "
                      "upload_offset, kind FROM files WHERE folder_id = ?1";
    if (subtree != nullptr) {
        sql += " AND (path = ?2 OR (path >= ?3 AND path < ?4))";
    }
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &stmt, nullptr);
    const SqliteStmtPtr owned{stmt};
    if (stmt == nullptr) {
        return failure(doing);
    }
    sqlite3_bind_int64(stmt, 1, folder_id);
    const std::string below = subtree != nullptr ? *subtree + "/" : std::string{};
    const std::string after = subtree != nullptr ? *subtree + "0" : std::string{};
    if (subtree != nullptr) {
        sqlite3_bind_blob(stmt, 2, subtree->data(), static_cast<int>(subtree->size()), SQLITE_STATIC);
        bind_below(stmt, 3, below, after);
    }
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        FileRecord record;
        if (sqlite3_column_type(stmt, 1) != SQLITE_NULL) {
            record.committed = FileVersion{static_cast<std::uint64_t>(sqlite3_column_int64(stmt, 1)),
                                           sqlite3_column_int64(stmt, 2),
                                           static_cast<std::uint64_t>(sqlite3_column_int64(stmt, 3))};
        }
        record.mode = static_cast<std::uint32_t>(sqlite3_column_int64(stmt, 4));
        if (sqlite3_column_bytes(stmt, 5) == 32) {
            Sha256Digest digest{};
            std::memcpy(digest.data(), sqlite3_column_blob(stmt, 5), digest.size());
            record.sha256 = digest;
        }
        if (sqlite3_column_type(stmt, 6) != SQLITE_NULL) {
            record.uploading = FileVersion{static_cast<std::uint64_t>(sqlite3_column_int64(stmt, 6)),
                                           sqlite3_column_int64(stmt, 7),
                                           static_cast<std::uint64_t>(sqlite3_column_int64(stmt, 8))};
            record.confirmed_offset = static_cast<std::uint64_t>(sqlite3_column_int64(stmt, 9));
        }
        const auto kind = sqlite3_column_int64(stmt, 10);
        record.kind = kind == 1 ? EntryKind::Directory : kind == 2 ? EntryKind::Symlink : EntryKind::File;
        records.emplace(blob_text(stmt, 0), std::move(record));
    }
    if (rc != SQLITE_DONE) {
        return failure(doing); // part of the records is no answer: a caller would take the rest as deleted
    }
    return records;
}

Result<void> StateStore::apply(const std::vector<StateChange>& changes)
{
    if (changes.empty()) {
        return {};
    }
    if (!exec("BEGIN IMMEDIATE").ok()) {
        return failure("begin a transaction");
    }
    for (const StateChange& change : changes) {
        if (Result<void> done = apply_one(change); !done.ok()) {
            (void)exec("ROLLBACK");
            return done;
        }
    }
    if (!exec("COMMIT").ok()) {
        Error error = failure("commit a transaction"); // before the rollback replaces SQLite's message
        (void)exec("ROLLBACK");
        return error;
    }
    return {};
}

Result<void> StateStore::apply_one(const StateChange& change)
{
    const auto doing = [&change] { return "record the change of '" + change.path + "'"; };
    auto step = [this, &doing](sqlite3_stmt* stmt) -> Result<void> {
        if (stmt == nullptr) {
            return failure(doing()); // prepare() failed
        }
        const int rc = sqlite3_step(stmt);
        // Taken before the reset: the error it describes is this step's.
        std::optional<Error> error;
        if (rc != SQLITE_DONE) {
            error = failure(doing());
        }
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
        if (error) {
            return *error;
        }
        return {};
    };
    auto bind_path = [](sqlite3_stmt* stmt, int index, const std::string& path) {
        sqlite3_bind_blob(stmt, index, path.data(), static_cast<int>(path.size()), SQLITE_STATIC);
    };
    auto bind_version = [](sqlite3_stmt* stmt, const FileVersion& version) {
        sqlite3_bind_int64(stmt, 3, static_cast<sqlite3_int64>(version.size));
        sqlite3_bind_int64(stmt, 4, version.mtime_ns);
        sqlite3_bind_int64(stmt, 5, static_cast<sqlite3_int64>(version.inode));
    };
    const std::string below = change.path + "/";
    const std::string after = change.path + "0";
    auto forget_tree = [&]() {
        sqlite3_stmt* stmt =
            prepare(delete_tree_, "DELETE FROM files WHERE folder_id = ?1 AND (path = ?2 OR (path >= ?3 AND path < ?4))");
        sqlite3_bind_int64(stmt, 1, change.folder_id);
        bind_path(stmt, 2, change.path);
        bind_below(stmt, 3, below, after);
        return step(stmt);
    };
    sqlite3_stmt* stmt = nullptr;
    switch (change.kind) {
    case StateChange::Kind::Committed:
        stmt = prepare(upsert_committed_,
                       "INSERT INTO files(folder_id, path, size, mtime_ns, inode, mode, sha256, kind) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(folder_id, path) DO UPDATE SET "
                       "size = excluded.size, mtime_ns = excluded.mtime_ns, inode = excluded.inode, "
                       "mode = excluded.mode, sha256 = excluded.sha256, kind = excluded.kind, upload_size = NULL, "
                       "upload_mtime_ns = NULL, upload_inode = NULL, upload_offset = 0");
        sqlite3_bind_int64(stmt, 1, change.folder_id);
        bind_path(stmt, 2, change.path);
        bind_version(stmt, change.version);
        sqlite3_bind_int64(stmt, 6, change.mode);
        if (change.entry == EntryKind::File) {
            sqlite3_bind_blob(stmt, 7, change.sha256.data(), static_cast<int>(change.sha256.size()), SQLITE_STATIC);
        }
        sqlite3_bind_int64(stmt, 8, static_cast<sqlite3_int64>(change.entry));
        return step(stmt);
    case StateChange::Kind::Progress:
        stmt = prepare(upsert_progress_,
                       "INSERT INTO files(folder_id, path, upload_size, upload_mtime_ns, upload_inode, "
                       "upload_offset) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(folder_id, path) DO UPDATE "
                       "SET upload_size = excluded.upload_size, upload_mtime_ns = excluded.upload_mtime_ns, "
                       "upload_inode = excluded.upload_inode, upload_offset = excluded.upload_offset");
        sqlite3_bind_int64(stmt, 1, change.folder_id);
        bind_path(stmt, 2, change.path);
        bind_version(stmt, change.version);
        sqlite3_bind_int64(stmt, 6, static_cast<sqlite3_int64>(change.offset));
        return step(stmt);
    case StateChange::Kind::Forgotten:
        stmt = prepare(delete_file_, "DELETE FROM files WHERE folder_id = ?1 AND path = ?2");
        sqlite3_bind_int64(stmt, 1, change.folder_id);
        bind_path(stmt, 2, change.path);
        return step(stmt);
    case StateChange::Kind::ForgottenTree: return forget_tree();
    case StateChange::Kind::ForgottenFolder:
        stmt = prepare(delete_folder_, "DELETE FROM files WHERE folder_id = ?1");
        sqlite3_bind_int64(stmt, 1, change.folder_id);
        return step(stmt);
    case StateChange::Kind::Renamed: {
        // What the rename replaced is gone, then every record at or below from moves below path. The
        // concatenation yields TEXT, cast back so the paths stay BLOBs like every other.
        if (Result<void> forgot = forget_tree(); !forgot.ok()) {
            return forgot;
        }
        stmt = prepare(rename_tree_,
                       "UPDATE files SET path = CAST(?2 || substr(path, ?3) AS BLOB) WHERE folder_id = ?1 AND "
                       "(path = ?4 OR (path >= ?5 AND path < ?6))");
        const std::string from_below = change.from + "/";
        const std::string from_after = change.from + "0";
        sqlite3_bind_int64(stmt, 1, change.folder_id);
        bind_path(stmt, 2, change.path);
        sqlite3_bind_int64(stmt, 3, static_cast<sqlite3_int64>(change.from.size()) + 1);
        bind_path(stmt, 4, change.from);
        bind_below(stmt, 5, from_below, from_after);
        return step(stmt);
    }
    }
    return {};
}

} // namespace minisync::agent
